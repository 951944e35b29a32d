"""`amp play` and amp.playback, driven without a sound card: a stand-in sounddevice module
(tests/fake_sounddevice) calls the feeder at real-time pace from its own thread, as PortAudio does."""

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import amp
from amp import app
from amp.cli import main
from amp.playback import PlaybackUnavailable, StreamFeeder, play
from amp.render_file import render_chunks

FAKE = Path(__file__).parent / "fake_sounddevice"
SR = 48000


@pytest.fixture
def fake_sd(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKE))
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    module = importlib.import_module("sounddevice")
    module.OutputStream.instances.clear()
    yield module
    sys.modules.pop("sounddevice", None)


def offline(graph, frames, block=256):
    return np.concatenate(list(render_chunks(graph, frames, sample_rate=SR, block=block, threads=1)), axis=-1)


def test_the_demo_plays_at_real_time_without_underruns_and_as_rendered_offline(runtime, fake_sd):
    seconds = 2.0
    frames = int(seconds * SR)
    graph = app.build_runtime_graph(SR)
    app.record_demo_performance(graph, seconds)
    feeder = play(graph, frames, sample_rate=SR, block=256, threads=1, sounddevice=fake_sd)
    stream = fake_sd.OutputStream.instances[-1]
    played = np.concatenate(stream.played)
    assert stream.blocksize == 256 and stream.channels == 2
    assert feeder.underruns == 0 and feeder.device_underflows == 0 and feeder.error is None
    assert feeder.frames_played == frames
    reference = app.build_runtime_graph(SR)
    app.record_demo_performance(reference, seconds)
    expected = offline(reference, frames).T.astype(np.float32)
    np.testing.assert_array_equal(played[:frames], expected)
    # after the end, the device is given silence, never stale or uninitialised samples
    assert np.all(played[frames:] == 0)


class ScriptedStreamer:
    """A streamer that has `ready` frames of a ramp rendered, then nothing, then fails."""

    lead_frames = 4

    def __init__(self, ready, fail_after=None):
        self.ready = ready
        self.given = 0
        self.fail_after = fail_after

    def read(self, frames, timeout=None):
        if self.fail_after is not None and self.given >= self.fail_after:
            raise amp.NativeRuntimeError("node 'x' failed", node="x")
        n = max(0, min(frames, self.ready - self.given))
        block = np.arange(self.given, self.given + n, dtype=np.float64).reshape(1, 1, n) / 1000.0
        self.given += n
        return block

    def info(self):
        return {"failed": False, "frames_rendered": self.ready, "frames_read": self.given}


def test_the_feeder_fills_with_silence_and_counts_what_was_late():
    feeder = StreamFeeder(ScriptedStreamer(ready=300), total_frames=1000)
    first = np.full((256, 1), np.nan, dtype=np.float32)
    feeder(first, 256)
    np.testing.assert_array_equal(first[:, 0], (np.arange(256) / 1000.0).astype(np.float32))
    second = np.full((256, 1), np.nan, dtype=np.float32)
    feeder(second, 256)
    np.testing.assert_array_equal(second[:44, 0], (np.arange(256, 300) / 1000.0).astype(np.float32))
    assert np.all(second[44:] == 0)
    assert feeder.underruns == 1 and not feeder.finished.is_set()


def test_the_feeder_stops_at_the_end_and_on_a_failure():
    done = StreamFeeder(ScriptedStreamer(ready=10_000), total_frames=300)
    out = np.full((256, 2), np.nan, dtype=np.float32)
    done(out, 256)
    done(out, 256)
    assert done.frames_played == 300 and done.finished.is_set() and done.underruns == 0
    assert np.all(out[44:] == 0)
    failing = StreamFeeder(ScriptedStreamer(ready=10_000, fail_after=256))
    failing(out, 256)
    failing(out, 256)
    assert failing.finished.is_set() and isinstance(failing.error, amp.NativeRuntimeError)
    assert np.all(out == 0)


def test_without_the_extra_the_error_says_what_to_install(runtime, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as if python-sounddevice were not installed
    assert main(["play", "--demo"]) == 2
    err = capsys.readouterr().err
    assert err == 'amp: error: playback needs python-sounddevice: pip install "amp-synth[play]"\n'


def test_without_portaudio_the_error_says_what_to_install(runtime, monkeypatch, tmp_path, capsys):
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    assert main(["play", "--demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amp: error: playback needs the PortAudio library") and err.count("\n") == 1
    assert "libportaudio2" in err
    sys.modules.pop("sounddevice", None)


def test_without_a_device_the_error_says_so(runtime, fake_sd, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_SD_NO_DEVICE", "1")
    assert main(["play", "--demo", "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amp: error: no audio output device") and err.count("\n") == 1
    with pytest.raises(PlaybackUnavailable):
        play(app.build_runtime_graph(SR), 100, sounddevice=fake_sd)


def test_a_device_that_will_not_open_is_one_line(runtime, fake_sd, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_SD_BUSY", "1")
    assert main(["play", "--demo", "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amp: error: the output device would not open") and err.count("\n") == 1
    assert "Device unavailable" in err


def fake_env(tmp_path, **extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(FAKE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def test_amp_play_plays_a_patch_file_to_its_end(runtime, tmp_path):
    patch = tmp_path / "tone.toml"
    patch.write_text('[[nodes]]\nname = "osc"\ntype = "oscillator"\nparams = { freq = 1000.0, amp = 0.5 }\n')
    record = tmp_path / "played.npy"
    result = subprocess.run([sys.executable, "-m", "amp", "play", str(patch), "--seconds", "0.5"],
                            capture_output=True, text=True, timeout=60, env=fake_env(tmp_path, FAKE_SD_RECORD=record))
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"playing {patch} for 0.5 s\n"
    played = np.load(record)[:, 0]
    n = np.arange(SR // 2)
    np.testing.assert_allclose(played[:SR // 2], 0.5 * np.sin(2 * np.pi * 1000 * n / SR), atol=2e-6)


def test_ctrl_c_stops_playback_at_once(runtime, tmp_path):
    events = tmp_path / "events.txt"
    process = subprocess.Popen([sys.executable, "-m", "amp", "play", "--demo", "--seconds", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=fake_env(tmp_path, FAKE_SD_EVENTS=events))
    deadline = time.monotonic() + 60
    while not (events.exists() and "started" in events.read_text()) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    time.sleep(0.3)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert err.splitlines()[-1] == "amp: interrupted" and "Traceback" not in err
    lines = dict(line.split() for line in events.read_text().splitlines() if not line.startswith("closed"))
    silenced = float(lines["aborted"]) - sent
    print(f"Ctrl-C to the device stream aborted: {silenced * 1000:.1f} ms")
    assert silenced < 0.5  # a generous limit against a hang; the figure is printed above
