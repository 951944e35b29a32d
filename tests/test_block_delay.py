"""block_delay: an exact sample delay, and the node that lets feedback loops compile."""

import numpy as np
import pytest
from scipy import signal

import amp
from amp.native_runtime import NativeGraphExecutor


def _source(graph, name="x"):
    # A constant whose value is overridden per frame: an arbitrary input signal.
    graph.add_node(name, "constant")
    return name


def _noise(frames, seed=1):
    return np.random.default_rng(seed).standard_normal(frames)


@pytest.mark.parametrize("delay,block", [(1, 1), (5, 5), (64, 17), (100, 64)])
def test_delay_is_exact(delay, block):
    g = amp.AudioGraph(48000)
    _source(g)
    g.add_node("d", "block_delay", frames=delay)
    g.connect("x", "d")
    g.set_sink("d")
    x = _noise(1000)
    with NativeGraphExecutor(g, max_block_frames=block) as ex:
        y = ex.render(1000, block, {"x": {"value": x[None, None, :]}})[0, 0]
    expected = np.concatenate([np.zeros(delay), x[:-delay]])
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("delay,gain,block", [(32, 0.5, 32), (50, -0.9, 7), (13, 0.99, 13)])
def test_comb_filter_feedback_loop_matches_lfilter(delay, gain, block):
    # y[n] = x[n] + g * y[n - D], as mix -> block_delay -> gain -> back into mix.
    g = amp.AudioGraph(48000)
    _source(g)
    g.add_node("sum", "mix")
    g.add_node("d", "block_delay", frames=delay)
    g.add_node("fb", "gain", gain=gain)
    g.connect("x", "sum")
    g.connect("sum", "d")
    g.connect("d", "fb")
    g.connect("fb", "sum")
    g.set_sink("sum")
    frames = 4000
    x = _noise(frames, seed=delay)
    with NativeGraphExecutor(g, max_block_frames=block) as ex:
        y = ex.render(frames, block, {"x": {"value": x[None, None, :]}})[0, 0]
    a = np.zeros(delay + 1)
    a[0], a[delay] = 1.0, -gain
    reference = signal.lfilter([1.0], a, x)
    np.testing.assert_allclose(y, reference, rtol=0, atol=1e-12)


def test_block_longer_than_delay_fails_cleanly():
    g = amp.AudioGraph(48000)
    _source(g)
    g.add_node("d", "block_delay", frames=16)
    g.connect("x", "d")
    g.set_sink("d")
    with NativeGraphExecutor(g, max_block_frames=64) as ex:
        with pytest.raises(amp.AmpError, match="longer than the delay of 16"):
            ex.render(64, 64)


def test_cycle_without_block_delay_is_rejected():
    g = amp.AudioGraph(48000)
    g.add_node("a", "mix")
    g.add_node("b", "gain")
    g.connect("a", "b")
    g.connect("b", "a")
    with pytest.raises(amp.AmpError, match="cycle"):
        g.compile()


def test_channels_and_batch_rows_are_independent():
    g = amp.AudioGraph(48000)
    _source(g)
    g.add_node("d", "block_delay", frames=3, channels=2)
    g.connect("x", "d")
    g.set_sink("d")
    x = np.stack([_noise(40, 1), _noise(40, 2)])[:, None, :]
    with NativeGraphExecutor(g, batch=2, max_block_frames=3) as ex:
        y = ex.render(40, 3, {"x": {"value": x}})
    assert y.shape == (2, 2, 40)
    for b in range(2):
        for c in range(2):
            np.testing.assert_array_equal(y[b, c, 3:], x[b, 0, :-3])
            np.testing.assert_array_equal(y[b, c, :3], 0.0)
