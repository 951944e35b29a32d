"""The fuzz harnesses' seed corpus (native/fuzz/corpus/) is what the current writers produce, and
between its graphs it uses every node type in the catalogue."""

import importlib.util
from pathlib import Path

from amp import catalogue
from amp.native_runtime import describe_blob

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "native" / "fuzz" / "corpus"


def load_script():
    spec = importlib.util.spec_from_file_location("make_fuzz_corpus", ROOT / "scripts" / "make_fuzz_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_seed_corpus_is_current(runtime):
    for name, blob in load_script().build().items():
        path = CORPUS / name
        assert path.exists() and path.read_bytes() == blob, f"{path} is stale: run python scripts/make_fuzz_corpus.py"


def test_the_fixed_graphs_use_every_node_type_and_their_seeds_name_them(runtime):
    graphs = sorted(p.stem for p in (CORPUS / "graphs").glob("*.ampd"))
    types = set()
    for stem in graphs:
        described = describe_blob((CORPUS / "graphs" / f"{stem}.ampd").read_bytes())
        types |= {node["type"] for node in described["nodes"]}
    assert types == set(catalogue.catalogue())
    for fmt, magic in (("descriptor", b"AMPD"), ("plan", b"AMPP"), ("control", b"AMPC")):
        seeds = sorted((CORPUS / fmt).iterdir())
        assert seeds
        for seed in seeds:
            data = seed.read_bytes()
            assert data[8:12] == magic, seed
            written_for = [g for g in graphs if seed.name.startswith(g + "_")]
            if fmt != "descriptor" and written_for:
                # the first prefix byte picks the fixed graph the seed was written for
                assert graphs[data[0] % len(graphs)] == written_for[0], seed
