"""What the logging build costs with logging off, and what constant folding saves.

    python benchmarks/bench_logging_overhead.py [--library-dir DIR] [--rounds 7]

Each variant renders in its own interpreter (the library is chosen when amp loads it), in rounds
that alternate the variants so that drift of a shared machine falls on all of them alike:

- plain: libamp_native.so;
- logging build, logging off: libamp_native_logging.so with AMP_NATIVE_DIAGNOSTICS_BUILD=1;
- logging build, logging on: the same with records written (for scale only).

The graph is an oscillator feeding a chain of gains, rendered in one native call of many blocks
of 64 frames, so the per-node per-block cost of the hooks is what differs. A second measurement
renders gains modulated by constant nodes with constant folding on and off (plain build).
Prints a markdown table; docs/performance.md keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, sys, time
import amp
from amp.native_runtime import NativeGraphExecutor

nodes, blocks, frames, repeats, mode = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                        sys.argv[5])
if mode == "logging_on":
    amp.diagnostics.enable_py_c_logging(True, os.environ["BENCH_LOG_DIR"])
graph = amp.AudioGraph(48000.0)
graph.add_node("osc", "oscillator", freq=110.0)
previous = "osc"
for k in range(nodes):
    graph.add_node(f"g{k}", "gain", gain=0.999)
    graph.connect(previous, f"g{k}")
    if mode.startswith("fold"):
        graph.add_node(f"c{k}", "constant", value=0.001)
        graph.modulate(f"c{k}", f"g{k}", "gain")
    previous = f"g{k}"
graph.set_sink(previous)
disabled = ["constant_folding"] if mode == "fold_off" else []
times = []
with NativeGraphExecutor(graph, max_block_frames=frames, threads=1, disabled_optimisations=disabled) as ex:
    ex.render(frames * 8, frames)  # warm up
    for _ in range(repeats):
        start = time.perf_counter()
        ex.render(frames * blocks, frames)
        times.append(time.perf_counter() - start)
info = amp.system.require_native_graph_runtime()
print(json.dumps({"times": times, "library": str(info.library_path), "logging_compiled": info.logging_compiled}))
"""


def _library_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    if os.environ.get("AMP_NATIVE_LIBRARY"):
        return Path(os.environ["AMP_NATIVE_LIBRARY"]).resolve().parent
    import amp

    return Path(amp.__path__[0]) / "_native"


def _run(variant: dict, args, log_dir: str) -> list[float]:
    env = dict(os.environ)
    env.update(variant["env"])
    env["BENCH_LOG_DIR"] = log_dir
    result = subprocess.run([sys.executable, "-c", CHILD, str(variant["nodes"]), str(args.blocks), str(args.frames),
                             str(args.repeats), variant["mode"]], capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"{variant['name']} failed:\n{result.stderr}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    if data["logging_compiled"] != variant["logging"]:
        raise SystemExit(f"{variant['name']} loaded {data['library']}, not the build it asked for")
    return data["times"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library-dir", default=None, help="directory with libamp_native.so and libamp_native_logging.so")
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=400)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    directory = _library_dir(args.library_dir)
    plain = directory / "libamp_native.so"
    logging = directory / "libamp_native_logging.so"
    common = {"AMP_NATIVE_LIBRARY": str(plain), "AMP_NATIVE_DIAGNOSTICS_BUILD": "0"}
    with_logging = {"AMP_NATIVE_LIBRARY": str(logging), "AMP_NATIVE_DIAGNOSTICS_BUILD": "1"}
    n = args.nodes
    variants = [
        {"name": "plain build", "env": common, "mode": "plain", "logging": False, "nodes": n},
        {"name": "logging build, logging off", "env": with_logging, "mode": "plain", "logging": True, "nodes": n},
        {"name": "logging build, logging on", "env": with_logging, "mode": "logging_on", "logging": True, "nodes": n},
        {"name": "constant folding on (plain)", "env": common, "mode": "fold_on", "logging": False, "nodes": n},
        {"name": "constant folding off (plain)", "env": common, "mode": "fold_off", "logging": False, "nodes": n},
    ]
    samples: dict[str, list[float]] = {v["name"]: [] for v in variants}
    with tempfile.TemporaryDirectory() as log_dir:
        for _round in range(args.rounds):
            for variant in variants:
                samples[variant["name"]] += _run(variant, args, log_dir)
    # nodes processed per block: the oscillator, the gains and (for the folding graphs) the constants
    processed = {"plain": n + 1, "logging_on": n + 1, "fold_on": 2 * n + 1, "fold_off": 2 * n + 1}
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; {n} gains after an oscillator, {args.blocks} blocks of {args.frames} frames "
          f"per render, one thread, {args.rounds} rounds x {args.repeats} renders per variant")
    print()
    # The best of many renders is the figure: on a shared machine the slower ones measure the neighbours.
    print("| variant | best ms per render | median ms | ns per node per block (best) |")
    print("| --- | ---: | ---: | ---: |")
    for variant in variants:
        times = samples[variant["name"]]
        best = min(times)
        per_node = best / (args.blocks * processed[variant["mode"]]) * 1e9
        print(f"| {variant['name']} | {best * 1e3:.2f} | {statistics.median(times) * 1e3:.2f} | {per_node:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
