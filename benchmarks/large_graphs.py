#!/usr/bin/env python3
"""How graph set-up grows with the graph: parsing, compiling and building 10,000 to 100,000 nodes.

    python benchmarks/large_graphs.py           # 10k, 40k and 100k nodes (a minute or so)
    python benchmarks/large_graphs.py --tiny    # 1k and 4k nodes: checks that it runs, claims nothing

The graph is a bank of voices, each an oscillator feeding a gain, every 64 gains moved by one
shared LFO (a modulation), the gains summed by a tree of 16-input mixes down to one sink. Per size:

- describe: the native reader parsing and validating the descriptor blob (``describe_blob``);
- compile: ``graph.compile()``, the Python plan compiler;
- compile+build: ``NativeGraphExecutor(graph)``: compiling again, then ``amp_graph_create`` (the
  native reader parses and checks both blobs, creates every node and builds the process network).

Each step is timed as wall time and as the CPU time of the process (set-up runs on one thread, so
on a machine shared with other work the CPU time is the steadier figure), the least of three runs.
The last column pair is the exponent of growth between consecutive sizes, log(t2/t1)/log(n2/n1):
1 is linear, 2 quadratic. Targets at 100,000 nodes: describe under 1 s, compile+build under 5 s.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import subprocess
import sys
import time

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import amp  # noqa: E402
from amp.native_runtime import NativeGraphExecutor, describe_blob  # noqa: E402

SR = 48000.0
FAN_IN = 16
VOICES_PER_LFO = 64


def voice_bank(nodes: int) -> amp.AudioGraph:
    """About `nodes` nodes: oscillators -> gains (an LFO on every 64 gains) -> a tree of mixes."""
    # nodes ~ voices * (2 + 1/64 + 1/15): two per voice, the LFOs, the mix tree
    voices = max(2, int(nodes / (2 + 1 / VOICES_PER_LFO + 1 / (FAN_IN - 1))))
    g = amp.AudioGraph(SR)
    level = []
    for v in range(voices):
        if v % VOICES_PER_LFO == 0:
            lfo = f"lfo{v // VOICES_PER_LFO}"
            g.add_node(lfo, "lfo", freq=0.1 + (v // VOICES_PER_LFO) % 7, depth=0.1)
        g.add_node(f"osc{v}", "oscillator", freq=55.0 + v % 1000)
        g.add_node(f"gain{v}", "gain", gain=1.0 / voices)
        g.connect(f"osc{v}", f"gain{v}")
        g.modulate(lfo, f"gain{v}", "gain", scale=1.0 / voices)
        level.append(f"gain{v}")
    depth = 0
    while len(level) > 1:
        following = []
        for start in range(0, len(level), FAN_IN):
            mix = f"mix{depth}_{start // FAN_IN}"
            g.add_node(mix, "mix")
            for source in level[start:start + FAN_IN]:
                g.connect(source, mix)
            following.append(mix)
        level = following
        depth += 1
    g.set_sink(level[0])
    return g


STEPS = ("graph", "serialize", "describe", "compile", "create")


def timed(run, times: dict, key: str):
    """Runs `run`, keeping the least wall and the least CPU time of `key` over the repetitions:
    on a shared machine the slower runs measure the neighbours."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    best = times.setdefault(key, [math.inf, math.inf])
    best[0], best[1] = min(best[0], wall), min(best[1], cpu)
    return result


def measure(nodes: int, repeats: int) -> dict:
    times: dict = {}
    for _ in range(repeats):
        graph = timed(lambda: voice_bank(nodes), times, "graph")
        count = len(graph.nodes)
        blob = timed(graph.serialize_node_descriptors, times, "serialize")
        described = timed(lambda: describe_blob(blob), times, "describe")
        assert len(described["nodes"]) == len(graph.nodes)
        timed(graph.compile, times, "compile")
        executor = timed(lambda: NativeGraphExecutor(graph, max_block_frames=64, threads=1), times, "create")
        # one block, so a graph that builds but cannot render does not pass unnoticed
        out = executor.render(64, 64)
        assert out.shape == (1, 1, 64)
        executor.close()
        del graph, executor, described
    return {"nodes": count, "blob_mb": len(blob) / 1e6, "wall": {k: times[k][0] for k in STEPS},
            "cpu": {k: times[k][1] for k in STEPS}}


def exponent(a: dict, b: dict, clock: str, key: str) -> str:
    if a[clock][key] <= 0 or b[clock][key] <= 0:
        return "-"
    return f"{math.log(b[clock][key] / a[clock][key]) / math.log(b['nodes'] / a['nodes']):.2f}"


def machine() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="1k and 4k nodes: a quick check that it runs")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions per size; the least time counts")
    args = parser.parse_args()
    sizes = [1_000, 4_000] if args.tiny else [10_000, 40_000, 100_000]
    repeats = 1 if args.tiny else max(1, args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# large graphs: {machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{datetime.date.today().isoformat()}, load average {load:.1f}, best of {repeats}")
    rows = [measure(n, repeats) for n in sizes]
    for clock, title in (("wall", "wall time"), ("cpu", "CPU time of the process")):
        print(f"\n{title}, seconds\n")
        print("| nodes | descriptor MB | AudioGraph calls | serialize | describe | compile | compile+build | "
              "exponent describe | exponent compile+build |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for i, row in enumerate(rows):
            t = row[clock]
            grow_describe = exponent(rows[i - 1], row, clock, "describe") if i else "-"
            grow_create = exponent(rows[i - 1], row, clock, "create") if i else "-"
            print(f"| {row['nodes']:,} | {row['blob_mb']:.2f} | {t['graph']:.2f} | {t['serialize']:.3f} | "
                  f"{t['describe']:.3f} | {t['compile']:.3f} | {t['create']:.3f} | {grow_describe} | {grow_create} |")
    if not args.tiny:
        last = rows[-1]
        print(f"\nat {last['nodes']:,} nodes: describe {last['wall']['describe']:.2f} s wall (target < 1 s), "
              f"compile+build {last['wall']['create']:.2f} s wall (target < 5 s)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
