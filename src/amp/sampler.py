"""The `sampler` node's buffer: packing a numpy array into its data section.

Layout (little-endian), as the native node reads it:

====== ======= ==========================================================
offset size    field
====== ======= ==========================================================
0      4       magic ``b"AMPS"``
4      2       layout version, 1
6      2       channels C, 1..64 (must equal the node's ``channels`` parameter)
8      8       frames N, >= 1
16     8*C*N   float64 samples, channel by channel (all of channel 0 first)
====== ======= ==========================================================

Example::

    g.add_node("drum", "sampler", channels=1, data=sampler_data(samples))
    # or
    add_sampler(g, "drum", samples, loop="on")
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from .errors import GraphError

__all__ = ["sampler_data", "add_sampler", "SAMPLER_MAGIC", "SAMPLER_LAYOUT_VERSION", "MAX_CHANNELS"]

SAMPLER_MAGIC = b"AMPS"
SAMPLER_LAYOUT_VERSION = 1
MAX_CHANNELS = 64


def _as_channels(array: Any) -> np.ndarray:
    try:
        data = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GraphError(f"a sampler buffer must be numeric, got {type(array).__name__}: {exc}") from None
    if data.ndim == 1:
        data = data.reshape(1, -1)
    if data.ndim != 2:
        raise GraphError(f"a sampler buffer must be 1-D (frames,) or 2-D (channels, frames); got shape {data.shape}")
    channels, frames = data.shape
    if not 1 <= channels <= MAX_CHANNELS:
        raise GraphError(f"a sampler buffer has 1 to {MAX_CHANNELS} channels; got {channels} (shape {data.shape}: "
                         "is it (frames, channels)? pass array.T)")
    if frames < 1:
        raise GraphError("a sampler buffer needs at least one frame")
    if not np.all(np.isfinite(data)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(data))[0])
        raise GraphError(f"a sampler buffer must be finite; (channel, frame) {index} is {data[index]}")
    return data


def sampler_data(array: Any) -> bytes:
    """The data section for a ``sampler`` node from a (frames,) or (channels, frames) array."""
    data = _as_channels(array)
    channels, frames = data.shape
    header = SAMPLER_MAGIC + struct.pack("<HHQ", SAMPLER_LAYOUT_VERSION, channels, frames)
    return header + np.ascontiguousarray(data, dtype="<f8").tobytes()


def add_sampler(graph, name: str, array: Any, **params: Any) -> str:
    """Adds a ``sampler`` node playing `array`, with ``channels`` set from its shape."""
    data = _as_channels(array)
    if "channels" in params and int(params["channels"]) != data.shape[0]:
        raise GraphError(f"channels={params['channels']} but the buffer has {data.shape[0]} channel(s)", node=name)
    params["channels"] = data.shape[0]
    return graph.add_node(name, "sampler", params, data=sampler_data(data))
