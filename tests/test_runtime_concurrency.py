"""Executors on many Python threads: the same results as one after another, and the GIL is free
while native code renders."""

import threading
import time

import numpy as np

import amp
from amp.native_runtime import NativeGraphExecutor


def patch(seed: int) -> amp.AudioGraph:
    """A different graph per seed: oscillators through gains into a mix, one modulated."""
    rng = np.random.default_rng(seed)
    g = amp.AudioGraph(48000.0)
    g.add_node("out", "mix", gain=0.2)
    for v in range(int(rng.integers(3, 9))):
        g.add_node(f"osc{v}", "oscillator", freq=float(rng.uniform(50, 2000)))
        g.add_node(f"amp{v}", "gain", gain=float(rng.uniform(-1, 1)))
        g.connect(f"osc{v}", f"amp{v}")
        g.connect(f"amp{v}", "out")
    g.modulate("osc0", "osc1", "freq", scale=25.0)
    g.set_sink("out")
    return g


def work(seed: int, threads: int) -> np.ndarray:
    with NativeGraphExecutor(patch(seed), batch=2, max_block_frames=256, threads=threads) as ex:
        pieces = [ex.run_block(n) for n in (256, 100, 1000, 17, 4000)]
        pieces.append(ex.render(20000, 128))
    return np.concatenate(pieces, axis=2)


def test_eight_executors_on_eight_threads_match_running_one_after_another():
    serial = [work(seed, threads=1 + seed % 3) for seed in range(8)]
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def run(seed):
        try:
            barrier.wait()
            for _ in range(3):
                got = work(seed, threads=1 + seed % 3)
                assert results[seed] is None or results[seed].tobytes() == got.tobytes()
                results[seed] = got
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seed in range(8):
        assert results[seed].tobytes() == serial[seed].tobytes(), seed
    # and the patches really differ, so a mix-up between executors would show
    assert len({r.tobytes() for r in serial}) == 8


def test_the_gil_is_released_while_native_code_renders():
    g = amp.AudioGraph(48000.0)
    g.add_node("out", "mix")
    for v in range(32):
        g.add_node(f"osc{v}", "oscillator", freq=100.0 + v)
        g.add_node(f"amp{v}", "gain", gain=0.01)
        g.connect(f"osc{v}", f"amp{v}")
        g.connect(f"amp{v}", "out")
    with NativeGraphExecutor(g, max_block_frames=1024, threads=1) as ex:
        ex.render(1024, 1024)
        frames = 48000
        started = time.perf_counter()
        ex.render(frames, 1024)
        one_call = time.perf_counter() - started
        # Long enough that a thread held off by the GIL would visibly stall.
        frames = int(frames * max(1.0, 0.4 / max(one_call, 1e-6)))

        ticks = []
        stop = threading.Event()

        def count():
            while not stop.is_set():
                ticks.append(time.perf_counter())

        counter = threading.Thread(target=count)
        counter.start()
        time.sleep(0.02)
        started = time.perf_counter()
        ex.render(frames, 1024)  # a single native call
        finished = time.perf_counter()
        stop.set()
        counter.join()
    during = [t for t in ticks if started < t < finished]
    # With the GIL held for the whole call the counter could not tick at all in between (it would
    # get at most one switch interval at the edges).
    assert finished - started > 0.2
    assert len(during) > 1000
    assert during[-1] - during[0] > 0.5 * (finished - started)
