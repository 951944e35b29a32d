"""The plan compiler: execution order, channel counts, buffer assignment, fused chains and the
order of modulation routes, worked out from a graph and written as the plan blob.

The native library re-checks every plan against the descriptor, so a bug here is refused there,
never rendered.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable

from .blobs import (OPT_BUFFER_REUSE, OPT_CHAIN_FUSION, OPT_CONSTANT_FOLDING, OPT_LANE_FUSION, OPT_SUM_STAGES,
                    OPTIMISATIONS, PlanValue, write_plan_blob)
from .catalogue import NodeSpec
from .errors import GraphError

__all__ = ["GraphTopology", "CompiledPlan", "compile_plan", "parse_optimisations"]


@dataclass
class GraphTopology:
    """What the compiler needs of a graph, by node index."""

    names: list[str]
    specs: list[NodeSpec]
    params: list[dict[str, float]]
    edges: list[tuple[int, int, int, int]]  # source, output, target, input
    modulations: list[tuple[int, int, int, int, str, str, float]]  # source, output, channel, target, param, mode, scale
    sink: int


@dataclass
class CompiledPlan:
    """The compiled plan: execution order, channels per node, buffers, fused chains, modulation order, the
    optimisations applied, and its blob."""

    order: list[int]
    channels: list[int]
    values: list[PlanValue]
    buffer_count: int
    fusion_groups: list[list[int]]
    routes: list[int]
    optimisations: int
    blob: bytes = field(repr=False, default=b"")

    def enabled(self) -> list[str]:
        """The names of the optimisations this plan applies."""
        return [name for name, bit in OPTIMISATIONS.items() if self.optimisations & bit]


def parse_optimisations(disabled: Iterable[str] | None) -> int:
    """The AMP_OPT_* bits for a list of optimisation names to switch off (also from AMP_DISABLE_OPTIMISATIONS)."""
    bits = 0
    for name in disabled or ():
        name = name.strip()
        if not name:
            continue
        if name == "all":
            bits |= sum(OPTIMISATIONS.values())
            continue
        if name not in OPTIMISATIONS:
            raise GraphError(f"unknown optimisation '{name}'; known: {', '.join(OPTIMISATIONS)}, all")
        bits |= OPTIMISATIONS[name]
    return bits


def _dependencies(topo: GraphTopology) -> list[list[int]]:
    """Nodes each node must run after within a block (edges into a block-delay node don't count)."""
    count = len(topo.names)
    deps: list[list[int]] = [[] for _ in range(count)]
    # (target, source) pairs seen, as one number each: a mix of thousands of inputs must not search
    # its list per edge.
    known: set[int] = set()
    for source, _output, target, _input in topo.edges:
        pair = target * count + source
        if topo.specs[target].block_delay == 0 and pair not in known:
            known.add(pair)
            deps[target].append(source)
    for source, _output, _channel, target, *_ in topo.modulations:
        pair = target * count + source
        if pair not in known:
            known.add(pair)
            deps[target].append(source)
    return deps


def _find_cycle(deps: list[list[int]], remaining: set[int]) -> list[int]:
    # Walk dependencies inside the unsortable remainder until a node repeats.
    start = min(remaining)
    path: list[int] = []
    seen: dict[int, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(d for d in deps[node] if d in remaining)
    cycle = path[seen[node]:]
    cycle.reverse()
    return cycle


def _order(topo: GraphTopology) -> list[int]:
    deps = _dependencies(topo)
    consumers: list[list[int]] = [[] for _ in topo.names]
    pending = [len(d) for d in deps]
    for node, ds in enumerate(deps):
        for d in ds:
            consumers[d].append(node)
    ready = [n for n, count in enumerate(pending) if count == 0]
    order: list[int] = []
    # Lowest index first keeps the order stable as the user built the graph.
    heapq.heapify(ready)
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for consumer in consumers[node]:
            pending[consumer] -= 1
            if pending[consumer] == 0:
                heapq.heappush(ready, consumer)
    if len(order) != len(topo.names):
        cycle = _find_cycle(deps, set(range(len(topo.names))) - set(order))
        names = " -> ".join(topo.names[n] for n in cycle + cycle[:1])
        raise GraphError(
            f"the graph has a cycle without a block delay: {names}. Feedback must pass through a node "
            "that delays by at least one block (for example block_delay)."
        )
    return order


def _channels(topo: GraphTopology, order: list[int]) -> list[int]:
    channels = [0] * len(topo.names)
    # sources feeding each (node, input), gathered once rather than searched for per node
    feeding: dict[tuple[int, int], list[int]] = {}
    for source, _output, target, port in topo.edges:
        feeding.setdefault((target, port), []).append(source)
    for node in order:
        spec = topo.specs[node]
        if spec.channel_rule == "fixed":
            count = int(spec.channel_value)
        elif spec.channel_rule == "param":
            count = int(topo.params[node][spec.channel_value])
        else:
            port = spec.input_index(spec.channel_value)
            widths = [channels[s] for s in feeding.get((node, port), ())]
            count = max(widths, default=1)
        channels[node] = count
    for source, _output, channel, target, param, _mode, _scale in topo.modulations:
        if channel >= 0 and channel >= channels[source]:
            raise GraphError(
                f"modulation of '{topo.names[target]}.{param}' selects channel {channel} of "
                f"'{topo.names[source]}', which has {channels[source]}",
                node=topo.names[target],
            )
        if channel < 0 and channels[source] not in (1, channels[target]):
            raise GraphError(
                f"modulation of '{topo.names[target]}.{param}' from '{topo.names[source]}' "
                f"({channels[source]} channels) into {channels[target]} channels: pass channel=",
                node=topo.names[target],
            )
    return channels


def _lifetimes(topo: GraphTopology, order: list[int], value_of) -> tuple[list[int], list[int]]:
    position = {node: k for k, node in enumerate(order)}
    n = len(order)
    count = sum(len(spec.outputs) for spec in topo.specs)
    birth = [0] * count
    death = [0] * count
    for node, spec in enumerate(topo.specs):
        for output in range(len(spec.outputs)):
            v = value_of(node, output)
            birth[v] = position[node]
            death[v] = n if node == topo.sink else position[node]
    for source, output, target, _input in topo.edges:
        v = value_of(source, output)
        use = n if topo.specs[target].block_delay > 0 else position[target]
        death[v] = max(death[v], use)
    for source, output, _channel, target, *_ in topo.modulations:
        v = value_of(source, output)
        death[v] = max(death[v], position[target])
    return birth, death


def _assign_buffers(birth: list[int], death: list[int], width: list[int]) -> tuple[list[int], int]:
    """A buffer for every value, in order of birth: the lowest-numbered buffer of the value's width
    whose last value died before this one is born, or a new one.

    Births come in order, so a buffer once free stays free until it is taken: buffers wait in a heap
    by the position their value dies, and move to a heap of free buffers (lowest number first) of
    their width once a birth passes it. That makes each value O(log values) instead of a scan of
    every buffer, and picks the very buffer the scan would.
    """
    buffer_of = [0] * len(birth)
    busy: list[tuple[int, int, int]] = []  # (death, buffer, width)
    free: dict[int, list[int]] = {}
    count = 0
    for v in sorted(range(len(birth)), key=lambda v: (birth[v], v)):
        while busy and busy[0][0] < birth[v]:
            _death, buffer, w = heapq.heappop(busy)
            heapq.heappush(free.setdefault(w, []), buffer)
        available = free.get(width[v])
        if available:
            chosen = heapq.heappop(available)
        else:
            chosen = count
            count += 1
        heapq.heappush(busy, (death[v], chosen, width[v]))
        buffer_of[v] = chosen
    return buffer_of, count


_NONE, _SEVERAL = -1, -2


def _fusion_groups(topo: GraphTopology, order: list[int]) -> list[list[int]]:
    """Runs of consecutive nodes where each feeds only the next and the next reads only it."""
    # The one node each node feeds (and is fed by), NONE before any, SEVERAL once two differ: all
    # the test below asks of the sets of them, without a set per node.
    only_use = [_NONE] * len(topo.names)
    only_feed = [_NONE] * len(topo.names)

    def link(source: int, target: int) -> None:
        if only_use[source] != target:
            only_use[source] = target if only_use[source] == _NONE else _SEVERAL
        if only_feed[target] != source:
            only_feed[target] = source if only_feed[target] == _NONE else _SEVERAL

    for source, _o, target, _i in topo.edges:
        link(source, target)
    for source, _o, _c, target, *_ in topo.modulations:
        link(source, target)
    groups: list[list[int]] = []
    current: list[int] = []
    for node in order:
        previous = current[-1] if current else None
        if (
            previous is not None
            and only_use[previous] == node
            and only_feed[node] == previous
            and topo.specs[previous].block_delay == 0
            and topo.specs[node].block_delay == 0
        ):
            current.append(node)
            continue
        if len(current) >= 2:
            groups.append(current)
        current = [node]
    if len(current) >= 2:
        groups.append(current)
    return groups


def compile_plan(topo: GraphTopology, disabled_optimisations: int = 0) -> CompiledPlan:
    """Orders the graph, infers channels, assigns buffers and applies the optimisations not in
    `disabled_optimisations` (AMP_OPT_* bits)."""
    if not topo.names:
        raise GraphError("the graph has no nodes")
    order = _order(topo)
    channels = _channels(topo, order)
    bases = []
    total = 0
    for spec in topo.specs:
        bases.append(total)
        total += len(spec.outputs)

    def value_of(node: int, output: int) -> int:
        return bases[node] + output

    applied = 0
    buffer_of = list(range(total))
    buffer_count = total
    if not disabled_optimisations & OPT_BUFFER_REUSE:
        birth, death = _lifetimes(topo, order, value_of)
        channel_of_value = [0] * total
        for node, spec in enumerate(topo.specs):
            for output in range(len(spec.outputs)):
                channel_of_value[value_of(node, output)] = channels[node]
        buffer_of, buffer_count = _assign_buffers(birth, death, channel_of_value)
        applied |= OPT_BUFFER_REUSE
    values = [
        PlanValue(node, output, channels[node], buffer_of[value_of(node, output)])
        for node, spec in enumerate(topo.specs)
        for output in range(len(spec.outputs))
    ]
    groups: list[list[int]] = []
    if not disabled_optimisations & OPT_CHAIN_FUSION:
        groups = _fusion_groups(topo, order)
        applied |= OPT_CHAIN_FUSION
    if not disabled_optimisations & OPT_CONSTANT_FOLDING:
        # The runtime folds routes from unmodulated constant nodes into their targets' bases.
        applied |= OPT_CONSTANT_FOLDING
    if not disabled_optimisations & OPT_SUM_STAGES:
        # The runtime may split a wide sum (a mix of many inputs) into stages on several threads.
        applied |= OPT_SUM_STAGES
    if not disabled_optimisations & OPT_LANE_FUSION:
        # The runtime runs oscillators that feed only a mix in the mix's process, each added to
        # the sum as soon as it is written.
        applied |= OPT_LANE_FUSION
    position = {node: k for k, node in enumerate(order)}
    routes = sorted(
        range(len(topo.modulations)),
        key=lambda m: (position[topo.modulations[m][3]], topo.modulations[m][5] != "add", m),
    )
    plan = CompiledPlan(order, channels, values, buffer_count, groups, routes, applied)
    plan.blob = write_plan_blob(order, buffer_count, values, groups, routes, applied)
    return plan
