"""Properties every node type in the catalogue must have, whoever wrote it:

- block-size invariance: the same render in blocks of 1, 7, 64, 256 and 4096 frames is identical,
  with constant parameters and with every continuous parameter moving at audio rate;
- batch independence: row b of a batch of 3, each row with its own parameters and inputs, equals
  rendering row b alone.

The node types come from amp.catalogue.catalogue(), so nodes added later are covered without
touching this file. Each input port is fed by a `constant` node whose per-frame values are a
deterministic two-channel signal; each output is observed through a gain of exactly 1.
"""

import importlib

import numpy as np
import pytest

import amp
from amp.catalogue import catalogue
from amp.native_runtime import NativeGraphExecutor

SR = 16000.0
FRAMES = 5000
BLOCKS = (1, 7, 64, 256, 4096)
BATCH = 3
CHANNELS = 2

# Settings a node type needs to be exercised at all: a block_delay must be at least as long as the
# longest block, and a delay should be shorter than the render.
TYPE_SETUP = {
    "block_delay": {"frames": max(BLOCKS)},
    "delay": {"max_time": 0.05, "time": 0.01},
    "fft_division": {"hop": 64},
}
# Data sections for node types that take one (see each node's doc for its layout), made when needed.
TYPE_DATA = {
    "oscillator_bank": lambda: np.array([1.0, 1.5, 2.01], dtype="<f8").tobytes(),  # lane frequency ratios
    "sampler": lambda: importlib.import_module("amp.sampler").sampler_data(
        np.sin(2 * np.pi * np.arange(3000) / 97.0) * np.hanning(3000)),
}


def source_signal(port: int, row: int, channel: int) -> np.ndarray:
    """A deterministic test signal: a sine per port/channel plus seeded noise per row."""
    t = np.arange(FRAMES) / SR
    rng = np.random.default_rng(1000 * port + 10 * row + channel)
    tone = 0.5 * np.sin(2 * np.pi * (110.0 * (port + 1) + 37.0 * channel) * t + row)
    return tone + 0.3 * rng.standard_normal(FRAMES)


def sources(spec, rows):
    """{'src<i>': {'value': (len(rows), CHANNELS, FRAMES)}} for each input port."""
    return {
        f"src{i}": {"value": np.stack([[source_signal(i, r, c) for c in range(CHANNELS)] for r in rows])}
        for i in range(len(spec.inputs))
    }


def build(type_name: str, output: int) -> amp.AudioGraph:
    spec = catalogue()[type_name]
    g = amp.AudioGraph(SR)
    for i in range(len(spec.inputs)):
        g.add_node(f"src{i}", "constant", channels=CHANNELS)
    data = TYPE_DATA[type_name]() if type_name in TYPE_DATA else None
    g.add_node("dut", type_name, TYPE_SETUP.get(type_name, {}), data=data)
    for i, port in enumerate(spec.inputs):
        g.connect(f"src{i}", "dut", input=port.name)
    g.add_node("tap", "gain", gain=1.0)
    g.connect("dut", "tap", output=output)
    g.set_sink("tap")
    return g


def free_params(spec):
    """Parameters that may be overridden per render (not fixed at creation)."""
    return [p for p in spec.params if not p.static]


def base_value(type_name, p):
    return TYPE_SETUP.get(type_name, {}).get(p.name, p.default)


def row_value(type_name, p, row: int) -> float:
    """A valid value of p for batch row `row`: row 0 keeps the graph's value, others move off it."""
    v = float(base_value(type_name, p))
    if p.choices is not None:
        return float((int(v) + row) % len(p.choices))
    if p.integer:
        step = row if v + row <= p.max else -row
        return float(min(max(v + step, p.min), p.max))
    if v != 0.0:
        candidate = v * (1.0 + 0.05 * row)
        if not p.min <= candidate <= p.max:
            candidate = v * (1.0 - 0.05 * row)
    else:
        candidate = 0.1 * row * min(1.0, p.max) if p.max > 0 else -0.1 * row * min(1.0, -p.min)
    return float(min(max(candidate, p.min), p.max))


def audio_rate_curve(type_name, p, index: int = 0) -> np.ndarray | None:
    """A slow sweep around p's value, within its range, its speed set by `index` so that no two
    parameters move in step; None for choices and integers."""
    if p.choices is not None or p.integer:
        return None
    v = float(base_value(type_name, p))
    centre = v if v != 0.0 else (0.1 * min(1.0, p.max) if p.max > 0 else 0.0)
    depth = 0.1 * abs(centre)
    t = np.arange(FRAMES) / FRAMES
    curve = centre + depth * np.sin(2 * np.pi * (3.0 + 1.3 * index) * t) * np.cos(2 * np.pi * 0.7 * t)
    return np.clip(curve, p.min, p.max).reshape(1, 1, FRAMES)


def render(graph, base_params, block, batch=1):
    try:
        executor = NativeGraphExecutor(graph, batch=batch, sample_rate=SR, max_block_frames=max(BLOCKS), threads=1)
    except amp.AmpError as exc:
        pytest.fail(f"{exc}\n(if this node type needs settings or a data section to be created, give them in "
                    "TYPE_SETUP / TYPE_DATA in this file)")
    with executor as ex:
        return ex.render(FRAMES, block, base_params)


def cases():
    out = []
    for type_name, spec in sorted(catalogue().items()):
        for k, port in enumerate(spec.outputs):
            out.append(pytest.param(type_name, k, id=f"{type_name}.{port.name}"))
    return out


@pytest.mark.parametrize("type_name,output", cases())
def test_block_size_invariance(type_name, output):
    spec = catalogue()[type_name]
    graph = build(type_name, output)
    constant_params = sources(spec, [0])
    moving = dict(constant_params)
    curves = {p.name: c for i, p in enumerate(free_params(spec))
              if (c := audio_rate_curve(type_name, p, i)) is not None}
    if curves:
        moving["dut"] = curves
    spread = 0.0
    for base_params in (constant_params, moving):
        reference = render(graph, base_params, BLOCKS[0])
        assert np.all(np.isfinite(reference)), f"{type_name} renders non-finite samples"
        spread = max(spread, float(np.ptp(reference)))
        for block in BLOCKS[1:]:
            got = render(graph, base_params, block)
            if not np.array_equal(got, reference):
                where = np.argwhere(got != reference)[0]
                pytest.fail(f"{type_name} output {output}: blocks of {block} differ from blocks of 1 first at "
                            f"(b, c, f) = {tuple(int(i) for i in where)}; max diff {np.abs(got - reference).max():.3g}")
    assert spread > 0.0, f"{type_name} output {output} never varies here: the test would prove nothing"


@pytest.mark.parametrize("type_name,output", cases())
def test_batch_rows_are_independent(type_name, output):
    spec = catalogue()[type_name]
    graph = build(type_name, output)
    rows = list(range(BATCH))
    base_params = sources(spec, rows)
    per_row = {p.name: np.array([row_value(type_name, p, r) for r in rows]) for p in free_params(spec)}
    if per_row:
        base_params["dut"] = {name: values.reshape(BATCH, 1, 1) for name, values in per_row.items()}
    together = render(graph, base_params, 256, batch=BATCH)
    for r in rows:
        alone_params = sources(spec, [r])
        if per_row:
            alone_params["dut"] = {name: values[r] for name, values in per_row.items()}
        alone = render(graph, alone_params, 256)
        if not np.array_equal(together[r], alone[0]):
            where = np.argwhere(together[r] != alone[0])[0]
            pytest.fail(f"{type_name} output {output}: row {r} of a batch of {BATCH} differs from rendering it alone, "
                        f"first at (c, f) = {tuple(int(i) for i in where)}; "
                        f"max diff {np.abs(together[r] - alone[0]).max():.3g}")
