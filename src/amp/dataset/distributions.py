"""The distributions a dataset draws from, and how one 64-bit word becomes one value.

Every drawn value takes exactly one word of its item's bit stream (see ``draw.py``), whatever its
distribution, so the position of a value in the stream depends only on its place in the
specification. The arithmetic is spelt out here, and in docs/datasets.md, so that anyone can
re-draw a value from the seed without amp:

- u = ((word >> 11) + 0.5) · 2⁻⁵³, a double strictly inside (0, 1)
- uniform:     low + (high − low) · u
- log_uniform: low · (high / low) ** u, clipped to [low, high]
- choice:      values[floor(u · n)]
- normal:      the normal distribution (mean, std) truncated to [low, high] (by default the
  parameter's range in the catalogue), by its inverse CDF: N.inv_cdf(N.cdf(low) + u · (N.cdf(high)
  − N.cdf(low))) with N = statistics.NormalDist(mean, std), clipped to [low, high]

then, for a parameter the catalogue declares whole, rounded to the nearest integer (ties to even).
The inverse CDF is Python's own (``statistics.NormalDist``, algorithm AS 241), not a vectorised
one whose last bit may change with the CPU or the library's version.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import SpecError

__all__ = ["Distribution", "KINDS", "WORDS_PER_VALUE", "unit_double"]

KINDS = ("uniform", "log_uniform", "choice", "normal")
WORDS_PER_VALUE = 1
_FIELDS = {
    "uniform": ({"low", "high"}, set()),
    "log_uniform": ({"low", "high"}, set()),
    "choice": ({"values"}, set()),
    "normal": ({"mean", "std"}, {"low", "high"}),
}


def unit_double(word: int) -> float:
    """A 64-bit word as a double strictly inside (0, 1): its top 53 bits, plus one half, over 2^53
    (exact, and never 0 or 1, where an inverse CDF has no value)."""
    return ((int(word) >> 11) + 0.5) * (1.0 / 9007199254740992.0)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise SpecError(f"{where} must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class Distribution:
    """One of KINDS with its arguments; ``where`` is the key path used in error messages."""

    kind: str
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    std: float | None = None
    values: tuple[float, ...] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "Distribution":
        if not isinstance(data, Mapping):
            raise SpecError(f"{where} must be a table with 'distribution' and its arguments, got {data!r}")
        kind = data.get("distribution")
        if kind not in KINDS:
            raise SpecError(f"{where}.distribution must be one of {', '.join(KINDS)}, got {kind!r}")
        required, optional = _FIELDS[kind]
        given = set(data) - {"distribution"}
        missing = required - given
        if missing:
            raise SpecError(f"{where}: a {kind} distribution needs {', '.join(sorted(missing))}")
        extra = given - required - optional
        if extra:
            raise SpecError(f"{where}: a {kind} distribution takes no {', '.join(sorted(extra))} "
                            f"(it takes {', '.join(sorted(required | optional))})")
        args: dict[str, Any] = {}
        for name in ("low", "high", "mean", "std"):
            if name in data:
                args[name] = _number(data[name], f"{where}.{name}")
        if kind == "choice":
            values = data["values"]
            if not isinstance(values, (list, tuple)) or not values:
                raise SpecError(f"{where}.values must be a non-empty list of numbers")
            args["values"] = tuple(_number(v, f"{where}.values[{i}]") for i, v in enumerate(values))
        dist = cls(kind, **args)
        dist._check_shape(where)
        return dist

    def _check_shape(self, where: str) -> None:
        if self.kind in ("uniform", "log_uniform") and not self.low <= self.high:
            raise SpecError(f"{where}: low ({self.low:g}) must not exceed high ({self.high:g})")
        if self.kind == "log_uniform" and self.low <= 0:
            raise SpecError(f"{where}: a log_uniform distribution needs 0 < low, got low = {self.low:g}")
        if self.kind == "normal":
            if not self.std > 0:
                raise SpecError(f"{where}.std must be > 0, got {self.std:g}")
            if self.low is not None and self.high is not None and self.low > self.high:
                raise SpecError(f"{where}: low ({self.low:g}) must not exceed high ({self.high:g})")

    def clipped_to(self, lo: float, hi: float, where: str) -> "Distribution":
        """Checks that every value this can draw lies in [lo, hi] (a catalogue range) and returns the
        distribution with a normal's clip bounds filled in from it."""
        def inside(value: float, name: str) -> None:
            if not lo <= value <= hi:
                raise SpecError(f"{where}.{name} = {value:g} is outside the allowed range [{lo:g}, {hi:g}]")

        if self.kind in ("uniform", "log_uniform"):
            inside(self.low, "low")
            inside(self.high, "high")
            return self
        if self.kind == "choice":
            for i, value in enumerate(self.values):
                inside(value, f"values[{i}]")
            return self
        inside(self.mean, "mean")
        low = lo if self.low is None else self.low
        high = hi if self.high is None else self.high
        inside(low, "low")
        inside(high, "high")
        if not (math.isfinite(low) and math.isfinite(high)):
            raise SpecError(f"{where}: a normal distribution needs finite low and high to clip to")
        normal = statistics.NormalDist(self.mean, self.std)
        if not normal.cdf(high) > normal.cdf(low):
            raise SpecError(f"{where}: a normal distribution of mean {self.mean:g} and std {self.std:g} has no "
                            f"probability left in [{low:g}, {high:g}]")
        return Distribution("normal", low=low, high=high, mean=self.mean, std=self.std)

    def draw(self, word: int) -> float:
        """The value one word of the bit stream makes (the arithmetic of the module doc)."""
        u = unit_double(word)
        if self.kind == "uniform":
            return self.low + (self.high - self.low) * u
        if self.kind == "log_uniform":
            return min(max(self.low * (self.high / self.low) ** u, self.low), self.high)
        if self.kind == "choice":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        dist = statistics.NormalDist(self.mean, self.std)
        below, above = dist.cdf(self.low), dist.cdf(self.high)
        # Kept inside (0, 1), where the inverse CDF is defined, when the bounds lie far in one tail.
        p = min(max(below + u * (above - below), 1e-300), 1.0 - 2.0**-53)
        return min(max(dist.inv_cdf(p), self.low), self.high)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"distribution": self.kind}
        for name in ("low", "high", "mean", "std"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.values is not None:
            out["values"] = list(self.values)
        return out
