"""envelope: stage boundaries on the exact sample, computed by hand from the parameters.

At a sample rate of 1000 Hz a time of t seconds is 1000 t samples. A stage of N samples from s to
e has, on its k-th sample (k = 0 .. N-1), s + (e - s) (k + 1) / N (linear), so its last sample is e.
"""

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 1000.0


def run(signals, frames, block=64, **params):
    """Renders level and reset for the given input signals ({name: array}); returns (level, reset)."""
    g = amp.AudioGraph(SR)
    for name in signals:
        g.add_node(name, "constant")
    g.add_node("env", "envelope", **params)
    for name in signals:
        g.connect(name, "env", input=name)
    g.add_node("level", "gain")
    g.connect("env", "level", output="level")
    g.add_node("pulse", "gain")
    g.connect("env", "pulse", output="reset")
    overrides = {name: {"value": np.asarray(v, float).reshape(1, 1, -1)} for name, v in signals.items()}
    out = []
    for sink in ("level", "pulse"):
        g.set_sink(sink)
        with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=block, threads=1) as ex:
            out.append(ex.render(frames, block, overrides)[0, 0])
    return out


def ramp(start, end, n):
    return start + (end - start) * np.arange(1, n + 1) / n


def step_signal(frames, ranges, value=1.0):
    x = np.zeros(frames)
    for a, b in ranges:
        x[a:b] = value
    return x


PARAMS = dict(attack=0.010, hold=0.005, decay=0.020, sustain=0.5, release=0.030)


@pytest.mark.parametrize("block", [1, 7, 64, 400])
def test_gate_note_stage_boundaries(runtime, block):
    frames = 300
    gate = step_signal(frames, [(100, 200)])
    velocity = np.full(frames, 0.8)
    level, reset = run({"gate": gate, "velocity": velocity}, frames, block, **PARAMS)
    peak = 0.8
    expected = np.concatenate([
        np.zeros(100),                      # before the gate
        ramp(0.0, peak, 10),                # attack: samples 100..109, reaching the peak on 109
        np.full(5, peak),                   # hold: 110..114
        ramp(peak, 0.5 * peak, 20),         # decay: 115..134, reaching sustain on 134
        np.full(65, 0.5 * peak),            # sustain: 135..199
        ramp(0.5 * peak, 0.0, 30),          # release from the gate's fall at 200: 200..229
        np.zeros(70),
    ])
    np.testing.assert_allclose(level, expected, rtol=0, atol=1e-12)
    assert level[109] == peak and level[134] == 0.5 * peak and level[229] == 0.0
    assert np.flatnonzero(reset).tolist() == [100] and reset[100] == 1.0


def test_trigger_alone_plays_attack_hold_decay_then_release(runtime):
    frames = 200
    trigger = step_signal(frames, [(20, 21)])
    level, reset = run({"trigger": trigger}, frames, **PARAMS)
    expected = np.concatenate([
        np.zeros(20),
        ramp(0.0, 1.0, 10),     # 20..29 (no velocity input: the peak is 1)
        np.ones(5),             # 30..34
        ramp(1.0, 0.5, 20),     # 35..54
        ramp(0.5, 0.0, 30),     # 55..84: no gate holds the note, so release follows at once
        np.zeros(115),
    ])
    np.testing.assert_allclose(level, expected, rtol=0, atol=1e-12)
    assert np.flatnonzero(reset).tolist() == [20]


def test_gate_falling_during_attack_releases_from_the_current_level(runtime):
    frames = 100
    gate = step_signal(frames, [(10, 14)])  # four samples of a ten-sample attack
    level, _ = run({"gate": gate}, frames, **PARAMS)
    reached = 0.4
    expected = np.concatenate([np.zeros(10), ramp(0.0, 1.0, 10)[:4], ramp(reached, 0.0, 30), np.zeros(56)])
    np.testing.assert_allclose(level, expected, rtol=0, atol=1e-12)


def test_retrigger_restarts_the_attack_from_the_current_level(runtime):
    """Documented retrigger: the attack restarts from the level where the new note finds the
    envelope, over the full attack time, towards the new velocity."""
    frames = 300
    gate = step_signal(frames, [(0, 300)])
    trigger = step_signal(frames, [(150, 152), (180, 181)])
    velocity = np.where(np.arange(frames) < 150, 1.0, 0.6)
    level, reset = run({"trigger": trigger, "gate": gate, "velocity": velocity}, frames, **PARAMS)
    first = np.concatenate([ramp(0.0, 1.0, 10), np.ones(5), ramp(1.0, 0.5, 20), np.full(115, 0.5)])  # 0..149
    second = np.concatenate([ramp(0.5, 0.6, 10), np.full(5, 0.6), ramp(0.6, 0.3, 20)[:15]])  # 150..179
    at_180 = second[-1]
    third = np.concatenate([ramp(at_180, 0.6, 10), np.full(5, 0.6), ramp(0.6, 0.3, 20), np.full(85, 0.3)])
    np.testing.assert_allclose(level, np.concatenate([first, second, third]), rtol=0, atol=1e-12)
    assert np.flatnonzero(reset).tolist() == [0, 150, 180]


def test_release_retriggered_by_the_gate(runtime):
    frames = 120
    gate = step_signal(frames, [(0, 40), (50, 120)])
    level, reset = run({"gate": gate}, frames, **PARAMS)
    # Gate falls at 40 (in sustain, level 0.5): release for 10 samples, to 0.5 - 0.5 * 10/30.
    at_49 = 0.5 - 0.5 * 10 / 30
    expected = np.concatenate([
        ramp(0.0, 1.0, 10), np.ones(5), ramp(1.0, 0.5, 20), np.full(5, 0.5),  # 0..39
        ramp(0.5, 0.0, 30)[:10],                                             # 40..49
        ramp(at_49, 1.0, 10), np.ones(5), ramp(1.0, 0.5, 20), np.full(35, 0.5),  # 50..119
    ])
    np.testing.assert_allclose(level, expected, rtol=0, atol=1e-12)
    assert np.flatnonzero(reset).tolist() == [0, 50]


def test_curved_decay_and_release(runtime):
    frames = 120
    c = 5.0
    gate = step_signal(frames, [(0, 50)])
    level, _ = run({"gate": gate}, frames, attack=0.0, hold=0.0, decay=0.020, sustain=0.25, release=0.040, curve=c)
    u_d = np.arange(1, 21) / 20
    u_r = np.arange(1, 41) / 40
    shape = lambda u: (1 - np.exp(-c * u)) / (1 - np.exp(-c))  # noqa: E731
    expected = np.concatenate([
        1.0 + (0.25 - 1.0) * shape(u_d),   # a zero-length attack and hold: decay starts on the note's sample
        np.full(30, 0.25),                 # 20..49
        0.25 - 0.25 * shape(u_r),          # 50..89
        np.zeros(30),
    ])
    np.testing.assert_allclose(level, expected, rtol=0, atol=1e-12)


def test_stage_lengths_round_to_whole_samples(runtime):
    frames = 60
    gate = step_signal(frames, [(0, 60)])
    # 0.0104 s -> 10.4 samples -> 10; 0.0126 s -> 12.6 -> 13
    level, _ = run({"gate": gate}, frames, attack=0.0104, hold=0.0, decay=0.0126, sustain=0.0, release=0.01)
    expected = np.concatenate([ramp(0.0, 1.0, 10), ramp(1.0, 0.0, 13), np.zeros(37)])
    np.testing.assert_allclose(level, expected, rtol=0, atol=1e-12)


def test_batch_rows_with_their_own_times(runtime):
    frames = 60
    g = amp.AudioGraph(SR)
    g.add_node("gate", "constant", value=1.0)
    g.add_node("env", "envelope", hold=0.0, decay=0.0, sustain=1.0)
    g.connect("gate", "env", input="gate")
    g.set_sink("env")
    attack = np.array([0.005, 0.010, 0.020]).reshape(3, 1, 1)
    with NativeGraphExecutor(g, batch=3, sample_rate=SR, max_block_frames=16, threads=1) as ex:
        y = ex.render(frames, 16, {"env": {"attack": attack}})
    for row, n in enumerate([5, 10, 20]):
        np.testing.assert_allclose(y[row, 0], np.concatenate([ramp(0, 1, n), np.ones(frames - n)]), atol=1e-12)
