"""Several Python threads on one graph and one streamer: stop while a reader waits, control swapped
while a stream renders, renders racing for one graph, executors created and closed on many
threads. What comes out is checked against one thread's offline render; CI also runs this file
against the ThreadSanitizer build of the library, where any data race fails it.
"""

import threading
import time

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000.0
LIMIT = 60.0  # seconds: a hang fails the test instead of the run


def voices(count=4):
    g = amp.AudioGraph(SR)
    g.add_node("out", "mix", gain=1.0 / count)
    for v in range(count):
        g.add_node(f"osc{v}", "oscillator", freq=110.0 * (1 + v) + 0.37 * v)
        g.add_node(f"amp{v}", "gain", gain=1.0 - v / (2.0 * count))
        g.connect(f"osc{v}", f"amp{v}")
        g.connect(f"amp{v}", "out")
    g.bind_control("osc0", "freq", "pitch")
    g.control_delay.set_interpolation("pitch", "linear")
    g.set_sink("out")
    for i, t in enumerate(np.linspace(0.0, 2.0, 40)):
        g.record_control_event(float(t), pitch=float(110 + 50 * (i % 7)))
    return g


def run_threads(targets):
    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # reported below, not swallowed
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guarded(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIMIT)
        assert not t.is_alive(), "a thread did not finish"
    assert not errors, errors


def test_stop_from_another_thread_ends_a_waiting_reader_with_what_it_read_intact():
    g = voices()
    with NativeGraphExecutor(g, batch=2, max_block_frames=256, threads=2) as ex:
        pieces = []
        started = threading.Event()
        with ex.create_streamer(block_frames=64, lead_frames=512) as stream:
            def reader():
                with pytest.raises(amp.StreamStopped):
                    while True:
                        pieces.append(stream.read(97))
                        started.set()

            def stopper():
                assert started.wait(LIMIT)
                time.sleep(0.01)
                stream.stop()
                stream.stop()  # repeating it is harmless

            run_threads([reader, stopper])
            assert not stream.info()["running"]
        got = np.concatenate(pieces, axis=2)
        assert got.shape[2] > 0 and got.shape[2] % 97 == 0
        ex.reset()
        reference = ex.render(got.shape[2], 256)
    assert got.tobytes() == reference.tobytes()


def test_control_replaced_while_the_stream_renders_reads_as_one_offline_render():
    g = voices()
    blob = g.control_delay.export_control_history_blob(0.0, 2.0)
    frames = 24000
    with NativeGraphExecutor(g, max_block_frames=128, threads=2) as ex:
        reference = ex.render(frames, 128, control_history_blob=blob)
        ex.reset()
        done = threading.Event()
        swapping = threading.Event()
        out = []
        with ex.create_streamer(block_frames=128, lead_frames=1024, control_history_blob=blob) as stream:
            def reader():
                try:
                    # on a loaded machine the swapper may start after a whole read: wait for it, so
                    # that the swaps do land while the stream renders
                    swapping.wait(LIMIT)
                    out.append(stream.read(frames))
                finally:
                    done.set()

            def swapper():
                # the same events again and again: whichever block each swap lands on, the stream
                # must stay what one render with these events writes
                swaps = 0
                while not done.is_set():
                    stream.set_control(blob)
                    swaps += 1
                    swapping.set()
                assert swaps > 0

            run_threads([reader, swapper])
    assert out[0].tobytes() == reference.tobytes()


def test_renders_racing_for_one_graph_each_finish_or_are_refused():
    g = voices()
    with NativeGraphExecutor(g, max_block_frames=256, threads=2) as ex:
        done = []
        refused = []

        def renderer():
            for _ in range(40):
                try:
                    ex.render(512, 128)
                    done.append(512)
                except amp.AmpError as exc:
                    refused.append(str(exc))

        run_threads([renderer, renderer, renderer])
        assert done, refused[:3]
        assert ex.frame_position == sum(done)
        assert all(msg for msg in refused)
        # the timeline is intact: rendering on continues exactly as one thread's render would
        tail = ex.render(1000, 128)
    with NativeGraphExecutor(g, max_block_frames=256, threads=1) as one:
        full = one.render(sum(done) + 1000, 128)
    assert tail.tobytes() == full[:, :, sum(done):].tobytes()


def test_executors_and_streamers_built_and_closed_on_many_threads():
    g = voices(3)
    with NativeGraphExecutor(g, batch=1, max_block_frames=256, threads=1) as ex:
        reference = ex.render(2000, 100)

    def worker(seed):
        def run():
            for i in range(4):
                with NativeGraphExecutor(g, max_block_frames=256, threads=1 + (seed + i) % 3) as ex:
                    if i % 2:
                        with ex.create_streamer(block_frames=100, lead_frames=300) as stream:
                            got = stream.read(2000)
                            stream.stop()
                    else:
                        got = ex.render(2000, 100)
                    assert got.tobytes() == reference.tobytes()
        return run

    run_threads([worker(seed) for seed in range(4)])
