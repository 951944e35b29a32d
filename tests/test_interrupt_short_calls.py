"""Ctrl-C may land at any moment of a loop of short calls: wherever its KeyboardInterrupt is
raised, the executor or streamer is left usable (never busy for good, its calls counted out), and
close() does not wait for a call that is not there.

Signals are sent from another thread at random moments until a thousand have landed; the handler raises
KeyboardInterrupt as Python's own Ctrl-C handler does.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

CAUGHT = 1000    # interrupts to land in the loop (signals that arrive together are handled once)
ENOUGH = CAUGHT // 10  # fewer landed means the loop was hardly tried, not that it failed
SENDING_SECONDS = 20.0  # a loaded machine merges signals sent while the loop waits for a core

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs POSIX signals")


def one_oscillator() -> amp.AudioGraph:
    g = amp.AudioGraph(48000)
    g.add_node("osc", "oscillator", freq=440.0)
    return g


def interrupted_loop(call) -> int:
    """Calls `call` over and over while interrupts arrive, until CAUGHT of them landed (or
    SENDING_SECONDS passed); returns how many landed."""
    armed = [False]

    def handler(signum, frame):
        # Raises only inside the loop's try (re-armed there): the loop's own bookkeeping between
        # one interrupt and the next must not be interrupted itself.
        if armed[0]:
            armed[0] = False
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGUSR1, handler)
    rng = random.Random(5)
    pid = os.getpid()
    stop = threading.Event()

    def sender():
        deadline = time.monotonic() + SENDING_SECONDS
        while time.monotonic() < deadline:
            if stop.is_set() or caught >= CAUGHT:
                return
            time.sleep(rng.random() * 0.0003)
            os.kill(pid, signal.SIGUSR1)

    caught = 0
    thread = threading.Thread(target=sender, daemon=True)
    try:
        thread.start()
        while thread.is_alive():
            try:
                armed[0] = True
                while thread.is_alive():
                    call()
                armed[0] = False
            except KeyboardInterrupt:
                caught += 1
    finally:
        armed[0] = False
        stop.set()
        thread.join()
        time.sleep(0.05)  # the last signal handled (disarmed) before SIGUSR1's default is back
        signal.signal(signal.SIGUSR1, previous)
    return caught


def test_run_block_is_usable_after_interrupts_anywhere():
    with NativeGraphExecutor(one_oscillator(), max_block_frames=64, threads=1) as ex:
        caught = interrupted_loop(lambda: ex.run_block(64))
        assert caught >= ENOUGH
        assert not ex._life.busy
        position = ex.frame_position
        block = ex.run_block(64)  # not refused as busy
    with NativeGraphExecutor(one_oscillator(), max_block_frames=64, threads=1) as ref:
        # the stream went on from where the interrupted calls left it
        assert block.tobytes() == ref.render(position + 64, 64)[:, :, position:].tobytes()


def test_render_block_is_usable_after_interrupts_anywhere():
    g = one_oscillator()
    caught = interrupted_loop(lambda: g.render_block(64))
    assert caught >= ENOUGH
    # the graph's count of frames is the stream's, whichever statement each interrupt cut short
    assert g.frame_position == g.executor.frame_position
    assert g.render_block(64).shape == (1, 1, 64)
    g.close()


def test_a_streamer_read_is_counted_out_whatever_interrupts_it():
    with NativeGraphExecutor(one_oscillator(), max_block_frames=64, threads=1) as ex:
        stream = ex.create_streamer(block_frames=64, lead_frames=1 << 16)
        caught = interrupted_loop(lambda: stream.read(64))
        assert caught >= ENOUGH
        assert stream._life.shared_calls == 0
        assert isinstance(stream.read(64), np.ndarray)
        stream.close()
        assert stream.closed and not stream._life._finalizer.alive  # freed now, not left to a call
