"""NativeStreamer: a graph rendering ahead of its reader, on a native thread of its own.

Made by :meth:`amp.native_runtime.NativeGraphExecutor.create_streamer`. Its handle's lifetime
follows :mod:`amp.native_lifetime`: reads, control updates and queries are shared calls, and
``close()`` from any thread stops the stream, makes a waiting ``read`` raise
:class:`amp.StreamStopped`, waits for it to return and then frees the streamer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from .checks import count as _count
from .checks import output_array
from .checks import seconds as _seconds
from .errors import StreamStopped, error_from_native
from .native_lifetime import HandleLifetime

if TYPE_CHECKING:
    from .native_runtime import NativeGraphExecutor

__all__ = ["NativeStreamer"]

# Reads of up to this many samples go into an array kept for the purpose and are copied out: a
# copy costs less than handing a new array's buffer to cffi.
_KEPT_SAMPLES = 1 << 16
_MAX_FRAMES = (1 << 63) - 1


class NativeStreamer:
    """A graph rendering ahead of its reader into a bounded ring (see ``create_streamer``).

    ``read(frames)`` returns the next frames as float64 (B, C, frames); ``set_control(blob)`` hands
    the running stream new control events; ``stop()`` returns promptly from any state. A failure
    inside the network is raised by the next ``read`` as :class:`amp.NativeRuntimeError`, with the
    node, stage, block index and code. Use as a context manager, or call ``close``: from any thread
    at any moment, it stops the stream, makes a ``read`` waiting on another thread raise
    :class:`amp.StreamStopped`, waits for it to return and frees the streamer.
    """

    def __init__(self, executor: NativeGraphExecutor, graph_handle, block_frames: int, lead_frames: int,
                 chunk_blocks: int, base_params, control_history_blob) -> None:
        self._binding = executor._binding
        ffi, api, types = self._binding.ffi, self._binding.api, self._binding.types
        self._life = None
        self.batch = executor.batch
        self.channels = executor.output_channels
        self.sample_rate = executor.sample_rate
        config = ffi.new(types["AmpStreamerConfig *"])
        config.block_frames = block_frames
        config.lead_frames = lead_frames
        config.chunk_blocks = chunk_blocks
        overrides, count, keep = executor._pack_overrides(base_params, 1)
        blob, blob_size = ffi.NULL, 0
        if control_history_blob is not None:
            blob = bytes(control_history_blob)
            blob_size = len(blob)
        error = ffi.new(types["AmpErrorInfo *"])
        handle = ffi.new(types["AmpStreamer **"])
        status = api.amp_streamer_create(graph_handle, config, overrides, count, blob, blob_size, handle, error)
        del keep
        if status != api.AMP_OK:
            raise error_from_native(self._binding.lib, status, error, ffi, context="starting the streamer")
        stopped = api.AMP_ERR_STOPPED
        closed = lambda: StreamStopped("this streamer is closed", code=stopped, stage="read")  # noqa: E731
        # a streamer makes only shared calls: nothing is ever busy
        self._life = HandleLifetime(self, handle[0], api.amp_streamer_destroy, api.amp_streamer_stop, closed, closed)
        self._double_array = types["double[]"]
        self._slots: list[_ReadSlot] = []
        info = self.info()
        self.block_frames = info["block_frames"]
        self.lead_frames = info["lead_frames"]

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._life is None or self._life.closed

    def _raise(self, handle, status: int, context: str):
        ffi, api = self._binding.ffi, self._binding.api
        error = ffi.new(self._binding.types["AmpErrorInfo *"])
        api.amp_streamer_last_error(handle, error)
        raise error_from_native(self._binding.lib, status, error, ffi, context=context)

    def read(self, frames: int, timeout: float | None = None) -> np.ndarray:
        """The next `frames` frames, float64 (B, C, frames).

        Waits for them; with a `timeout` in seconds, returns what arrived by then (possibly fewer).
        """
        if type(frames) is not int or not 0 <= frames <= _MAX_FRAMES:
            frames = _count("frames", frames, maximum=_MAX_FRAMES)
        deadline = None
        if timeout is not None:
            deadline = time.monotonic() + _seconds("timeout", timeout)
        # a short read goes into its slot's array; a long one into its own (output_array checks its size)
        out = None if self.batch * self.channels * frames <= _KEPT_SAMPLES else \
            output_array(self.batch, self.channels, frames, "a read")
        # Concurrent readers each take a slot of their own: its cells, and the array it reads into.
        try:
            slot = self._slots.pop()
        except IndexError:
            slot = _ReadSlot(self._binding)
        try:
            if out is None:
                if slot.frames != frames:
                    slot.keep(self._binding, self.batch, self.channels, frames)
                got = self._read_into(slot.out, slot.target, frames, deadline, slot)
                return slot.out[:, :, :got].copy()
            got = self._read_into(out, self._binding.ffi.from_buffer(self._double_array, out), frames, deadline, slot)
            return out[:, :, :got] if got < frames else out
        finally:
            self._slots.append(slot)

    def _read_into(self, out: np.ndarray, target, frames: int, deadline, slot: "_ReadSlot") -> int:
        # Reads up to `frames` frames into `out` (C-contiguous (B, C, frames), `target` its cdata);
        # returns how many arrived.
        ffi, api = self._binding.ffi, self._binding.api
        read_ex, frames_read, error = api.amp_streamer_read_ex, slot.frames_read, slot.error
        got = 0
        life = self._life
        handle = life.enter_shared()
        try:
            # Waits are cut into slices of at most 100 ms so that Ctrl-C reaches a reading thread.
            while got < frames:
                wait_ms = 100
                if deadline is not None:
                    wait_ms = int(max(min(deadline - time.monotonic(), 0.1), 0.0) * 1000)
                if got:
                    part = out[:, :, got:]
                    into = part if part.flags.c_contiguous else np.empty(part.shape)
                    status = read_ex(handle, ffi.from_buffer(self._double_array, into), into.size, frames - got,
                                     wait_ms, frames_read, error)
                    n = frames_read[0]
                    if into is not part:
                        part[:, :, :n] = into[:, :, :n]
                else:
                    status = read_ex(handle, target, out.size, frames, wait_ms, frames_read, error)
                    n = frames_read[0]
                got += n
                if status != api.AMP_OK:
                    raise error_from_native(self._binding.lib, status, error, ffi, context="read")
                if deadline is not None and time.monotonic() >= deadline:
                    break
            return got
        finally:
            # inline (see native_lifetime): Python raises a pending signal at a method's entry
            with life.lock:
                life.shared_calls -= 1
            if life.closing:
                life.settle()

    def set_control(self, control_history_blob: bytes | None) -> None:
        """New control events from the next rendered block on (None: none; bound parameters hold)."""
        ffi, api = self._binding.ffi, self._binding.api
        blob, size = ffi.NULL, 0
        if control_history_blob is not None:
            blob = bytes(control_history_blob)
            size = len(blob)
        self._life.call_shared(self._set_control, blob, size)

    def _set_control(self, handle, blob, size: int) -> None:
        api = self._binding.api
        status = api.amp_streamer_set_control(handle, blob, size)
        if status != api.AMP_OK:
            self._raise(handle, status, "set_control")

    def stop(self) -> None:
        """Stops rendering (idempotent). A reader waiting meanwhile gets :class:`amp.StreamStopped`."""
        if self.closed:
            return
        try:
            self._life.call_shared(self._binding.api.amp_streamer_stop)
        except StreamStopped:
            pass  # closed meanwhile, which stops it

    def info(self) -> dict:
        """The streamer's configuration and counters: block and lead frames, frames rendered and read, running,
        failed."""
        info = self._binding.ffi.new(self._binding.types["AmpStreamerInfo *"])
        self._life.call_shared(self._binding.api.amp_streamer_info, info)
        return {
            "block_frames": int(info.block_frames),
            "lead_frames": int(info.lead_frames),
            "chunk_blocks": int(info.chunk_blocks),
            "running": bool(info.running),
            "failed": bool(info.failed),
            "frames_rendered": int(info.frames_rendered),
            "frames_read": int(info.frames_read),
        }

    def close(self) -> None:
        """Stops and frees the streamer, from any thread at any moment (idempotent)."""
        if self._life is not None:
            self._life.close()

    def __enter__(self) -> "NativeStreamer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ReadSlot:
    """What one read uses besides its output: the native call's out-cells, and an array (with its
    cdata, made once) that reads of `frames` frames go into before they are copied out."""

    __slots__ = ("frames_read", "error", "frames", "out", "target")

    def __init__(self, binding) -> None:
        self.frames_read = binding.ffi.new(binding.types["int64_t *"])
        self.error = binding.ffi.new(binding.types["AmpErrorInfo *"])
        self.frames = -1
        self.out = self.target = None

    def keep(self, binding, batch: int, channels: int, frames: int) -> None:
        self.out = np.empty((batch, channels, frames))
        self.target = binding.ffi.from_buffer(binding.types["double[]"], self.out)
        self.frames = frames
