"""Every input checked, every error an amp.AmpError (and the built-in kind a caller expects)."""

from __future__ import annotations

import numpy as np
import pytest

import amp
from amp.checks import MAX_OUTPUT_SAMPLES
from amp.native_runtime import NativeGraphExecutor


def graph(sample_rate=48000) -> amp.AudioGraph:
    g = amp.AudioGraph(sample_rate)
    g.add_node("osc", "oscillator", freq=220.0)
    g.add_node("vca", "gain", gain=0.5)
    g.connect("osc", "vca")
    return g


@pytest.mark.parametrize("frames", [1.5, "10", True, np.float64(8.0), None, -1, 2**64])
def test_render_block_frames_must_be_a_count(frames):
    g = graph()
    with pytest.raises(amp.GraphError, match="frames") as info:
        g.render_block(frames)
    assert isinstance(info.value, ValueError)
    assert g.frame_position == 0


def test_numpy_integer_frames_are_counts():
    assert graph().render_block(np.int64(64)).shape == (1, 1, 64)
    assert graph().render_block(np.uint16(3)).shape == (1, 1, 3)


@pytest.mark.parametrize("rate", [0, -1, -48000.0, float("nan"), float("inf"), "48000", True, 10**400])
def test_sample_rates_are_positive_and_finite_numbers(rate):
    with pytest.raises(amp.GraphError, match="sample_rate"):
        amp.AudioGraph(sample_rate=rate)
    with pytest.raises(amp.GraphError, match="sample_rate"):
        graph().render_block(16, rate)
    with pytest.raises(amp.GraphError, match="sample_rate"):
        NativeGraphExecutor(graph(), sample_rate=rate)


def test_render_sample_rate_zero_is_refused_not_the_graphs_rate():
    g = graph()
    with pytest.raises(amp.GraphError, match="positive"):
        g.render_block(16, 0)
    assert g.frame_position == 0


@pytest.mark.parametrize("kwargs", [{"batch": 1.5}, {"batch": 0}, {"batch": "2"}, {"batch": True},
                                    {"threads": -1}, {"threads": 1.0}, {"max_block_frames": 0},
                                    {"max_block_frames": "4096"}, {"channel_depth": -3}])
def test_executor_counts(kwargs):
    with pytest.raises(amp.GraphError):
        NativeGraphExecutor(graph(), **kwargs)


def test_executor_render_and_streamer_counts():
    with NativeGraphExecutor(graph(), threads=1) as ex:
        for bad in (1.5, "10", False):
            with pytest.raises(amp.GraphError, match="frames"):
                ex.render(bad)
            with pytest.raises(amp.GraphError, match="frames"):
                ex.run_block(bad)
        with pytest.raises(amp.GraphError, match="block_frames"):
            ex.render(64, 0)
        with pytest.raises(amp.GraphError, match="block_frames"):
            ex.render(64, 64.0)
        with pytest.raises(amp.GraphError, match="lead_frames"):
            ex.create_streamer(lead_frames=2.5)
        with ex.create_streamer(block_frames=64) as s:
            with pytest.raises(amp.GraphError, match="frames"):
                s.read(1.5)
            with pytest.raises(amp.GraphError, match="timeout"):
                s.read(10, timeout="1")
            with pytest.raises(amp.GraphError, match="timeout"):
                s.read(10, timeout=-1)
            assert s.read(64).shape == (1, 1, 64)


def test_output_size_is_checked_before_numpy_allocates():
    g = graph()
    with pytest.raises(amp.AmpMemoryError) as info:
        g.render_block(2**31)
    error = info.value
    assert isinstance(error, MemoryError)
    assert str(2**31) in str(error) and "GiB" in str(error)  # the size it would need
    assert g.frame_position == 0
    # the limit counts B x C x F: a batch of 4 reaches it four times sooner
    frames = MAX_OUTPUT_SAMPLES // 4 + 1
    with pytest.raises(amp.AmpMemoryError, match=str(4 * frames)):
        graph().render_block(frames, batch=4)
    with NativeGraphExecutor(graph(), threads=1) as ex, ex.create_streamer() as s:
        with pytest.raises(amp.AmpMemoryError, match="read"):
            s.read(2**40)


@pytest.mark.parametrize("value", ["abc", [[1.0, 2.0], [3.0]], object(), 10**400, {"a": 1}])
def test_override_values_must_be_numbers(value):
    with pytest.raises(amp.GraphError, match="base_params"):
        graph().render_block(16, base_params={"osc": {"freq": value}})


def test_graph_building_values():
    g = graph()
    with pytest.raises(amp.GraphError):
        g.add_node("big", "gain", gain=10**400)
    with pytest.raises(amp.GraphError, match="scale"):
        g.modulate("osc", "vca", "gain", scale="x")
    with pytest.raises(amp.GraphError, match="scale"):
        g.modulate("osc", "vca", "gain", scale=10**400)
    with pytest.raises(amp.GraphError):
        g.record_control_event("soon", pitch=1.0)


def test_patch_files_and_entries(tmp_path):
    with pytest.raises(amp.PatchFileError, match="cannot be read") as info:
        amp.AudioGraph.from_config(tmp_path / "missing.json")
    assert isinstance(info.value, OSError)
    broken = tmp_path / "broken.json"
    broken.write_text("{nodes: ")
    with pytest.raises(amp.GraphError, match="syntax error at line 1"):
        amp.AudioGraph.from_config(broken)
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("nodes = [")
    with pytest.raises(amp.GraphError, match="TOML syntax error"):
        amp.AudioGraph.from_config(bad_toml)
    for config in ({"nodes": 5}, {"nodes": [5]}, {"nodes": [{"name": "a", "type": "gain", "params": [1]}]},
                   {"sample_rate": "fast", "nodes": []}, {"sample_rate": -1, "nodes": []}):
        with pytest.raises(amp.GraphError):
            amp.AudioGraph.from_config(config)


@pytest.mark.parametrize("timestamp", ["soon", None, float("nan"), 10**400, True])
def test_control_delay_events_are_checked_when_recorded_directly(timestamp):
    delay = amp.ControlDelay()
    with pytest.raises(amp.GraphError, match="control event time"):
        delay.record_control_event(timestamp, pitch=1.0)
    with pytest.raises(amp.GraphError, match="control value for 'pitch'"):
        delay.record_control_event(0.0, pitch="high")
    with pytest.raises(amp.GraphError, match="control value for 'cutoff'"):
        delay.record_control_event(0.0, extras={"cutoff": [1.0]})
    assert delay.keys == []


@pytest.mark.parametrize("window", [("0", 1.0), (0.0, None), (float("inf"), 1.0), (1.0, 0.5)])
def test_control_windows_are_checked(window):
    delay = amp.ControlDelay()
    delay.record_control_event(0.0, pitch=220.0)
    with pytest.raises(amp.GraphError, match="control window"):
        delay.export_control_history_blob(*window)

