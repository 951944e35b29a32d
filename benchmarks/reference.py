"""Plain numpy renderings of the scenarios: the output check for every renderer, and a baseline.

A band-limited saw here is its Fourier series cut at Nyquist, x(p) = -(2/pi) sum_k sin(2 pi k p) / k
for k f < sample_rate / 2 (p: phase in cycles, 0 at the step from +1 to -1), read from a table of
that series by linear interpolation. The lowpass is the 2-pole Butterworth of scipy.signal.butter.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from scenarios import Q, SAMPLE_RATE, Scenario

TABLE_SIZE = 1 << 14


def _saw_table(harmonics: int) -> np.ndarray:
    x = np.arange(TABLE_SIZE + 1) / TABLE_SIZE
    table = np.zeros(TABLE_SIZE + 1)
    for k in range(1, harmonics + 1):
        table -= np.sin(2.0 * np.pi * k * x) / k
    return table * (2.0 / np.pi)


class SawBank:
    """Tables per harmonic count, built once (the build is not part of the timed render)."""

    def __init__(self, freqs: np.ndarray, sample_rate: float = SAMPLE_RATE) -> None:
        self.freqs = np.asarray(freqs, dtype=np.float64)
        self.sample_rate = float(sample_rate)
        self.harmonics = [int((self.sample_rate / 2) // f) for f in self.freqs]
        self.tables = {k: _saw_table(k) for k in sorted(set(self.harmonics))}

    def render_sum(self, frames: int) -> np.ndarray:
        n = np.arange(frames, dtype=np.float64)
        out = np.zeros(frames)
        for f, k in zip(self.freqs, self.harmonics):
            position = np.mod(n * (f / self.sample_rate), 1.0) * TABLE_SIZE
            index = position.astype(np.int64)
            frac = position - index
            table = self.tables[k]
            low = table[index]
            out += low + frac * (table[index + 1] - low)
        return out


def lowpass_coefficients(cutoff: float, sample_rate: float = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    b, a = signal.butter(2, cutoff, btype="low", fs=sample_rate)
    return b, a


class Reference:
    """The numpy rendering of a saw scenario: rows (B, frames), one per cutoff."""

    name = "numpy reference"

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.bank = SawBank(scenario.freqs())
        self.filters = [lowpass_coefficients(c) for c in scenario.cutoffs]

    def render(self) -> np.ndarray:
        # The variants differ only in cutoff, so the oscillator sum is computed once.
        mixed = self.bank.render_sum(self.scenario.frames) / self.scenario.oscillators
        return np.stack([signal.lfilter(b, a, mixed) for b, a in self.filters])


def butterworth_q_matches() -> bool:
    """scipy's 2nd-order Butterworth is the Q = 1/sqrt(2) bilinear lowpass every peer is given."""
    b, a = lowpass_coefficients(2000.0)
    k = np.tan(np.pi * 2000.0 / SAMPLE_RATE)
    norm = 1.0 / (1.0 + k / Q + k * k)
    return bool(np.allclose(b, [k * k * norm, 2 * k * k * norm, k * k * norm]) and
                np.allclose(a, [1.0, 2.0 * (k * k - 1.0) * norm, (1.0 - k / Q + k * k) * norm]))
