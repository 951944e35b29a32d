"""Closing is safe from any thread at any moment.

Random interleavings of render, read, stop, close, reset and graph edits from several threads on
one executor, streamer or AudioGraph. Under AddressSanitizer a call that used a freed handle
aborts the process; here every call must either succeed or raise an amp.AmpError that says what
happened (never a status name with its message lost), and every thread must finish.
Self-contained: it is also run on its own under ThreadSanitizer.
"""

from __future__ import annotations

import random
import re
import threading
import time

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

INTERLEAVINGS = 1000
JOIN_SECONDS = 60.0
# A message that is only a status name (error_from_native's fallback) lost the native text.
LOST_MESSAGE = re.compile(r"(AMP_ERR_\w+) \[\1\]")


def small_graph(freq: float = 220.0) -> amp.AudioGraph:
    g = amp.AudioGraph(48000)
    g.add_node("osc", "oscillator", freq=freq)
    g.add_node("vca", "gain", gain=0.5)
    g.connect("osc", "vca")
    return g


class Outcomes:
    """What the threads of one run saw: successes, amp errors, and anything else (a failure)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok = 0
        self.refused: list[str] = []
        self.wrong: list[str] = []

    def run(self, action) -> None:
        try:
            action()
        except amp.AmpError as exc:
            text = str(exc)
            with self.lock:
                if not exc.message or LOST_MESSAGE.search(text):
                    self.wrong.append(f"{type(exc).__name__} without its message: {text!r}")
                else:
                    self.refused.append(text)
        except BaseException as exc:  # noqa: BLE001 - anything but an amp error is the failure sought
            with self.lock:
                self.wrong.append(f"{type(exc).__name__}: {exc}")
        else:
            with self.lock:
                self.ok += 1


def pause(rng: random.Random) -> None:
    r = rng.random()
    if r < 0.4:
        return
    time.sleep(rng.random() * (0.002 if r < 0.9 else 0.01))


def executor_actions(ex: NativeGraphExecutor, streamer_box: list, rng: random.Random):
    def render():
        ex.render(rng.choice([1, 64, 1000, 4096, 20000]), rng.choice([None, 64, 256]))

    def run_block():
        ex.run_block(rng.choice([1, 128, 3000]), base_params={"osc": {"freq": 110.0 + rng.random() * 100}})

    def read():
        s = streamer_box[0]
        if s is not None:
            s.read(rng.choice([1, 64, 500]), timeout=rng.choice([None, 0.0, 0.01]))

    def stop():
        s = streamer_box[0]
        if s is not None:
            s.stop()

    def stream():
        streamer_box[0] = ex.create_streamer(block_frames=64, lead_frames=256)

    def close_streamer():
        s = streamer_box[0]
        if s is not None:
            s.close()

    return [render, run_block, read, read, stop, stream, close_streamer, ex.reset, lambda: ex.frame_position,
            ex.close]


def graph_actions(g: amp.AudioGraph, rng: random.Random):
    def render():
        g.render_block(rng.choice([1, 64, 2000, 10000]))

    def edit():
        g.set_param("vca", "gain", rng.random())

    return [render, render, edit, g.reset, g.close, lambda: g.frame_position]


def one_interleaving(seed: int) -> Outcomes:
    rng = random.Random(seed)
    outcomes = Outcomes()
    kind = rng.choice(["executor", "executor", "graph"])
    if kind == "executor":
        ex = NativeGraphExecutor(small_graph(), threads=rng.choice([1, 2]), max_block_frames=4096)
        streamer_box = [ex.create_streamer(block_frames=64, lead_frames=256) if rng.random() < 0.5 else None]
        actions = executor_actions(ex, streamer_box, rng)
        finish = ex.close
    else:
        g = small_graph()
        g.render_block(64)
        actions = graph_actions(g, rng)
        finish = g.close

    def worker(worker_seed: int) -> None:
        local = random.Random(worker_seed)
        for _ in range(local.randint(1, 4)):
            pause(local)
            outcomes.run(local.choice(actions))

    threads = [threading.Thread(target=worker, args=(rng.getrandbits(32),), daemon=True)
               for _ in range(rng.randint(2, 4))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + JOIN_SECONDS
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0.0))
    assert not any(t.is_alive() for t in threads), f"interleaving {seed}: a thread did not finish"
    outcomes.run(finish)
    return outcomes


def test_random_interleavings_of_render_read_stop_close_and_edit():
    ok = refused = 0
    for seed in range(INTERLEAVINGS):
        outcomes = one_interleaving(seed)
        assert not outcomes.wrong, f"interleaving {seed}: {outcomes.wrong}"
        ok += outcomes.ok
        refused += len(outcomes.refused)
    # Both kinds of outcome happened: the runs raced, and calls were refused as well as served.
    assert ok > INTERLEAVINGS and refused > 50


def test_close_during_a_long_render_stops_it_and_the_render_says_so():
    ex = NativeGraphExecutor(small_graph(), threads=1, max_block_frames=64)
    errors: list[BaseException] = []

    def render():
        try:
            ex.render(48000 * 600, 64)  # ten minutes of audio in 64-frame blocks: long enough to be closed
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=render)
    t.start()
    time.sleep(0.2)
    started = time.monotonic()
    ex.close()
    closing = time.monotonic() - started
    t.join(10.0)
    assert not t.is_alive()
    (error,) = errors
    assert isinstance(error, amp.StreamStopped) and "closed" in str(error) and "frames were rendered" in str(error)
    assert closing < 5.0
    with pytest.raises(amp.GraphError, match="closed"):
        ex.render(64)


def test_close_while_another_thread_reads_wakes_the_reader():
    ex = NativeGraphExecutor(small_graph(), threads=1)
    s = ex.create_streamer(block_frames=64, lead_frames=256)
    s.stop()  # nothing more arrives: a read of more than the ring waits until it is closed
    errors: list[BaseException] = []

    def read():
        try:
            s.read(10_000)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=read)
    t.start()
    time.sleep(0.1)
    s.close()
    t.join(10.0)
    assert not t.is_alive()
    (error,) = errors
    assert isinstance(error, amp.StreamStopped) and str(error)
    ex.close()


def test_a_refused_concurrent_render_keeps_its_message():
    ex = NativeGraphExecutor(small_graph(), threads=1, max_block_frames=64)
    seen: list[BaseException] = []
    go = threading.Barrier(3)

    def render():
        go.wait()
        try:
            ex.render(48000, 64)
        except BaseException as exc:  # noqa: BLE001
            seen.append(exc)

    threads = [threading.Thread(target=render) for _ in range(2)]
    for t in threads:
        t.start()
    go.wait()
    for t in threads:
        t.join(30.0)
    for exc in seen:
        assert isinstance(exc, amp.GraphError) and "busy" in str(exc)
    ex.close()


def test_render_block_from_two_threads_with_an_edit_in_between():
    g = small_graph()
    g.render_block(64)
    outcomes = Outcomes()
    stop = threading.Event()

    def renders():
        while not stop.is_set():
            outcomes.run(lambda: g.render_block(2048))

    threads = [threading.Thread(target=renders) for _ in range(2)]
    for t in threads:
        t.start()
    for k in range(50):
        g.set_param("vca", "gain", 0.1 + k / 100)
        time.sleep(0.002)
    stop.set()
    for t in threads:
        t.join(30.0)
    assert not outcomes.wrong, outcomes.wrong
    assert outcomes.ok > 0
    assert all("another thread is rendering" in text for text in outcomes.refused)
    out = g.render_block(64)
    assert out.shape == (1, 1, 64) and np.all(np.isfinite(out))
    g.close()
