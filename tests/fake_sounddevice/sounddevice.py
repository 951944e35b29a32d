"""A stand-in for python-sounddevice: an output "device" that calls the callback at real-time pace
from a thread of its own, as PortAudio does, and keeps what it was given.

Environment (for the command-line tests, which put this directory on PYTHONPATH):
FAKE_SD_NO_DEVICE=1 makes query_devices fail as it does on a machine without a sound card;
FAKE_SD_BUSY=1 makes opening the stream fail, as a device held by another program does;
FAKE_SD_RECORD=path.npy saves everything played when the stream closes; FAKE_SD_EVENTS=path.txt
appends "started <t>" and "stopped <t>" lines (time.monotonic, the system-wide clock).
"""

import os
import threading
import time

import numpy as np

__version__ = "fake"


class PortAudioError(Exception):
    pass


class CallbackFlags:
    output_underflow = False


def _event(name):
    path = os.environ.get("FAKE_SD_EVENTS")
    if path:
        with open(path, "a") as f:
            f.write(f"{name} {time.monotonic():.6f}\n")


def query_devices(device=None, kind=None):
    if os.environ.get("FAKE_SD_NO_DEVICE"):
        raise PortAudioError("Error querying device -1")
    return {"name": "fake output", "max_output_channels": 8, "default_samplerate": 48000.0}


def check_output_settings(device=None, channels=None, dtype=None, extra_settings=None, samplerate=None):
    if channels is not None and channels > 8:
        raise PortAudioError("Invalid number of channels")


class OutputStream:
    instances = []

    def __init__(self, samplerate, channels, dtype, blocksize, callback, **kwargs):
        if os.environ.get("FAKE_SD_BUSY"):
            raise PortAudioError("Error opening OutputStream: Device unavailable [PaErrorCode -9985]")
        self.samplerate = float(samplerate)
        self.channels = int(channels)
        self.blocksize = int(blocksize)
        self.callback = callback
        self.played = []
        self.late = 0
        self._run = threading.Event()
        self._thread = None
        OutputStream.instances.append(self)

    def _loop(self):
        period = self.blocksize / self.samplerate
        deadline = time.monotonic()
        while self._run.is_set():
            out = np.full((self.blocksize, self.channels), np.nan, dtype=np.float32)
            self.callback(out, self.blocksize, None, CallbackFlags())
            self.played.append(out)
            deadline += period
            pause = deadline - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                self.late += 1

    def start(self):
        self._run.set()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        _event("started")

    def _halt(self, how):
        self._run.clear()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        _event(how)

    def stop(self):
        self._halt("stopped")

    def abort(self):
        self._halt("aborted")

    def close(self):
        self._halt("closed")
        path = os.environ.get("FAKE_SD_RECORD")
        if path and self.played:
            np.save(path, np.concatenate(self.played))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.close()
