"""Streaming: a streamer renders ahead into a bounded ring; what it reads is what an offline
render writes; stop() returns promptly from any state; a failure reaches the next read.

The reference for every stream is an offline render of the same graph (one native call), which
the process network tests pin down independently.
"""

import random
import threading
import time

import numpy as np
import pytest

import amp
from amp.blobs import ControlKeyEvents, write_control_blob
from amp.native_runtime import NativeGraphExecutor

SR = 48000.0


def voices(count=16, sample_rate=SR):
    g = amp.AudioGraph(sample_rate)
    g.add_node("out", "mix", gain=1.0 / count)
    for v in range(count):
        g.add_node(f"osc{v}", "oscillator", freq=110.0 * (1 + v) + 0.37 * v)
        g.add_node(f"amp{v}", "gain", gain=1.0 - v / (2.0 * count))
        g.connect(f"osc{v}", f"amp{v}")
        g.connect(f"amp{v}", "out")
    g.set_sink("out")
    return g


def read_all(streamer, sizes):
    return np.concatenate([streamer.read(n) for n in sizes], axis=2)


@pytest.mark.parametrize("threads,block,lead,chunk", [(1, 64, 64, 0), (2, 256, 1000, 0), (2, 100, 4096, 3),
                                                      (4, 33, 5000, 1)])
def test_a_stream_reads_what_an_offline_render_writes(threads, block, lead, chunk):
    graph = voices(6)
    rng = np.random.default_rng(block)
    sizes = [int(n) for n in rng.integers(1, 3000, size=12)]
    total = sum(sizes)
    with NativeGraphExecutor(graph, batch=2, max_block_frames=512, threads=threads) as ex:
        reference = ex.render(total, 512)
        ex.reset()
        with ex.create_streamer(block_frames=block, lead_frames=lead, chunk_blocks=chunk) as stream:
            got = read_all(stream, sizes)
            assert stream.block_frames == block
            assert stream.lead_frames == -(-lead // block) * block
    assert got.shape == reference.shape == (2, 1, total)
    assert got.tobytes() == reference.tobytes()


def test_the_stream_continues_the_executors_timeline():
    graph = voices(3)
    with NativeGraphExecutor(graph, max_block_frames=256, threads=2) as ex:
        reference = ex.render(3000, 256)
        ex.reset()
        head = ex.render(1000, 256)
        with ex.create_streamer(block_frames=128, lead_frames=512) as stream:
            tail = stream.read(2000)
    assert np.concatenate([head, tail], axis=2).tobytes() == reference.tobytes()


def test_the_lead_bounds_how_far_it_renders_ahead():
    with NativeGraphExecutor(voices(2), max_block_frames=256, threads=2) as ex:
        with ex.create_streamer(block_frames=100, lead_frames=950) as stream:
            assert stream.lead_frames == 1000
            stream.read(1)
            deadline = time.monotonic() + 5.0
            while stream.info()["frames_rendered"] < 1000 and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(0.05)  # room for one more block would appear now if the lead were not respected
            info = stream.info()
            # one block of room opens only after a reader frees a whole block
            assert info["frames_rendered"] == 1000
            assert info["frames_read"] == 1
            stream.read(99)
            while stream.info()["frames_rendered"] < 1100 and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(0.05)
            assert stream.info()["frames_rendered"] == 1100


def test_constant_base_params_stream_like_a_render():
    graph = voices(4)
    params = {"osc1": {"freq": np.array([220.0, 330.0]).reshape(2, 1, 1)}, "amp2.gain": 0.25}
    with NativeGraphExecutor(graph, batch=2, max_block_frames=256, threads=2) as ex:
        reference = ex.render(4000, 256, params)
        ex.reset()
        with ex.create_streamer(block_frames=64, lead_frames=300, base_params=params) as stream:
            got = stream.read(4000)
    assert got.tobytes() == reference.tobytes()


def test_a_stream_refuses_base_params_that_vary_in_time():
    with NativeGraphExecutor(voices(1), threads=1) as ex:
        with pytest.raises(amp.GraphError, match="one value per row and channel"):
            ex.create_streamer(base_params={"osc0": {"freq": np.full((1, 1, 10), 100.0)}})
        with pytest.raises(amp.GraphError, match="osc0.amp.*must be finite and in"):
            ex.create_streamer(base_params={"osc0": {"amp": 1e9}})
        with pytest.raises(amp.GraphError, match="block_frames"):
            ex.create_streamer(block_frames=8192)


def test_new_control_events_reach_the_running_stream_at_their_sample():
    graph = amp.AudioGraph(SR)
    graph.add_node("level", "constant", value=0.5)
    graph.bind_control("level", "value", "k")
    early = ([0.001, 0.004], [1.0, -2.0])
    late = ([0.05, 0.0625, 0.07], [3.0, 4.0, -1.5])
    first = write_control_blob(0.0, 1.0, [ControlKeyEvents("k", "step", np.array(early[0]), np.array(early[1]))])
    both = write_control_blob(0.0, 1.0, [ControlKeyEvents("k", "step", np.array(early[0] + late[0]),
                                                          np.array(early[1] + late[1]))])
    with NativeGraphExecutor(graph, max_block_frames=64, threads=2) as ex:
        reference = ex.render(4000, 64, control_history_blob=both)[0, 0]
        ex.reset()
        with ex.create_streamer(block_frames=64, lead_frames=256, control_history_blob=first) as stream:
            head = stream.read(1000)
            # At most 1000 + 256 frames are rendered yet; the new events start at frame 2400.
            stream.set_control(both)
            tail = stream.read(3000)
    got = np.concatenate([head, tail], axis=2)[0, 0]
    # the step curve: descriptor value, then each event's value from its own sample on
    expected = np.full(4000, 0.5)
    for t, v in zip(early[0] + late[0], early[1] + late[1]):
        expected[round(t * SR):] = v
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(reference, expected)


def test_a_bad_control_blob_is_refused_when_handed_over():
    with NativeGraphExecutor(voices(1), threads=1) as ex:
        with ex.create_streamer() as stream:
            with pytest.raises(amp.FormatError):
                stream.set_control(b"AMPC" + bytes(40))
            stream.read(10)


def test_the_graph_belongs_to_the_streamer_until_it_stops():
    with NativeGraphExecutor(voices(2), threads=2) as ex:
        stream = ex.create_streamer(block_frames=64)
        with pytest.raises(amp.GraphError, match="busy"):
            ex.render(64)
        with pytest.raises(amp.GraphError, match="busy|running streamer"):
            ex.create_streamer()
        stream.stop()
        assert ex.render(64).shape == (1, 1, 64)
        again = ex.create_streamer(block_frames=64)
        assert again.read(64).shape == (1, 1, 64)
    # closing the executor stopped and closed its streamers
    assert again.closed and stream.closed


def test_a_failure_inside_the_network_reaches_the_next_read():
    g = amp.AudioGraph(SR)
    g.add_node("osc", "oscillator")
    g.add_node("d", "block_delay", frames=32)
    g.connect("osc", "d")
    g.add_node("out", "mix")
    g.connect("osc", "out")
    g.connect("d", "out")
    lib = amp._binding.load().lib
    with NativeGraphExecutor(g, max_block_frames=64, threads=2) as ex:
        ex.render(96, 32)  # blocks 0, 1, 2
        stream = ex.create_streamer(block_frames=64, lead_frames=640)
        with pytest.raises(amp.NativeRuntimeError) as info:
            stream.read(640)
        error = info.value
        assert isinstance(error, RuntimeError)
        assert (error.node, error.stage, error.block_index, error.code) == ("d", "process", 3, lib.AMP_ERR_RUNTIME)
        assert "longer than the delay of 32" in str(error)
        state = stream.info()
        assert not state["running"] and state["failed"]
        with pytest.raises(amp.NativeRuntimeError):
            stream.read(1)
        stream.stop()  # stopping a failed stream is fine
        # the network let go of the graph: it renders again
        ex.reset()
        assert ex.render(64, 32).shape == (1, 1, 64)


def test_stop_returns_promptly_at_a_thousand_random_moments():
    """Stopped right after start, mid-render, with the ring full, with a reader blocked on another
    thread, after a failure, twice: every stop() returns within 100 ms."""
    rng = random.Random(4)
    slowest = 0.0
    graph = voices(16)
    failing = amp.AudioGraph(SR)
    failing.add_node("osc", "oscillator")
    failing.add_node("d", "block_delay", frames=16)
    failing.connect("osc", "d")
    stopped_readers = 0
    with NativeGraphExecutor(graph, max_block_frames=512) as ex, \
            NativeGraphExecutor(failing, max_block_frames=64) as bad:
        for moment in range(1000):
            kind = moment % 5
            owner = bad if kind == 4 else ex
            stream = owner.create_streamer(block_frames=64 if kind == 4 else rng.choice([32, 64, 256, 512]),
                                           lead_frames=rng.choice([64, 1024, 48000]))
            outcome = {}
            reader = None
            if kind == 1:
                def read_forever(stream=stream, outcome=outcome):
                    try:
                        while True:
                            stream.read(4096)
                    except amp.StreamStopped:
                        outcome["stopped"] = True
                reader = threading.Thread(target=read_forever)
                reader.start()
            elif kind == 2:
                stream.read(rng.randrange(1, 2000))
            if kind != 0:
                time.sleep(rng.random() * 0.003)
            started = time.perf_counter()
            stream.stop()
            slowest = max(slowest, time.perf_counter() - started)
            if kind == 3:
                started = time.perf_counter()
                stream.stop()
                slowest = max(slowest, time.perf_counter() - started)
            if reader is not None:
                reader.join(5.0)
                assert not reader.is_alive()
                stopped_readers += outcome.get("stopped", False)
            stream.close()
            if kind == 4:
                bad.reset()
    assert stopped_readers == 200
    assert slowest < 0.1, f"the slowest stop took {slowest * 1e3:.1f} ms"


def test_a_read_after_stop_says_so():
    with NativeGraphExecutor(voices(1), threads=1) as ex:
        stream = ex.create_streamer()
        stream.stop()
        with pytest.raises(amp.StreamStopped):
            stream.read(1)
        stream.close()
        with pytest.raises(amp.StreamStopped):
            stream.read(1)


def test_a_read_with_a_timeout_returns_what_arrived():
    graph = voices(2)
    with NativeGraphExecutor(graph, max_block_frames=64, threads=1) as ex:
        reference = ex.render(600, 64)
        ex.reset()
        with ex.create_streamer(block_frames=64, lead_frames=128) as stream:
            started = time.perf_counter()
            first = stream.read(10**5, timeout=0.0)
            assert time.perf_counter() - started < 0.1
            assert first.shape[2] <= 128  # the ring, filled before the call at most
            first = first[:, :, :600]
            rest = stream.read(600 - first.shape[2]) if first.shape[2] < 600 else first[:, :, :0]
            assert stream.read(0).shape == (1, 1, 0)
    assert np.concatenate([first, rest], axis=2).tobytes() == reference.tobytes()
