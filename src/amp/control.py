"""Control history: timestamped control events, per key, exported as the control blob.

A control event is a time in seconds (float64) with named values: pitch, envelope, trigger, gate,
velocity, or any other key. The native runtime turns a window of events into per-sample curves:
an event at time t takes effect at stream sample round(t * sample_rate). Each key interpolates by
``step`` (hold each value until the next event) or ``linear`` (ramp from each event to the next).
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Iterable, Mapping

import numpy as np

from . import checks
from .blobs import INTERPOLATIONS, ControlKeyEvents, write_control_blob
from .errors import GraphError

__all__ = ["ControlDelay", "STANDARD_KEYS"]

STANDARD_KEYS = ("pitch", "envelope", "trigger", "gate", "velocity")
MAX_SECONDS = 1.0e9  # the control blob's limit on times (docs/formats.md)
DEFAULT_RETENTION = 10.0  # seconds of control history kept behind the rendered stream


class ControlDelay:
    """Records control events and exports windows of them for the native runtime.

    Thread-safe: a UI or MIDI thread may record while another thread renders.

    ``retention`` bounds the history kept behind a stream that ``AudioGraph.render_block`` renders:
    once the stream reaches time T, each key forgets its events before T − retention seconds except
    the last of them (the value in force at that time, which step and linear keys both need). Later
    blocks of the stream never read further back than that, so forgetting changes no rendered
    sample, and a long performance holds only the events of its last `retention` seconds and those
    still ahead. Windows exported for the span [T − retention, T) (``export_control_history_blob``,
    ``AudioGraph.sample_control_tensor``) are as complete as before; a window that starts earlier
    sees, before T − retention, only the kept event. The default keeps 10 seconds; 0 keeps only what
    the stream still needs; ``retention=None`` keeps every event (memory then grows with every
    event recorded, 60 to 120 bytes each), e.g. to ``reset()`` and render a take again.
    """

    def __init__(self, interpolation: Mapping[str, str] | None = None, default_interpolation: str = "step",
                 retention: float | None = DEFAULT_RETENTION) -> None:
        self._check_mode(default_interpolation)
        self._default = default_interpolation
        self._modes: dict[str, str] = {}
        self._times: dict[str, list[float]] = {}
        self._values: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._retention = self._check_retention(retention)
        for key, mode in (interpolation or {}).items():
            self.set_interpolation(key, mode)

    @staticmethod
    def _check_mode(mode: str) -> None:
        if mode not in INTERPOLATIONS:
            raise GraphError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {mode!r}")

    @staticmethod
    def _check_retention(retention) -> float | None:
        if retention is None:
            return None
        if isinstance(retention, bool) or not isinstance(retention, (int, float, np.integer, np.floating)):
            raise GraphError(f"control retention must be a number of seconds or None, got {retention!r}")
        seconds = float(retention)
        if not math.isfinite(seconds) or seconds < 0:
            raise GraphError(f"control retention must be finite and >= 0 seconds (or None to keep every event), "
                             f"got {retention!r}")
        return seconds

    @property
    def retention(self) -> float | None:
        """Seconds of history kept behind the rendered stream (None: every event is kept)."""
        return self._retention

    @retention.setter
    def retention(self, retention: float | None) -> None:
        checked = self._check_retention(retention)
        with self._lock:
            self._retention = checked

    def stream_reached(self, position: float) -> None:
        """Says the stream has been rendered up to `position` seconds: forgets what ``retention``
        lets go of (see the class). ``AudioGraph.render_block`` calls it after every block."""
        with self._lock:
            if self._retention is None:
                return
            self._forget_before(float(position) - self._retention)

    def _forget_before(self, before: float) -> None:
        # Deleting from the front costs what is left: little, since it runs after every block.
        for key, times in self._times.items():
            cut = bisect.bisect_left(times, before) - 1
            if cut > 0:
                del times[:cut]
                del self._values[key][:cut]

    def set_interpolation(self, key: str, mode: str) -> None:
        """How `key` moves between events: 'step' or 'linear'."""
        self._check_mode(mode)
        with self._lock:
            self._modes[key] = mode

    def interpolation(self, key: str) -> str:
        """How `key` is interpolated between events: 'step' or 'linear'."""
        return self._modes.get(key, self._default)

    @property
    def keys(self) -> list[str]:
        """Every key that has events, sorted."""
        with self._lock:
            return sorted(self._times)

    def record_control_event(
        self,
        timestamp: float,
        pitch: float | None = None,
        envelope: float | None = None,
        trigger: float | None = None,
        gate: float | None = None,
        velocity: float | None = None,
        extras: Mapping[str, float] | None = None,
    ) -> None:
        """Records the given values at `timestamp` seconds. Events at equal times keep their order."""
        t = checks.number("control event time", timestamp)
        if abs(t) > MAX_SECONDS:
            raise GraphError(f"control event time must be finite and within ±{MAX_SECONDS:g} s, got {timestamp!r}")
        named = {"pitch": pitch, "envelope": envelope, "trigger": trigger, "gate": gate, "velocity": velocity}
        named.update(dict(extras or {}))
        items = [(k, v) for k, v in named.items() if v is not None]
        if not items:
            raise GraphError("a control event needs at least one value (pitch=, envelope=, ..., extras={...})")
        checked = []
        for key, value in items:
            if not isinstance(key, str) or not 1 <= len(key.encode()) <= 63:
                raise GraphError(f"control key {key!r} must be a name of 1 to 63 bytes")
            checked.append((key, checks.number(f"control value for '{key}' at {t} s", value)))
        with self._lock:
            for key, number in checked:
                times = self._times.setdefault(key, [])
                values = self._values.setdefault(key, [])
                at = bisect.bisect_right(times, t)
                times.insert(at, t)
                values.insert(at, number)

    def clear(self, before: float | None = None) -> None:
        """Forgets every event, or those before `before` except the last one (which stays in force)."""
        with self._lock:
            if before is None:
                self._times.clear()
                self._values.clear()
                return
            self._forget_before(float(before))

    def events(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The (times, values) recorded for `key`, as float arrays (empty when none)."""
        with self._lock:
            return np.array(self._times.get(key, ()), dtype=float), np.array(self._values.get(key, ()), dtype=float)

    def export_control_history_blob(self, t0: float, t1: float, keys: Iterable[str] | None = None) -> bytes:
        """The control blob for the window [t0, t1).

        Each key carries its events inside the window, the last event before t0 (the value in force
        when the window opens) and the first event at or after t1 (the target a linear ramp is heading
        for), so a window renders exactly as the same span of a longer render would.
        """
        t0 = checks.number("control window start", t0)
        t1 = checks.number("control window end", t1)
        if t1 < t0 or max(abs(t0), abs(t1)) > MAX_SECONDS:
            raise GraphError(f"control window [{t0}, {t1}) must be finite, ordered and within ±{MAX_SECONDS:g} s")
        with self._lock:
            selected = sorted(self._times) if keys is None else list(keys)
            entries = []
            for key in selected:
                times = self._times.get(key)
                if not times:
                    continue
                start = max(bisect.bisect_left(times, t0) - 1, 0)
                stop = min(bisect.bisect_left(times, t1) + 1, len(times))
                entries.append(
                    ControlKeyEvents(
                        key,
                        self._modes.get(key, self._default),
                        np.array(times[start:stop], dtype=float),
                        np.array(self._values[key][start:stop], dtype=float),
                    )
                )
        return write_control_blob(t0, t1, entries)
