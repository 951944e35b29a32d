"""Dropped graphs, executors and streamers: freed without a hang, whatever the collector does.

Each scenario runs in a fresh interpreter with a time limit, so that a deadlock fails the test
instead of hanging the suite.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref

import amp
from amp.native_runtime import NativeGraphExecutor

MAKE = textwrap.dedent(
    """
    import gc, random, sys, threading
    import numpy as np
    import amp
    from amp.native_runtime import NativeGraphExecutor

    def make(freq=220.0):
        g = amp.AudioGraph(48000)
        g.add_node("osc", "oscillator", freq=freq)
        g.add_node("vca", "gain", gain=0.3)
        g.connect("osc", "vca")
        return g
    """
)


def run_limited(body: str, seconds: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-c", MAKE + textwrap.dedent(body)], capture_output=True, text=True,
                              timeout=seconds)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the program hung (no end within {seconds} s); stderr: {exc.stderr!r}") from None


def test_a_collection_inside_cffis_lock_frees_dropped_graphs():
    # cffi holds its lock while it parses a type (ffi.cast in the override packing); a collection
    # that starts there runs the finalizers of unreachable graphs. They must not need that lock.
    result = run_limited(
        """
        gc.disable()
        for _ in range(15):
            make().render_block(64)
        ffi = amp._binding.load().ffi
        with ffi._lock:
            gc.collect()
        print("freed")
        """, 60)
    assert result.returncode == 0 and result.stdout.strip() == "freed", result.stderr


def test_unclosed_graphs_then_render_block_with_base_params():
    # The program from the report: graphs rendered and dropped without close(), then a render with
    # overrides (whose first ffi.cast parses a type under cffi's lock while garbage is pending).
    for count in (10, 13, 15):
        result = run_limited(
            f"""
            for _ in range({count}):
                make().render_block(64)
            out = make().render_block(64, base_params={{"osc": {{"freq": np.array([110, 220.0]).reshape(2, 1, 1)}}}})
            print(out.shape)
            """, 60)
        assert result.returncode == 0 and result.stdout.strip() == "(2, 1, 64)", (count, result.stderr)


def test_a_graph_and_its_executor_are_freed_with_their_last_reference():
    was_enabled = gc.isenabled()
    gc.disable()  # freed by reference counting alone: no cycle holds them
    try:
        g = amp.AudioGraph(48000)
        g.add_node("osc", "oscillator", freq=220.0)
        g.render_block(64)
        graph_ref, executor_ref = weakref.ref(g), weakref.ref(g.executor)
        del g
        assert graph_ref() is None and executor_ref() is None
        ex = NativeGraphExecutor(amp.AudioGraph.from_config({"nodes": [{"name": "osc", "type": "oscillator"}]}),
                                 threads=1)
        streamer = ex.create_streamer(block_frames=64)
        streamer.read(64)
        ex_ref, streamer_ref = weakref.ref(ex), weakref.ref(streamer)
        del ex, streamer
        assert ex_ref() is None and streamer_ref() is None
    finally:
        if was_enabled:
            gc.enable()


def test_ten_thousand_objects_dropped_in_random_order_from_four_threads():
    result = run_limited(
        """
        gc.set_threshold(50, 5, 5)  # collections often, inside cffi calls too
        pool, pool_lock = [], threading.Lock()
        made = [0]
        TOTAL, THREADS = 10_000, 4

        def overrides(rng, batch):
            return {"osc": {"freq": np.full((batch, 1, 1), rng.uniform(50, 500))}} if rng.random() < 0.5 else None

        def one(rng):
            kind = rng.random()
            if kind < 0.35:
                g = make(rng.uniform(50, 500))
                g.render_block(rng.choice([1, 64, 300]), base_params=overrides(rng, 1))
                obj = g
            elif kind < 0.7:
                ex = NativeGraphExecutor(make(), threads=rng.choice([1, 2]), max_block_frames=256)
                ex.run_block(rng.choice([1, 64, 300]), base_params=overrides(rng, 1))
                obj = ex
            else:
                ex = NativeGraphExecutor(make(), threads=1, max_block_frames=256)
                s = ex.create_streamer(block_frames=64, lead_frames=256)
                s.read(rng.choice([0, 64]), timeout=0.05)
                obj = s if rng.random() < 0.5 else (ex, s)
                if rng.random() < 0.3:
                    s.stop()
            with pool_lock:
                pool.append(obj)
                made[0] += 1
                victims = [pool.pop(rng.randrange(len(pool))) for _ in range(rng.randint(0, len(pool)))]
            del obj, victims  # dropped here, on this thread, in random order
            if rng.random() < 0.02:
                gc.collect()

        def worker(seed):
            rng = random.Random(seed)
            for _ in range(TOTAL // THREADS):
                one(rng)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pool.clear()
        gc.collect()
        print(made[0], len(gc.garbage))
        """, 600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10000", "0"], (result.stdout, result.stderr)
