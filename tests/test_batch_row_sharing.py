"""Rows of a batch that share their parameters, inputs and state: each row must still be exactly the
render of its item alone.

Nodes compute such rows once and copy them (or run them side by side in one vector), so these
tests render batches where some rows are identical, some differ in one parameter only, and some
diverge part-way through (one row's input moves for a while and comes back, so its state differs
afterwards even though its inputs are the same again), and compare every row, bit for bit, with
the row rendered alone (batch of 1), in other block sizes and on two threads.
"""

from __future__ import annotations

import numpy as np
import pytest

import amp
import amp.app
from amp.native_runtime import NativeGraphExecutor

SR = 16000.0
F = 3000


def _row_array(value, frames: int) -> np.ndarray:
    """A row's value as (C, F'): a scalar (1, 1), a curve (1, F) or a (C, F) block."""
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        return v.reshape(1, 1)
    if v.ndim == 1:
        assert v.shape == (frames,)
        return v.reshape(1, frames)
    assert v.shape[1] == frames
    return v


def _batch_params(rows: list[dict], frames: int) -> dict:
    """{node: {param: (B, C, F')}} from one {node: {param: value}} per row."""
    out: dict = {}
    for node, params in rows[0].items():
        for param in params:
            arrays = [_row_array(r[node][param], frames) for r in rows]
            channels = max(a.shape[0] for a in arrays)
            width = max(a.shape[1] for a in arrays)
            out.setdefault(node, {})[param] = np.stack([np.broadcast_to(a, (channels, width)) for a in arrays]).copy()
    return out


def _render(graph, segments, batch_rows, block, threads, blob=None):
    with NativeGraphExecutor(graph, batch=len(batch_rows), sample_rate=SR, max_block_frames=block,
                             threads=threads) as ex:
        parts = []
        for frames, rows in segments:
            parts.append(ex.render(frames, block, _batch_params([rows[r] for r in batch_rows], frames), blob))
        return np.concatenate(parts, axis=2)


def check_rows(graph, segments, *, block=256, alone_blocks=(256, 999), threads=(1, 2), blob=None) -> np.ndarray:
    """Renders `segments` (a list of (frames, one {node: {param: value}} per row)) as one batch and
    each row alone; every row must be the same bits. Returns the batch's audio."""
    batch = len(segments[0][1])
    together = None
    for t in threads:
        got = _render(graph, segments, list(range(batch)), block, t, blob)
        if together is None:
            together = got
        else:
            assert np.array_equal(got, together), f"a batch on {t} threads differs from one thread"
    for r in range(batch):
        for b in alone_blocks:
            alone = _render(graph, segments, [r], b, 1, blob)[0]
            if not np.array_equal(together[r], alone):
                where = tuple(int(i) for i in np.argwhere(together[r] != alone)[0])
                pytest.fail(f"row {r} of a batch of {batch} differs from rendering it alone (blocks of {b}) "
                            f"first at (c, f) = {where}; max diff {np.nanmax(np.abs(together[r] - alone)):.3g}")
    return together


def step_curve(values_at: list[tuple[int, float]], frames: int = F) -> np.ndarray:
    """A curve holding each value from its frame on."""
    curve = np.empty(frames)
    for k, (start, value) in enumerate(values_at):
        end = values_at[k + 1][0] if k + 1 < len(values_at) else frames
        curve[start:end] = value
    return curve


def assert_rows_differ(audio, a, b):
    assert not np.array_equal(audio[a], audio[b]), f"rows {a} and {b} came out the same: the case proves nothing"


# ----- oscillator --------------------------------------------------------------------------------

def osc_graph(waveform: str, *, fm: bool = False, reset: bool = False, fused: bool = False) -> amp.AudioGraph:
    g = amp.AudioGraph(SR)
    g.add_node("pitch", "constant", value=220.0)
    g.add_node("dut", "oscillator", waveform=waveform, freq=0.0, amp=0.5)
    g.modulate("pitch", "dut", "freq")
    if fm:
        g.add_node("fm", "constant", value=0.0)
        g.connect("fm", "dut", input="fm")
    if reset:
        g.add_node("sync", "constant", value=0.0)
        g.connect("sync", "dut", input="reset")
    if fused:
        # Two oscillators into a mix: the runtime may run them inside the mix's process.
        g.add_node("other", "oscillator", waveform="sine", freq=0.0, amp=0.25)
        g.modulate("pitch", "other", "freq", scale=1.5)
        g.add_node("sum", "mix", channels=1, gain=0.9)
        g.connect("dut", "sum")
        g.connect("other", "sum")
        g.set_sink("sum")
    else:
        g.set_sink("dut")
    return g


def osc_rows(waveform: str, fm: bool = False, reset: bool = False) -> list[dict]:
    detour = step_curve([(0, 220.0), (1100, 330.0), (1900, 220.0)])
    blip = np.full(F, 220.0)
    blip[2500] = 220.5
    pitches = [220.0, 220.0, detour, 220.0, 220.0, blip, 440.0]
    amps = [0.3, 0.5, 0.3, 0.3, 1.0, 0.5, -0.25]
    rows = []
    for k, (pitch, level) in enumerate(zip(pitches, amps)):
        row = {"pitch": {"value": np.broadcast_to(pitch, (F,)).copy()}, "dut": {"amp": level}}
        if waveform == "square":
            row["dut"]["pulse_width"] = 0.3 if k == 1 else 0.5
        if fm:
            wobble = np.zeros(F)
            if k == 3:
                wobble[1500:1800] = 40.0 * np.sin(np.arange(300) / 9.0)
            row["fm"] = {"value": wobble}
        if reset:
            pulses = np.zeros(F)
            pulses[::137] = 1.0
            if k == 0:
                pulses[2222] = 1.0
            row["sync"] = {"value": pulses}
        rows.append(row)
    return rows


@pytest.mark.parametrize("waveform", ["sine", "saw", "square", "triangle"])
def test_oscillator_rows_with_a_modulated_frequency(waveform):
    audio = check_rows(osc_graph(waveform), [(F, osc_rows(waveform))])
    assert_rows_differ(audio, 0, 2)
    assert_rows_differ(audio, 1, 5)
    assert np.array_equal(audio[0], audio[3])


@pytest.mark.parametrize("waveform", ["sine", "saw", "square", "triangle"])
def test_oscillator_rows_with_fm_and_reset_inputs(waveform):
    audio = check_rows(osc_graph(waveform, fm=True, reset=True), [(F, osc_rows(waveform, fm=True, reset=True))])
    assert_rows_differ(audio, 0, 3)  # row 0 has one more reset, row 3 a burst of fm


@pytest.mark.parametrize("waveform", ["saw", "square"])
def test_fused_oscillator_rows(waveform):
    check_rows(osc_graph(waveform, fused=True), [(F, osc_rows(waveform))])


def test_steady_oscillator_rows_that_diverge_between_renders():
    """Constant frequencies (the steady kernel); row 2 moves for the second render and comes back
    for the third, so its phase differs from its neighbours' while its parameters match again."""
    g = amp.AudioGraph(SR)
    g.add_node("dut", "oscillator", waveform="saw", freq=300.0, amp=0.5)

    def rows(freq_2):
        return [{"dut": {"freq": f, "amp": a}} for f, a in
                zip([300.0, 300.0, freq_2, 300.0, 500.0], [0.5, 0.25, 0.5, 1.0, 0.5])]

    audio = check_rows(g, [(700, rows(300.0)), (900, rows(450.0)), (1400, rows(300.0))])
    assert np.array_equal(audio[0, :, :700], audio[2, :, :700])
    assert_rows_differ(audio[:, :, 1600:], 0, 2)


# ----- the default instrument --------------------------------------------------------------------

def instrument_rows() -> list[dict]:
    base = {"env": {"decay": 0.2, "sustain": 0.5, "release": 0.1}, "sine": {"amp": 0.4}, "square": {"amp": 0.1},
            "saw": {"amp": 0.2}, "tremolo": {"freq": 4.0}, "sub": {"div2": 0.2}}
    rows = []
    for k in range(9):
        row = {node: dict(values) for node, values in base.items()}
        if k in (1, 5):
            row["sine"]["amp"] = 0.55
        if k == 2:
            row["env"]["decay"] = 0.05
        if k in (3, 7):
            row["tremolo"]["freq"] = 6.5
        if k == 4:
            row["sub"]["div2"] = 0.4
        if k == 6:
            row["env"]["release"] = 0.3
            row["saw"]["amp"] = 0.0
        rows.append(row)
    return rows


def test_instrument_rows_share_a_note():
    graph = amp.app.build_runtime_graph(SR)
    graph.record_control_event(0.0, extras={"pitch": 220.0, "gate": 1.0, "trigger": 1.0})
    graph.record_control_event(0.005, extras={"trigger": 0.0})
    graph.record_control_event(0.12, extras={"gate": 0.0})
    blob = graph.control_delay.export_control_history_blob(0.0, F / SR)
    audio = check_rows(graph, [(F, instrument_rows())], block=128, alone_blocks=(128, 3000), blob=blob)
    for k in range(1, 8):
        assert_rows_differ(audio, 0, k)
    assert np.array_equal(audio[0], audio[8])


def test_instrument_rows_with_their_own_notes():
    """Row 8 changes pitch part-way through, row 5 plays a second note: events on one row only,
    given as per-row curves of the bound parameters."""
    graph = amp.app.build_runtime_graph(SR)
    rows = instrument_rows()
    for k, row in enumerate(rows):
        pitch = step_curve([(0, 220.0), (1300, 330.0)]) if k == 8 else np.full(F, 220.0)
        gate = step_curve([(0, 1.0), (1800, 0.0)])
        trigger = step_curve([(0, 1.0), (80, 0.0)])
        if k == 5:
            trigger = step_curve([(0, 1.0), (80, 0.0), (2200, 1.0), (2280, 0.0)])
        row["pitch"] = {"pitch": pitch}
        row["gate"] = {"value": gate}
        row["trigger"] = {"value": trigger}
    audio = check_rows(graph, [(F, rows)], block=128, alone_blocks=(128, 1000))
    assert np.array_equal(audio[0, :, :1300], audio[8, :, :1300])  # rows 0 and 8 differ only by the pitch change
    assert_rows_differ(audio[:, :, 1300:], 0, 8)
    assert np.array_equal(audio[1, :, :2200], audio[5, :, :2200])  # rows 1 and 5 only by the second note
    assert_rows_differ(audio[:, :, 2200:], 1, 5)


# ----- lfo, pan -----------------------------------------------------------------------------------

@pytest.mark.parametrize("waveform", ["sine", "triangle", "saw", "square"])
def test_lfo_rows(waveform):
    g = amp.AudioGraph(SR)
    g.add_node("dut", "lfo", waveform=waveform, freq=3.0, depth=0.5, offset=0.1)
    detour = step_curve([(0, 30.0), (900, 45.0), (1700, 30.0)])
    sweep = 50.0 + 20.0 * np.sin(np.arange(F) / 300.0)
    # Rows 0, 2, 3, 4 and 6 have shapes of their own (four of them are made side by side), rows 1
    # and 5 take row 0's, row 8 row 4's; row 7 runs backwards.
    freqs = [30.0, 30.0, detour, 45.0, 60.0, 30.0, sweep, -40.0, 60.0]
    depths = [0.5, 0.25, 0.5, 0.5, 0.5, 0.5, 0.3, 0.5, 0.2]
    offsets = [0.1, 0.1, 0.1, -0.3, 0.1, -0.2, 0.1, 0.1, 0.1]
    for batch in (len(freqs), 5, 4):
        rows = [{"dut": {"freq": np.broadcast_to(fq, (F,)).copy(), "depth": d, "offset": o}}
                for fq, d, o in list(zip(freqs, depths, offsets))[:batch]]
        audio = check_rows(g, [(F, rows)], threads=(1,))
        assert np.array_equal(audio[0, :, :900], audio[2, :, :900])
        assert_rows_differ(audio[:, :, 1700:], 0, 2)
        assert_rows_differ(audio, 0, 1)


def test_lfo_rows_with_steady_frequencies():
    g = amp.AudioGraph(SR)
    g.add_node("dut", "lfo", waveform="sine", freq=3.0, depth=0.5, offset=0.1)
    rows = [{"dut": {"freq": fq, "depth": 0.5}} for fq in (7.0, 7.0, 11.0, 13.0, 17.0, 19.0, 7.0)]
    check_rows(g, [(1000, rows), (2000, [dict(r, dut={"freq": 7.0, "depth": 0.5}) for r in rows])])


@pytest.mark.parametrize("channels", [1, 2])
def test_pan_rows(channels):
    g = amp.AudioGraph(SR)
    g.add_node("src", "constant", value=0.0, channels=channels)
    g.add_node("mover", "lfo", waveform="triangle", freq=2.0, depth=0.6, offset=0.0)
    g.add_node("dut", "pan", pan=0.0)
    g.connect("src", "dut")
    g.modulate("mover", "dut", "pan")
    t = np.arange(F) / SR
    rows = []
    for k in range(6):
        signal = np.stack([np.sin(2 * np.pi * (200.0 + 50.0 * c + (30.0 if k == 4 else 0.0)) * t)
                           for c in range(channels)])
        rows.append({"src": {"value": signal}, "mover": {"freq": 7.0 if k == 2 else 2.0},
                     "dut": {"pan": -0.2 if k == 3 else 0.0}})
    audio = check_rows(g, [(F, rows)])
    assert np.array_equal(audio[0], audio[1])
    for k in (2, 3, 4):
        assert_rows_differ(audio, 0, k)


# ----- pitch_quantizer ----------------------------------------------------------------------------

def test_pitch_quantizer_rows():
    g = amp.AudioGraph(SR)
    g.add_node("dut", "pitch_quantizer", pitch=220.0, grid=100.0, root=440.0, slew=0.01)
    g.add_node("bend", "constant", value=0.0)
    g.connect("bend", "dut")
    g.set_sink("dut")
    rows = []
    for k in range(5):
        pitch = step_curve([(0, 220.0), (1000, 300.0)] + ([(1500, 500.0)] if k == 2 else []) + [(2000, 300.0)])
        bend = np.zeros(F)
        if k == 3:
            bend[2500:] = 7.0
        rows.append({"dut": {"pitch": pitch, "slew": 0.02 if k == 4 else 0.01}, "bend": {"value": bend}})
    audio = check_rows(g, [(F, rows)])
    assert np.array_equal(audio[0], audio[1])
    assert np.array_equal(audio[0, :, :1500], audio[2, :, :1500])
    for k in (2, 3, 4):
        assert_rows_differ(audio, 0, k)


# ----- subharmonic, safety: rows side by side in vectors -----------------------------------------

def stereo_rows(batch: int, seed: int) -> list[np.ndarray]:
    """A stereo signal per row: tones of their own plus a little noise."""
    t = np.arange(F) / SR
    rng = np.random.default_rng(seed)
    out = []
    for k in range(batch):
        left = 0.6 * np.sin(2 * np.pi * (90.0 + 13.0 * k) * t) + 0.05 * rng.standard_normal(F)
        right = 0.5 * np.sin(2 * np.pi * (140.0 + 7.0 * k) * t + 0.3 * k)
        out.append(np.stack([left, right]))
    return out


@pytest.mark.parametrize("batch", [1, 3, 5, 7, 9, 12])
def test_subharmonic_rows(batch):
    g = amp.AudioGraph(SR)
    g.add_node("src", "constant", value=0.0, channels=2)
    g.add_node("dut", "subharmonic", band_low=40.0, band_high=500.0, div2=0.4, div4=0.2, dry=0.7)
    g.connect("src", "dut")
    signals = stereo_rows(batch, 7)
    signals[batch // 2][0, 400] = 3.0e11  # far out of the band filter's usual range
    if batch > 2:
        signals[1] = signals[0].copy()  # two identical rows
    t = np.arange(F) / SR
    rows = []
    for k in range(batch):
        rows.append({"src": {"value": signals[k]},
                     "dut": {"div2": 0.4 + 0.05 * (k % 3), "dry": 0.7,
                             "hysteresis": 0.1 + 0.05 * np.sin(2 * np.pi * (1.0 + k) * t),
                             "band_low": 55.0 if k == 5 else 40.0}})
    audio = check_rows(g, [(F, rows)])
    assert np.all(np.isfinite(audio))
    if batch > 2:
        assert_rows_differ(audio, 0, 2)


def test_subharmonic_rows_with_moving_settings():
    """A band edge moving at audio rate: no two rows share settings, each runs on its own."""
    g = amp.AudioGraph(SR)
    g.add_node("src", "constant", value=0.0, channels=2)
    g.add_node("dut", "subharmonic", band_low=40.0, band_high=500.0)
    g.connect("src", "dut")
    signals = stereo_rows(6, 8)
    t = np.arange(F) / SR
    rows = [{"src": {"value": signals[k]}, "dut": {"band_high": 400.0 + 100.0 * np.sin(2 * np.pi * 3.0 * t)}}
            for k in range(6)]
    check_rows(g, [(F, rows)])


@pytest.mark.parametrize("batch", [1, 2, 3, 5, 8])
def test_safety_rows(batch):
    g = amp.AudioGraph(SR)
    g.add_node("src", "constant", value=0.0, channels=2)
    g.add_node("dut", "safety", dc_cutoff=10.0, ceiling=1.0, knee=0.9)
    g.connect("src", "dut")
    signals = [2.0 * s + 0.3 for s in stereo_rows(batch, 9)]  # past the knee, with DC
    signals[0][0, 100] = 5.0e11  # past the guard's limit of 1e9
    signals[batch - 1][1, 200] = -2.0e9
    quiet = stereo_rows(1, 10)[0] * 0.1
    if batch > 2:
        signals[2] = quiet  # a row that never reaches the knee
    rows = [{"src": {"value": signals[k]}, "dut": {"dc_cutoff": 25.0 if k == 4 else 10.0}} for k in range(batch)]
    audio = check_rows(g, [(F, rows)])
    assert np.all(np.abs(audio) <= 1.0)


def test_safety_rows_with_a_moving_ceiling():
    g = amp.AudioGraph(SR)
    g.add_node("src", "constant", value=0.0, channels=2)
    g.add_node("dut", "safety", dc_cutoff=0.0, ceiling=1.0, knee=0.5)
    g.connect("src", "dut")
    signals = stereo_rows(5, 11)
    t = np.arange(F) / SR
    rows = [{"src": {"value": signals[k]}, "dut": {"ceiling": 0.6 + 0.3 * np.sin(2 * np.pi * 2.0 * t)}}
            for k in range(5)]
    check_rows(g, [(F, rows)])


# ----- envelope -----------------------------------------------------------------------------------

def test_envelope_rows():
    g = amp.AudioGraph(SR)
    for name in ("trigger", "gate", "velocity"):
        g.add_node(name, "constant", value=0.0)
    g.add_node("dut", "envelope", attack=0.01, hold=0.005, decay=0.03, sustain=0.5, release=0.04, curve=3.0)
    for name in ("trigger", "gate", "velocity"):
        g.connect(name, "dut", input=name)
    rows = []
    for k in range(7):
        gate = step_curve([(0, 1.0), (2000 if k == 3 else 1600, 0.0)])
        trigger = step_curve([(0, 1.0), (40, 0.0)] + ([(1200, 1.0), (1240, 0.0)] if k == 4 else []))
        rows.append({"trigger": {"value": trigger}, "gate": {"value": gate}, "velocity": {"value": 0.8},
                     "dut": {"decay": 0.06 if k == 1 else 0.03, "curve": 0.0 if k == 2 else 3.0,
                             "release": 0.08 if k == 5 else 0.04}})
    audio = check_rows(g, [(F, rows)])
    assert np.array_equal(audio[0], audio[6])
    for k in range(1, 6):
        assert_rows_differ(audio, 0, k)
