"""fft_division: deconvolution by STFT spectral division, against references made here (a unit
impulse, FIRs applied with scipy.signal.lfilter, an exactly scaled divisor)."""

import numpy as np
import pytest
from scipy import signal

import amp
from amp.native_runtime import NativeGraphExecutor

FS = 48000.0


def divide(a, b, *, hop=64, regularisation=1e-12, block=100):
    g = amp.AudioGraph(FS)
    g.add_node("a", "constant")
    g.add_node("b", "constant")
    g.add_node("div", "fft_division", hop=hop, regularisation=regularisation)
    g.connect("a", "div", input="a")
    g.connect("b", "div", input="b")
    g.set_sink("div")
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    with NativeGraphExecutor(g, sample_rate=FS, max_block_frames=block) as ex:
        return ex.render(a.shape[-1], block, {"a": {"value": a.reshape(1, 1, -1)}, "b": {"value": b.reshape(1, 1, -1)}})[0, 0]


def latency(hop):
    return 4 * hop


def padded(h, n):
    out = np.zeros(n)
    out[: len(h)] = h
    return out


@pytest.mark.parametrize("hop", [16, 64, 300])
def test_division_by_unit_impulse_returns_a(hop):
    n = 6000
    a = np.random.default_rng(hop).standard_normal(n)
    y = divide(a, padded([1.0], n), hop=hop)
    lag = latency(hop)
    np.testing.assert_allclose(y[lag:], a[: n - lag], rtol=0, atol=1e-9)
    np.testing.assert_allclose(y[:lag], 0.0, atol=1e-12)


@pytest.mark.parametrize("h", [
    [1.0, -0.6, 0.3, 0.1],                  # minimum phase
    [0.3, 1.0, 0.4],                        # zeros outside the unit circle: its inverse runs backwards in time
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.2],  # a sparse echo
])
def test_deconvolving_a_fir_output_recovers_the_input(h):
    n = 8000
    x = np.random.default_rng(len(h)).standard_normal(n)
    a = signal.lfilter(h, [1.0], x)
    # The inverse of the echo rings longer; it has to die out within a hop.
    hop = 256 if len(h) > 4 else 64
    y = divide(a, padded(h, n), hop=hop)
    lag = latency(hop)
    np.testing.assert_allclose(y[lag:], x[: n - lag], rtol=0, atol=1e-8)


def test_regularisation_scales_as_documented():
    # Divisor 2δ: |B|² = 4 in every bin, so out = a · 2 / (4 + λ · 4).
    n, lam = 3000, 0.25
    a = np.random.default_rng(9).standard_normal(n)
    y = divide(a, padded([2.0], n), hop=32, regularisation=lam)
    lag = latency(32)
    np.testing.assert_allclose(y[lag:], a[: n - lag] * 2.0 / (4.0 + 4.0 * lam), rtol=0, atol=1e-12)


def test_delayed_impulse_divisor_advances_the_signal():
    # b = δ[n - 5]: x is a moved 5 samples earlier, which the latency leaves room for.
    n = 4000
    a = np.random.default_rng(10).standard_normal(n)
    y = divide(a, padded([0, 0, 0, 0, 0, 1.0], n), hop=32)
    lag = latency(32) - 5
    np.testing.assert_allclose(y[lag:], a[: n - lag], rtol=0, atol=1e-9)


def test_block_size_does_not_change_the_output():
    n = 3000
    rng = np.random.default_rng(12)
    a, b = rng.standard_normal(n), padded([1.0, 0.4, -0.2], n)
    first = divide(a, b, hop=50, block=1)
    for block in (7, 200, 3000):
        np.testing.assert_array_equal(divide(a, b, hop=50, block=block), first)


def test_silent_divisor_gives_silence():
    n = 2000
    y = divide(np.ones(n), np.zeros(n), hop=32)
    np.testing.assert_array_equal(y, 0.0)


def test_each_channel_has_its_divisor_and_a_narrower_divisor_repeats():
    # a has 3 channels, b has 2: channel 2 divides by b's channel 0 (2 mod 2).
    g = amp.AudioGraph(FS)
    g.add_node("a", "constant", channels=3)
    g.add_node("b", "constant", channels=2)
    g.add_node("div", "fft_division", hop=16)
    g.connect("a", "div", input="a")
    g.connect("b", "div", input="b")
    g.set_sink("div")
    n = 600
    a = np.random.default_rng(13).standard_normal((1, 3, n))
    b = np.zeros((1, 2, n))
    b[0, 0, 0], b[0, 1, 0] = 1.0, 2.0
    with NativeGraphExecutor(g, sample_rate=FS, max_block_frames=64) as ex:
        y = ex.render(n, 64, {"a": {"value": a}, "b": {"value": b}})[0]
    lag = latency(16)
    for channel, scale in ((0, 1.0), (1, 0.5), (2, 1.0)):
        np.testing.assert_allclose(y[channel, lag:], scale * a[0, channel, : n - lag], rtol=0, atol=1e-9)
