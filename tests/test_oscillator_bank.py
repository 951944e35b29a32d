"""oscillator_bank: N lanes summed, the same bits as N oscillator nodes feeding a mix."""

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000.0


def bank_graph(ratios, freq=1.0, amp_value=1.0, phase=0.0):
    g = amp.AudioGraph(SR)
    g.add_node("bank", "oscillator_bank", freq=freq, amp=amp_value, phase=phase,
               data=np.asarray(ratios, dtype="<f8").tobytes())
    return g


def render(graph, frames, block=256, base_params=None, batch=1):
    with NativeGraphExecutor(graph, batch=batch, sample_rate=SR, max_block_frames=block, threads=1) as ex:
        return ex.render(frames, block, base_params)


def nodes_graph(freqs, amp_value=1.0, phase=0.0, waveform="saw"):
    """The patch the bank stands for: one oscillator node per lane into a mix whose gain is amp."""
    g = amp.AudioGraph(SR)
    g.add_node("mix", "mix", gain=amp_value)
    for k, f in enumerate(freqs):
        g.add_node(f"o{k}", "oscillator", freq=float(f), phase=phase, waveform=waveform)
        g.connect(f"o{k}", "mix")
    g.set_sink("mix")
    return g


@pytest.mark.parametrize("waveform", ["sine", "saw", "square", "triangle"])
@pytest.mark.parametrize("lanes", [1, 3, 8, 13])
def test_same_bits_as_oscillator_nodes_and_a_mix(waveform, lanes):
    ratios = 1.0 + np.random.default_rng(lanes).uniform(-0.5, 3.0, lanes)
    g = amp.AudioGraph(SR)
    g.add_node("bank", "oscillator_bank", freq=110.0, amp=0.25, phase=0.3, waveform=waveform,
               data=np.asarray(ratios, dtype="<f8").tobytes())
    y = render(g, 3000)[0, 0]
    expected = render(nodes_graph(110.0 * ratios, 0.25, 0.3, waveform), 3000)[0, 0]
    np.testing.assert_array_equal(y, expected)


def test_audio_rate_frequency_and_amplitude_match_the_nodes():
    frames = 2000
    freq = np.linspace(50.0, 3000.0, frames)
    amplitude = np.linspace(1.0, -0.5, frames)
    ratios = [1.0, 1.5, -0.75]
    params = {"bank": {"freq": freq[None, None, :], "amp": amplitude[None, None, :]}}
    y = render(bank_graph(ratios), frames, block=128, base_params=params)[0, 0]
    node_params = {f"o{k}": {"freq": (freq * r)[None, None, :]} for k, r in enumerate(ratios)}
    node_params["mix"] = {"gain": amplitude[None, None, :]}
    expected = render(nodes_graph(ratios), frames, block=128, base_params=node_params)[0, 0]
    np.testing.assert_array_equal(y, expected)


def test_the_saw_lanes_alias_60_db_less_than_naive_saws():
    f = 5000.0
    y = render(bank_graph([1.0]), 48000 + 480, block=256, base_params={"bank": {"freq": np.array([[[f]]])}})[0, 0, 480:]
    p = (np.arange(48000) * 5000 % 48000) / SR
    naive = 2 * p - 1
    spectrum = lambda x: np.abs(np.fft.rfft(x)) ** 2  # noqa: E731
    harmonic = np.zeros(24001, bool)
    harmonic[::5000] = True
    ratio = 10 * np.log10(spectrum(naive)[~harmonic].sum() / spectrum(y)[~harmonic].sum())
    assert ratio >= 60.0


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
