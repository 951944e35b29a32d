"""amp.app's three-oscillator instrument driven by a seeded virtual performer.

The performer (tests/data/performer.json) is a script of timed control moves, humanized with its
seed. Ten seconds are rendered block by block through amp.runner.render_audio_block; the pitch of
every note is estimated from the audio and compared with the script's pitch snapped to the
equal-tempered grid (computed here), and the output must be finite and never reach the clipper.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from amp import app
from amp.runner import render_audio_block

SR = 48000.0
BLOCK = 480
SCRIPT = Path(__file__).parent / "data" / "performer.json"


def performance():
    """The humanized moves, sorted by time: [(time, {key: value})]."""
    script = json.loads(SCRIPT.read_text())
    rng = np.random.default_rng(script["seed"])
    h = script["humanize"]
    moves = []
    for move in script["moves"]:
        values = {k: float(v) for k, v in move.items() if k != "time"}
        t = move["time"] + rng.uniform(-h["time"], h["time"])
        if "pitch" in values:
            values["pitch"] *= 2 ** (rng.uniform(-h["cents"], h["cents"]) / 1200)
        if "velocity" in values:
            values["velocity"] = float(np.clip(values["velocity"] + rng.uniform(-h["velocity"], h["velocity"]), 0, 1))
        moves.append((t, values))
    moves.sort(key=lambda m: m[0])
    return script["duration"], moves


def notes(moves):
    """Spans with the gate high and the pitch steady: (start, end, pitch Hz, velocity)."""
    spans = []
    gate, pitch, velocity, start = 0.0, None, 1.0, None
    for t, values in moves:
        changes = ("pitch" in values and values["pitch"] != pitch) or ("gate" in values and values["gate"] != gate)
        if changes and gate >= 0.5 and start is not None:
            spans.append((start, t, pitch, velocity))
        pitch = values.get("pitch", pitch)
        velocity = values.get("velocity", velocity)
        gate = values.get("gate", gate)
        if changes:
            start = t if gate >= 0.5 else None
    return spans


def equal_tempered(f):
    return 440.0 * 2 ** (np.round(12 * np.log2(f / 440.0)) / 12)


def estimate_pitch(x, expected):
    """The strongest spectral peak within half an octave of `expected` (Hann window, zero-padded,
    parabolic interpolation on the log magnitude)."""
    n = len(x)
    size = 1 << int(np.ceil(np.log2(16 * n)))
    spectrum = np.log(np.abs(np.fft.rfft((x - x.mean()) * np.hanning(n), size)) + 1e-300)
    freqs = np.arange(len(spectrum)) * SR / size
    band = np.flatnonzero((freqs > expected / np.sqrt(2)) & (freqs < expected * np.sqrt(2)))
    k = band[np.argmax(spectrum[band])]
    a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / size


@pytest.fixture(scope="module")
def rendered():
    duration, moves = performance()
    graph = app.build_runtime_graph(SR)
    for t, values in moves:
        graph.record_control_event(t, **{k: v for k, v in values.items()})
    frames = int(round(duration * SR))
    base_params = app.build_base_params(graph, BLOCK)
    blocks = [render_audio_block(graph, min(BLOCK, frames - start), SR, base_params)
              for start in range(0, frames, BLOCK)]
    return np.concatenate(blocks, axis=-1)[0], moves


def test_output_is_finite_stereo_and_never_clips(runtime, rendered):
    audio, _ = rendered
    assert audio.shape == (2, int(10 * SR))
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) <= 1.0
    # Stricter: nothing reached the safety stage's knee (0.9), so the soft clip never bent a sample.
    assert np.max(np.abs(audio)) < 0.9
    assert np.max(np.abs(audio)) > 0.1
    assert not np.allclose(audio[0], audio[1]), "the autopan LFO moves the voice between the channels"


def test_pitch_follows_the_script(runtime, rendered):
    audio, moves = rendered
    mono = audio.sum(axis=0)
    spans = notes(moves)
    assert len(spans) == 12
    for start, end, pitch, _ in spans:
        segment = mono[int((start + 0.08) * SR):int((end - 0.02) * SR)]
        expected = equal_tempered(pitch)
        got = estimate_pitch(segment, expected)
        cents = 1200 * np.log2(got / expected)
        assert abs(cents) < 2, f"note at {start:.2f} s: heard {got:.2f} Hz, expected {expected:.2f} Hz ({cents:+.1f} c)"


def test_silence_between_notes_and_velocity_sets_the_level(runtime, rendered):
    audio, moves = rendered
    power = np.sqrt(np.sum(audio ** 2, axis=0))  # pan-independent
    spans = notes(moves)
    # Gaps: from the end of a release (0.25 s) to the next note.
    for (s0, e0, _, _), (s1, _, _, _) in zip(spans, spans[1:]):
        if s1 - e0 > 0.35:
            gap = power[int((e0 + 0.3) * SR):int(s1 * SR)]
            assert np.sqrt(np.mean(gap ** 2)) < 1e-3, f"sound between {e0:.2f} and {s1:.2f} s"
    # Two notes of the same pitch: the sustained level scales with velocity.
    same = [s for s in spans if abs(equal_tempered(s[2]) - 587.33) < 1]
    assert len(same) == 2
    levels = [np.sqrt(np.mean(power[int((s + 0.2) * SR):int((e - 0.02) * SR)] ** 2)) for s, e, _, _ in same]
    assert levels[0] / levels[1] == pytest.approx(same[0][3] / same[1][3], rel=0.1)


def test_cli_renders_the_demo(runtime, tmp_path):
    import subprocess
    import sys

    import soundfile

    out = tmp_path / "demo.wav"
    result = subprocess.run([sys.executable, "-m", "amp.cli", "render", "--demo", "--seconds", "2", "--block", "300",
                             "-o", str(out), "--float"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(out)
    assert rate == 48000 and audio.shape == (96000, 2)
    assert np.all(np.isfinite(audio)) and 0.05 < np.max(np.abs(audio)) < 0.9
    # Notes start at 0, 0.4, 0.8 and 1.2 s: each onset is louder than the moment before it.
    power = np.sqrt(np.sum(audio ** 2, axis=1))
    for onset in (0.4, 0.8, 1.2):
        before = power[int((onset - 0.02) * rate):int(onset * rate)].max()
        after = power[int((onset + 0.005) * rate):int((onset + 0.05) * rate)].max()
        assert after > before
    plain = subprocess.run([sys.executable, "-m", "amp.cli", "render", "--seconds", "0.1", "-o", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stderr
    assert soundfile.read(out)[0].ndim == 1, "without --demo the default is still the mono sine"


def test_block_sizes_do_not_change_the_performance(runtime):
    def play(sizes):
        _, moves = performance()
        graph = app.build_runtime_graph(SR)
        for t, values in moves:
            graph.record_control_event(t, **values)
        out, done, k = [], 0, 0
        total = int(2.5 * SR)
        while done < total:
            n = min(sizes[k % len(sizes)], total - done)
            out.append(render_audio_block(graph, n, SR, app.build_base_params(graph, n)))
            done, k = done + n, k + 1
        return np.concatenate(out, axis=-1)

    reference = play([480])
    assert np.array_equal(play([333]), reference)
    assert np.array_equal(play([1000, 17, 4096, 256]), reference)


def test_base_params_vary_the_instrument_per_row(runtime):
    graph = app.build_runtime_graph(SR)
    graph.record_control_event(0.0, pitch=330.0, gate=1.0, trigger=1.0, velocity=1.0)
    frames = 9600
    decays = np.array([0.02, 0.3])
    params = app.build_base_params(graph, frames, batch=2, values={"env.decay": decays, "env.sustain": 0.2})
    assert params["env"]["decay"].shape == (2, 1, 1) and params["sine"]["amp"].shape == (2, 1, 1)
    audio = render_audio_block(graph, frames, SR, params)
    assert audio.shape == (2, 2, frames)
    power = np.sqrt(np.sum(audio ** 2, axis=1))
    window = slice(int(0.1 * SR), int(0.12 * SR))  # the short decay is over, the long one is not
    assert power[0, window].max() < 0.6 * power[1, window].max()
    with pytest.raises(ValueError, match="env.decay"):
        app.build_base_params(graph, frames, values={"env.decay": -1.0})
    with pytest.raises(ValueError, match="fixed"):
        app.build_base_params(graph, frames, values={"sine.waveform": 1})
