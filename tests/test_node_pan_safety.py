"""pan (equal-power law) and safety (NaN/Inf guard, DC block, soft clip)."""

import struct

import numpy as np
import pytest
from scipy import signal

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000.0


def render(graph, frames, base_params=None, block=256):
    with NativeGraphExecutor(graph, sample_rate=SR, max_block_frames=block, threads=1) as ex:
        return ex.render(frames, block, base_params)


def source_into(node_type, frames, x, channels=1, **params):
    """A constant node carrying x (channels, frames) into a node of node_type; returns (graph, base_params)."""
    g = amp.AudioGraph(SR)
    g.add_node("src", "constant", channels=channels)
    g.add_node("dut", node_type, **params)
    g.connect("src", "dut")
    g.set_sink("dut")
    return g, {"src": {"value": np.asarray(x, float).reshape(1, channels, frames)}}


# ----- pan -------------------------------------------------------------------------------------

def test_pan_follows_the_equal_power_law(runtime):
    frames = 4801
    positions = np.linspace(-1.0, 1.0, frames)
    x = np.sin(2 * np.pi * 440 * np.arange(frames) / SR) + 0.3
    g, params = source_into("pan", frames, x)
    params["dut"] = {"pan": positions.reshape(1, 1, -1)}
    y = render(g, frames, params)[0]
    theta = (positions + 1) * np.pi / 4
    np.testing.assert_allclose(y[0], np.cos(theta) * x, rtol=0, atol=1e-15)
    np.testing.assert_allclose(y[1], np.sin(theta) * x, rtol=0, atol=1e-15)
    np.testing.assert_allclose(y[0] ** 2 + y[1] ** 2, x ** 2, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("position,left,right", [(0.0, 2 ** -0.5, 2 ** -0.5), (-1.0, 1.0, 0.0), (1.0, 0.0, 1.0)])
def test_pan_positions(runtime, position, left, right):
    g, params = source_into("pan", 10, np.ones(10), pan=position)
    y = render(g, 10, params)[0]
    assert y[0] == pytest.approx(np.full(10, left), abs=1e-15)
    assert y[1] == pytest.approx(np.full(10, right), abs=1e-15)


def test_pan_modulated_past_the_ends_is_clamped(runtime):
    g = amp.AudioGraph(SR)
    g.add_node("src", "constant", value=1.0)
    g.add_node("push", "constant", value=3.0)
    g.add_node("dut", "pan", pan=0.5)
    g.connect("src", "dut")
    g.modulate("push", "dut", "pan")  # 0.5 + 3
    g.set_sink("dut")
    y = render(g, 8)[0]
    assert np.all(y[0] == np.cos(np.pi / 2)) and np.all(y[1] == 1.0)


def test_pan_averages_a_stereo_input(runtime):
    frames = 64
    x = np.stack([np.linspace(0, 1, frames), np.linspace(1, -1, frames)])
    g, params = source_into("pan", frames, x, channels=2, pan=-1.0)
    y = render(g, frames, params)[0]
    np.testing.assert_allclose(y[0], x.mean(axis=0), atol=1e-15)


# ----- safety ----------------------------------------------------------------------------------

def raw_buffer(x):
    """A sampler data section built by hand from the documented layout (no validation: NaN allowed)."""
    x = np.asarray(x, float)
    return b"AMPS" + struct.pack("<HHQ", 1, 1, len(x)) + x.astype("<f8").tobytes()


def test_safety_turns_nan_and_inf_into_finite_samples(runtime):
    frames = 2000
    rng = np.random.default_rng(4)
    x = 0.5 * rng.standard_normal(frames)
    bad = rng.choice(frames, 60, replace=False)
    x[bad[:20]] = np.nan
    x[bad[20:40]] = np.inf
    x[bad[40:]] = -np.inf
    g = amp.AudioGraph(SR)
    g.add_node("src", "sampler", data=raw_buffer(x))  # the sampler passes the buffer through as is
    g.add_node("dut", "safety")
    g.connect("src", "dut")
    g.set_sink("src")
    raw = render(g, frames)[0, 0]
    assert np.isnan(raw).sum() == 20 and np.isinf(raw).sum() == 40, "the source must really carry NaN and Inf"
    g.set_sink("dut")
    y = render(g, frames)[0, 0]
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
    # The guard replaces them by 0: compare with the documented chain applied to the cleaned input.
    clean = np.where(np.isfinite(x), x, 0.0)
    r = np.exp(-2 * np.pi * 10.0 / SR)
    reference = signal.lfilter([(1 + r) / 2, -(1 + r) / 2], [1, -r], clean)
    small = np.abs(reference) <= 0.9
    np.testing.assert_allclose(y[small], reference[small], rtol=0, atol=1e-12)


def test_safety_removes_dc(runtime):
    frames = int(SR)
    n = np.arange(frames)
    x = 0.4 + 0.3 * np.sin(2 * np.pi * 1000 * n / SR)
    g, params = source_into("safety", frames, x)
    y = render(g, frames, params)[0, 0]
    tail = y[frames // 2:]  # after many time constants of a 10 Hz corner
    assert abs(tail.mean()) < 1e-6
    assert np.sqrt(2 * np.mean(tail ** 2)) == pytest.approx(0.3, rel=1e-3)
    # scipy: the documented first-order highpass.
    r = np.exp(-2 * np.pi * 10.0 / SR)
    np.testing.assert_allclose(y, signal.lfilter([(1 + r) / 2, -(1 + r) / 2], [1, -r], x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("ceiling,knee", [(1.0, 0.9), (0.5, 0.5), (1.0, 1.0), (2.0, 0.0)])
def test_safety_soft_clip_bound(runtime, ceiling, knee):
    frames = 20001
    x = np.linspace(-50.0, 50.0, frames)
    g, params = source_into("safety", frames, x, dc_cutoff=0.0, ceiling=ceiling, knee=knee)
    y = render(g, frames, params)[0, 0]
    assert np.max(np.abs(y)) <= ceiling
    assert np.all(np.diff(y) >= 0), "the clip curve must be monotonic"
    t = knee * ceiling
    below = np.abs(x) <= t
    assert np.array_equal(y[below], x[below]), "below the knee samples pass untouched"
    above = ~below
    if ceiling > t:
        expected = np.sign(x[above]) * (t + (ceiling - t) * np.tanh((np.abs(x[above]) - t) / (ceiling - t)))
    else:
        expected = np.sign(x[above]) * ceiling
    np.testing.assert_allclose(y[above], expected, rtol=0, atol=1e-15)


def test_safety_keeps_a_loud_signal_within_the_ceiling(runtime):
    frames = 48000
    x = 40.0 * np.sin(2 * np.pi * 3 * np.arange(frames) / SR) + 5.0
    g, params = source_into("safety", frames, x)
    y = render(g, frames, params)[0, 0]
    assert np.max(np.abs(y)) <= 1.0
