"""The plan compiler's fast paths give the plans of their plain definitions, and large graphs build.

Buffer assignment and chain fusion are written here as their definitions, checking every buffer
and every edge; the compiler's heaps and counters must pick the same buffers and the same chains
on random graphs, so that plan blobs stay byte for byte what they were."""

import random

import numpy as np

import amp
from amp.blobs import PlanValue, write_plan_blob
from amp.native_runtime import NativeGraphExecutor

SR = 48000.0


def random_graph(rng: random.Random, count: int) -> amp.AudioGraph:
    """A random DAG of mono and stereo nodes, multi-input mixes, a block delay that may close a
    loop, modulations; some chains."""
    g = amp.AudioGraph(SR)
    names = []
    for i in range(count):
        name = f"n{i}"
        kind = rng.choice(["oscillator", "gain", "gain", "one_pole", "mix", "mix2", "noise2", "lfo", "delay1"])
        if kind == "mix2":
            g.add_node(name, "mix", channels=2)
        elif kind == "noise2":
            g.add_node(name, "noise", channels=2)
        elif kind == "delay1":
            g.add_node(name, "block_delay")
        else:
            g.add_node(name, kind)
        names.append(name)
        spec = g.spec(name)
        for port, info in enumerate(spec.inputs):
            for _ in range(rng.randint(1, 3) if info.multi else 1):
                pool = names if spec.block_delay else names[:-1]
                if not pool:
                    break
                source = names[i - 1] if rng.random() < 0.5 and i and not spec.block_delay else rng.choice(pool)
                try:
                    g.connect(source, name, input=port)
                except amp.AmpError:
                    pass
        if i and rng.random() < 0.25:
            params = [p.name for p in spec.params if not p.static]
            if params:
                g.modulate(names[rng.randrange(i)], name, rng.choice(params), mode=rng.choice(["add", "mul"]), channel=0)
    g.set_sink(names[-1])
    return g


def buffers_by_definition(plan, topo):
    """Each value, in order of birth, takes the lowest-numbered buffer of its width whose last value
    died before it is born, or a new one."""
    position = {node: k for k, node in enumerate(plan.order)}
    n = len(plan.order)
    birth, death, width = {}, {}, {}
    for v, value in enumerate(plan.values):
        birth[v] = position[value.node]
        death[v] = n if value.node == topo.sink else birth[v]
        width[v] = value.channels
    base = {}
    for v, value in enumerate(plan.values):
        base.setdefault(value.node, v)
    for source, output, target, _input in topo.edges:
        use = n if topo.specs[target].block_delay else position[target]
        death[base[source] + output] = max(death[base[source] + output], use)
    for source, output, _channel, target, *_ in topo.modulations:
        death[base[source] + output] = max(death[base[source] + output], position[target])
    buffers = []  # (last death, width)
    chosen = {}
    for v in sorted(birth, key=lambda v: (birth[v], v)):
        for b, (last, w) in enumerate(buffers):
            if last < birth[v] and w == width[v]:
                break
        else:
            b = len(buffers)
            buffers.append(None)
        buffers[b] = (death[v], width[v])
        chosen[v] = b
    return [chosen[v] for v in range(len(plan.values))], len(buffers)


def chains_by_definition(plan, topo):
    uses = {n: set() for n in range(len(topo.names))}
    feeds = {n: set() for n in range(len(topo.names))}
    for source, _o, target, *_ in list(topo.edges) + [(m[0], m[1], m[3]) for m in topo.modulations]:
        uses[source].add(target)
        feeds[target].add(source)
    groups, current = [], []
    for node in plan.order:
        if current and uses[current[-1]] == {node} and feeds[node] == {current[-1]} and \
                not topo.specs[current[-1]].block_delay and not topo.specs[node].block_delay:
            current.append(node)
            continue
        if len(current) >= 2:
            groups.append(current)
        current = [node]
    if len(current) >= 2:
        groups.append(current)
    return groups


def test_buffers_and_chains_match_their_definitions(runtime):
    rng = random.Random(16)
    compiled = chained = 0
    for _ in range(150):
        g = random_graph(rng, rng.randint(2, 50))
        try:
            plan = g.compile()
        except amp.GraphError:
            continue  # a cycle without a delay, or channels that do not fit: refused either way
        topo = g._topology()
        buffers, count = buffers_by_definition(plan, topo)
        assert [v.buffer for v in plan.values] == buffers
        assert plan.buffer_count == count
        assert plan.fusion_groups == chains_by_definition(plan, topo)
        expected = write_plan_blob(plan.order, count, [PlanValue(v.node, v.output, v.channels, b)
                                                       for v, b in zip(plan.values, buffers)],
                                   plan.fusion_groups, plan.routes, plan.optimisations)
        assert plan.blob == expected
        compiled += 1
        chained += bool(plan.fusion_groups)
        if compiled % 10 == 0:  # and the native checker accepts them
            with NativeGraphExecutor(g, max_block_frames=64, threads=1) as ex:
                assert np.all(np.isfinite(ex.render(64, 64)))
    assert compiled > 60 and chained > 10, (compiled, chained)


def test_a_wide_mix_and_a_long_chain_build(runtime):
    """20,000 gains into one mix, and a chain of 20,000 gains: each input of the mix and each link of
    the chain is found once, not searched for (a search per edge took minutes at this size)."""
    wide = amp.AudioGraph(SR)
    wide.add_node("osc", "oscillator", freq=480.0)
    wide.add_node("sum", "mix", gain=1.0 / 20000)
    for i in range(20000):
        wide.add_node(f"g{i}", "gain", gain=1.0)
        wide.connect("osc", f"g{i}")
        wide.connect(f"g{i}", "sum")
    wide.set_sink("sum")
    chain = amp.AudioGraph(SR)
    chain.add_node("osc", "oscillator", freq=480.0)
    previous = "osc"
    for i in range(20000):
        chain.add_node(f"g{i}", "gain", gain=1.0)
        chain.connect(previous, f"g{i}")
        previous = f"g{i}"
    for g in (wide, chain):
        with NativeGraphExecutor(g, max_block_frames=100, threads=1) as ex:
            y = ex.render(100, 100)[0, 0]
        # sum of 20,000 equal copies scaled by 1/20,000, or a chain of unit gains: the sine itself
        np.testing.assert_allclose(y, np.sin(2 * np.pi * 480.0 * np.arange(100) / SR), atol=1e-9)
