"""pitch_quantizer (hand-computed grids), subharmonic (divided frequencies), controller and lfo."""

import numpy as np
import pytest

import amp
from amp.app import add_controller
from amp.native_runtime import NativeGraphExecutor


def render(graph, frames, sample_rate, base_params=None, block=256, control=None):
    with NativeGraphExecutor(graph, sample_rate=sample_rate, max_block_frames=block, threads=1) as ex:
        return ex.render(frames, block, base_params, control)


def quantizer(sample_rate=1000.0, **params):
    g = amp.AudioGraph(sample_rate)
    g.add_node("q", "pitch_quantizer", **params)
    g.set_sink("q")
    return g


# ----- pitch_quantizer -------------------------------------------------------------------------

# (input Hz, root, grid cents, expected Hz): the grid points worked out by hand.
GRID_CASES = [
    (440.0, 440.0, 100.0, 440.0),
    (450.0, 440.0, 100.0, 440.0),                          # +38.9 cents -> 0
    (460.0, 440.0, 100.0, 440.0 * 2 ** (1 / 12)),          # +77.0 cents -> A#4 466.16
    (880.0, 440.0, 100.0, 880.0),
    (100.0, 440.0, 100.0, 440.0 * 2 ** (-26 / 12)),        # -2565 cents -> G2 98.00
    (27.5, 440.0, 100.0, 27.5),
    (261.0, 261.6255653, 100.0, 261.6255653),               # root C4
    (300.0, 261.6255653, 200.0, 261.6255653 * 2 ** (200 / 1200)),  # whole tones: +237 cents -> +200
    (455.0, 440.0, 50.0, 440.0 * 2 ** (50 / 1200)),        # quarter tones: +58 cents -> +50
    (455.0, 440.0, 0.0, 455.0),                            # grid 0: no quantizing
    (1000.0, 440.0, 1200.0, 880.0),                        # octaves: +1421 cents -> +1200
]


@pytest.mark.parametrize("f,root,grid,expected", GRID_CASES)
def test_quantizer_grid(runtime, f, root, grid, expected):
    y = render(quantizer(pitch=f, root=root, grid=grid), 16, 1000.0)[0, 0]
    assert y == pytest.approx(np.full(16, expected), rel=1e-12)


def test_quantizer_follows_an_input_plus_pitch(runtime):
    frames = 8
    g = amp.AudioGraph(1000.0)
    g.add_node("src", "constant")
    g.add_node("q", "pitch_quantizer", pitch=100.0)
    g.connect("src", "q")
    g.set_sink("q")
    x = np.array([340.0, 350.0, 360.0, 366.0, 0.0, -50.0, 780.0, 5000.0])
    y = render(g, frames, 1000.0, {"src": {"value": x.reshape(1, 1, -1)}})[0, 0]
    f = x + 100.0
    semis = np.round(12 * np.log2(np.where(f > 0, f, 1.0) / 440.0))
    expected = np.where(f > 0, 440.0 * 2 ** (semis / 12), 0.0)
    np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_quantizer_glides_linearly_in_cents_in_exactly_slew_seconds(runtime):
    frames = 40
    pitch = np.where(np.arange(frames) < 10, 440.0, 880.0)
    y = render(quantizer(slew=0.010), frames, 1000.0, {"q": {"pitch": pitch.reshape(1, 1, -1)}})[0, 0]
    glide = 440.0 * 2 ** (np.arange(1, 11) / 10)  # 10 samples, 120 cents each
    expected = np.concatenate([np.full(10, 440.0), glide, np.full(20, 880.0)])
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    assert y[19] == 880.0


def test_quantizer_new_note_during_a_glide_starts_from_where_it_is(runtime):
    frames = 30
    pitch = np.concatenate([np.full(5, 440.0), np.full(5, 880.0), np.full(20, 220.0)])
    y = render(quantizer(slew=0.010), frames, 1000.0, {"q": {"pitch": pitch.reshape(1, 1, -1)}})[0, 0]
    at = 600.0  # cents above 440 after 5 of 10 steps
    cents = np.concatenate([np.zeros(5), 120.0 * np.arange(1, 6), at + (-1200 - at) * np.arange(1, 11) / 10,
                            np.full(10, -1200.0)])
    np.testing.assert_allclose(y, 440.0 * 2 ** (cents / 1200), rtol=1e-12)


# ----- subharmonic -----------------------------------------------------------------------------

def dominant_frequency(y, sample_rate):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), 8 * len(y)))
    k = int(np.argmax(spectrum[1:])) + 1
    return k * sample_rate / (8 * len(y))


@pytest.mark.parametrize("f0", [110.0, 200.0, 333.0])
@pytest.mark.parametrize("div2,div4,divisor", [(1.0, 0.0, 2), (0.0, 1.0, 4)])
def test_subharmonic_divides_the_frequency(runtime, f0, div2, div4, divisor):
    sr = 48000.0
    frames = int(sr)
    g = amp.AudioGraph(sr)
    g.add_node("osc", "oscillator", freq=f0, amp=0.7)
    g.add_node("sub", "subharmonic", dry=0.0, div2=div2, div4=div4, band_low=40.0, band_high=600.0)
    g.connect("osc", "sub")
    g.set_sink("sub")
    y = render(g, frames, sr, block=512)[0, 0, frames // 4:]
    assert dominant_frequency(y, sr) == pytest.approx(f0 / divisor, rel=2e-3)
    # A square one or two octaves down: its zero crossings come every divisor / (2 f0) seconds.
    crossings = np.flatnonzero(np.diff(np.signbit(y).astype(int)) != 0)
    assert len(crossings) / (len(y) / sr) == pytest.approx(2 * f0 / divisor, rel=0.01)
    # The follower puts the square near the input's amplitude.
    assert np.sqrt(np.mean(y ** 2)) == pytest.approx(0.7, rel=0.2)


def test_subharmonic_dry_path_is_the_input(runtime):
    sr = 48000.0
    g = amp.AudioGraph(sr)
    g.add_node("osc", "oscillator", freq=220.0, waveform="saw")
    g.add_node("sub", "subharmonic", dry=0.75, div2=0.0, div4=0.0)
    g.connect("osc", "sub")
    g.set_sink("osc")
    x = render(g, 4800, sr)[0, 0]
    g.set_sink("sub")
    y = render(g, 4800, sr)[0, 0]
    assert np.array_equal(y, 0.75 * x)


def test_subharmonic_is_silent_for_silence(runtime):
    g = amp.AudioGraph(48000.0)
    g.add_node("src", "constant", value=0.0)
    g.add_node("sub", "subharmonic")
    g.connect("src", "sub")
    g.set_sink("sub")
    assert np.all(render(g, 4800, 48000.0)[0, 0] == 0.0)


# ----- controller ------------------------------------------------------------------------------

def test_controller_follows_its_key_on_the_exact_sample(runtime):
    sr = 1000.0
    g = amp.AudioGraph(sr)
    add_controller(g, "gate", "gate", value=0.25)
    g.set_sink("gate")
    g.record_control_event(0.0123, gate=1.0)
    g.record_control_event(0.0400, gate=0.0)
    blob = g.control_delay.export_control_history_blob(0.0, 0.1)
    y = render(g, 100, sr, block=7, control=blob)[0, 0]
    expected = np.concatenate([np.full(12, 0.25), np.ones(28), np.zeros(60)])  # round(12.3) = 12, 40
    assert np.array_equal(y, expected)


def test_controller_smoothing_is_a_one_pole_lag(runtime):
    sr = 1000.0
    g = amp.AudioGraph(sr)
    g.add_node("ctl", "controller", value=0.0, smoothing=0.01)
    g.set_sink("ctl")
    value = np.where(np.arange(50) < 10, 0.0, 1.0)
    y = render(g, 50, sr, {"ctl": {"value": value.reshape(1, 1, -1)}})[0, 0]
    a = 1 - np.exp(-1 / (0.01 * sr))
    expected = np.concatenate([np.zeros(10), 1 - (1 - a) ** np.arange(1, 41)])
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)


# ----- lfo -------------------------------------------------------------------------------------

def test_lfo_sine_range_and_rate(runtime):
    sr = 48000.0
    frames = 4 * int(sr)
    g = amp.AudioGraph(sr)
    g.add_node("lfo", "lfo", freq=2.0, depth=0.3, offset=0.5)
    g.set_sink("lfo")
    y = render(g, frames, sr)[0, 0]
    n = np.arange(frames)
    np.testing.assert_allclose(y, 0.5 + 0.3 * np.sin(2 * np.pi * 2.0 * n / sr), rtol=0, atol=1e-9)


@pytest.mark.parametrize("waveform,shape", [
    ("triangle", lambda p: np.where(p < 0.25, 4 * p, np.where(p < 0.75, 2 - 4 * p, 4 * p - 4))),
    ("saw", lambda p: 2 * p - 1),
    ("square", lambda p: np.where(p < 0.5, 1.0, -1.0)),
])
def test_lfo_shapes(runtime, waveform, shape):
    sr = 1000.0
    g = amp.AudioGraph(sr)
    g.add_node("lfo", "lfo", freq=8.0, waveform=waveform, depth=2.0, offset=-1.0)
    g.set_sink("lfo")
    y = render(g, 1000, sr)[0, 0]
    p = (np.arange(1000) * 8 % 1000) / 1000.0  # 8 Hz at 1000 Hz: 125 samples per cycle
    np.testing.assert_allclose(y, -1.0 + 2.0 * shape(p), rtol=0, atol=1e-12)
