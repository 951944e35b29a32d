"""Patch files and their schema: generated from the catalogue, shipped, enforced everywhere
(dicts, .json and .toml files), and the examples in docs/ render."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import soundfile

import amp
from amp import patches

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.*"))
SR = 48000


def osc(**params):
    return {"name": "osc", "type": "oscillator", "params": params}


def test_the_schema_follows_the_catalogue(runtime):
    schema = patches.patch_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    specs = amp.catalogue.catalogue()
    assert sorted(schema["properties"]["nodes"]["items"]["properties"]["type"]["enum"]) == sorted(specs)
    for spec in specs.values():
        params = schema["$defs"][f"params.{spec.type}"]
        assert params["additionalProperties"] is False
        assert set(params["properties"]) == {p.name for p in spec.params}
        for p in spec.params:
            entry = params["properties"][p.name]
            if p.choices:
                assert entry["oneOf"][0]["enum"] == list(p.choices)
            elif np.isfinite(p.min):
                assert entry["minimum"] == p.min and entry["maximum"] == p.max


def test_the_shipped_schema_is_the_generated_one(runtime):
    shipped = Path(amp.__file__).parent / "patch.schema.json"
    assert shipped.read_text() == patches.schema_text(), "regenerate it: amp schema > src/amp/patch.schema.json"


@pytest.mark.parametrize("config, where", [
    ({"nodes": [{"name": "osc", "type": "oscillator", "param": {"freq": 220}}]}, "nodes[0].param"),
    ({"nodes": [osc(frq=220)]}, "nodes[0].params.frq"),
    ({"nodes": [osc()], "wires": []}, "wires"),
    ({"nodes": [osc()], "connections": [{"source": "osc", "target": "osc", "inptu": 0}]}, "connections[0].inptu"),
    ({"nodes": [osc()], "modulations": [{"source": "osc", "target": "osc", "param": "freq", "scael": 2}]},
     "modulations[0].scael"),
    ({"nodes": [osc()], "controls": [{"node": "osc", "param": "freq", "key": "pitch", "kye": 1}]}, "controls[0].kye"),
])
def test_unknown_keys_anywhere_are_refused_with_their_path(runtime, config, where):
    with pytest.raises(amp.GraphError, match=r"unknown key") as caught:
        amp.AudioGraph.from_config(config)
    assert str(caught.value).startswith(f"{where}: unknown key")


@pytest.mark.parametrize("config, fragment", [
    ({"nodes": [osc(freq="high")]}, "nodes[0].params.freq"),
    ({"nodes": [osc(waveform="sin")]}, "'sin' is not one of sine, saw, square, triangle"),
    ({"nodes": [osc(phase=2.0)]}, "nodes[0].params.phase"),
    ({"nodes": [{"name": "m", "type": "mix", "params": {"channels": 1.5}}]}, "nodes[0].params.channels"),
    ({"nodes": [{"name": "x", "type": "oscilator"}]}, "unknown node type 'oscilator'"),
    ({"nodes": [osc()], "modulations": [{"source": "osc", "target": "osc", "param": "freq", "mode": "times"}]},
     "modulations[0].mode"),
    ({"nodes": [osc()], "sample_rate": 0}, "sample_rate"),
    ({"nodes": [{"type": "gain"}]}, "'name' is a required property"),
    ([], "a patch is a JSON object"),
])
def test_wrong_values_are_refused_with_their_path(runtime, config, fragment):
    with pytest.raises(amp.GraphError) as caught:
        amp.AudioGraph.from_config(config)
    assert fragment in str(caught.value)


def test_a_schema_error_in_a_node_names_the_node(runtime):
    with pytest.raises(amp.GraphError) as caught:
        amp.AudioGraph.from_config({"nodes": [osc(), {"name": "vca", "type": "gain", "params": {"gian": 1}}]})
    assert caught.value.node == "vca" and "(node 'vca')" in str(caught.value)


def test_files_are_checked_the_same_way_and_named(runtime, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[[nodes]]\nname = "osc"\ntype = "oscillator"\n[nodes.param]\nfreq = 220.0\n')
    with pytest.raises(amp.GraphError, match=r"p\.toml: nodes\[0\]\.param: unknown key"):
        amp.AudioGraph.from_config(path)
    other = tmp_path / "p.yaml"
    other.write_text("nodes: []")
    with pytest.raises(amp.GraphError, match=r"\.json or \.toml"):
        amp.AudioGraph.from_config(other)


def test_to_config_round_trips_through_the_schema(runtime):
    from amp import app

    graph = app.build_runtime_graph(SR)
    config = graph.to_config()
    patches.validate_patch(config)
    assert amp.AudioGraph.from_config(json.loads(json.dumps(config))).serialize_node_descriptors() == \
        graph.serialize_node_descriptors()


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_examples_in_docs_render(runtime, tmp_path, example):
    out = tmp_path / "example.wav"
    result = subprocess.run([sys.executable, "-m", "amp", "render", str(example), "--seconds", "2", "--float",
                             "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(out, always_2d=True)
    assert rate == SR and audio.shape[0] == 2 * SR
    assert np.all(np.isfinite(audio)) and 0.05 < np.max(np.abs(audio)) <= 1.0


def test_the_tremolo_example_is_what_its_comment_says(runtime, tmp_path):
    out = tmp_path / "tremolo.wav"
    result = subprocess.run([sys.executable, "-m", "amp", "render", str(ROOT / "docs" / "examples" / "tremolo.toml"),
                             "--seconds", "1", "--subtype", "DOUBLE", "-o", str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    audio, _ = soundfile.read(out)
    t = np.arange(SR) / SR
    expected = (0.3 + 0.2 * np.sin(2 * np.pi * 5 * t)) * np.sin(2 * np.pi * 220 * t)
    np.testing.assert_allclose(audio, expected, atol=1e-9)
