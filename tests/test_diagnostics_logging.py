"""The logging build records API calls, per-node timings, allocations and errors; the plain build
has none of that code and refuses to log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_python

PATCH = {
    "sample_rate": 48000,
    "nodes": [
        {"name": "osc", "type": "oscillator", "params": {"freq": 440.0}},
        {"name": "level", "type": "constant", "params": {"value": 0.25}},
        {"name": "out", "type": "gain", "params": {"gain": 0.5}},
    ],
    "connections": [{"source": "osc", "target": "out"}],
    "modulations": [{"source": "level", "target": "out", "param": "gain"}],
    "controls": [{"node": "osc", "param": "freq", "key": "pitch"}],
    "sink": "out",
}

# Format strings of the record writer (native/src/amp_log.c) as they sit in the binary.
RECORD_FORMATS = [b'"event":"allocation","what":"%s","bytes":%zu', b'"block":%lld,"frames":%d,"ns":%llu',
                  b'"total_frames":%lld,"block_frames":%d']


def _libraries(runtime) -> tuple[Path, Path]:
    directory = runtime.library_path.parent
    return directory / "libamp_native.so", directory / "libamp_native_logging.so"


def _env(library: Path, logging: bool) -> dict:
    env = {"AMP_NATIVE_DIAGNOSTICS_BUILD": "1" if logging else "0", "AMP_LOG_DIR": ""}
    if os.environ.get("AMP_NATIVE_LIBRARY"):
        env["AMP_NATIVE_LIBRARY"] = str(library)
    return env


@pytest.fixture(scope="module")
def logging_library(runtime) -> Path:
    _plain, logging = _libraries(runtime)
    if not logging.is_file():
        pytest.skip(f"no logging build beside {runtime.library_path} (cmake -DAMP_NATIVE_BUILD_LOGGING_VARIANT=ON)")
    return logging


LOGGING_SCRIPT = f"""
import json
from pathlib import Path
import amp, amp.diagnostics as diagnostics
from amp.native_runtime import describe_blob

info = amp.system.require_native_graph_runtime()
assert info.logging_compiled and not info.logging_enabled, info
quiet = amp.AudioGraph.from_config({PATCH!r})
quiet.record_control_event(0.0, pitch=220.0)
quiet.render_block(128)
assert not Path("logs").exists(), "logging is off: nothing may be written"

graph = amp.AudioGraph.from_config({PATCH!r})
for k in range(4):
    graph.record_control_event(k * 128 / 48000, pitch=220.0 * (k + 1))
diagnostics.enable_py_c_logging(True)
for k in range(3):
    graph.render_block(128)
# the blob of the refused call below: written before the call, so it survives the failure
last = graph.control_delay.export_control_history_blob(3 * 128 / 48000, (3 * 128 + 64) / 48000)
try:
    graph.render_block(64, base_params={{"out.gain": 1e9}})
except amp.GraphError:
    pass
diagnostics.enable_py_c_logging(False)
records = Path("logs/amp_native.jsonl").read_text().splitlines()
graph.render_block(128)
after = Path("logs/amp_native.jsonl").read_text().splitlines()
print(json.dumps({{"last_blob": last.hex(), "description": describe_blob(last), "records": len(records),
                  "after": len(after)}}))
"""


def test_logging_build_records_calls_timings_allocations_and_the_control_blob(logging_library, tmp_path):
    result = run_python(LOGGING_SCRIPT, _env(logging_library, True), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["after"] == report["records"], "records were written after logging was switched off"
    records = [json.loads(line) for line in (tmp_path / "logs" / "amp_native.jsonl").read_text().splitlines()]
    events = {}
    for record in records:
        events.setdefault(record["event"], []).append(record)
    create = [r for r in events["api"] if r["function"] == "amp_graph_create"]
    assert len(create) == 1 and create[0]["descriptor_bytes"] > 0 and create[0]["plan_bytes"] > 0
    assert create[0]["batch"] == 1 and create[0]["sample_rate"] == 48000
    renders = [r for r in events["api"] if r["function"] == "amp_graph_render_part"]
    assert [r["total_frames"] for r in renders] == [128, 128, 128, 64]
    assert renders[3]["control_bytes"] == len(bytes.fromhex(report["last_blob"]))
    # one timing per node per block, for the three blocks that rendered
    timings = events["node_timing"]
    assert sorted((t["node"], t["block"]) for t in timings) == sorted(
        (n, b) for n in ("osc", "level", "out") for b in range(3))
    assert all(t["frames"] == 128 and t["ns"] > 0 for t in timings)
    # buffers and the scratch of the modulated gain, allocated when the graph was built
    allocations = events["allocation"]
    assert {"buffer", "param_scratch"} <= {a["what"] for a in allocations}
    assert all(a["bytes"] > 0 for a in allocations)
    # the gain's route from the constant was folded: 0.5 + 0.25
    folds = events["constant_folding"]
    assert [(f["node"], f["routes"], f["value"]) for f in folds] == [("out", 1, 0.75)]
    # the refused render, with its node and stage
    (error,) = events["error"]
    assert error["function"] == "amp_graph_render_part" and error["node"] == "out" and error["stage"] == "params"
    # render_block wrote the control blob of its last (failed) call, and its description
    assert (tmp_path / "logs" / "last_control_blob.bin").read_bytes() == bytes.fromhex(report["last_blob"])
    assert json.loads((tmp_path / "logs" / "last_control_blob.json").read_text()) == report["description"]


def test_plain_build_refuses_logging(runtime, tmp_path):
    plain, _logging = _libraries(runtime)
    script = """
import amp, amp.diagnostics
from amp import _binding
info = amp.system.require_native_graph_runtime()
assert not info.logging_compiled, info
try:
    amp.diagnostics.enable_py_c_logging(True)
except amp.LoggingUnavailable as exc:
    assert "AMP_NATIVE_DIAGNOSTICS_BUILD=1" in str(exc), exc
    assert isinstance(exc, RuntimeError)
else:
    raise SystemExit("the plain build accepted logging")
lib = _binding.load().lib
assert lib.amp_native_logging_set(1) == lib.AMP_ERR_LOGGING_UNAVAILABLE
g = amp.AudioGraph(48000.0)
g.add_node("k", "constant")
g.bind_control("k", "value", "pitch")
g.record_control_event(0.0, pitch=1.0)
g.render_block(64)
print("refused")
"""
    result = run_python(script, _env(plain, False), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "refused"
    assert not (tmp_path / "logs").exists()


def test_plain_binary_holds_no_logging_code(runtime, logging_library):
    plain, _logging = _libraries(runtime)
    plain_bytes = plain.read_bytes()
    logging_bytes = logging_library.read_bytes()
    for text in RECORD_FORMATS:
        assert text in logging_bytes, text
        assert text not in plain_bytes, text
    assert b"amp_log_node_timing" not in plain_bytes
