"""docs/nodes.md is generated from the native catalogue and must match it."""

import subprocess
import sys
from pathlib import Path

from amp.catalogue import catalogue, render_nodes_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "nodes.md"
REGENERATE = "regenerate it with `amp nodes --markdown > docs/nodes.md` (from the built library)"


def test_docs_nodes_md_is_current():
    assert DOC.exists(), f"docs/nodes.md is missing: {REGENERATE}"
    written = DOC.read_text(encoding="utf-8")
    expected = render_nodes_markdown()
    if written != expected:
        documented = {line[4:-1] for line in written.splitlines() if line.startswith("## `")}
        missing = sorted(set(catalogue()) - documented)
        extra = sorted(documented - set(catalogue()))
        raise AssertionError(f"docs/nodes.md is stale (undocumented: {missing or 'none'}; no longer in the "
                             f"catalogue: {extra or 'none'}; or a spec changed): {REGENERATE}")


def test_every_node_type_and_parameter_is_documented():
    written = DOC.read_text(encoding="utf-8")
    for type_name, spec in catalogue().items():
        assert f"## `{type_name}`" in written
        for p in spec.params:
            assert f"| `{p.name}` |" in written


def test_cli_prints_the_same_markdown():
    out = subprocess.run([sys.executable, "-m", "amp.cli", "nodes", "--markdown"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == render_nodes_markdown()
