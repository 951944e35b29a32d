"""Malformed blobs never crash the process: each one is refused with amp.FormatError and a message.

Mutations fix up the CRC and the payload size where it matters, so that they reach the section
readers instead of stopping at the checksum."""

import struct
import zlib

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor, describe_blob

SR = 48000


def base_graph():
    g = amp.AudioGraph(SR)
    g.add_node("osc", "oscillator", freq=440.0, amp=0.5)
    g.add_node("lfo", "constant", value=2.0, channels=2)
    g.add_node("m", "mix", channels=2)
    g.add_node("out", "gain", gain=0.25)
    g.connect("osc", "m")
    g.connect("lfo", "m")
    g.connect("m", "out")
    g.modulate("lfo", "out", "gain", scale=0.125, mode="mul")
    g.modulate("lfo", "osc", "freq", scale=3.0, channel=1)
    g.bind_control("osc", "amp", "level")
    g.set_sink("out")
    for t in np.linspace(0, 0.01, 12):
        g.record_control_event(float(t), extras={"level": float(t * 10)}, pitch=float(100 + t))
    return g


def reseal(blob: bytearray) -> bytes:
    """Recomputes payload size and CRC so a mutation inside the payload reaches the readers."""
    payload = bytes(blob[24:])
    blob[16:24] = struct.pack("<Q", len(payload))
    blob[12:16] = struct.pack("<I", zlib.crc32(payload))
    return bytes(blob)


def mutations(blob: bytes, rng: np.random.Generator, count: int):
    n = len(blob)
    for i in range(count):
        kind = i % 6
        b = bytearray(blob)
        if kind == 0:  # truncated, header left as is
            yield bytes(b[: int(rng.integers(0, n))])
        elif kind == 1:  # truncated payload, resealed
            cut = int(rng.integers(24, n))
            yield reseal(b[:cut])
        elif kind == 2:  # one to four bit flips in the payload, resealed
            for _ in range(int(rng.integers(1, 5))):
                pos = int(rng.integers(24, n))
                b[pos] ^= 1 << int(rng.integers(0, 8))
            yield reseal(b)
        elif kind == 3:  # a bit flip anywhere, not resealed
            pos = int(rng.integers(0, n))
            b[pos] ^= 1 << int(rng.integers(0, 8))
            yield bytes(b)
        elif kind == 4:  # oversized: trailing garbage inside the last section or after it, resealed
            extra = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
            yield reseal(b + extra)
        else:  # a count or length inflated to something huge, resealed
            pos = int(rng.integers(24, max(n - 4, 25)))
            b[pos:pos + 4] = struct.pack("<I", int(rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x10000, n, 0xFFFF])))
            yield reseal(b)


def check_refused_or_valid(fn, outcomes):
    try:
        fn()
        outcomes["accepted"] += 1
    except amp.FormatError as exc:
        assert str(exc).strip(), "a refusal must say what was wrong"
        outcomes["refused"] += 1


@pytest.mark.parametrize("which", ["descriptor", "plan", "control"])
def test_describe_survives_thousands_of_malformed_blobs(runtime, which):
    g = base_graph()
    blob = {
        "descriptor": g.serialize_node_descriptors,
        "plan": g.serialize_compiled_plan,
        "control": lambda: g.control_delay.export_control_history_blob(0.0, 0.01),
    }[which]()
    describe_blob(blob)  # the original is valid
    rng = np.random.default_rng({"descriptor": 1, "plan": 2, "control": 3}[which])
    outcomes = {"accepted": 0, "refused": 0}
    for bad in mutations(blob, rng, 3000):
        check_refused_or_valid(lambda: describe_blob(bad), outcomes)
    # a mutation can land on a value that is still valid (a parameter value, an event time or
    # value); in a control blob, mostly floats, that is common
    assert outcomes["refused"] > (0.6 if which == "control" else 0.8) * 3000, outcomes


@pytest.mark.parametrize("which", ["descriptor", "plan"])
def test_graph_creation_and_render_survive_malformed_blobs(runtime, which):
    g = base_graph()
    descriptor = g.serialize_node_descriptors()
    plan = g.serialize_compiled_plan()
    rng = np.random.default_rng({"descriptor": 11, "plan": 12}[which])
    outcomes = {"accepted": 0, "refused": 0}

    def create_and_render(d, p):
        with NativeGraphExecutor.from_blobs(d, p, sample_rate=SR, max_block_frames=64, threads=1) as ex:
            y = ex.render(100, 64)
            assert y.shape[2] == 100

    for bad in mutations(descriptor if which == "descriptor" else plan, rng, 1500):
        args = (bad, plan) if which == "descriptor" else (descriptor, bad)
        check_refused_or_valid(lambda: create_and_render(*args), outcomes)
    assert outcomes["refused"] > 0.8 * 1500, outcomes


def test_render_survives_malformed_control_blobs(runtime):
    g = base_graph()
    blob = g.control_delay.export_control_history_blob(0.0, 0.01)
    rng = np.random.default_rng(21)
    outcomes = {"accepted": 0, "refused": 0}
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=64, threads=1) as ex:
        for bad in mutations(blob, rng, 1500):
            check_refused_or_valid(lambda: ex.render(64, 64, control_history_blob=bad), outcomes)
    assert outcomes["refused"] > 0.6 * 1500, outcomes


def test_plan_that_shares_a_live_buffer_is_refused(runtime):
    """An edited plan that would make two live values share memory is caught by the native checker."""
    g = base_graph()
    plan = g.compile(disabled_optimisations=["buffer_reuse"])
    from amp.blobs import PlanValue, write_plan_blob

    values = [PlanValue(v.node, v.output, v.channels, 0 if v.node in (0, 2) else v.buffer) for v in plan.values]
    bad = write_plan_blob(plan.order, plan.buffer_count, values, plan.fusion_groups, plan.routes, plan.optimisations)
    with pytest.raises(amp.FormatError, match="while both are alive"):
        NativeGraphExecutor.from_blobs(g.serialize_node_descriptors(), bad, sample_rate=SR)


def test_plan_out_of_order_is_refused(runtime):
    g = base_graph()
    plan = g.compile()
    from amp.blobs import write_plan_blob

    order = list(reversed(plan.order))
    bad = write_plan_blob(order, plan.buffer_count, plan.values, [], plan.routes, plan.optimisations)
    with pytest.raises(amp.FormatError, match="before its"):
        NativeGraphExecutor.from_blobs(g.serialize_node_descriptors(), bad, sample_rate=SR)
