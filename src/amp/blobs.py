"""Writers of amp's three binary blobs. docs/formats.md is their specification.

Python writes the blobs; the native library is their only reader, and validates everything. Each
blob is a 24-byte common header followed by a payload of sections::

    header  : magic[4] | major u16 | minor u16 | header_size u32 | crc32 u32 | payload_size u64
    section : id u32 | flags u32 (0) | length u64 | body[length]

All integers are little-endian; strings are a u32 byte length and UTF-8 bytes (1..63 bytes).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from .errors import GraphError

__all__ = [
    "HEADER_SIZE",
    "DESCRIPTOR_MAGIC",
    "PLAN_MAGIC",
    "CONTROL_MAGIC",
    "DescriptorNode",
    "DescriptorEdge",
    "DescriptorModulation",
    "DescriptorBinding",
    "write_descriptor_blob",
    "PlanValue",
    "write_plan_blob",
    "ControlKeyEvents",
    "write_control_blob",
    "OPT_CHAIN_FUSION",
    "OPT_CONSTANT_FOLDING",
    "OPT_BUFFER_REUSE",
    "OPT_SUM_STAGES",
    "OPT_LANE_FUSION",
    "OPTIMISATIONS",
]

HEADER_SIZE = 24
MAX_NAME_BYTES = 63
DESCRIPTOR_MAGIC = b"AMPD"
PLAN_MAGIC = b"AMPP"
CONTROL_MAGIC = b"AMPC"
DESCRIPTOR_VERSION = (1, 0)
PLAN_VERSION = (1, 0)
CONTROL_VERSION = (1, 0)

# descriptor sections
_NODES, _EDGES, _MODULATIONS, _BINDINGS, _SINK, _NODE_DATA = 1, 2, 3, 4, 5, 6
# plan sections
_ORDER, _VALUES, _FUSION, _ROUTES, _OPTIONS = 1, 2, 3, 4, 5
# control sections
_WINDOW, _KEYS = 1, 2

OPT_CHAIN_FUSION = 1
OPT_CONSTANT_FOLDING = 2
OPT_BUFFER_REUSE = 4
OPT_SUM_STAGES = 8
OPT_LANE_FUSION = 16
OPTIMISATIONS = {"chain_fusion": OPT_CHAIN_FUSION, "constant_folding": OPT_CONSTANT_FOLDING, "buffer_reuse": OPT_BUFFER_REUSE,
                 "sum_stages": OPT_SUM_STAGES, "lane_fusion": OPT_LANE_FUSION}

MOD_MODES = {"add": 0, "mul": 1}
INTERPOLATIONS = {"step": 0, "linear": 1}


def _name(text: str) -> bytes:
    raw = text.encode("utf-8")
    if not 1 <= len(raw) <= MAX_NAME_BYTES:
        raise GraphError(f"name {text!r} must be 1 to {MAX_NAME_BYTES} bytes of UTF-8")
    return struct.pack("<I", len(raw)) + raw


_U32 = struct.Struct("<I")
_F64 = struct.Struct("<d")


class _Names(dict):
    """Encoded names by text, for the few that recur in every node (types, parameter names)."""

    def __missing__(self, text: str) -> bytes:
        raw = self[text] = _name(text)
        return raw


def _section(section_id: int, body: bytes) -> bytes:
    return struct.pack("<IIQ", section_id, 0, len(body)) + body


def _blob(magic: bytes, version: tuple[int, int], sections: Iterable[bytes]) -> bytes:
    payload = b"".join(sections)
    header = magic + struct.pack("<HHIIQ", version[0], version[1], HEADER_SIZE, zlib.crc32(payload), len(payload))
    return header + payload


@dataclass(frozen=True)
class DescriptorNode:
    """A node in the descriptor blob: name, catalogue type, parameter values and optional sample data."""

    name: str
    type: str
    params: Sequence[tuple[str, float]] = ()
    data: bytes | None = None


@dataclass(frozen=True)
class DescriptorEdge:
    """An audio connection in the descriptor blob, by node and port index."""

    source: int
    output: int
    target: int
    input: int


@dataclass(frozen=True)
class DescriptorModulation:
    """A modulation in the descriptor blob: source output × scale added to or multiplying target.param."""

    source: int
    output: int
    channel: int  # -1: every channel
    target: int
    param: str
    mode: str
    scale: float


@dataclass(frozen=True)
class DescriptorBinding:
    """A parameter bound to a control key in the descriptor blob."""

    node: int
    param: str
    key: str


def write_descriptor_blob(
    nodes: Sequence[DescriptorNode],
    edges: Sequence[DescriptorEdge],
    modulations: Sequence[DescriptorModulation],
    bindings: Sequence[DescriptorBinding],
    sink: int,
) -> bytes:
    """The descriptor blob: what nodes exist, their parameters and wiring, and the sink."""
    body = bytearray(_U32.pack(len(nodes)))
    recurring = _Names()
    for node in nodes:
        body += _name(node.name)
        body += recurring[node.type]
        body += _U32.pack(len(node.params))
        for param, value in node.params:
            body += recurring[param]
            body += _F64.pack(float(value))
    sections = [_section(_NODES, bytes(body))]
    sections.append(
        _section(
            _EDGES,
            struct.pack("<I", len(edges)) + b"".join(struct.pack("<IIII", e.source, e.output, e.target, e.input) for e in edges),
        )
    )
    mods = [struct.pack("<I", len(modulations))]
    for m in modulations:
        mods += [
            struct.pack("<IIiI", m.source, m.output, m.channel, m.target),
            recurring[m.param],
            struct.pack("<Bd", MOD_MODES[m.mode], float(m.scale)),
        ]
    sections.append(_section(_MODULATIONS, b"".join(mods)))
    binds = [struct.pack("<I", len(bindings))]
    for b in bindings:
        binds += [struct.pack("<I", b.node), _name(b.param), _name(b.key)]
    sections.append(_section(_BINDINGS, b"".join(binds)))
    sections.append(_section(_SINK, struct.pack("<I", sink)))
    data_nodes = [(i, n.data) for i, n in enumerate(nodes) if n.data is not None]
    if data_nodes:
        data = [struct.pack("<I", len(data_nodes))]
        for index, raw in data_nodes:
            data += [struct.pack("<IQ", index, len(raw)), bytes(raw)]
        sections.append(_section(_NODE_DATA, b"".join(data)))
    return _blob(DESCRIPTOR_MAGIC, DESCRIPTOR_VERSION, sections)


@dataclass(frozen=True)
class PlanValue:
    """One output value of the plan: the node and output producing it, its channels and its buffer."""

    node: int
    output: int
    channels: int
    buffer: int


def write_plan_blob(
    order: Sequence[int],
    buffer_count: int,
    values: Sequence[PlanValue],
    fusion_groups: Sequence[Sequence[int]],
    routes: Sequence[int],
    optimisations: int,
) -> bytes:
    """The plan blob: execution order, buffers, fused chains, modulation order, optimisations."""
    sections = [
        _section(_ORDER, struct.pack(f"<I{len(order)}I", len(order), *order)),
        _section(
            _VALUES,
            struct.pack("<II", buffer_count, len(values))
            + b"".join(struct.pack("<IIII", v.node, v.output, v.channels, v.buffer) for v in values),
        ),
        _section(
            _FUSION,
            struct.pack("<I", len(fusion_groups))
            + b"".join(struct.pack(f"<I{len(g)}I", len(g), *g) for g in fusion_groups),
        ),
        _section(_ROUTES, struct.pack(f"<I{len(routes)}I", len(routes), *routes)),
        _section(_OPTIONS, struct.pack("<I", optimisations)),
    ]
    return _blob(PLAN_MAGIC, PLAN_VERSION, sections)


@dataclass(frozen=True)
class ControlKeyEvents:
    """The events of one control key in a control blob: interpolation, times (s) and values."""

    key: str
    interpolation: str
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))


def write_control_blob(t0: float, t1: float, keys: Sequence[ControlKeyEvents]) -> bytes:
    """The control blob: a time window and, per key, its interpolation and (time, value) events."""
    body = [struct.pack("<I", len(keys))]
    for k in keys:
        times = np.ascontiguousarray(k.times, dtype="<f8")
        values = np.ascontiguousarray(k.values, dtype="<f8")
        pairs = np.empty((len(times), 2), dtype="<f8")
        pairs[:, 0] = times
        pairs[:, 1] = values
        body += [_name(k.key), struct.pack("<BI", INTERPOLATIONS[k.interpolation], len(times)), pairs.tobytes()]
    sections = [_section(_WINDOW, struct.pack("<dd", float(t0), float(t1))), _section(_KEYS, b"".join(body))]
    return _blob(CONTROL_MAGIC, CONTROL_VERSION, sections)
