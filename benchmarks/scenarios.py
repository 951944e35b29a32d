"""The benchmark scenarios: what is rendered, independent of who renders it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# What renders are timed by: wall time, or (run.py --cpu-time) the CPU time of this process, all its
# threads: on a host shared with other work a render's CPU time moves less with the load than its
# wall time does (time spent waiting for a core is not counted; caches shared with the neighbours
# still are).
_clock = time.perf_counter


def clock() -> float:
    return _clock()


def use_cpu_time() -> None:
    global _clock
    _clock = time.process_time

SAMPLE_RATE = 48000
SEED = 7
BASE_FREQ = 110.0
DETUNE = 0.01          # each oscillator at BASE_FREQ * (1 + u), u uniform in [-DETUNE, DETUNE]
CUTOFF = 2000.0        # Hz, 2-pole Butterworth lowpass (Q = 1/sqrt(2))
Q = 2.0 ** -0.5
RMS_TOLERANCE = 0.02   # every renderer's output RMS is within 2 % of the numpy reference's


@dataclass
class Scenario:
    key: str               # "saw64", "saw640", "batch64", "app"
    title: str
    oscillators: int
    seconds: float
    blocks: tuple[int, ...]
    batch: int = 1
    cutoffs: np.ndarray = field(default_factory=lambda: np.array([CUTOFF]))

    @property
    def frames(self) -> int:
        return int(round(self.seconds * SAMPLE_RATE))

    def freqs(self) -> np.ndarray:
        return oscillator_freqs(self.oscillators)


def oscillator_freqs(count: int, seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return BASE_FREQ * (1.0 + rng.uniform(-DETUNE, DETUNE, count))


def batch_cutoffs(count: int) -> np.ndarray:
    """B cutoffs spread geometrically over 500 Hz .. 8 kHz (row count // 2 is close to 2 kHz)."""
    return np.geomspace(500.0, 8000.0, count)


def scenarios(tiny: bool) -> list[Scenario]:
    if tiny:
        return [
            Scenario("saw64", "64 saws -> lowpass", 4, 0.25, (64, 256)),
            Scenario("saw640", "640 saws -> lowpass", 8, 0.25, (256,)),
            Scenario("batch64", "64-saw patch, B variants", 4, 0.25, (256,), batch=3, cutoffs=batch_cutoffs(3)),
            Scenario("app", "default three-oscillator graph", 0, 0.25, (64, 256, 1024)),
        ]
    return [
        Scenario("saw64", "64 saws -> lowpass", 64, 10.0, (64, 256)),
        Scenario("saw640", "640 saws -> lowpass", 640, 10.0, (64, 256)),
        # Peers render the B variants one after another, so the batch renders 2 s per variant.
        Scenario("batch64", "64-saw patch, B=64 variants", 64, 2.0, (256,), batch=64, cutoffs=batch_cutoffs(64)),
        Scenario("app", "default three-oscillator graph", 0, 10.0, (64, 256, 1024)),
    ]
