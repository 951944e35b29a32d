"""biquad, svf, one_pole and dc_block against references computed here from textbook formulas
(RBJ Audio EQ Cookbook, analog prototypes through scipy.signal.bilinear) and scipy.signal."""

import numpy as np
import pytest
from scipy import signal

import amp
from amp.native_runtime import NativeGraphExecutor

FS = 48000.0


def render_filter(type_name, x, params, *, block=256, fs=FS, batch_params=None):
    """Feeds x (frames,) or (B, 1, frames) through one node; returns (B, C, frames)."""
    g = amp.AudioGraph(fs)
    g.add_node("x", "constant")
    g.add_node("f", type_name, params)
    g.connect("x", "f")
    g.set_sink("f")
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, None, :]
    base = {"x": {"value": x}}
    base.update(batch_params or {})
    with NativeGraphExecutor(g, batch=x.shape[0], sample_rate=fs, max_block_frames=block) as ex:
        return ex.render(x.shape[-1], block, base)


def impulse(n):
    x = np.zeros(n)
    x[0] = 1.0
    return x


def measured_response(type_name, params, n=1 << 15, fs=FS):
    h = render_filter(type_name, impulse(n), params, block=512, fs=fs)[0, 0]
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    return freqs, np.fft.rfft(h)


def rbj(mode, f0, q, gain_db, fs):
    """The cookbook's (b, a), written out here independently of the node."""
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f0 / fs
    cw, sw = np.cos(w0), np.sin(w0)
    al = sw / (2.0 * q)
    sa = 2.0 * np.sqrt(A) * al
    if mode == "lowpass":
        b, a = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2], [1 + al, -2 * cw, 1 - al]
    elif mode == "highpass":
        b, a = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2], [1 + al, -2 * cw, 1 - al]
    elif mode == "bandpass":
        b, a = [al, 0.0, -al], [1 + al, -2 * cw, 1 - al]
    elif mode == "notch":
        b, a = [1.0, -2 * cw, 1.0], [1 + al, -2 * cw, 1 - al]
    elif mode == "peak":
        b, a = [1 + al * A, -2 * cw, 1 - al * A], [1 + al / A, -2 * cw, 1 - al / A]
    elif mode == "lowshelf":
        b = [A * ((A + 1) - (A - 1) * cw + sa), 2 * A * ((A - 1) - (A + 1) * cw), A * ((A + 1) - (A - 1) * cw - sa)]
        a = [(A + 1) + (A - 1) * cw + sa, -2 * ((A - 1) + (A + 1) * cw), (A + 1) + (A - 1) * cw - sa]
    elif mode == "highshelf":
        b = [A * ((A + 1) + (A - 1) * cw + sa), -2 * A * ((A - 1) + (A + 1) * cw), A * ((A + 1) + (A - 1) * cw - sa)]
        a = [(A + 1) - (A - 1) * cw + sa, 2 * ((A - 1) - (A + 1) * cw), (A + 1) - (A - 1) * cw - sa]
    elif mode == "allpass":
        b, a = [1 - al, -2 * cw, 1 + al], [1 + al, -2 * cw, 1 - al]
    else:
        raise ValueError(mode)
    return np.array(b), np.array(a)


def assert_db_close(freqs, measured, reference, fs, tol_db=0.05, floor_db=-100.0):
    band = freqs <= 0.4 * fs
    m = np.abs(measured[band])
    r = np.abs(reference[band])
    audible = 20 * np.log10(np.maximum(r, 1e-300)) > floor_db
    diff = np.abs(20 * np.log10(m[audible]) - 20 * np.log10(r[audible]))
    assert diff.max() < tol_db, f"max deviation {diff.max():.4f} dB at {freqs[band][audible][np.argmax(diff)]:.1f} Hz"
    # Below the floor (deep in a notch) the magnitudes must still be tiny.
    assert np.all(m[~audible] < 10 ** ((floor_db + 6) / 20))


BIQUAD_CASES = [
    ("lowpass", 1000.0, 0.7071, 0.0),
    ("lowpass", 12000.0, 4.0, 0.0),
    ("highpass", 200.0, 0.5, 0.0),
    ("highpass", 8000.0, 2.0, 0.0),
    ("bandpass", 3000.0, 1.5, 0.0),
    ("notch", 2500.0, 3.0, 0.0),
    ("peak", 1500.0, 2.0, 9.0),
    ("peak", 6000.0, 0.7, -12.0),
    ("lowshelf", 300.0, 0.7071, 6.0),
    ("highshelf", 5000.0, 0.9, -8.0),
    ("allpass", 4000.0, 1.0, 0.0),
]


@pytest.mark.parametrize("mode,f0,q,gain_db", BIQUAD_CASES)
def test_biquad_matches_rbj_cookbook(mode, f0, q, gain_db):
    freqs, measured = measured_response("biquad", {"mode": mode, "freq": f0, "q": q, "gain_db": gain_db})
    b, a = rbj(mode, f0, q, gain_db, FS)
    _, reference = signal.freqz(b, a, worN=freqs, fs=FS)
    assert_db_close(freqs, measured, reference, FS)


def test_biquad_sample_by_sample_matches_lfilter():
    x = np.random.default_rng(3).standard_normal(3000)
    y = render_filter("biquad", x, {"mode": "peak", "freq": 700.0, "q": 1.2, "gain_db": 5.0}, block=100)[0, 0]
    b, a = rbj("peak", 700.0, 1.2, 5.0, FS)
    np.testing.assert_allclose(y, signal.lfilter(b, a, x), rtol=0, atol=1e-12)


def svf_prototype(mode, fc, q, fs):
    """Analog SVF prototype, cutoff pre-warped, through the bilinear transform."""
    wa = 2.0 * fs * np.tan(np.pi * fc / fs)
    den = [1.0 / wa**2, 1.0 / (q * wa), 1.0]
    num = {
        "lowpass": [0.0, 0.0, 1.0],
        "highpass": [1.0 / wa**2, 0.0, 0.0],
        "bandpass": [0.0, 1.0 / (q * wa), 0.0],
        "notch": [1.0 / wa**2, 0.0, 1.0],
    }[mode]
    return signal.bilinear(num, den, fs)


SVF_CASES = [
    ("lowpass", 1000.0, 0.7071),
    ("lowpass", 15000.0, 5.0),
    ("highpass", 120.0, 0.6),
    ("highpass", 9000.0, 1.3),
    ("bandpass", 2000.0, 4.0),
    ("bandpass", 18000.0, 0.8),
    ("notch", 3000.0, 2.0),
]


@pytest.mark.parametrize("mode,fc,q", SVF_CASES)
def test_svf_matches_bilinear_analog_prototype(mode, fc, q):
    freqs, measured = measured_response("svf", {"mode": mode, "cutoff": fc, "q": q})
    b, a = svf_prototype(mode, fc, q, FS)
    _, reference = signal.freqz(b, a, worN=freqs, fs=FS)
    assert_db_close(freqs, measured, reference, FS)


def test_svf_steady_sines_match_prototype():
    # Independent of the impulse-response route: the gain of steady sines, after transients die.
    fc, q = 2500.0, 2.0
    b, a = svf_prototype("lowpass", fc, q, FS)
    n = 24000
    t = np.arange(n) / FS
    for f in (300.0, 2500.0, 7000.0, 16000.0):
        y = render_filter("svf", np.sin(2 * np.pi * f * t), {"mode": "lowpass", "cutoff": fc, "q": q})[0, 0]
        tail = slice(n // 2, n)
        basis = np.stack([np.sin(2 * np.pi * f * t[tail]), np.cos(2 * np.pi * f * t[tail])], axis=1)
        coef, *_ = np.linalg.lstsq(basis, y[tail], rcond=None)
        _, h = signal.freqz(b, a, worN=[f], fs=FS)
        assert abs(20 * np.log10(np.hypot(*coef)) - 20 * np.log10(abs(h[0]))) < 0.01


def svf_reference_time_varying(x, cutoff, q, fs):
    """Simper's trapezoidal SVF (lowpass), as published, sample by sample with moving parameters."""
    ic1 = ic2 = 0.0
    y = np.empty_like(x)
    for n in range(len(x)):
        g = np.tan(np.pi * min(cutoff[n], 0.499 * fs) / fs)
        k = 1.0 / q[n]
        a1 = 1.0 / (1.0 + g * (g + k))
        a2 = g * a1
        a3 = g * a2
        v3 = x[n] - ic2
        v1 = a1 * ic1 + a2 * v3
        v2 = ic2 + a2 * ic1 + a3 * v3
        ic1, ic2 = 2 * v1 - ic1, 2 * v2 - ic2
        y[n] = v2
    return y


def test_svf_audio_rate_cutoff_and_resonance():
    n = 4000
    rng = np.random.default_rng(5)
    x = rng.standard_normal(n)
    t = np.arange(n) / FS
    cutoff = 1500.0 * 2.0 ** (2.0 * np.sin(2 * np.pi * 7.0 * t))
    q = 0.8 + 0.6 * (1 + np.sin(2 * np.pi * 3.0 * t))
    y = render_filter("svf", x, {"mode": "lowpass"}, block=64,
                      batch_params={"f": {"cutoff": cutoff[None, None, :], "q": q[None, None, :]}})[0, 0]
    np.testing.assert_allclose(y, svf_reference_time_varying(x, cutoff, q, FS), rtol=0, atol=1e-10)


def test_biquad_audio_rate_constant_equals_static():
    x = np.random.default_rng(8).standard_normal(2000)
    params = {"mode": "lowshelf", "freq": 900.0, "q": 0.8, "gain_db": 4.0}
    static = render_filter("biquad", x, params)[0, 0]
    moving = render_filter("biquad", x, {"mode": "lowshelf"}, batch_params={
        "f": {"freq": np.full((1, 1, 2000), 900.0), "q": np.full((1, 1, 2000), 0.8),
              "gain_db": np.full((1, 1, 2000), 4.0)}})[0, 0]
    np.testing.assert_array_equal(static, moving)


@pytest.mark.parametrize("mode", ["lowpass", "highpass"])
@pytest.mark.parametrize("cutoff", [50.0, 1000.0, 20000.0])
def test_one_pole_matches_lfilter(mode, cutoff):
    x = np.random.default_rng(int(cutoff)).standard_normal(5000)
    y = render_filter("one_pole", x, {"mode": mode, "cutoff": cutoff}, block=77)[0, 0]
    p = np.exp(-2 * np.pi * cutoff / FS)  # the pole
    if mode == "lowpass":
        b, a = [1 - p], [1, -p]
    else:  # x - lowpass = p (1 - z^-1) / (1 - p z^-1)
        b, a = [p, -p], [1, -p]
    np.testing.assert_allclose(y, signal.lfilter(b, a, x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cutoff", [5.0, 30.0, 300.0])
def test_dc_block_matches_lfilter(cutoff):
    x = np.random.default_rng(11).standard_normal(5000) + 0.7
    y = render_filter("dc_block", x, {"cutoff": cutoff}, block=33)[0, 0]
    r = np.exp(-2 * np.pi * cutoff / FS)
    np.testing.assert_allclose(y, signal.lfilter([1, -1], [1, -r], x), rtol=0, atol=1e-12)


def test_dc_block_removes_dc():
    y = render_filter("dc_block", np.full(48000, 0.5), {"cutoff": 20.0})[0, 0]
    assert abs(y[-1000:]).max() < 1e-6


def test_filters_per_row_parameters():
    x = np.random.default_rng(2).standard_normal((2, 1, 1000))
    freq = np.array([500.0, 3000.0]).reshape(2, 1, 1)
    y = render_filter("biquad", x, {"mode": "lowpass"}, batch_params={"f": {"freq": freq}})
    for row in range(2):
        b, a = rbj("lowpass", freq[row, 0, 0], 0.7071067811865476, 0.0, FS)
        np.testing.assert_allclose(y[row, 0], signal.lfilter(b, a, x[row, 0]), rtol=0, atol=1e-12)
