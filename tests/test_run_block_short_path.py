"""run_block's common call (an int frame count, nothing else) takes a short path: it keeps every
check of the general path and renders the same bits.

References come from outside the short path: render() of the whole length on another executor
(the engine's output does not depend on block size or schedule), and run_block calls that the
short path does not take (a sample_rate or base_params given).
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

import amp
from amp.checks import MAX_OUTPUT_SAMPLES
from amp.native_runtime import NativeGraphExecutor

SR = 48000


def stereo_graph() -> amp.AudioGraph:
    g = amp.AudioGraph(SR)
    g.add_node("osc", "oscillator", freq=331.0, waveform="saw")
    g.add_node("pan", "pan", pan=0.3)
    g.connect("osc", "pan")
    return g


@pytest.fixture
def executors():
    made = []

    def make(**kwargs) -> NativeGraphExecutor:
        options = {"max_block_frames": 64, "threads": 1}
        options.update(kwargs)
        ex = NativeGraphExecutor(stereo_graph(), **options)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.close()


# frame counts that change from call to call: the kept array is remade, long calls go around it
SCHEDULE = [64, 64, 1, 63, 64, 0, 100, 64, 7, 4096, 64, 64, 20000, 65, 64]


def test_a_run_of_blocks_is_one_render_of_the_whole(executors):
    short = executors(batch=2)
    blocks = [short.run_block(n) for n in SCHEDULE]
    whole = executors(batch=2).render(sum(SCHEDULE), 50)
    assert whole.shape == (2, 2, sum(SCHEDULE))
    assert np.concatenate(blocks, axis=2).tobytes() == whole.tobytes()


def test_the_short_path_renders_what_the_general_path_renders(executors):
    short, with_rate, with_params = executors(), executors(), executors()
    for n in SCHEDULE:
        a = short.run_block(n)
        b = with_rate.run_block(n, SR)  # a sample_rate given: the general path
        c = with_params.run_block(n, base_params={})  # overrides given (none): the general path
        assert a.tobytes() == b.tobytes() == c.tobytes()
        assert a.shape == b.shape == (1, 2, n)


def test_every_block_returned_is_the_callers_own(executors):
    ex = executors()
    reference = executors().render(64 * 40, 64)
    kept = [ex.run_block(64) for _ in range(40)]
    # later calls rendered into the same memory the short path renders into: no block returned
    # earlier may change, and each is a fresh writeable C-contiguous float64 array
    for i, block in enumerate(kept):
        assert block.dtype == np.float64 and block.flags.c_contiguous and block.flags.writeable
        assert block.flags.owndata
        assert block.tobytes() == reference[:, :, 64 * i:64 * (i + 1)].tobytes()
    kept[0][:] = 7.0  # writing into one block touches no other, nor the next render
    assert ex.run_block(64).tobytes() == executors().render(64 * 41, 64)[:, :, -64:].tobytes()


@pytest.mark.parametrize("frames", [1.5, "10", True, np.float64(8.0), None, -1, 2**64, [64]])
def test_frames_are_checked(executors, frames):
    ex = executors()
    with pytest.raises(amp.GraphError, match="frames"):
        ex.run_block(frames)
    assert ex.frame_position == 0


def test_numpy_integer_frames_render_like_ints(executors):
    a, b = executors(), executors()
    assert a.run_block(np.int64(64)).tobytes() == b.run_block(64).tobytes()
    assert a.run_block(np.uint16(3)).shape == (1, 2, 3)


def test_output_size_is_checked_before_anything_is_allocated(executors):
    ex = executors(batch=4)
    frames = MAX_OUTPUT_SAMPLES // 8 + 1  # B=4, C=2
    with pytest.raises(amp.AmpMemoryError, match=str(8 * frames)):
        ex.run_block(frames)
    assert ex.frame_position == 0


@pytest.mark.parametrize("rate", [0, -1, float("nan"), "48000", True, 44100])
def test_a_sample_rate_other_than_the_executors_is_refused(executors, rate):
    with pytest.raises(amp.GraphError, match="sample_rate|Hz"):
        executors().run_block(64, rate)


@pytest.mark.parametrize("params", [{"osc": {"freq": np.ones((3, 1, 64))}}, {"osc": {"freq": np.ones((1, 1, 65))}},
                                    {"osc": {"freq": "abc"}}, {"nope": {"freq": 1.0}}, {"osc": {"nope": 1.0}}, [1]])
def test_overrides_of_the_wrong_shape_type_or_name_are_refused(executors, params):
    with pytest.raises(amp.GraphError):
        executors().run_block(64, base_params=params)


def test_a_control_blob_that_is_not_one_is_refused(executors):
    with pytest.raises(amp.AmpError):
        executors().run_block(64, control_history_blob=b"not a control blob")


def test_a_closed_executor_refuses_the_short_path(executors):
    ex = executors()
    ex.run_block(64)
    ex.close()
    for frames in (64, 1, 0, 100000):
        with pytest.raises(amp.GraphError, match="closed"):
            ex.run_block(frames)


def test_close_from_another_thread_while_blocks_render():
    """Every run_block either completes with the right bits or raises an amp error with its
    message; the blocks that completed are the start of the stream."""
    rng = random.Random(17)
    with NativeGraphExecutor(stereo_graph(), max_block_frames=64, threads=1) as ex:
        reference = ex.render(64 * 4000, 64)
    for trial in range(40):
        ex = NativeGraphExecutor(stereo_graph(), max_block_frames=64, threads=rng.choice([1, 2]))
        blocks: list[np.ndarray] = []
        errors: list[BaseException] = []
        started = threading.Event()

        def renderer():
            try:
                for _ in range(4000):
                    blocks.append(ex.run_block(64))
                    started.set()
            except BaseException as exc:  # noqa: BLE001 - the kind is what is checked
                errors.append(exc)
            started.set()

        thread = threading.Thread(target=renderer, daemon=True)
        thread.start()
        started.wait(10)
        time.sleep(rng.random() * 0.003)
        ex.close()
        thread.join(30)
        assert not thread.is_alive()
        assert ex.closed
        if errors:
            error = errors[0]
            assert isinstance(error, amp.AmpError), repr(error)
            assert "closed" in str(error), str(error)
        got = np.concatenate(blocks, axis=2) if blocks else np.empty((1, 2, 0))
        assert got.tobytes() == reference[:, :, :got.shape[2]].tobytes(), trial


def test_two_threads_on_one_executor_are_served_one_at_a_time():
    """A run_block overlapping another is refused as busy, never interleaved: the blocks served,
    in the order they were served, are the stream."""
    with NativeGraphExecutor(stereo_graph(), max_block_frames=64, threads=1) as ex:
        served: list[np.ndarray] = []
        refused: list[str] = []
        lock = threading.Lock()

        def worker():
            for _ in range(3000):
                try:
                    block = ex.run_block(64)
                except amp.GraphError as exc:
                    refused.append(str(exc))
                else:
                    with lock:
                        served.append(block)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert all("busy" in text for text in refused)
        assert ex.frame_position == 64 * len(served)
    with NativeGraphExecutor(stereo_graph(), max_block_frames=64, threads=1) as one:
        reference = one.render(64 * len(served), 64)
    # blocks may have been appended out of service order; as a set of blocks they are the stream
    expected = sorted(reference[:, :, i * 64:(i + 1) * 64].tobytes() for i in range(len(served)))
    assert sorted(b.tobytes() for b in served) == expected
