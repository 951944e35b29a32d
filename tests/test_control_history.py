"""Control events become per-sample curves at the exact sample, whatever the block size."""

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000


def probe_graph(mode="step", default=0.0):
    g = amp.AudioGraph(SR)
    g.add_node("c", "constant", value=default)
    g.bind_control("c", "value", "knob")
    g.control_delay.set_interpolation("knob", mode)
    return g


def test_step_event_lands_on_round_t_times_sr(runtime):
    g = probe_graph()
    times = [0.0001, 0.00251, 0.004, 0.0100104]  # 4.8, 120.48, 192, 480.4992 samples
    for i, t in enumerate(times):
        g.record_control_event(t, extras={"knob": float(i + 1)})
    y = g.sample_control_tensor(0.0, 600, SR, keys=["knob"])[0]
    expected = np.zeros(600)
    for i, t in enumerate(times):
        expected[int(np.floor(t * SR + 0.5)):] = i + 1
    assert np.array_equal(y, expected)
    assert y[4] == 0.0 and y[5] == 1.0 and y[119] == 1.0 and y[120] == 2.0


def test_linear_ramps_reach_each_event_on_its_sample(runtime):
    g = probe_graph("linear", default=5.0)
    g.record_control_event(100 / SR, extras={"knob": 1.0})
    g.record_control_event(200 / SR, extras={"knob": 3.0})
    y = g.render_block(300, SR)[0, 0]  # the bound parameter holds its own value (5) until the first event
    n = np.arange(300)
    expected = np.where(n < 100, 5.0, np.where(n >= 200, 3.0, 1.0 + 2.0 * (n - 100) / 100))
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-15)
    tensor = g.sample_control_tensor(0.0, 300, SR)[0]  # the key alone starts from 0
    np.testing.assert_allclose(tensor, np.where(n < 100, 0.0, expected), rtol=0, atol=1e-15)


def performance(g):
    rng = np.random.default_rng(7)
    for t in np.sort(rng.uniform(0, 1.0, 40)):
        g.record_control_event(float(t), pitch=float(rng.uniform(100, 1000)), extras={"level": float(rng.uniform(0, 1))})


def performed_graph():
    g = amp.AudioGraph(SR)
    g.add_node("osc", "oscillator")
    g.add_node("vca", "gain")
    g.connect("osc", "vca")
    g.bind_control("osc", "freq", "pitch")
    g.bind_control("vca", "gain", "level")
    g.control_delay.set_interpolation("level", "linear")
    g.set_sink("vca")
    performance(g)
    return g


@pytest.mark.parametrize("block", [1, 7, 64, 256, 4096])
def test_control_script_renders_identically_at_every_block_size(runtime, block):
    g = performed_graph()
    total = SR  # one second
    blob = g.control_delay.export_control_history_blob(0.0, total / SR)
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=4096) as ex:
        reference = ex.render(total, 4096, control_history_blob=blob)
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=4096) as ex:
        y = ex.render(total, block, control_history_blob=blob)
    assert np.array_equal(y, reference)
    assert np.ptp(reference) > 0.5  # the script really moved the sound


@pytest.mark.parametrize("block", [7, 256, 4096])
def test_block_by_block_windows_equal_one_render(runtime, block):
    """render_block exports one window per block; the stitched result equals the one-call render."""
    g = performed_graph()
    total = SR // 2
    blob = g.control_delay.export_control_history_blob(0.0, total / SR)
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=4096) as ex:
        reference = ex.render(total, 4096, control_history_blob=blob)
    pieces = []
    done = 0
    while done < total:
        n = min(block, total - done)
        pieces.append(g.render_block(n, SR))
        done += n
    assert np.array_equal(np.concatenate(pieces, axis=2), reference)


def test_window_holds_the_event_before_and_after(runtime):
    cd = amp.ControlDelay()
    for t, v in [(0.0, 1.0), (0.5, 2.0), (1.0, 3.0), (1.5, 4.0), (2.0, 5.0)]:
        cd.record_control_event(t, pitch=v)
    from amp.native_runtime import describe_blob

    events = describe_blob(cd.export_control_history_blob(0.7, 1.2))["keys"][0]["events"]
    assert events == [[0.5, 2.0], [1.0, 3.0], [1.5, 4.0]]


def test_bad_events_are_refused(runtime):
    cd = amp.ControlDelay()
    with pytest.raises(amp.GraphError, match="finite"):
        cd.record_control_event(float("nan"), pitch=1.0)
    with pytest.raises(amp.GraphError, match="finite"):
        cd.record_control_event(0.0, pitch=float("inf"))
    with pytest.raises(amp.GraphError, match="at least one value"):
        cd.record_control_event(0.0)
    with pytest.raises(amp.GraphError, match="interpolation"):
        cd.set_interpolation("pitch", "cubic")
