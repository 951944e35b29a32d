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
        ffi, api, types = self._binding.ffi, self._binding.api, self._binding.types
        frames = _count("frames", frames, maximum=(1 << 63) - 1)
        if timeout is not None:
            timeout = _seconds("timeout", timeout)
        out = output_array(self.batch, self.channels, frames, "a read")
        deadline = None if timeout is None else time.monotonic() + timeout
        got = 0
        frames_read = ffi.new(types["int64_t *"])
        error = ffi.new(types["AmpErrorInfo *"])
        with self._life.shared as handle:
            # Waits are cut into slices of at most 100 ms so that Ctrl-C reaches a reading thread.
            while got < frames:
                wait_ms = 100
                if deadline is not None:
                    wait_ms = int(max(min(deadline - time.monotonic(), 0.1), 0.0) * 1000)
                part = out[:, :, got:] if got else out
                target = part if part.flags.c_contiguous else np.empty(part.shape)
                status = api.amp_streamer_read_ex(handle, ffi.from_buffer(types["double[]"], target), target.size,
                                                  frames - got, wait_ms, frames_read, error)
                n = int(frames_read[0])
                if target is not part:
                    part[:, :, :n] = target[:, :, :n]
                got += n
                if status != api.AMP_OK:
                    raise error_from_native(self._binding.lib, status, error, ffi, context="read")
                if deadline is not None and time.monotonic() >= deadline:
                    break
        return out[:, :, :got] if got < frames else out

    def set_control(self, control_history_blob: bytes | None) -> None:
        """New control events from the next rendered block on (None: none; bound parameters hold)."""
        ffi, api = self._binding.ffi, self._binding.api
        blob, size = ffi.NULL, 0
        if control_history_blob is not None:
            blob = bytes(control_history_blob)
            size = len(blob)
        with self._life.shared as handle:
            status = api.amp_streamer_set_control(handle, blob, size)
            if status != api.AMP_OK:
                self._raise(handle, status, "set_control")

    def stop(self) -> None:
        """Stops rendering (idempotent). A reader waiting meanwhile gets :class:`amp.StreamStopped`."""
        if self.closed:
            return
        try:
            with self._life.shared as handle:
                self._binding.api.amp_streamer_stop(handle)
        except StreamStopped:
            pass  # closed meanwhile, which stops it

    def info(self) -> dict:
        """The streamer's configuration and counters: block and lead frames, frames rendered and read, running,
        failed."""
        info = self._binding.ffi.new(self._binding.types["AmpStreamerInfo *"])
        with self._life.shared as handle:
            self._binding.api.amp_streamer_info(handle, info)
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
