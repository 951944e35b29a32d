#!/usr/bin/env python3
"""What one call costs from Python, beside the bare native call it makes, in the same run.

    python benchmarks/call_cost.py           # the full run (about half a minute)
    python benchmarks/call_cost.py --tiny    # tiny sizes: checks that it runs, claims nothing
    python benchmarks/call_cost.py --against SRC LIB   # also run_block(64) of another checkout (repeatable)

On a one-oscillator graph at 48 kHz, one thread, 64 frames per call:

- ``NativeGraphExecutor.run_block(64)``, beside ``amp_graph_render_part`` called straight through
  cffi on the same kind of graph with its arguments made once;
- ``AudioGraph.render_block(64)``, beside the same bare call;
- ``NativeStreamer.read(64)`` of a stream rendered ahead, beside ``amp_streamer_read_ex`` called
  straight through cffi on another such stream.

The bare call is what the library costs with no Python around it but cffi's argument conversion;
the difference is the Python face's cost (checks, the handle's lifetime guard, the output array).
Variants take turns within each repetition, so load from elsewhere hits them alike; the best
repetition counts (on a shared machine the slower ones measure the neighbours).

``--against SRC LIB`` times run_block(64) of the amp package in SRC (a checkout's ``src``
directory) with the library LIB in a subprocess, taking turns with this checkout in another
subprocess: a same-run comparison with any earlier version (``git archive <commit> | tar -x``
and a standalone build of its ``native`` give both).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

import amp  # noqa: E402
from amp import _binding  # noqa: E402
from amp.native_runtime import NativeGraphExecutor  # noqa: E402

SR = 48000.0
FRAMES = 64


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" if i == 0 else "---:" for i in range(len(header))) + " |")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def one_oscillator() -> amp.AudioGraph:
    g = amp.AudioGraph(SR)
    g.add_node("osc", "oscillator", freq=440.0)
    return g


def per_call(fn, calls: int) -> float:
    started = time.perf_counter_ns()
    fn(calls)
    return (time.perf_counter_ns() - started) / calls / 1000.0


def variants(stack: list):
    """The measured loops, each a function of a call count, in pairs (the face, the bare call)."""
    binding = _binding.load()
    ffi, api, types = binding.ffi, binding.api, binding.types

    ex = NativeGraphExecutor(one_oscillator(), max_block_frames=FRAMES, threads=1)
    bare_ex = NativeGraphExecutor(one_oscillator(), max_block_frames=FRAMES, threads=1)
    stack += [ex, bare_ex]
    out = np.empty((1, 1, FRAMES))
    target = ffi.from_buffer(types["double[]"], out)
    progress = ffi.new(types["int64_t *"])
    error = ffi.new(types["AmpErrorInfo *"])
    null = ffi.NULL
    render_part = api.amp_graph_render_part

    def run_block(n):
        run = ex.run_block
        for _ in range(n):
            run(FRAMES)

    def bare_render(n):
        with bare_ex.native_call() as handle:
            for _ in range(n):
                progress[0] = 0
                render_part(handle, FRAMES, FRAMES, null, 0, null, 0, target, FRAMES, 50, progress, error)

    g = one_oscillator()
    stack.append(g)
    g.render_block(FRAMES)

    def render_block(n):
        render = g.render_block
        for _ in range(n):
            render(FRAMES)

    # streams far ahead of their readers, so that a read finds its frames waiting
    lead = 1 << 20
    stream_ex = NativeGraphExecutor(one_oscillator(), max_block_frames=256, threads=1)
    bare_stream_ex = NativeGraphExecutor(one_oscillator(), max_block_frames=256, threads=1)
    stack += [stream_ex, bare_stream_ex]
    stream = stream_ex.create_streamer(block_frames=256, lead_frames=lead)
    bare_stream = bare_stream_ex.create_streamer(block_frames=256, lead_frames=lead)
    stack += [stream, bare_stream]
    frames_read = ffi.new(types["int64_t *"])
    read_ex = api.amp_streamer_read_ex

    def ahead(s):
        while s.info()["frames_rendered"] - s.info()["frames_read"] < lead // 2:
            time.sleep(0.001)

    def read(n):
        ahead(stream)
        r = stream.read
        for _ in range(n):
            r(FRAMES)

    def bare_read(n):
        ahead(bare_stream)
        with bare_stream._life.shared as handle:
            for _ in range(n):
                read_ex(handle, target, FRAMES, FRAMES, 100, frames_read, error)

    return [("NativeGraphExecutor.run_block(64)", run_block, "amp_graph_render_part", bare_render),
            ("AudioGraph.render_block(64)", render_block, "amp_graph_render_part", bare_render),
            ("NativeStreamer.read(64)", read, "amp_streamer_read_ex", bare_read)], lead


def measure(calls: int, repeats: int) -> list[list]:
    stack: list = []
    try:
        pairs, lead = variants(stack)
        reads = min(calls, lead // (2 * FRAMES))  # each repetition stays inside what was rendered ahead
        for _, face, _, bare in pairs:
            face(200)
            bare(200)
        times: dict[str, list[float]] = {}
        for _ in range(repeats):
            for name, face, bare_name, bare in pairs:
                n = reads if "read" in name else calls
                times.setdefault(name, []).append(per_call(face, n))
                times.setdefault(name + "/bare", []).append(per_call(bare, n))
        rows = []
        for name, _, bare_name, _ in pairs:
            face_t, bare_t = times[name], times[name + "/bare"]
            best, bare_best = min(face_t), min(bare_t)
            rows.append([name, f"{best:.2f}", f"{statistics.median(face_t):.2f}", bare_name, f"{bare_best:.2f}",
                         f"{best - bare_best:.2f}", f"{best / bare_best:.2f}x"])
        return rows
    finally:
        for item in reversed(stack):
            item.close()


_AGAINST = """
import os, sys, time
sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__]
sys.path.insert(0, sys.argv[1])
import amp
from amp.native_runtime import NativeGraphExecutor
assert amp.__file__.startswith(os.path.abspath(sys.argv[1])), amp.__file__
g = amp.AudioGraph(48000.0)
g.add_node("osc", "oscillator", freq=440.0)
ex = NativeGraphExecutor(g, max_block_frames=64, threads=1)
calls = int(sys.argv[2])
for _ in range(2000):
    ex.run_block(64)
best = float("inf")
for _ in range(3):
    t = time.perf_counter_ns()
    for _ in range(calls):
        ex.run_block(64)
    best = min(best, (time.perf_counter_ns() - t) / calls / 1000.0)
print(best)
"""


def against(others: list[list[str]], calls: int, repeats: int) -> list[list]:
    """run_block(64) of this checkout and of each (src, lib), each in its own subprocess, taking turns."""
    here = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    checkouts = [("this checkout", here, str(_binding.load().library_path))]
    checkouts += [(src, os.path.abspath(src), os.path.abspath(lib)) for src, lib in others]
    runs: dict[str, list[float]] = {name: [] for name, _, _ in checkouts}
    for _ in range(repeats):
        for name, path, library in checkouts:
            env = dict(os.environ, AMP_NATIVE_LIBRARY=library)
            done = subprocess.run([sys.executable, "-c", _AGAINST, path, str(calls)], env=env,
                                  capture_output=True, text=True, check=True)
            runs[name].append(float(done.stdout.strip()))
    base = min(runs["this checkout"])
    return [[name, library, f"{min(runs[name]):.2f}", f"{statistics.median(runs[name]):.2f}",
             f"{min(runs[name]) / base:.2f}x"] for name, _, library in checkouts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: check that it runs, claim nothing")
    parser.add_argument("--against", nargs=2, metavar=("SRC", "LIB"), action="append", default=[],
                        help="also time run_block(64) of the amp package in SRC with the library LIB (repeatable)")
    args = parser.parse_args()
    calls, repeats = (20000, 7) if not args.tiny else (50, 1)
    load = os.getloadavg()[0]
    print(f"# amp call cost: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{datetime.date.today()}, load average {load:.2f} at start")
    table(f"Cost of one call from Python, one oscillator, one thread, {calls} calls per repetition, best of "
          f"{repeats} (µs per call)",
          ["call", "best", "median", "bare native call", "bare best", "Python's part", "ratio"],
          measure(calls, repeats))
    if args.against:
        table(f"run_block(64) of other checkouts, each in a subprocess, all taking turns, best of 3 x {repeats} "
              "(µs per call)", ["checkout", "library", "best", "median", "ratio to this checkout"],
              against(args.against, calls, repeats))
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
