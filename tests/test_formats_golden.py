"""The blob writers produce exactly the bytes docs/formats.md specifies.

Each expected blob is assembled here field by field from the tables in docs/formats.md, without
using amp.blobs, and compared with what AudioGraph writes."""

import struct
import zlib

import pytest

import amp
from amp.native_runtime import describe_blob


def s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def section(section_id: int, body: bytes) -> bytes:
    return struct.pack("<I", section_id) + struct.pack("<I", 0) + struct.pack("<Q", len(body)) + body


def blob(magic: bytes, payload: bytes, major=1, minor=0) -> bytes:
    return (magic + struct.pack("<H", major) + struct.pack("<H", minor) + struct.pack("<I", 24)
            + struct.pack("<I", zlib.crc32(payload)) + struct.pack("<Q", len(payload)) + payload)


def golden_graph() -> amp.AudioGraph:
    g = amp.AudioGraph(48000)
    g.add_node("osc", "oscillator", freq=440.0, amp=0.5)
    g.add_node("lfo", "constant", value=2.0)
    g.add_node("out", "gain", gain=0.25)
    g.connect("osc", "out")
    g.modulate("lfo", "out", "gain", scale=0.125, mode="mul")
    g.bind_control("osc", "freq", "pitch")
    g.set_sink("out")
    return g


def expected_descriptor() -> bytes:
    nodes = (struct.pack("<I", 3)
             + s("osc") + s("oscillator") + struct.pack("<I", 2)
             + s("amp") + struct.pack("<d", 0.5) + s("freq") + struct.pack("<d", 440.0)
             + s("lfo") + s("constant") + struct.pack("<I", 1) + s("value") + struct.pack("<d", 2.0)
             + s("out") + s("gain") + struct.pack("<I", 1) + s("gain") + struct.pack("<d", 0.25))
    edges = struct.pack("<I", 1) + struct.pack("<IIII", 0, 0, 2, 0)
    mods = struct.pack("<I", 1) + struct.pack("<IIiI", 1, 0, -1, 2) + s("gain") + struct.pack("<B", 1) + struct.pack("<d", 0.125)
    binds = struct.pack("<I", 1) + struct.pack("<I", 0) + s("freq") + s("pitch")
    sink = struct.pack("<I", 2)
    payload = section(1, nodes) + section(2, edges) + section(3, mods) + section(4, binds) + section(5, sink)
    return blob(b"AMPD", payload)


def test_descriptor_bytes(runtime):
    assert golden_graph().serialize_node_descriptors() == expected_descriptor()


def test_plan_bytes(runtime):
    # order: osc and lfo have no inputs (lowest index first), then out. Buffers with reuse on:
    # osc (born 0, read at 2), lfo (born 1, read at 2), out (sink, lives to the end): none can share.
    # No chain fusion: out reads two sources.
    order = struct.pack("<I", 3) + struct.pack("<3I", 0, 1, 2)
    values = struct.pack("<II", 3, 3) + struct.pack("<4I", 0, 0, 1, 0) + struct.pack("<4I", 1, 0, 1, 1) + struct.pack("<4I", 2, 0, 1, 2)
    fusion = struct.pack("<I", 0)
    routes = struct.pack("<I", 1) + struct.pack("<I", 0)
    options = struct.pack("<I", 1 | 2 | 4 | 8 | 16)  # every optimisation on: fusion, folding, reuse, sum stages, lanes
    payload = section(1, order) + section(2, values) + section(3, fusion) + section(4, routes) + section(5, options)
    assert golden_graph().serialize_compiled_plan(disabled_optimisations=[]) == blob(b"AMPP", payload)


def test_control_bytes(runtime):
    g = golden_graph()
    g.record_control_event(0.0, pitch=220.0)
    g.record_control_event(0.5, pitch=330.0, gate=1.0)
    g.control_delay.set_interpolation("pitch", "linear")
    keys = (struct.pack("<I", 2)
            + s("gate") + struct.pack("<B", 0) + struct.pack("<I", 1) + struct.pack("<dd", 0.5, 1.0)
            + s("pitch") + struct.pack("<B", 1) + struct.pack("<I", 2) + struct.pack("<dddd", 0.0, 220.0, 0.5, 330.0))
    payload = section(1, struct.pack("<dd", 0.25, 0.75)) + section(2, keys)
    assert g.control_delay.export_control_history_blob(0.25, 0.75) == blob(b"AMPC", payload)


def test_native_description_round_trip(runtime):
    """The native reader sees the graph Python built."""
    g = golden_graph()
    d = describe_blob(g.serialize_node_descriptors())
    assert d["kind"] == "descriptor" and d["version"] == [1, 0] and d["sink"] == "out"
    assert [(n["name"], n["type"]) for n in d["nodes"]] == [(n, g.node_type(n)) for n in g.nodes]
    for node in d["nodes"]:
        for param, value in node["params"].items():
            assert value == g.param(node["name"], param)
    assert d["edges"] == [{"source": "osc", "output": "out", "target": "out", "input": "in"}]
    assert d["modulations"] == [{"source": "lfo", "output": "out", "channel": None, "target": "out",
                                 "param": "gain", "mode": "mul", "scale": 0.125}]
    assert d["control_bindings"] == [{"node": "osc", "param": "freq", "key": "pitch"}]
    plan = describe_blob(g.serialize_compiled_plan())
    assert plan["kind"] == "plan" and sorted(plan["order"]) == [0, 1, 2]
    g.record_control_event(0.1, pitch=100.0)
    control = describe_blob(g.control_delay.export_control_history_blob(0.0, 1.0))
    assert control["window"] == [0.0, 1.0]
    assert control["keys"] == [{"key": "pitch", "interpolation": "step", "events": [[0.1, 100.0]]}]


def test_later_minor_version_with_unknown_section_is_accepted(runtime):
    payload = expected_descriptor()[24:] + section(99, b"future data")
    d = describe_blob(blob(b"AMPD", payload, minor=7))
    assert d["version"] == [1, 7] and d["sink"] == "out"


def test_other_major_version_is_refused(runtime):
    with pytest.raises(amp.FormatError, match="version 2"):
        describe_blob(blob(b"AMPD", expected_descriptor()[24:], major=2))
