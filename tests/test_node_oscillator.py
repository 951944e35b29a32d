"""oscillator: frequency, band-limiting, shapes, FM and reset, against references built here.

References: exact sines with the phase reduced in integers, the naive saw computed in the test,
Fourier-series amplitudes of the pulse wave, cumulative phase sums for FM.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000


def render(graph, frames, block=4096, base_params=None, sample_rate=SR):
    with NativeGraphExecutor(graph, sample_rate=sample_rate, max_block_frames=block, threads=1) as ex:
        return ex.render(frames, block, base_params)


def osc(waveform="sine", sample_rate=SR, **params):
    g = amp.AudioGraph(sample_rate)
    g.add_node("osc", "oscillator", waveform=waveform, **params)
    g.set_sink("osc")
    return g


def phase_drift_cents(y, freq, sample_rate, window=4800):
    """Frequency error in cents from the slope of the phase of y against a nominal complex tone."""
    n = np.arange(len(y))
    z = y * np.exp(-2j * np.pi * freq * n / sample_rate)
    w = np.hanning(window)
    starts = np.arange(0, len(y) - window, window)
    phases = np.unwrap([np.angle(np.sum(z[s:s + window] * w)) for s in starts])
    times = (starts + window / 2) / sample_rate
    slope = np.polyfit(times, phases, 1)[0]  # rad/s
    measured = freq + slope / (2 * np.pi)
    return 1200 * np.log2(measured / freq)


def test_steady_sine_is_exact_for_ten_seconds(runtime):
    frames = 10 * SR
    y = render(osc(freq=440.0, amp=0.5), frames)[0, 0]
    n = np.arange(frames, dtype=np.int64)
    reference = 0.5 * np.sin(2 * np.pi * ((n * 440) % SR) / SR)
    assert np.max(np.abs(y - reference)) < 1e-10


@pytest.mark.parametrize("waveform,freq", [("sine", 1234.5678), ("saw", 261.6255653), ("square", 97.3),
                                           ("triangle", 3333.3)])
def test_frequency_within_a_hundredth_of_a_cent_over_ten_seconds(runtime, waveform, freq):
    y = render(osc(waveform, freq=freq), 10 * SR)[0, 0]
    drift = phase_drift_cents(y, freq, SR)
    assert abs(drift) < 0.01, f"{waveform} at {freq} Hz is {drift:.2e} cents off"


def test_negative_frequency_runs_backwards(runtime):
    y = render(osc(freq=-440.0), SR)[0, 0]
    n = np.arange(SR, dtype=np.int64)
    assert np.max(np.abs(y + np.sin(2 * np.pi * ((n * 440) % SR) / SR))) < 1e-10


def alias_power(x, f0, sample_rate):
    """Power in the bins of a whole-cycle rectangular-window spectrum that are not harmonics of f0."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.arange(len(spectrum)) * sample_rate / len(x)
    harmonic = np.isclose(freqs / f0, np.round(freqs / f0), rtol=0, atol=1e-9)
    return spectrum[~harmonic].sum()


def naive(waveform, f0, frames, sample_rate, width=0.5):
    """The naive shapes, the phase reduced exactly (f0 and sample_rate whole numbers)."""
    p = ((np.arange(frames, dtype=np.int64) * int(f0)) % int(sample_rate)) / sample_rate
    if waveform == "saw":
        return 2 * p - 1
    if waveform == "square":
        return np.where(p < width, 1.0, -1.0)
    return np.where(p < 0.25, 4 * p, np.where(p < 0.75, 2 - 4 * p, 4 * p - 4))


@pytest.mark.parametrize("waveform", ["saw", "square", "triangle"])
@pytest.mark.parametrize("f0", [5000, 3100, 7000, 1100])  # periods that are not whole samples
def test_band_limited_alias_energy_is_40_db_below_the_naive_waveform(runtime, waveform, f0):
    settle = 480  # skip the onset, where the waveform starts from silence
    y = render(osc(waveform, freq=float(f0)), SR + settle)[0, 0, settle:]
    reference = naive(waveform, f0, SR, SR)
    ratio_db = 10 * np.log10(alias_power(reference, f0, SR) / alias_power(y, f0, SR))
    assert ratio_db >= 40.0, f"{waveform} at {f0} Hz: aliases only {ratio_db:.1f} dB below the naive waveform"


def test_band_limited_saw_keeps_its_harmonics(runtime):
    f0 = 500
    settle = 480
    y = render(osc("saw", freq=float(f0)), SR + settle)[0, 0, settle:]
    amplitude = np.abs(np.fft.rfft(y)) * 2 / SR
    k = np.arange(1, 31)  # up to 15 kHz
    got = amplitude[k * f0]
    expected = 2 / (np.pi * k)  # Fourier series of 2p - 1
    assert np.max(np.abs(20 * np.log10(got / expected))) < 0.5


def test_square_pulse_width(runtime):
    f0, width = 100, 0.25
    settle = 480
    y = render(osc("square", freq=float(f0), pulse_width=width), SR + settle)[0, 0, settle:]
    assert np.mean(y) == pytest.approx(2 * width - 1, abs=1e-9)  # the band-limiting keeps DC
    assert np.mean(y > 0) == pytest.approx(width, abs=4 / (SR / f0))  # edges are smeared over ~2 samples
    amplitude = np.abs(np.fft.rfft(y)) * 2 / SR
    k = np.arange(1, 13)
    expected = 4 / (np.pi * k) * np.abs(np.sin(np.pi * k * width))  # Fourier series of the pulse
    got = amplitude[k * f0]
    present = expected > 0.01
    assert np.max(np.abs(20 * np.log10(got[present] / expected[present]))) < 0.1
    assert np.all(got[~present] < 1e-4), "every 4th harmonic of a 25 % pulse must vanish"


def test_square_pulse_width_follows_modulation(runtime):
    g = osc("square", freq=100.0)
    frames = SR
    width = np.where(np.arange(frames) < frames // 2, 0.2, 0.7).reshape(1, 1, -1)
    y = render(g, frames, 512, {"osc": {"pulse_width": width}})[0, 0]
    first, second = y[480:frames // 2 - 480], y[frames // 2 + 480:frames - 480]
    assert np.mean(first > 0) == pytest.approx(0.2, abs=0.01)
    assert np.mean(second > 0) == pytest.approx(0.7, abs=0.01)


def linear_segments(y):
    """The straight runs of y (second difference ~0) longer than 40 samples, as (start, stop)."""
    second = np.abs(np.diff(y, 2))
    straight = np.concatenate([[False], second < 1e-12, [False]])
    runs = []
    start = None
    for i, s in enumerate(straight):
        if s and start is None:
            start = i
        elif not s and start is not None:
            if i - start > 40:
                runs.append((start, i))
            start = None
    return runs


@pytest.mark.parametrize("waveform,f0", [("triangle", 100.0), ("saw", 150.0)])
def test_shape_between_breakpoints_is_the_exact_naive_line(runtime, waveform, f0):
    """Away from breakpoints the band-limited shapes are straight lines with the naive slope, and
    those lines meet at the naive corners (triangle: +-1) or span the naive jump (saw: -1 to +1)."""
    inc = f0 / SR
    y = render(osc(waveform, freq=f0), SR // 2)[0, 0]
    runs = linear_segments(y)
    breakpoints_per_cycle = 2 if waveform == "triangle" else 1
    assert len(runs) >= breakpoints_per_cycle * len(y) * inc - 2
    slopes = [(y[b - 1] - y[a]) / (b - 1 - a) for a, b in runs]
    if waveform == "triangle":
        assert np.allclose(np.abs(slopes), 4 * inc, rtol=1e-9)
        # Consecutive rising and falling lines meet at +-1: the corners of the naive triangle.
        for (a0, b0), (a1, _), s0, s1 in zip(runs, runs[1:], slopes, slopes[1:]):
            assert s0 * s1 < 0
            t = (y[a1] - y[a0] - s1 * a1 + s0 * a0) / (s0 - s1)  # where the two lines cross
            corner = y[a0] + s0 * (t - a0)
            assert abs(abs(corner) - 1) < 1e-9
    else:
        assert np.allclose(slopes, 2 * inc, rtol=1e-9)
        # Each run is one cycle of 2p - 1 shifted by a fixed delay: the line reaches +1 one period
        # after it leaves -1.
        period = 1 / inc
        for (a, b), s in zip(runs, slopes):
            t_minus = a + (-1 - y[a]) / s
            t_plus = a + (1 - y[a]) / s
            assert t_plus - t_minus == pytest.approx(period, rel=1e-9)


def test_fm_input_adds_hertz_sample_by_sample(runtime):
    frames = SR
    n = np.arange(frames)
    fm = 120.0 * np.sin(2 * np.pi * 3.0 * n / SR) + 40.0 * np.sin(2 * np.pi * 217.0 * n / SR)
    g = amp.AudioGraph(SR)
    g.add_node("mod", "constant")
    g.add_node("osc", "oscillator", freq=500.0)
    g.connect("mod", "osc", input="fm")
    g.set_sink("osc")
    y = render(g, frames, 333, {"mod": {"value": fm.reshape(1, 1, -1)}})[0, 0]
    increments = (500.0 + fm) / SR
    phase = np.concatenate([[0.0], np.cumsum(increments)[:-1]])  # sample n uses the steps before it
    assert np.max(np.abs(y - np.sin(2 * np.pi * (phase - np.floor(phase))))) < 1e-9


def test_constant_fm_shifts_the_frequency(runtime):
    g = amp.AudioGraph(SR)
    g.add_node("mod", "constant", value=100.0)
    g.add_node("osc", "oscillator", freq=300.0, waveform="saw")
    g.connect("mod", "osc", input="fm")
    g.set_sink("osc")
    y = render(g, 2 * SR)[0, 0]
    assert abs(phase_drift_cents(y, 400.0, SR)) < 0.01


def reset_graph(waveform="sine", phase=0.0, freq=440.0):
    g = amp.AudioGraph(SR)
    g.add_node("sync", "constant")
    g.add_node("osc", "oscillator", waveform=waveform, freq=freq, phase=phase)
    g.connect("sync", "osc", input="reset")
    g.set_sink("osc")
    return g


@pytest.mark.parametrize("high,offset", [(0.5, 0.0), (1.0, 0.5)])
def test_reset_restarts_the_phase_on_a_rising_edge(runtime, high, offset):
    """A reset input going 0 -> high at sample r crosses 0.5 at r - (high - 0.5) / high samples
    (linear interpolation), so the phase at r + k is phase + (k + offset) f / sample_rate. After the
    band-limited jump settles (24 samples) the sine is exactly that."""
    frames, phase0, freq = 6000, 0.25, 440.0
    resets = [1000, 2500, 2600, 4100]
    pulse = np.zeros(frames)
    for r in resets:
        pulse[r:r + 20] = high
    y = render(reset_graph(phase=phase0, freq=freq), frames, 256, {"sync": {"value": pulse.reshape(1, 1, -1)}})[0, 0]
    n = np.arange(frames)
    assert np.max(np.abs(y[:1000] - np.sin(2 * np.pi * (phase0 + n[:1000] * freq / SR)))) < 1e-10
    bounds = resets + [frames]
    for r, end in zip(resets, bounds[1:]):
        k = np.arange(24, end - r)
        expected = np.sin(2 * np.pi * (phase0 + (k + offset) * freq / SR))
        assert np.max(np.abs(y[r + k] - expected)) < 1e-9, f"after the reset at {r}"
    # The jump itself is band-limited, not a step: no sample leaves the sine's range by much.
    assert np.max(np.abs(y)) < 1.2


def test_reset_hard_sync_aliases_far_less_than_a_naive_sync(runtime):
    """A saw at 700 Hz hard-synced by a 220 Hz sine master (reset when the sine rises through 0.5),
    against the naive synced saw computed here from the exact reset times."""
    master, slave, frames, settle = 220, 700.0, SR, 4800
    g = amp.AudioGraph(SR)
    g.add_node("master", "oscillator", freq=float(master))
    g.add_node("osc", "oscillator", waveform="saw", freq=slave)
    g.connect("master", "osc", input="reset")
    g.set_sink("osc")
    y = render(g, frames + settle, 512)[0, 0, settle:]
    t = np.arange(frames) + settle
    first_reset = SR / master / 12  # sin(2 pi f t) = 0.5
    since = (t - first_reset) % (SR / master)
    naive_sync = 2 * ((since * slave / SR) % 1.0) - 1
    ratio_db = 10 * np.log10(alias_power(naive_sync, master, SR) / alias_power(y, master, SR))
    assert ratio_db > 30.0, f"hard sync aliases only {ratio_db:.1f} dB below the naive sync"


def test_minblep_table_matches_its_generator():
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_minblep_table.py"
    spec = importlib.util.spec_from_file_location("make_minblep_table", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.HEADER.read_text() == module.render(), "run scripts/make_minblep_table.py"


@pytest.mark.parametrize("waveform", ["sine", "saw", "square", "triangle"])
def test_steady_and_per_sample_paths_agree_bit_for_bit(runtime, waveform):
    """A constant frequency given as one value (the steady loop) or as a curve that happens to be
    constant (the per-sample loop), over several anchor spans of the phase."""
    frames = 3 * 65536 + 1000
    g = osc(waveform, freq=0.0)
    g.set_param("osc", "amp", 0.8)
    freq = 1234.567
    steady = render(g, frames, 4096, {"osc": {"freq": freq}})
    curve = render(g, frames, 4096, {"osc": {"freq": np.full((1, 1, frames), freq)}})
    assert np.array_equal(steady, curve)


# Segments of (frames, freq, pulse_width): slow and fast, across zero, near and past Nyquist, past
# one cycle per sample, and one segment longer than an anchor span (65536 samples).
SEGMENTS = [
    (3000, 110.0, 0.5), (2500, 1234.567, 0.1), (70000, 9000.3, 0.93), (1800, -440.1, 0.5),
    (1500, 0.01, 0.3), (1200, 0.0, 0.7), (2000, 23999.0, 0.5), (1700, 30000.0, 0.25),
    (1600, 50000.0, 0.5), (2200, -7777.7, 0.6), (2600, 55.5, 0.5),
]


@pytest.mark.parametrize("block", [64, 1000, 4096])
@pytest.mark.parametrize("waveform", ["sine", "saw", "square", "triangle"])
def test_steady_blocks_continue_any_history_like_the_per_sample_path(runtime, waveform, block):
    """Each call holds the frequency and pulse width constant (the steady loop in every block);
    the same values given as per-sample curves take the per-sample loop. Every change of frequency
    leaves band-limiting residuals pending into the next call's steady blocks."""
    g = osc(waveform, freq=0.0)
    g.set_param("osc", "amp", 0.7)

    def piecewise(curves):
        pieces = []
        with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=block, threads=1) as ex:
            for frames, freq, width in SEGMENTS:
                if curves:
                    params = {"freq": np.full((1, 1, frames), freq), "pulse_width": np.full((1, 1, frames), width)}
                else:
                    params = {"freq": freq, "pulse_width": width}
                pieces.append(ex.render(frames, block, {"osc": params}))
        return np.concatenate(pieces, axis=-1)

    steady = piecewise(curves=False)
    curve = piecewise(curves=True)
    assert np.all(np.isfinite(steady))
    assert np.array_equal(steady, curve)
