"""Checks of the counts, rates and sizes a caller hands to amp, each failing with an amp error."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import AmpMemoryError, GraphError

__all__ = ["count", "rate", "seconds", "number", "MAX_OUTPUT_SAMPLES", "output_array"]

# The most samples (batch x channels x frames, float64) one render or read returns: 2^29 samples,
# 4 GiB. A longer render is made of several calls, which continue the stream.
MAX_OUTPUT_SAMPLES = 1 << 29


def count(name: str, value, *, minimum: int = 0, maximum: int | None = None) -> int:
    """`value` as an int: an int or numpy integer (not a bool, a float or a string) in range."""
    if type(value) is int:  # the common case, without the abstract-class checks
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
            raise GraphError(f"{name} must be {bound}, got {value}")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise GraphError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    result = int(value)
    if result < minimum or (maximum is not None and result > maximum):
        bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise GraphError(f"{name} must be {bound}, got {result}")
    return result


def rate(name: str, value) -> float:
    """`value` as a float: a real number (not a bool or a string), positive and finite."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise GraphError(f"{name} must be a number of Hz, got {value!r} ({type(value).__name__})")
    try:
        result = float(value)
    except OverflowError:
        raise GraphError(f"{name} = {value!r} is too large for a float") from None
    if not math.isfinite(result) or result <= 0.0:
        raise GraphError(f"{name} must be positive and finite, got {result}")
    return result


def seconds(name: str, value) -> float:
    """`value` as a float of seconds: a real number (not a bool or a string), >= 0 and finite."""
    number_ = number(name, value)
    if number_ < 0.0:
        raise GraphError(f"{name} must be >= 0 seconds, got {number_}")
    return number_


def number(name: str, value) -> float:
    """`value` as a finite float: a real number, not a bool or a string."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise GraphError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    try:
        result = float(value)
    except OverflowError:
        raise GraphError(f"{name} = {value!r} is too large for a float") from None
    if not math.isfinite(result):
        raise GraphError(f"{name} must be finite, got {result}")
    return result


def output_array(batch: int, channels: int, frames: int, what: str = "a render") -> np.ndarray:
    """An empty float64 (batch, channels, frames), once its size is known to be within the limit."""
    samples = batch * channels * frames
    if samples > MAX_OUTPUT_SAMPLES:
        raise AmpMemoryError(
            f"{what} of (B={batch}, C={channels}, F={frames}) needs {samples} samples ({samples * 8 / 2**30:.1f} GiB); "
            f"one call returns at most {MAX_OUTPUT_SAMPLES} samples ({MAX_OUTPUT_SAMPLES * 8 / 2**30:.0f} GiB): "
            "render it in several calls, which continue the stream")
    try:
        return np.empty((batch, channels, frames), dtype=np.float64)
    except MemoryError as exc:
        raise AmpMemoryError(f"{what} of (B={batch}, C={channels}, F={frames}) needs {samples * 8} bytes, which "
                             "this machine could not allocate") from exc
