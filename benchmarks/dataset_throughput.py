#!/usr/bin/env python3
"""Dataset throughput: items per second per core for 4-second renders of the default instrument
with 8 varied parameters, and how it scales from one worker process to two.

    python benchmarks/dataset_throughput.py           # the full run (a few minutes)
    python benchmarks/dataset_throughput.py --tiny    # tiny sizes: checks that it runs, claims nothing

1. The per-item loop a user would write first: one graph, and per item ``reset()``, its values as
   ``base_params`` scalars and ``render_block`` of the whole item (render_block's own block size,
   65536 frames), on one thread: the baseline. Beside it the same loop calling render_block every
   256 frames (as ``amp.runner`` drives the instrument), and through an executor with the
   dataset's block size, to separate the block size from the batching.
2. Sharded: ``amp.dataset.render_items`` of one shard (the items on the batch axis, ``threads=1``),
   in this process, no store.
3. The whole ``amp.dataset.render`` into a Zarr store on a LocalCluster of one worker process, then
   of two (the clusters started before the clock starts), several shards per worker.

Variants take turns within each repetition, so load from elsewhere on the machine hits them alike;
the best repetition counts. The load average is printed before and after: on a shared machine the
two-worker figure measures the neighbours as much as amp. Targets: sharded at least 3x the
per-item render_block loop per core; two workers at least 1.8x one.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

import amp.dataset as ds  # noqa: E402
from amp.native_runtime import NativeGraphExecutor  # noqa: E402

VARY = {
    "env.decay": {"distribution": "log_uniform", "low": 0.05, "high": 1.0},
    "env.sustain": {"distribution": "uniform", "low": 0.2, "high": 0.9},
    "env.release": {"distribution": "log_uniform", "low": 0.05, "high": 0.5},
    "sine.amp": {"distribution": "uniform", "low": 0.1, "high": 0.6},
    "square.amp": {"distribution": "uniform", "low": 0.0, "high": 0.3},
    "saw.amp": {"distribution": "uniform", "low": 0.0, "high": 0.4},
    "tremolo.freq": {"distribution": "log_uniform", "low": 1.0, "high": 10.0},
    "sub.div2": {"distribution": "choice", "values": [0.0, 0.2, 0.4]},
}


def make_spec(count: int, seconds: float, shard: int, block: int) -> ds.DatasetSpec:
    release = 0.75 * seconds
    return ds.DatasetSpec.from_dict({
        "count": count, "seconds": seconds, "seed": 2024, "shard_items": shard, "block_frames": block,
        "vary": VARY,
        "events": [{"time": 0.0, "values": {"pitch": 220.0, "gate": 1.0, "trigger": 1.0}},
                   {"time": 0.005, "values": {"trigger": 0.0}},
                   {"time": release, "values": {"gate": 0.0}}],
    })


def per_item_loop(spec: ds.DatasetSpec, items: int, block: int | None,
                  calls_of: int | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds for `items` items rendered one at a time: through render_block (one call
    per item, or one per `calls_of` frames, as amp.runner drives the instrument), or through an
    executor with blocks of `block` frames."""
    graph = spec.graph()
    for time_, values in spec.checked_events():
        graph.record_control_event(time_, extras=values)
    draws = [ds.draw_item(spec, i) for i in range(items)]
    blob = graph.control_delay.export_control_history_blob(0.0, spec.seconds)
    began, began_cpu = time.perf_counter(), time.process_time()
    if block is None:
        graph.attach_executor(spec.sample_rate, batch=1, frames=spec.frames, threads=1)
        for draw in draws:
            graph.reset()
            params = {}
            for key, value in draw.params.items():
                node, param = key.split(".")
                params.setdefault(node, {})[param] = value
            if calls_of is None:
                graph.render_block(spec.frames, spec.sample_rate, params)
            else:
                for start in range(0, spec.frames, calls_of):
                    graph.render_block(min(calls_of, spec.frames - start), spec.sample_rate, params)
    else:
        with NativeGraphExecutor(graph, max_block_frames=block, threads=1) as executor:
            for draw in draws:
                executor.reset()
                params = {}
                for key, value in draw.params.items():
                    node, param = key.split(".")
                    params.setdefault(node, {})[param] = value
                executor.render(spec.frames, block, params, blob)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    graph.close()
    return elapsed, cpu


def sharded(spec: ds.DatasetSpec, items: int) -> tuple[float, float]:
    began, began_cpu = time.perf_counter(), time.process_time()
    ds.render_items(spec, 0, items)
    return time.perf_counter() - began, time.process_time() - began_cpu


def store_render(spec: ds.DatasetSpec, client, root: Path, name: str) -> tuple[float, Path]:
    out = root / name
    shutil.rmtree(out, ignore_errors=True)
    began = time.perf_counter()
    ds.render(spec, out, client=client, progress=False)
    return time.perf_counter() - began, out


def timed_shard(spec_dict: dict, items: int) -> float:
    """Seconds for one shard rendered in the calling process (run on a worker)."""
    spec = ds.DatasetSpec.from_dict(spec_dict)
    began = time.perf_counter()
    ds.render_items(spec, 0, items)
    return time.perf_counter() - began


def machine_parallelism(spec: ds.DatasetSpec, one, two, items: int) -> float:
    """What two worker processes can get at this moment: the same shard rendered on each of two
    workers at once, against one worker alone (2.00x on two free cores)."""
    alone = one.submit(timed_shard, spec.to_dict(), items, pure=False).result()
    both = [f.result() for f in [two.submit(timed_shard, spec.to_dict(), items, pure=False, workers=[w])
                                 for w in two.scheduler_info()["workers"]]]
    return 2 * alone / max(both)


def node_times(spec: ds.DatasetSpec, batch: int, block: int) -> tuple[float, dict[str, float]]:
    """(ms per item for the whole render, {node: ms per item inside its process()}) for one render
    of `batch` items in blocks of `block` frames, with the native per-node timing on. The rest of a
    render's time is the runtime's own: parameters (curves, routes), the output copy."""
    from amp.diagnose import node_timings, set_timing

    graph = spec.graph()
    for time_, values in spec.checked_events():
        graph.record_control_event(time_, extras=values)
    blob = graph.control_delay.export_control_history_blob(0.0, spec.seconds)
    draws = [ds.draw_item(spec, i) for i in range(batch)]
    params: dict = {}
    for key in spec.vary:
        node, param = key.split(".")
        params.setdefault(node, {})[param] = np.array([d.params[key] for d in draws]).reshape(batch, 1, 1)
    names = [node["name"] for node in graph.to_config()["nodes"]]
    with NativeGraphExecutor(graph, batch=batch, max_block_frames=block, threads=1) as executor:
        set_timing(executor, True)
        began = time.perf_counter()
        executor.render(spec.frames, block, params, blob)
        elapsed = time.perf_counter() - began
        ns, _calls = node_timings(executor)
    graph.close()
    return 1e3 * elapsed / batch, {name: float(t) / 1e6 / batch for name, t in zip(names, ns)}


def warm(spec_dict: dict) -> None:
    """Run on every worker before the clock starts: amp imported, the library loaded."""
    ds.render_items(ds.DatasetSpec.from_dict(spec_dict), 0, 1)


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "")
    except (OSError, subprocess.SubprocessError):
        model = platform.processor()
    return f"{model or platform.machine()}, {os.cpu_count()} logical CPUs"


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" if i == 0 else "---:" for i in range(len(header))) + " |")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks that it runs, claims nothing")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--shard", type=int, default=16, help="items per shard")
    parser.add_argument("--block", type=int, default=512, help="the dataset's block size in frames")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.tiny:
        args.seconds, args.shard, args.repeats = 0.1, 4, 1
    shard, block = args.shard, args.block
    loop_items = shard
    count = 8 * shard  # four shards per worker with two workers
    spec = make_spec(count, args.seconds, shard, block)
    print(f"# amp dataset throughput, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"items: {args.seconds:g} s at {spec.sample_rate:g} Hz of the default instrument, {len(VARY)} varied "
          f"parameters, one note; shards of {shard} items, blocks of {block} frames")

    from dask.distributed import Client, LocalCluster

    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}
    parallel: list[float] = []
    paired: list[float] = []
    nodes: dict[int, tuple[float, dict[str, float]]] = {}
    node_blocks = {1: 65536, shard: block}  # as the loop's render_block runs, and as a shard runs
    root = Path(tempfile.mkdtemp(prefix="amp-dataset-bench-"))
    stores = {}
    try:
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=40) as c1, Client(c1) as one, \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                             silence_logs=40) as c2, Client(c2) as two:
            ds.render_items(spec, 0, 1)  # warm: library loaded, catalogue read
            one.run(warm, spec.to_dict())
            two.run(warm, spec.to_dict())
            for _ in range(args.repeats):
                for name, run in (
                    ("loop, render_block", lambda: per_item_loop(spec, loop_items, None)),
                    ("loop, render_block per 256 frames", lambda: per_item_loop(spec, loop_items, None, 256)),
                    (f"loop, executor, blocks of {block}", lambda: per_item_loop(spec, loop_items, block)),
                    ("sharded, in process", lambda: sharded(spec, shard)),
                ):
                    wall, cpu = run()
                    best[name] = min(best.get(name, float("inf")), wall)
                    best_cpu[name] = min(best_cpu.get(name, float("inf")), cpu)
                pair = []
                for name, client in (("store, 1 worker", one), ("store, 2 workers", two)):
                    elapsed, stores[name] = store_render(spec, client, root, name.replace(" ", "_").replace(",", ""))
                    best[name] = min(best.get(name, float("inf")), elapsed)
                    pair.append(elapsed)
                paired.append(pair[0] / pair[1])
                parallel.append(machine_parallelism(spec, one, two, shard))
                for batch, node_block in node_blocks.items():
                    measured = node_times(spec, batch, node_block)
                    if batch not in nodes or measured[0] < nodes[batch][0]:
                        nodes[batch] = measured
        same = files_of(stores["store, 1 worker"]) == files_of(stores["store, 2 workers"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    items = {"loop, render_block": loop_items, "loop, render_block per 256 frames": loop_items,
             f"loop, executor, blocks of {block}": loop_items,
             "sharded, in process": shard, "store, 1 worker": count, "store, 2 workers": count}
    cores = {"store, 2 workers": 2}
    rate = {name: items[name] / best[name] for name in best}
    per_core = {name: rate[name] / cores.get(name, 1) for name in best}
    baseline = per_core["loop, render_block"]
    cpu_baseline = items["loop, render_block"] / best_cpu["loop, render_block"]
    rows = [[name, items[name], f"{best[name]:.2f}", f"{rate[name]:.1f}", f"{per_core[name]:.1f}",
             f"{per_core[name] / baseline:.2f}x",
             f"{items[name] / best_cpu[name] / cpu_baseline:.2f}x" if name in best_cpu else ""] for name in best]
    table("Items per second (best of the repetitions; wall clock, and the process's CPU time for the variants "
          "run in this process, which time-slicing by other processes does not inflate)",
          ["variant", "items", "seconds", "items/s", "items/s per core", "per core vs loop", "CPU time vs loop"], rows)
    one, many = nodes[1], nodes[shard]
    node_rows = [[name, f"{one[1][name]:.2f}", f"{many[1][name]:.2f}",
                  f"{one[1][name] / many[1][name]:.1f}x" if many[1][name] > 0 else ""] for name in one[1]]
    inside = (sum(one[1].values()), sum(many[1].values()))
    node_rows.append(["all nodes", f"{inside[0]:.2f}", f"{inside[1]:.2f}", f"{inside[0] / inside[1]:.1f}x"])
    node_rows.append(["the rest (parameters, output)", f"{one[0] - inside[0]:.2f}", f"{many[0] - inside[1]:.2f}", ""])
    node_rows.append(["whole render", f"{one[0]:.2f}", f"{many[0]:.2f}", f"{one[0] / many[0]:.1f}x"])
    table(f"Where the time of a render goes: ms per item inside each node's process() (native per-node "
          f"timing on, best repetition), one item in blocks of {node_blocks[1]} (as the loop) against "
          f"{shard} items in blocks of {block} (as a shard)",
          ["node", "1 item", f"{shard} items", "saved"], node_rows)
    sharded_ratio = per_core["sharded, in process"] / baseline
    scaling = rate["store, 2 workers"] / rate["store, 1 worker"]
    print(f"\nload average after: {load_after}")
    print(f"stores of one worker and two identical, byte for byte: {'yes' if same else 'NO'}")
    if args.tiny:
        print("(tiny sizes: the figures claim nothing)")
    else:
        print(f"sharded vs per-item render_block loop, per core: {sharded_ratio:.2f}x (target >= 3x; by CPU time "
              f"{items['sharded, in process'] / best_cpu['sharded, in process'] / cpu_baseline:.2f}x); vs the "
              f"loop calling render_block every 256 frames: "
              f"{per_core['sharded, in process'] / per_core['loop, render_block per 256 frames']:.2f}x")
        print(f"two workers vs one: {scaling:.2f}x from the best of each (target >= 1.8x); within each repetition "
              f"{min(paired):.2f}x to {max(paired):.2f}x, median {statistics.median(paired):.2f}x; what the machine "
              f"gave two processes at the same moments: {max(parallel):.2f}x (best), {min(parallel):.2f}x (worst), "
              f"median {statistics.median(parallel):.2f}x")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
