"""oscillator_bank: N saw lanes summed, against the PolyBLEP formula and the Fourier series."""

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000.0


# The bank keeps each lane's phase in one float64, so after n samples it may be off by about
# n ulp(1) cycles; the BLEP turns a phase error e into up to 2 e / step. Hence the tolerances.
TOLERANCE = 1e-9


def polyblep_saw(increments, phase0: float = 0.0, frames: int | None = None) -> np.ndarray:
    """Välimäki's PolyBLEP saw, written from the formula: per sample the naive ramp 2t - 1 minus
    the residual (2x - x^2 - 1 for t < dt, x = t / dt; x^2 + 2x + 1 for t > 1 - dt, x = (t - 1) / dt),
    with t the phase and dt the step. `increments`: one step in cycles (then `frames` samples), or
    each sample's step."""
    if frames is not None:
        steps = np.full(frames, float(increments))
        phase = np.mod(phase0 + np.arange(frames) * float(increments), 1.0)
    else:
        steps = np.asarray(increments, dtype=np.float64)
        phase = np.mod(phase0 + np.concatenate([[0.0], np.cumsum(steps)[:-1]]), 1.0)
    dt = np.abs(steps)
    out = 2.0 * phase - 1.0
    for n, (t, d) in enumerate(zip(phase, dt)):
        if d == 0.0:
            continue
        if t < d:
            x = t / d
            out[n] -= x + x - x * x - 1.0
        elif t > 1.0 - d:
            x = (t - 1.0) / d
            out[n] -= x * x + x + x + 1.0
    return out


def bank_graph(ratios, freq=1.0, amp_value=1.0, phase=0.0):
    g = amp.AudioGraph(SR)
    g.add_node("bank", "oscillator_bank", freq=freq, amp=amp_value, phase=phase,
               data=np.asarray(ratios, dtype="<f8").tobytes())
    return g


def render(graph, frames, block=256, base_params=None, batch=1):
    with NativeGraphExecutor(graph, batch=batch, sample_rate=SR, max_block_frames=block, threads=1) as ex:
        return ex.render(frames, block, base_params)


@pytest.mark.parametrize("lanes", [1, 3, 8, 13])
def test_matches_the_polyblep_formula(lanes):
    freqs = 110.0 * (1.0 + np.random.default_rng(lanes).uniform(-0.5, 3.0, lanes))
    frames = 3000
    y = render(bank_graph(freqs, amp_value=0.25), frames)[0, 0]
    expected = 0.25 * sum(polyblep_saw(f / SR, frames=frames) for f in freqs)
    np.testing.assert_allclose(y, expected, rtol=0, atol=TOLERANCE)


def test_negative_frequency_and_initial_phase():
    frames = 2000
    y = render(bank_graph([-1.0, 2.5], freq=440.0, phase=0.3), frames)[0, 0]
    expected = polyblep_saw(-440.0 / SR, 0.3, frames) + polyblep_saw(1100.0 / SR, 0.3, frames)
    np.testing.assert_allclose(y, expected, rtol=0, atol=TOLERANCE)


def test_audio_rate_frequency_and_amplitude():
    frames = 2000
    freq = np.linspace(50.0, 3000.0, frames)
    amplitude = np.linspace(1.0, -0.5, frames)
    ratios = [1.0, 1.5]
    params = {"bank": {"freq": freq[None, None, :], "amp": amplitude[None, None, :]}}
    y = render(bank_graph(ratios), frames, block=128, base_params=params)[0, 0]
    expected = amplitude * sum(polyblep_saw(freq * r / SR) for r in ratios)
    np.testing.assert_allclose(y, expected, rtol=0, atol=TOLERANCE)


def test_close_to_the_band_limited_fourier_series():
    # The ideal band-limited saw: -(2/pi) sum_k sin(2 pi k f t) / k over k f < SR / 2. PolyBLEP
    # only approximates it near Nyquist, so compare below 5 kHz (where all the energy is).
    f = 220.0
    frames = 9600
    y = render(bank_graph([f]), frames)[0, 0]
    n = np.arange(frames)
    ideal = np.zeros(frames)
    for k in range(1, int(SR / 2 // f) + 1):
        ideal -= (2.0 / np.pi) * np.sin(2.0 * np.pi * k * f * n / SR) / k
    spectrum = lambda x: np.fft.rfft(x * np.hanning(frames))  # noqa: E731
    low = np.fft.rfftfreq(frames, 1.0 / SR) < 5000.0
    error = np.abs(spectrum(y) - spectrum(ideal))[low]
    assert np.sqrt(np.sum(error**2) / np.sum(np.abs(spectrum(ideal)[low]) ** 2)) < 0.01
    # and the naive ramp is much further from it than the bank (it aliases)
    naive = 2.0 * np.mod(n * f / SR, 1.0) - 1.0
    naive_error = np.abs(spectrum(naive) - spectrum(ideal))
    bank_error = np.abs(spectrum(y) - spectrum(ideal))
    assert np.sum(bank_error**2) < 0.2 * np.sum(naive_error**2)


def test_block_size_does_not_change_a_bit():
    ratios = 100.0 * (1.0 + np.random.default_rng(5).uniform(-0.1, 0.1, 20))
    reference = render(bank_graph(ratios), 5000, block=5000)
    for block in (1, 37, 64, 256):
        np.testing.assert_array_equal(render(bank_graph(ratios), 5000, block=block), reference)


def test_each_batch_row_equals_its_own_render():
    ratios = [1.0, 1.01, 0.99]
    freqs = np.array([110.0, 220.0, 37.5])
    rows = render(bank_graph(ratios), 3000, base_params={"bank": {"freq": freqs.reshape(3, 1, 1)}}, batch=3)
    for b, f in enumerate(freqs):
        np.testing.assert_array_equal(rows[b], render(bank_graph(ratios, freq=f), 3000)[0])


def test_lanes_are_a_sum_of_single_lane_banks():
    ratios = [55.0, 110.0, 165.5, 330.25, 7.0, 1000.0, 2000.0, 4000.0, 8000.0, 12.5]
    together = render(bank_graph(ratios), 4000)[0, 0]
    apart = sum(render(bank_graph([r]), 4000)[0, 0] for r in ratios)
    # Same lanes, same arithmetic: only the order of the sum differs.
    np.testing.assert_allclose(together, apart, rtol=0, atol=1e-12)


@pytest.mark.parametrize("data,reason", [
    (None, "1 to 65536 float64 frequency ratios"), (b"", "1 to 65536"), (b"\0" * 12, "it has 12 bytes"),
    (np.array([1.0, np.nan]).tobytes(), "lane 1 has frequency ratio nan"),
    (np.array([np.inf]).tobytes(), "lane 0 has frequency ratio inf"),
    (np.array([2.0e6]).tobytes(), "lane 0 has frequency ratio 2e\\+06"),
])
def test_bad_lane_data_is_refused_with_the_reason(data, reason):
    g = amp.AudioGraph(SR)
    g.add_node("bank", "oscillator_bank", data=data)
    with pytest.raises(amp.GraphError, match=f"node 'bank' \\(oscillator_bank\\) could not be created: .*{reason}"):
        render(g, 64)
