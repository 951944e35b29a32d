"""The Kahn process network: the same bytes for any thread count, channel depth, fusion and block
schedule; feedback only through a block delay; failures that name their node, stage and block.

References come from outside the runtime: a render with one thread, channels one block deep and
one block per call is the reference for every other schedule (the network's claim is that nothing
else changes a sample); the comb filter is checked against scipy.signal.lfilter.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import signal

import amp
from amp.catalogue import catalogue
from amp.native_runtime import NativeGraphExecutor
from test_catalogue_properties import TYPE_DATA, TYPE_SETUP, audio_rate_curve, build, free_params, sources

FRAMES = 4500
MAX_BLOCK = 4096
BATCH = 2


def render(graph, *, threads, block=None, depth=0, calls=None, disabled=(), base_params=None, batch=BATCH):
    """FRAMES frames in one render (blocks of `block`), or as run_block calls of the given lengths."""
    with NativeGraphExecutor(graph, batch=batch, max_block_frames=MAX_BLOCK, threads=threads, channel_depth=depth,
                             disabled_optimisations=list(disabled)) as ex:
        if calls is None:
            return ex.render(FRAMES, block or MAX_BLOCK, base_params)
        return np.concatenate([ex.run_block(n, base_params=base_params) for n in calls], axis=2)


def random_lengths(rng, total=FRAMES):
    lengths = []
    while sum(lengths) < total:
        lengths.append(int(min(rng.choice([1, 7, 32, 100, 333, 1024, 4096]) + rng.integers(0, 5),
                               total - sum(lengths), MAX_BLOCK)))
    return lengths


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


# ---- random graphs -----------------------------------------------------------------------------

def _settings_for(type_name, spec):
    params = dict(TYPE_SETUP.get(type_name, {}))
    if spec.channel_rule == "param" and spec.channel_value not in params:
        params[spec.channel_value] = 1
    return params


@st.composite
def dags(draw):
    """A recipe for a random graph of up to 40 nodes of the catalogue's types: random wiring from
    earlier nodes, random modulation, feedback edges into block delays, all summed by a mix."""
    types = sorted(catalogue())
    count = draw(st.integers(1, 39))
    recipe = []
    for i in range(count):
        type_name = draw(st.sampled_from(types))
        spec = catalogue()[type_name]
        inputs = []
        for port in spec.inputs:
            if i == 0:
                break
            # Up to 12 into a multi-input, so that some sums are wide enough to run in stages.
            fan = draw(st.integers(0, 12 if port.multi else 1))
            inputs.append([(draw(st.integers(0, i - 1)), draw(st.integers(0, 7))) for _ in range(fan)])
        mods = []
        movable = [p.name for p in free_params(spec) if p.choices is None and not p.integer]
        if i > 0 and movable and draw(st.booleans()):
            mods.append((draw(st.integers(0, i - 1)), draw(st.sampled_from(movable)), draw(st.sampled_from(["add", "mul"])),
                         draw(st.floats(0.001, 0.2))))
        recipe.append((type_name, inputs, mods))
    feedback = draw(st.lists(st.tuples(st.integers(0, count - 1), st.integers(0, count - 1)), max_size=4))
    taps = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=20))
    return recipe, feedback, taps


def build_dag(recipe, feedback, taps):
    g = amp.AudioGraph(48000.0)
    specs = []
    for i, (type_name, _inputs, _mods) in enumerate(recipe):
        spec = catalogue()[type_name]
        data = TYPE_DATA[type_name]() if type_name in TYPE_DATA else None
        g.add_node(f"n{i}", type_name, _settings_for(type_name, spec), data=data)
        specs.append(spec)
    has_output = [len(s.outputs) > 0 for s in specs]
    for i, (_type, inputs, mods) in enumerate(recipe):
        for port, sources_ in zip(specs[i].inputs, inputs):
            for source, output in sources_:
                if has_output[source]:
                    g.connect(f"n{source}", f"n{i}", output=output % len(specs[source].outputs), input=port.name)
        for source, param, mode, scale in mods:
            if has_output[source]:
                g.modulate(f"n{source}", f"n{i}", param, scale=scale if mode == "add" else 1.0 + scale, mode=mode,
                           channel=0)
    # Feedback: a later node into a block delay's (multi) input closes a loop through its delay.
    for late, early in feedback:
        target, source = min(late, early), max(late, early)
        spec = specs[target]
        if spec.block_delay > 0 and has_output[source] and spec.inputs and spec.inputs[0].multi:
            g.connect(f"n{source}", f"n{target}", input=spec.inputs[0].name)
    g.add_node("out", "mix", channels=1)
    for tap in taps:
        if has_output[tap]:
            g.connect(f"n{tap}", "out")
    g.set_sink("out")
    return g


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(dags(), st.integers(0, 2**31 - 1))
def test_random_graphs_render_identically_for_any_threads_depth_fusion_and_blocks(dag, seed):
    graph = build_dag(*dag)
    rng = np.random.default_rng(seed)
    try:
        reference = render(graph, threads=1, depth=1, block=MAX_BLOCK)
    except amp.AmpError as exc:
        # A graph whose render fails must fail the same way under every schedule.
        for threads in (2, 8):
            with pytest.raises(type(exc)) as again:
                render(graph, threads=threads, block=64)
            assert again.value.node == exc.node and again.value.stage == exc.stage
        return
    variants = [
        dict(threads=2, block=32),
        dict(threads=4, block=int(rng.integers(33, 1500)), depth=3),
        dict(threads=8, calls=random_lengths(rng), depth=2),
        dict(threads=2, block=int(rng.choice([64, 256, 4096])), disabled=["all"]),
        dict(threads=int(rng.choice([1, 2, 4, 8])), calls=random_lengths(rng), depth=int(rng.integers(1, 6)),
             disabled=["chain_fusion"]),
    ]
    for variant in variants:
        got = render(graph, **variant)
        assert same_bytes(got, reference), f"{variant} changed the output"


def test_every_schedule_on_one_graph():
    """The whole grid on one mid-sized graph: threads 1, 2, 4, 8 x block sizes 32 .. 4096."""
    rng = np.random.default_rng(5)
    recipe = []
    for i in range(30):
        kind = ["oscillator", "gain", "mix", "constant"][int(rng.integers(0, 4)) if i else 0]
        inputs = [] if kind in ("oscillator", "constant") or not i else [[(int(rng.integers(0, i)), 0)]]
        recipe.append((kind, inputs, []))
    graph = build_dag(recipe, [], list(range(30)))
    reference = render(graph, threads=1, depth=1)
    for threads in (1, 2, 4, 8):
        for block in (32, 64, 100, 256, 1024, 4096):
            assert same_bytes(render(graph, threads=threads, block=block), reference), (threads, block)
        assert same_bytes(render(graph, threads=threads, calls=random_lengths(rng)), reference), threads


# ---- every node type -----------------------------------------------------------------------------

def node_cases():
    return [pytest.param(t, id=t) for t in sorted(catalogue()) if catalogue()[t].outputs]


@pytest.mark.parametrize("type_name", node_cases())
def test_every_node_type_renders_identically_on_any_number_of_threads(type_name):
    spec = catalogue()[type_name]
    graph = build(type_name, 0)
    base_params = sources(spec, [0, 1])
    curves = {p.name: c for i, p in enumerate(free_params(spec)) if (c := audio_rate_curve(type_name, p, i)) is not None}
    if curves:
        base_params["dut"] = curves
    frames = 5000  # the sources' length in test_catalogue_properties

    def go(threads, block, depth=0, disabled=()):
        with NativeGraphExecutor(graph, batch=2, sample_rate=graph.sample_rate, max_block_frames=MAX_BLOCK,
                                 threads=threads, channel_depth=depth, disabled_optimisations=list(disabled)) as ex:
            return ex.render(frames, block, base_params)

    reference = go(1, 256, depth=1)
    assert np.ptp(reference) > 0.0, f"{type_name} renders a constant here: the test would prove nothing"
    for threads, block, depth, disabled in ((2, 256, 0, ()), (4, 64, 3, ()), (8, 1000, 2, ("chain_fusion",)),
                                            (2, 4096, 1, ())):
        got = go(threads, block, depth, disabled)
        assert same_bytes(got, reference), f"{type_name}: threads={threads} block={block} depth={depth} differ"


# ---- feedback and cycles -------------------------------------------------------------------------

def comb(delay, gain):
    g = amp.AudioGraph(48000.0)
    g.add_node("x", "constant")
    g.add_node("sum", "mix")
    g.add_node("d", "block_delay", frames=delay)
    g.add_node("fb", "gain", gain=gain)
    g.connect("x", "sum")
    g.connect("sum", "d")
    g.connect("d", "fb")
    g.connect("fb", "sum")
    g.set_sink("sum")
    return g


@pytest.mark.parametrize("threads", [1, 2, 4, 8])
@pytest.mark.parametrize("delay,gain,block", [(64, 0.5, 64), (50, -0.9, 7), (13, 0.99, 13)])
def test_comb_filter_through_block_delay_matches_lfilter_on_any_threads(threads, delay, gain, block):
    frames = 3000
    x = np.random.default_rng(delay).standard_normal(frames)
    a = np.zeros(delay + 1)
    a[0], a[delay] = 1.0, -gain
    reference = signal.lfilter([1.0], a, x)
    for depth in (1, 2, 4):
        with NativeGraphExecutor(comb(delay, gain), max_block_frames=block, threads=threads, channel_depth=depth) as ex:
            y = ex.render(frames, block, {"x": {"value": x[None, None, :]}})[0, 0]
        np.testing.assert_allclose(y, reference, rtol=0, atol=1e-12)


def test_a_cycle_without_block_delay_is_rejected_naming_its_nodes():
    g = amp.AudioGraph(48000.0)
    g.add_node("src", "oscillator")
    g.add_node("a", "mix")
    g.add_node("b", "gain")
    g.add_node("c", "gain")
    g.connect("src", "a")
    g.connect("a", "b")
    g.connect("b", "c")
    g.connect("c", "a")
    with pytest.raises(amp.GraphError) as info:
        g.compile()
    message = str(info.value)
    assert "cycle" in message
    for name in ("a", "b", "c"):
        assert f"{name} -> " in message or f"-> {name}" in message
    assert "src" not in message
    # a modulation closes a cycle just as well
    h = amp.AudioGraph(48000.0)
    h.add_node("osc", "oscillator")
    h.add_node("amp", "gain")
    h.connect("osc", "amp")
    h.modulate("amp", "osc", "freq", scale=10.0)
    with pytest.raises(amp.GraphError, match="cycle.*(osc -> amp|amp -> osc)"):
        h.compile()


def test_a_cycle_through_a_block_delay_compiles_and_renders():
    g = comb(32, 0.5)
    plan = g.compile()
    assert sorted(plan.order) == [0, 1, 2, 3]
    with NativeGraphExecutor(g, max_block_frames=32, threads=2) as ex:
        assert ex.render(256, 32).shape == (1, 1, 256)


def test_the_native_reader_refuses_a_plan_whose_order_breaks_an_edge():
    # A plan edited to run a gain before its input: the C check names both nodes.
    from amp.blobs import write_plan_blob

    g = amp.AudioGraph(48000.0)
    g.add_node("osc", "oscillator")
    g.add_node("amp", "gain")
    g.connect("osc", "amp")
    plan = g.compile(["all"])
    blob = write_plan_blob([1, 0], plan.buffer_count, plan.values, [], plan.routes, plan.optimisations)
    with pytest.raises(amp.FormatError, match="amp.*osc"):
        NativeGraphExecutor.from_blobs(g.serialize_node_descriptors(), blob)


# ---- processes, failures -------------------------------------------------------------------------

def test_a_fused_chain_runs_as_one_process():
    g = amp.AudioGraph(48000.0)
    g.add_node("osc", "oscillator")
    for i in range(10):
        g.add_node(f"g{i}", "gain", gain=0.9)
        g.connect("osc" if i == 0 else f"g{i - 1}", f"g{i}")
    with NativeGraphExecutor(g, threads=2) as fused, NativeGraphExecutor(g, threads=2,
                                                                        disabled_optimisations=["chain_fusion"]) as apart:
        assert fused.info()["process_count"] == 1
        assert apart.info()["process_count"] == 11
        assert same_bytes(fused.render(2000, 64), apart.render(2000, 64))


def test_several_threads_also_try_rendering_alone_and_count_both_ways():
    # Four voices get two homes. A render with several homes goes in chunks, on the threads or
    # alone, and tries the other way early whatever the timings: after a warm-up chunk and one
    # measured chunk on the threads, a probe alone. Either way the bytes are the same.
    import os

    g = amp.AudioGraph(48000.0)
    g.add_node("out", "mix")
    for v in range(4):
        g.add_node(f"osc{v}", "oscillator", freq=100.0 * (v + 1), waveform="saw")
        g.add_node(f"lp{v}", "biquad", mode="lowpass", freq=900.0)
        g.connect(f"osc{v}", f"lp{v}")
        g.connect(f"lp{v}", "out")
    with NativeGraphExecutor(g, threads=1) as one, NativeGraphExecutor(g, threads=2) as two:
        expected = one.render(300 * 64, 64)
        assert one.info()["blocks_alone"] == 300 and one.info()["blocks_on_threads"] == 0
        assert same_bytes(two.render(300 * 64, 64), expected)
        info = two.info()
        assert info["blocks_alone"] + info["blocks_on_threads"] == 300
        if os.cpu_count() >= 2:
            assert info["blocks_on_threads"] > 0 and info["blocks_alone"] > 0
        else:
            assert info["blocks_on_threads"] == 0  # no more homes than cores


def test_default_threads_are_the_machine_cores():
    import os

    g = amp.AudioGraph(48000.0)
    g.add_node("osc", "oscillator")
    with NativeGraphExecutor(g) as ex:
        assert ex.info()["threads"] == os.cpu_count()
    with NativeGraphExecutor(g, threads=3) as ex:
        assert ex.info()["threads"] == 3


@pytest.mark.parametrize("threads", [1, 2, 8])
def test_a_failing_node_stops_the_network_and_names_node_stage_and_block(threads):
    g = amp.AudioGraph(48000.0)
    g.add_node("osc", "oscillator")
    for i in range(6):
        g.add_node(f"side{i}", "gain")
        g.connect("osc", f"side{i}")
    g.add_node("late", "block_delay", frames=16)
    g.connect("side3", "late")
    g.add_node("out", "mix")
    for name in ["late"] + [f"side{i}" for i in range(6)]:
        g.connect(name, "out")
    with NativeGraphExecutor(g, max_block_frames=64, threads=threads) as ex:
        before = ex.render(48, 16)  # blocks 0, 1, 2
        with pytest.raises(amp.NativeRuntimeError) as info:
            ex.render(640, 64)
        error = info.value
        assert isinstance(error, RuntimeError)
        assert error.node == "late" and error.stage == "process" and error.block_index == 3
        assert error.code == amp._binding.load().lib.AMP_ERR_RUNTIME
        assert "longer than the delay of 16" in str(error)
        # the network shut down cleanly: the executor renders again, from a fresh start after reset
        ex.reset()
        assert same_bytes(ex.render(48, 16), before)
