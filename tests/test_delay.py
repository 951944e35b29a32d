"""delay: integer delays are exact copies; fractional delays match interpolation references built
here (numpy.interp for linear, scipy's Lagrange polynomial for the four-point cubic)."""

import numpy as np
import pytest
from scipy import interpolate, signal

import amp
from amp.native_runtime import NativeGraphExecutor

FS = 48000.0


def render_delay(x, params, *, block=64, overrides=None, batch=1):
    g = amp.AudioGraph(FS)
    g.add_node("x", "constant")
    g.add_node("d", "delay", params)
    g.connect("x", "d")
    g.set_sink("d")
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, None, :]
    base = {"x": {"value": x}}
    if overrides:
        base["d"] = overrides
    with NativeGraphExecutor(g, batch=batch, sample_rate=FS, max_block_frames=block) as ex:
        return ex.render(x.shape[-1], block, base)


def noise(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


def interp(x, t):
    """Linear interpolation of x at times t, with x = 0 before the start."""
    return np.interp(t, np.arange(-1, len(x)), np.concatenate([[0.0], x]), left=0.0)


def past(x, k):
    """x[n - k] with zeros before the start, for integer arrays k."""
    idx = np.arange(len(x)) - k
    return np.where(idx >= 0, x[np.clip(idx, 0, None)], 0.0)


@pytest.mark.parametrize("interpolation", ["linear", "lagrange"])
@pytest.mark.parametrize("samples", [1, 2, 17, 480, 12345])
def test_integer_delay_is_bit_exact(interpolation, samples):
    x = noise(20000, samples)
    y = render_delay(x, {"max_time": 0.5, "interpolation": interpolation, "time": samples / FS}, block=100)[0, 0]
    np.testing.assert_array_equal(y, past(x, samples))


def test_zero_delay_linear_is_the_input():
    x = noise(1000)
    y = render_delay(x, {"interpolation": "linear", "time": 0.0})[0, 0]
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("samples", [0.25, 3.5, 100.9, 2047.0001])
def test_linear_fractional_delay_matches_interp(samples):
    x = noise(5000, 1)
    y = render_delay(x, {"interpolation": "linear", "time": samples / FS})[0, 0]
    n = np.arange(len(x))
    reference = interp(x, n - samples)
    # n - samples itself rounds to ~1e-12 at n ~ 5000
    np.testing.assert_allclose(y, reference, rtol=0, atol=1e-10)


def lagrange_reference(x, d):
    """The cubic through the samples at delays D-1, D, D+1, D+2 (D = floor d), evaluated at d."""
    whole = int(np.floor(d))
    offsets = np.array([whole - 1, whole, whole + 1, whole + 2])
    # Positions relative to D keep scipy's monomial-basis polynomial well conditioned.
    weights = [interpolate.lagrange(-(offsets - whole).astype(float), np.eye(4)[j])(-(d - whole)) for j in range(4)]
    return sum(w * past(x, k) for w, k in zip(weights, offsets))


@pytest.mark.parametrize("samples", [1.3, 2.5, 64.75, 999.01])
def test_lagrange_fractional_delay_matches_polynomial(samples):
    x = noise(4000, 2)
    y = render_delay(x, {"interpolation": "lagrange", "time": samples / FS})[0, 0]
    np.testing.assert_allclose(y, lagrange_reference(x, samples), rtol=0, atol=1e-11)


def test_lagrange_delay_passes_a_low_sine_with_the_right_phase():
    # A physical check besides the polynomial: a 200 Hz sine comes out shifted by exactly d samples.
    d = 37.37
    n = np.arange(6000)
    x = np.sin(2 * np.pi * 200.0 * n / FS)
    y = render_delay(x, {"interpolation": "lagrange", "time": d / FS})[0, 0]
    expected = np.sin(2 * np.pi * 200.0 * (n - d) / FS)
    assert np.abs(y[100:] - expected[100:]).max() < 1e-7


def test_audio_rate_time_matches_interp():
    n = np.arange(6000)
    x = noise(len(n), 3)
    samples = 200.0 + 150.0 * np.sin(2 * np.pi * 3.0 * n / FS)  # a vibrato of the delay time
    y = render_delay(x, {"interpolation": "linear", "max_time": 0.02},
                     overrides={"time": (samples / FS)[None, None, :]}, block=50)[0, 0]
    reference = interp(x, n - samples)
    # time / FS * FS rounds, so the fraction can be off by an ulp or so of the delay
    np.testing.assert_allclose(y, reference, rtol=0, atol=1e-9)


@pytest.mark.parametrize("gain", [0.5, -0.8])
def test_feedback_is_a_comb_filter(gain):
    D = 30
    x = noise(3000, 4)
    y = render_delay(x, {"time": D / FS, "feedback": gain}, block=7)[0, 0]
    # w[n] = x[n] + g w[n - D]; the output is w[n - D].
    a = np.zeros(D + 1)
    a[0], a[D] = 1.0, -gain
    w = signal.lfilter([1.0], a, x)
    np.testing.assert_allclose(y, past(w, D), rtol=0, atol=1e-12)


def test_time_is_held_to_max_time():
    x = noise(2000, 5)
    y = render_delay(x, {"max_time": 10 / FS, "time": 0.5})[0, 0]
    np.testing.assert_array_equal(y, past(x, 10))


def test_per_row_times():
    x = np.stack([noise(1000, 6), noise(1000, 7)])[:, None, :]
    times = np.array([3.0, 11.0]).reshape(2, 1, 1) / FS
    y = render_delay(x, {"max_time": 0.01}, overrides={"time": times}, batch=2)
    np.testing.assert_array_equal(y[0, 0], past(x[0, 0], 3))
    np.testing.assert_array_equal(y[1, 0], past(x[1, 0], 11))
