"""noise: distribution, spectrum (Welch PSD from scipy) and seeding."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import signal, stats

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000.0


def render_noise(frames, batch=1, base_params=None, name="noise", block=4096, **params):
    g = amp.AudioGraph(SR)
    g.add_node(name, "noise", **params)
    g.set_sink(name)
    with NativeGraphExecutor(g, batch=batch, sample_rate=SR, max_block_frames=block, threads=1) as ex:
        return ex.render(frames, block, base_params)


def test_white_mean_variance_and_bounds(runtime):
    n = 1 << 20
    x = render_noise(n, amp=0.5, seed=11)[0, 0]
    sigma = 0.5 / np.sqrt(3)
    assert abs(x.mean()) < 5 * sigma / np.sqrt(n)
    assert x.var() == pytest.approx(0.25 / 3, rel=0.01)
    assert x.min() >= -0.5 and x.max() < 0.5
    # Uniform on [-0.5, 0.5): Kolmogorov-Smirnov against scipy's uniform.
    assert stats.kstest(x[: 1 << 16], stats.uniform(loc=-0.5, scale=1.0).cdf).pvalue > 1e-3


def test_white_is_white(runtime):
    n = 1 << 19
    x = render_noise(n, seed=3)[0, 0]
    lags = np.array([np.dot(x[:-k], x[k:]) / np.dot(x, x) for k in range(1, 11)])
    assert np.max(np.abs(lags)) < 5 / np.sqrt(n)
    f, psd = signal.welch(x, fs=SR, nperseg=4096)
    band = (f > 50) & (f < 20000)
    slope = np.polyfit(np.log2(f[band]), 10 * np.log10(psd[band]), 1)[0]
    assert abs(slope) < 0.1  # dB per octave


def test_pink_falls_3_db_per_octave(runtime):
    n = 1 << 21
    x = render_noise(n, color="pink", seed=5)[0, 0]
    f, psd = signal.welch(x, fs=SR, nperseg=1 << 14)
    db = 10 * np.log10(psd)
    band = (f >= 20) & (f <= 20000)
    slope, intercept = np.polyfit(np.log2(f[band]), db[band], 1)
    assert slope == pytest.approx(-3.0, abs=0.5), f"slope {slope:.3f} dB/octave"
    # Octave by octave, the mean level sits on a -3 dB/octave line within 0.5 dB.
    edges = 20 * 2.0 ** np.arange(0, 10)
    centres, levels = [], []
    for lo, hi in zip(edges, edges[1:]):
        sel = (f >= lo) & (f < hi)
        centres.append(np.log2(np.sqrt(lo * hi)))
        levels.append(10 * np.log10(np.mean(psd[sel])))
    centres, levels = np.array(centres), np.array(levels)
    line = levels.mean() - 3.0 * (centres - centres.mean())
    assert np.max(np.abs(levels - line)) < 0.5, np.round(levels - line, 3)


def test_pink_has_white_variance(runtime):
    x = render_noise(1 << 21, color="pink", amp=2.0, seed=9)[0, 0]
    assert x.var() == pytest.approx(4.0 / 3, rel=0.05)
    assert abs(x.mean()) < 0.05


@pytest.mark.parametrize("color", ["white", "pink"])
def test_identical_seeds_give_identical_noise(runtime, color):
    a = render_noise(5000, color=color, seed=42, name="first")
    b = render_noise(5000, color=color, seed=42, name="second", block=17)
    c = render_noise(5000, color=color, seed=43, name="first")
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_default_seed_comes_from_the_node_name(runtime):
    a = render_noise(1000, name="hiss")
    b = render_noise(1000, name="hiss", block=3)
    c = render_noise(1000, name="rain")
    assert np.array_equal(a, b)
    assert np.corrcoef(a[0, 0], c[0, 0])[0, 1] < 0.1


@pytest.mark.parametrize("color", ["white", "pink"])
def test_rows_with_their_own_seeds_differ_and_match_rendering_alone(runtime, color):
    seeds = np.array([7.0, 8.0, 9.0]).reshape(3, 1, 1)
    frames = 1 << 14
    together = render_noise(frames, batch=3, base_params={"noise": {"seed": seeds}}, color=color)
    for r in range(3):
        alone = render_noise(frames, base_params={"noise": {"seed": seeds[r:r + 1]}}, color=color)
        assert np.array_equal(together[r], alone[0])
    # Differences of pink noise are nearly white, so their correlation estimate is a sharp one.
    rows = together[:, 0, :] if color == "white" else np.diff(together[:, 0, :], axis=-1)
    corr = np.corrcoef(rows)
    assert np.max(np.abs(corr[np.triu_indices(3, 1)])) < 0.05


def test_channels_are_independent(runtime):
    x = render_noise(1 << 16, channels=3, seed=1)[0]
    corr = np.corrcoef(x)
    assert np.max(np.abs(corr[np.triu_indices(3, 1)])) < 0.02


def _pink(rate, frames=4096):
    g = amp.AudioGraph(rate)
    g.add_node("noise", "noise", color="pink", seed=9)
    g.set_sink("noise")
    with NativeGraphExecutor(g, batch=1, sample_rate=rate, max_block_frames=512, threads=1) as ex:
        return ex.render(frames, 512)


def test_pink_design_is_the_same_whichever_rates_came_before(runtime):
    # The cascade's design is kept per sample rate (a handful of rates): more rates than are kept,
    # visited in turn, and from several threads at once, give the bits of the first design of each.
    rates = [48000.0, 44100.0, 8000.0, 192000.0, 96000.0, 22050.0, 32000.0]
    first = {rate: _pink(rate) for rate in rates}
    for rate in rates[::-1] + rates:
        np.testing.assert_array_equal(_pink(rate), first[rate])
    with ThreadPoolExecutor(4) as pool:
        again = list(pool.map(_pink, rates * 3))
    for rate, got in zip(rates * 3, again):
        np.testing.assert_array_equal(got, first[rate])
    # The design follows the rate: the lowest section sits near 5 Hz whatever the rate, so at 8 kHz
    # the same seed gives different pink noise than at 48 kHz.
    assert not np.array_equal(first[8000.0], first[48000.0])
