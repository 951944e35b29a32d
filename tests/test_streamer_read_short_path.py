"""A streamer's short reads go into an array kept per reader and are copied out: what they return is
the stream (one offline render of the same graph), each array the caller's own, with concurrent
readers each served whole blocks of the stream, and every check of a read kept.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000


def stereo_graph() -> amp.AudioGraph:
    g = amp.AudioGraph(SR)
    g.add_node("osc", "oscillator", freq=331.0, waveform="saw")
    g.add_node("pan", "pan", pan=-0.4)
    g.connect("osc", "pan")
    return g


def offline(frames: int, batch: int = 1) -> np.ndarray:
    with NativeGraphExecutor(stereo_graph(), batch=batch, max_block_frames=64, threads=1) as ex:
        return ex.render(frames, 64)


READS = [64, 64, 1, 63, 0, 100, 64, 40000, 7, 64, 64]  # 40000 x 2 channels goes around the kept array


def test_reads_of_changing_sizes_are_the_stream_and_the_callers_own():
    total = sum(READS)
    reference = offline(total, batch=2)
    with NativeGraphExecutor(stereo_graph(), batch=2, max_block_frames=64, threads=1) as ex:
        with ex.create_streamer(block_frames=64, lead_frames=4096) as stream:
            got = [stream.read(n) for n in READS]
    for block in got:
        assert block.dtype == np.float64 and block.flags.c_contiguous and block.flags.writeable
    at = 0
    for n, block in zip(READS, got):  # checked after every read is done: none changed afterwards
        assert block.shape == (2, 2, n)
        assert block.tobytes() == reference[:, :, at:at + n].tobytes()
        at += n


def test_a_read_with_a_timeout_returns_what_arrived_as_its_own_array():
    with NativeGraphExecutor(stereo_graph(), max_block_frames=64, threads=1) as ex:
        with ex.create_streamer(block_frames=64, lead_frames=256) as stream:
            part = stream.read(5000, timeout=0.0)  # at most the lead is ready
            rest = stream.read(5000 - part.shape[2])
    assert part.shape[2] <= 256 + 64
    assert part.flags.c_contiguous and part.shape[:2] == (1, 2)
    assert np.concatenate([part, rest], axis=2).tobytes() == offline(5000).tobytes()


def test_concurrent_readers_each_get_whole_blocks_of_the_stream():
    blocks_per_reader, readers = 200, 3
    total = 64 * blocks_per_reader * readers
    reference = offline(total)
    starts = {reference[:, :, i:i + 64].tobytes(): i for i in range(0, total, 64)}
    assert len(starts) == total // 64  # every block of the reference tells where it starts
    seen: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    with NativeGraphExecutor(stereo_graph(), max_block_frames=64, threads=1) as ex:
        with ex.create_streamer(block_frames=64, lead_frames=1024) as stream:
            def reader():
                try:
                    for _ in range(blocks_per_reader):
                        block = stream.read(64)
                        with lock:
                            seen.append(starts.get(block.tobytes(), -1))
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=reader) for _ in range(readers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    assert not errors, errors
    assert sorted(seen) == list(range(0, total, 64))


@pytest.mark.parametrize("frames", [1.5, "10", True, None, -1, 2**64])
def test_read_counts_are_checked(frames):
    with NativeGraphExecutor(stereo_graph(), threads=1) as ex, ex.create_streamer() as stream:
        with pytest.raises(amp.GraphError, match="frames"):
            stream.read(frames)
        assert stream.read(np.int64(3)).shape == (1, 2, 3)


def test_a_closed_streamer_refuses_short_reads():
    with NativeGraphExecutor(stereo_graph(), threads=1) as ex:
        stream = ex.create_streamer()
        stream.read(64)
        stream.close()
        with pytest.raises(amp.StreamStopped, match="closed"):
            stream.read(64)
