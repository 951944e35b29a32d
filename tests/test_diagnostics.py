"""The diagnostics: the dump script, crash capture, native replay, optimisation switches and bisect."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import amp
from amp import diagnose, diagnose_bisect
from amp.blobs import OPTIMISATIONS
from amp.native_runtime import NativeGraphExecutor

from conftest import exact_sine

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "graph_runtime_diagnostic.py"

# 1 kHz sine at 0.25 times (0.5 + 2 * 0.125) = 0.1875 after the gain; the gain's value comes
# from a constant through an add route, which constant folding applies once at creation.
SINE_PATCH = {
    "sample_rate": 48000,
    "nodes": [
        {"name": "osc", "type": "oscillator", "params": {"freq": 1000.0, "amp": 0.25}},
        {"name": "level", "type": "constant", "params": {"value": 0.125}},
        {"name": "out", "type": "gain", "params": {"gain": 0.5}},
    ],
    "connections": [{"source": "osc", "target": "out"}],
    "modulations": [{"source": "level", "target": "out", "param": "gain", "scale": 2.0}],
    "sink": "out",
}


def run_script(*args, cwd=None, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


@pytest.fixture(scope="module")
def replay_program(runtime, tmp_path_factory) -> Path:
    """amp_replay: AMP_REPLAY_PROGRAM, the one CMake built beside the library, or compiled here
    from native/tools/amp_replay.cpp against the loaded library (what an installed wheel needs)."""
    given = os.environ.get("AMP_REPLAY_PROGRAM")
    if given:
        return Path(given)
    built = runtime.library_path.parent / "tools" / "amp_replay"
    if built.is_file():
        return built
    compiler = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if compiler is None:
        pytest.skip("no C++ compiler to build amp_replay, and no AMP_REPLAY_PROGRAM")
    out = tmp_path_factory.mktemp("replay") / "amp_replay"
    library = runtime.library_path
    subprocess.run([compiler, "-std=c++17", "-O1", "-I", str(runtime.header_path.parent),
                    str(ROOT / "native" / "tools" / "amp_replay.cpp"), str(library),
                    f"-Wl,-rpath,{library.parent}", "-o", str(out)], check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def sine_dump(runtime, tmp_path_factory):
    directory = tmp_path_factory.mktemp("dump")
    patch = directory / "sine.json"
    patch.write_text(json.dumps(SINE_PATCH))
    result = run_script("--blocks", 4, "--frames", 300, "--config", patch, "--dump-dir", directory / "dump",
                        "--threads", 1)
    assert result.returncode == 0, result.stderr
    return directory / "dump"


def test_dump_holds_blocks_blobs_descriptions_and_cdef(sine_dump, runtime):
    blocks = [np.load(sine_dump / f"block_{k:03d}.npy") for k in range(4)]
    assert not (sine_dump / "block_004.npy").exists()
    pcm = np.concatenate(blocks, axis=-1)
    assert pcm.shape == (1, 1, 1200) and pcm.dtype == np.float64
    # the dump holds what was rendered: the analytic sine, scaled by 0.25 * (0.5 + 2 * 0.125)
    np.testing.assert_allclose(pcm[0, 0], 0.25 * 0.75 * exact_sine(1000, 48000, 1200), rtol=0, atol=1e-12)

    descriptor = json.loads((sine_dump / "descriptor.json").read_text())
    assert [n["name"] for n in descriptor["nodes"]] == ["osc", "level", "out"]
    plan = json.loads((sine_dump / "plan.json").read_text())
    assert plan["kind"] == "plan"
    assert (sine_dump / "descriptor.bin").read_bytes() == amp.AudioGraph.from_config(SINE_PATCH).serialize_node_descriptors()
    assert (sine_dump / "amp_cdef.h").read_text() == amp._binding.load().cdef
    assert "amp_graph_node_timings" in (sine_dump / "amp_cdef.h").read_text()
    # a patch without control bindings has no control blobs
    assert not list(sine_dump.glob("control_block_*"))


def test_summary_reports_library_order_spans_timings_and_levels(sine_dump, runtime):
    summary = json.loads((sine_dump / "summary.json").read_text())
    assert summary["status"] == "ok"
    assert summary["library"]["path"] == str(runtime.library_path)
    assert summary["library"]["version"] == runtime.version
    assert summary["library"]["variant"] == ("logging" if runtime.logging_compiled else "plain")
    # osc and level feed out, so out runs last; osc before level by index
    assert [n["name"] for n in summary["node_order"]] == ["osc", "level", "out"]
    assert summary["parameters"]["out"]["params"]["gain"]["modulation"] == ["add level x 2"]
    assert summary["parameters"]["osc"]["params"]["freq"]["span"] == [1000.0, 1000.0]
    timings = summary["node_timings_ns"]
    assert len(timings) == 4 and all(set(t) == {"osc", "level", "out"} for t in timings)
    assert all(ns > 0 for t in timings for ns in t.values())
    sine = 0.25 * 0.75 * exact_sine(1000, 48000, 1200)
    for k, stats in enumerate(summary["blocks_stats"]):
        block = sine[300 * k:300 * (k + 1)]
        assert stats["nan_count"] == 0 and stats["shape"] == [1, 1, 300]
        assert stats["peak"] == pytest.approx(np.max(np.abs(block)), abs=1e-12)
        assert stats["rms"] == pytest.approx(np.sqrt(np.mean(block ** 2)), abs=1e-12)


def test_timing_does_not_change_the_output(runtime):
    graph = amp.AudioGraph.from_config(SINE_PATCH)
    with NativeGraphExecutor(graph, max_block_frames=256) as plain, NativeGraphExecutor(graph, max_block_frames=256) as timed:
        diagnose.set_timing(timed, True)
        a = plain.render(1000, 256)
        b = timed.render(1000, 256)
        ns, calls = diagnose.node_timings(timed)
        untimed_ns, untimed_calls = diagnose.node_timings(plain)
    assert a.tobytes() == b.tobytes()
    assert list(calls) == [4, 4, 4] and all(ns > 0)
    assert list(untimed_calls) == [0, 0, 0] and list(untimed_ns) == [0, 0, 0]


def test_replay_reproduces_the_dump_bit_for_bit(sine_dump, replay_program, tmp_path):
    result = subprocess.run([str(replay_program), str(sine_dump)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bit-identical" in result.stdout
    # one sample changed in the last place is found
    copy = tmp_path / "dump"
    shutil.copytree(sine_dump, copy)
    block = np.load(copy / "block_002.npy")
    block[0, 0, 17] = np.nextafter(block[0, 0, 17], 1.0)
    np.save(copy / "block_002.npy", block)
    result = subprocess.run([str(replay_program), str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "block_002.npy differs first at [0, 0, 17]" in result.stderr


def test_default_graph_with_controls_dumps_and_replays(runtime, replay_program, tmp_path):
    result = run_script("--blocks", 3, "--frames", 256, "--dump-dir", tmp_path / "d", "--no-pictures")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    bindings = summary["controls"]["bindings"]
    assert bindings, "the three-oscillator graph follows control keys"
    replay = json.loads((tmp_path / "d" / "replay.json").read_text())
    assert [c["control"] for c in replay["calls"]] == [f"control_block_{k:03d}.bin" for k in range(3)]
    for k in range(3):
        control = json.loads((tmp_path / "d" / f"control_block_{k:03d}.json").read_text())
        assert control["kind"] == "control"
        assert control["window"][0] == pytest.approx(k * 256 / summary["sample_rate"])
        assert control["keys"], "neutral curves are real control events"
    result = subprocess.run([str(replay_program), str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amp_diagnose_writes_the_same_dump(sine_dump, runtime, tmp_path):
    from amp.cli import main

    patch = tmp_path / "sine.json"
    patch.write_text(json.dumps(SINE_PATCH))
    assert main(["diagnose", "--config", str(patch), "--blocks", "2", "--frames", "300", "--threads", "1",
                 "--dump-dir", str(tmp_path / "d"), "--no-pictures"]) == 0
    for name in ("block_000.npy", "block_001.npy"):
        assert np.load(tmp_path / "d" / name).tobytes() == np.load(sine_dump / name).tobytes()
    for name in ("descriptor.bin", "plan.bin"):
        assert (tmp_path / "d" / name).read_bytes() == (sine_dump / name).read_bytes()


def test_pictures(sine_dump):
    pytest.importorskip("matplotlib")
    for name in ("waveform.png", "graph.png"):
        data = (sine_dump / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


# ----- crash capture ------------------------------------------------------------------------------
def test_a_failing_render_names_node_and_stage_and_leaves_a_replayable_dump(runtime, replay_program, tmp_path):
    patch = tmp_path / "sine.json"
    patch.write_text(json.dumps(SINE_PATCH))
    # a gain of 1e9 is outside the catalogue's range: the native runtime refuses the render
    result = run_script("--blocks", 2, "--frames", 128, "--config", patch, "--dump-dir", tmp_path / "d",
                        "--param", "out.gain=1e9", "--no-pictures")
    assert result.returncode != 0
    assert "node 'out'" in result.stderr and "stage 'params'" in result.stderr
    error = json.loads((tmp_path / "d" / "error.json").read_text())
    assert error["node"] == "out" and error["stage"] == "params" and error["type"] == "GraphError"
    state = json.loads((tmp_path / "d" / "state.json").read_text())
    assert state["stage"] == "render" and state["block"] == 0
    # the blobs and the override of the failing call were written before the native call
    replay = json.loads((tmp_path / "d" / "replay.json").read_text())
    call = replay["calls"][0]
    assert np.load(tmp_path / "d" / call["overrides"][0]["file"]).ravel().tolist() == [1e9]
    assert not (tmp_path / "d" / "block_000.npy").exists()
    # and the replay reproduces the failure without Python
    result = subprocess.run([str(replay_program), str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "node 'out'" in result.stderr and "stage params" in result.stderr


def test_a_node_failing_while_processing_is_named_and_replayed(runtime, replay_program, tmp_path):
    # block_delay refuses blocks longer than its delay: the kernel fails in process()
    patch = {
        "nodes": [{"name": "osc", "type": "oscillator"},
                  {"name": "late", "type": "block_delay", "params": {"frames": 64}}],
        "connections": [{"source": "osc", "target": "late"}],
        "sink": "late",
    }
    (tmp_path / "p.json").write_text(json.dumps(patch))
    result = run_script("--blocks", 2, "--frames", 128, "--config", tmp_path / "p.json", "--dump-dir",
                        tmp_path / "d", "--no-pictures")
    assert result.returncode != 0
    assert "node 'late'" in result.stderr and "stage 'process'" in result.stderr and "block 0" in result.stderr
    error = json.loads((tmp_path / "d" / "error.json").read_text())
    assert (error["node"], error["stage"], error["block"], error["type"]) == ("late", "process", 0,
                                                                              "NativeRuntimeError")
    result = subprocess.run([str(replay_program), str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "node 'late'" in result.stderr and "stage process" in result.stderr


def test_a_broken_patch_is_diagnosed(runtime, tmp_path):
    cycle = {
        "nodes": [{"name": "a", "type": "gain"}, {"name": "b", "type": "gain"}],
        "connections": [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}],
        "sink": "b",
    }
    patch = tmp_path / "cycle.json"
    patch.write_text(json.dumps(cycle))
    result = run_script("--config", patch, "--dump-dir", tmp_path / "d", "--no-pictures")
    assert result.returncode != 0
    assert "stage 'compile'" in result.stderr and "cycle" in result.stderr
    assert json.loads((tmp_path / "d" / "error.json").read_text())["stage"] == "compile"
    unknown = {"nodes": [{"name": "x", "type": "gain", "params": {"gian": 1.0}}]}
    patch.write_text(json.dumps(unknown))
    result = run_script("--config", patch, "--dump-dir", tmp_path / "d", "--no-pictures")
    assert result.returncode != 0 and "node 'x'" in result.stderr and "stage 'patch'" in result.stderr


# ----- optimisation switches, constant folding and bisect -----------------------------------------
def test_optimisations_switch_off_by_name_and_environment(runtime, monkeypatch):
    graph = amp.AudioGraph.from_config(SINE_PATCH)
    assert graph.compile([]).enabled() == list(OPTIMISATIONS)
    for name in OPTIMISATIONS:
        with NativeGraphExecutor(graph, disabled_optimisations=[name]) as executor:
            assert name not in executor.plan.enabled()
            assert set(executor.plan.enabled()) == set(OPTIMISATIONS) - {name}
    monkeypatch.setenv("AMP_DISABLE_OPTIMISATIONS", "constant_folding,buffer_reuse")
    assert graph.compile().enabled() == ["chain_fusion", "sum_stages", "lane_fusion"]
    monkeypatch.setenv("AMP_DISABLE_OPTIMISATIONS", "all")
    assert graph.compile().enabled() == []
    with pytest.raises(amp.GraphError, match="unknown optimisation 'folding'"):
        graph.compile(["folding"])


def test_folded_constants_follow_overrides_of_source_and_target(runtime):
    """A folded route must be unfolded for a render that overrides the constant or the target."""
    graph = amp.AudioGraph.from_config(SINE_PATCH)
    sine = exact_sine(1000, 48000, 600)
    with NativeGraphExecutor(graph, max_block_frames=256, disabled_optimisations=[]) as executor:
        assert "constant_folding" in executor.plan.enabled()
        plain = executor.render(600, 256)
        executor.reset()
        level = executor.render(600, 256, base_params={"level.value": 0.5})
        executor.reset()
        target = executor.render(600, 256, base_params={"out.gain": 0.25})
        executor.reset()
        again = executor.render(600, 256)
    np.testing.assert_allclose(plain[0, 0], 0.25 * (0.5 + 2 * 0.125) * sine, atol=1e-12, rtol=0)
    np.testing.assert_allclose(level[0, 0], 0.25 * (0.5 + 2 * 0.5) * sine, atol=1e-12, rtol=0)
    np.testing.assert_allclose(target[0, 0], 0.25 * (0.25 + 2 * 0.125) * sine, atol=1e-12, rtol=0)
    assert again.tobytes() == plain.tobytes()


def _exercise_graph(spec) -> amp.AudioGraph:
    """`spec`'s node fed by a sine at every input, with each modulatable parameter moved by an add
    route and a mul route from constants (what constant folding folds), followed by a gain chain
    (what chain fusion fuses); buffer reuse has a few values to share."""
    graph = amp.AudioGraph(48000.0)
    graph.add_node("src", "oscillator", freq=331.0, amp=0.5)
    graph.add_node("node", spec.type)
    for port in spec.inputs:
        graph.connect("src", "node", input=port.name)
    for k, param in enumerate(p for p in spec.params if not p.static):
        span = min(param.max - param.min, abs(param.default) + 1.0)
        graph.add_node(f"add{k}", "constant", value=0.25)
        graph.add_node(f"mul{k}", "constant", value=1.0)
        graph.modulate(f"add{k}", "node", param.name, scale=0.01 * span)
        graph.modulate(f"mul{k}", "node", param.name, scale=0.999, mode="mul")
    graph.add_node("g1", "gain", gain=0.5)
    graph.add_node("g2", "gain", gain=0.5)
    graph.connect("node", "g1")
    graph.connect("g1", "g2")
    graph.set_sink("g2")
    return graph


def test_optimised_and_unoptimised_renders_of_the_catalogue_are_bit_identical(runtime):
    from amp.catalogue import catalogue

    checked = []
    for spec in sorted(catalogue().values(), key=lambda s: s.type):
        try:
            graph = _exercise_graph(spec)
            graph.compile()
        except amp.GraphError:
            continue  # a node that cannot stand in this generic graph (needs data, fixed channels...)
        renders = {}
        for label, disabled in (("all off", list(OPTIMISATIONS)), ("all on", [])):
            try:
                with NativeGraphExecutor(graph, max_block_frames=64, disabled_optimisations=disabled) as ex:
                    renders[label] = np.concatenate([ex.run_block(f) for f in (64, 19, 64, 64)], axis=-1)
            except amp.AmpError as exc:
                renders[label] = f"{type(exc).__name__}: {exc}"
        if isinstance(renders["all off"], str):
            assert renders["all on"] == renders["all off"], spec.type  # failing alike is consistent
            continue
        assert not isinstance(renders["all on"], str), renders["all on"]
        assert renders["all on"].tobytes() == renders["all off"].tobytes(), spec.type
        checked.append(spec.type)
    print("bit-identical with and without optimisations:", ", ".join(checked))
    assert {"oscillator", "gain", "mix", "constant"} <= set(checked), checked


def test_compare_metrics_against_hand_computed_values():
    x = np.array([1.0, -1.0, 1.0, -1.0])
    same = diagnose_bisect.compare(x, x.copy())
    assert same == {"identical": True, "max_abs_error": 0.0, "pearson_r": 1.0, "snr_db": float("inf")}
    half = diagnose_bisect.compare(x, 0.5 * x)  # error -0.5 x: SNR 10 log10(4) dB, perfectly correlated
    assert half["identical"] is False and half["max_abs_error"] == 0.5
    assert half["pearson_r"] == pytest.approx(1.0) and half["snr_db"] == pytest.approx(6.020599913279624)
    flipped = diagnose_bisect.compare(x, -x)  # error -2x: SNR 10 log10(1/4), r = -1
    assert flipped["pearson_r"] == pytest.approx(-1.0) and flipped["snr_db"] == pytest.approx(-6.020599913279624)


def test_bisect_names_the_first_optimisation_that_changes_the_output():
    reference = np.linspace(-1.0, 1.0, 64)
    seen = []

    def render(disabled):
        seen.append(sorted(disabled))
        out = reference.copy()
        if "buffer_reuse" not in disabled:
            out[10] += 1e-3  # a stand-in for a broken optimisation
        return out

    steps, culprit = diagnose_bisect.bisect_optimisations(render, ["chain_fusion", "constant_folding", "buffer_reuse"])
    assert culprit == "buffer_reuse"
    assert seen[0] == ["buffer_reuse", "chain_fusion", "constant_folding"]  # the reference: all off
    assert [s.added for s in steps] == [None, "chain_fusion", "constant_folding", "buffer_reuse"]
    assert [s.metrics["identical"] for s in steps] == [True, True, True, False]
    assert steps[-1].metrics["max_abs_error"] == pytest.approx(1e-3)
    assert steps[-1].enabled == ["chain_fusion", "constant_folding", "buffer_reuse"]


def test_amp_diagnose_bisect_on_a_patch(runtime, tmp_path, capsys):
    from amp.cli import main

    patch = tmp_path / "sine.json"
    patch.write_text(json.dumps(SINE_PATCH))
    assert main(["diagnose", "--bisect", "--config", str(patch), "--blocks", "3", "--frames", "100"]) == 0
    out = capsys.readouterr().out
    for name in OPTIMISATIONS:
        assert name in out
    assert "bit-identical to the reference" in out
