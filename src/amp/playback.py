"""Playing a graph through the default output device, fed by the native streamer.

python-sounddevice (the ``play`` extra: ``pip install "amp-synth[play]"``, which needs the PortAudio
library) calls :class:`StreamFeeder` from its audio thread for each buffer; the feeder takes what the
:class:`amp.native_runtime.NativeStreamer` has rendered ahead (never waiting in the audio thread) and
counts a buffer it could not fill as an underrun. The feeder knows nothing of sounddevice: any
driver that calls it with ``(outdata, frames, time, status)`` plays the graph, which is how the
tests drive it without a sound card.
"""

from __future__ import annotations

import threading
import time
from types import ModuleType
from typing import Any

import numpy as np

from .errors import AmpError

__all__ = ["PlaybackUnavailable", "StreamFeeder", "import_sounddevice", "check_output_device", "play",
           "DEFAULT_LEAD_FRAMES"]

# How far the streamer renders ahead of the device: room for the scheduler to be late by ~170 ms at
# 48 kHz without an underrun. It adds no latency to stopping: Ctrl-C aborts the device stream.
DEFAULT_LEAD_FRAMES = 8192


class PlaybackUnavailable(AmpError, RuntimeError):
    """Playback cannot start: python-sounddevice, PortAudio or an output device is missing."""


def import_sounddevice() -> ModuleType:
    """python-sounddevice, or :class:`PlaybackUnavailable` saying what to install."""
    try:
        import sounddevice
    except ImportError:
        raise PlaybackUnavailable('playback needs python-sounddevice: pip install "amp-synth[play]"') from None
    except OSError as exc:  # sounddevice is there but libportaudio is not
        raise PlaybackUnavailable(f"playback needs the PortAudio library (Debian/Ubuntu: apt install "
                                  f"libportaudio2; macOS: brew install portaudio): {exc}") from None
    return sounddevice


def check_output_device(sd: Any, sample_rate: float, channels: int) -> str:
    """The default output device's name; :class:`PlaybackUnavailable` when there is none or it
    refuses `sample_rate` with `channels`."""
    try:
        device = sd.query_devices(kind="output")
    except Exception as exc:  # sounddevice raises PortAudioError or ValueError when there is no device
        raise PlaybackUnavailable(f"no audio output device ({exc}); connect or enable one, or write a file with "
                                  "amp render") from None
    try:
        sd.check_output_settings(samplerate=sample_rate, channels=channels)
    except Exception as exc:
        raise PlaybackUnavailable(f"the output device {device.get('name', '?')!r} refuses {channels} channel(s) "
                                  f"at {sample_rate:g} Hz ({exc})") from None
    return str(device.get("name", "default"))


class StreamFeeder:
    """The audio callback: fills each device buffer from a running NativeStreamer.

    Call it as sounddevice calls a callback, ``feeder(outdata, frames, time, status)``, with
    ``outdata`` a (frames, channels) array. It never waits: a buffer the streamer has not rendered
    in time is completed with silence and counted in ``underruns``; ``device_underflows`` counts the
    buffers the device itself reported late. After `total_frames` (None: never) or an error in the
    stream (kept in ``error``), it writes silence and sets ``finished``.
    """

    def __init__(self, streamer, total_frames: int | None = None) -> None:
        self.streamer = streamer
        self.total_frames = None if total_frames is None else int(total_frames)
        self.frames_played = 0
        self.underruns = 0
        self.device_underflows = 0
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def prime(self, timeout: float = 5.0) -> None:
        """Waits (up to `timeout` s) until the streamer has rendered its lead, so that playback does
        not start with an underrun."""
        wanted = self.streamer.lead_frames
        if self.total_frames is not None:
            wanted = min(wanted, self.total_frames)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.streamer.info()
            if info["failed"] or info["frames_rendered"] - info["frames_read"] >= wanted:
                return
            time.sleep(0.001)

    def __call__(self, outdata: np.ndarray, frames: int, time_info: Any = None, status: Any = None) -> None:
        if status is not None and getattr(status, "output_underflow", False):
            self.device_underflows += 1
        if self.finished.is_set():
            outdata.fill(0)
            return
        wanted = frames if self.total_frames is None else min(frames, self.total_frames - self.frames_played)
        got = 0
        try:
            if wanted > 0:
                block = self.streamer.read(wanted, timeout=0)
                got = block.shape[-1]
                outdata[:got] = block[0].T
        except BaseException as exc:  # an exception raised here would only reach the audio thread
            self.error = exc
            self.finished.set()
        outdata[got:] = 0
        self.frames_played += got
        if got < wanted and self.error is None:
            self.underruns += 1
        if self.total_frames is not None and self.frames_played >= self.total_frames:
            self.finished.set()


def play(graph, frames: int | None = None, *, sample_rate: float | None = None, block: int = 256,
         threads: int | None = None, lead_frames: int = DEFAULT_LEAD_FRAMES, sounddevice: Any = None,
         on_start=None) -> StreamFeeder:
    """Plays `frames` frames of `graph` (None: until Ctrl-C) on the default output device.

    The graph's control history drives it (the whole history is handed to the streamer at once).
    `sounddevice` is the module to use (default: imported, with :class:`PlaybackUnavailable` when it
    cannot be). Returns the feeder, whose counters say how it went. Ctrl-C (KeyboardInterrupt)
    silences the output and aborts the device stream at once, then propagates.
    """
    from .native_runtime import NativeGraphExecutor

    sd = sounddevice if sounddevice is not None else import_sounddevice()
    sample_rate = float(sample_rate if sample_rate is not None else graph.sample_rate)
    blob = None
    if graph.control_delay.keys:
        last = max(float(graph.control_delay.events(key)[0].max(initial=0.0)) for key in graph.control_delay.keys)
        end = max(last, (frames or 0) / sample_rate) + 1.0 / sample_rate
        blob = graph.control_delay.export_control_history_blob(0.0, end)
    with NativeGraphExecutor(graph, sample_rate=sample_rate, max_block_frames=block, threads=threads) as executor:
        channels = executor.output_channels
        check_output_device(sd, sample_rate, channels)
        with executor.create_streamer(block_frames=block, lead_frames=max(lead_frames, block),
                                      control_history_blob=blob) as streamer:
            feeder = StreamFeeder(streamer, frames)
            feeder.prime()
            try:
                stream = sd.OutputStream(samplerate=sample_rate, channels=channels, dtype="float32",
                                         blocksize=block, callback=feeder)
            except Exception as exc:  # PortAudioError, or ValueError for settings the device refuses
                raise PlaybackUnavailable(f"the output device would not open: {exc}") from None
            try:
                stream.start()
                if on_start is not None:
                    on_start(feeder)
                while not feeder.finished.wait(0.02):
                    pass
                stream.stop()  # lets the last buffers play out
            except BaseException:
                feeder.finished.set()
                stream.abort()
                raise
            finally:
                streamer.stop()
                stream.close()
    if feeder.error is not None:
        raise feeder.error
    return feeder
