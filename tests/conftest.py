import os
import subprocess
import sys

import numpy as np
import pytest

import amp


@pytest.fixture(scope="session")
def runtime():
    """The loaded native runtime; every test needs it, and its absence is a failure, not a skip."""
    return amp.system.require_native_graph_runtime()


def run_python(code: str, env_extra: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    """Runs code in a fresh interpreter (the library is loaded once per process)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def sine_gain_graph(freq=440.0, gain=0.5, sample_rate=48000.0):
    g = amp.AudioGraph(sample_rate)
    g.add_node("osc", "oscillator", freq=freq)
    g.add_node("out", "gain", gain=gain)
    g.connect("osc", "out")
    g.set_sink("out")
    return g


def exact_sine(freq_hz: int, sample_rate: int, frames: int, amplitude=1.0) -> np.ndarray:
    """sin(2π f n / sr) with the phase reduced exactly in integers (f and sr whole numbers)."""
    n = np.arange(frames, dtype=np.int64)
    return amplitude * np.sin(2.0 * np.pi * ((n * int(freq_hz)) % int(sample_rate)) / float(sample_rate))
