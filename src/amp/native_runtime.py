"""NativeGraphExecutor: a graph compiled once into libamp_native, rendered many times."""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

import numpy as np

from . import _binding
from .errors import GraphError, StreamStopped, error_from_native

__all__ = ["NativeGraphExecutor", "NativeStreamer", "describe_blob", "infer_batch", "default_threads"]


def default_threads() -> int:
    """The worker threads an executor uses by default: the machine's cores."""
    return max(os.cpu_count() or 1, 1)


def describe_blob(blob: bytes) -> dict:
    """Any amp blob (descriptor, plan or control) as the native reader sees it, as a dict.

    Raises :class:`amp.FormatError` naming what is wrong when the blob does not validate.
    """
    binding = _binding.load()
    ffi, lib = binding.ffi, binding.lib
    data = bytes(blob)
    error = ffi.new("AmpErrorInfo *")
    required = ffi.new("size_t *")
    status = lib.amp_native_describe_blob(data, len(data), ffi.NULL, 0, required, error)
    if status == lib.AMP_ERR_BUFFER_TOO_SMALL:
        buffer = ffi.new("char[]", required[0])
        status = lib.amp_native_describe_blob(data, len(data), buffer, required[0], required, error)
        if status == lib.AMP_OK:
            return json.loads(ffi.string(buffer).decode("utf-8"))
    raise error_from_native(lib, status, error, ffi, context="describe_blob")


def _iter_base_params(base_params) -> list[tuple[str, str, Any]]:
    if base_params is None:
        return []
    if not isinstance(base_params, Mapping):
        raise GraphError("base_params must be a mapping {node: {param: value}} or {'node.param': value}")
    items = []
    for key, value in base_params.items():
        if isinstance(value, Mapping):
            for param, v in value.items():
                items.append((str(key), str(param), v))
        elif isinstance(key, str) and "." in key:
            node, param = key.rsplit(".", 1)
            items.append((node, param, value))
        else:
            raise GraphError(f"base_params key {key!r}: use {{node: {{param: value}}}} or 'node.param'")
    return items


def infer_batch(base_params, batch: int | None = None) -> int:
    """B for a render: `batch` if given, else the largest leading dimension among 3-D overrides."""
    if batch is not None:
        if int(batch) < 1:
            raise GraphError(f"batch must be >= 1, got {batch}")
        return int(batch)
    b = 1
    for _node, _param, value in _iter_base_params(base_params):
        shape = np.shape(value)
        if len(shape) == 3 and shape[0] > 1:
            b = max(b, shape[0])
    return b


class NativeGraphExecutor:
    """Compiles an :class:`AudioGraph` once and renders it block after block.

    Use as a context manager (or call ``close``). The graph's node state persists across calls:
    consecutive ``run_block`` calls continue the same stream. Frame counts may change from call to
    call; a call longer than ``max_block_frames`` is rendered in blocks of ``max_block_frames``.
    """

    def __init__(self, graph, *, batch: int = 1, sample_rate: float | None = None, max_block_frames: int = 4096,
                 threads: int | None = None, channel_depth: int = 0, disabled_optimisations=None) -> None:
        self._binding = _binding.load()
        self.graph = graph
        self.batch = int(batch)
        self.sample_rate = float(sample_rate if sample_rate is not None else graph.sample_rate)
        self.max_block_frames = int(max_block_frames)
        self.threads = default_threads() if threads is None else int(threads)
        self.plan = graph.compile(disabled_optimisations)
        names = graph.nodes
        self._create(graph.serialize_node_descriptors(), self.plan.blob, names, [graph.spec(n) for n in names],
                     self.plan.channels, names.index(graph.sink), channel_depth)

    @classmethod
    def from_blobs(cls, descriptor_blob: bytes, plan_blob: bytes, *, batch: int = 1, sample_rate: float = 48000.0,
                   max_block_frames: int = 4096, threads: int | None = None,
                   channel_depth: int = 0) -> "NativeGraphExecutor":
        """An executor for blobs as they are (a dump, a replay): the native reader validates them."""
        from .catalogue import node_spec

        self = cls.__new__(cls)
        self._binding = _binding.load()
        self.graph = None
        self.plan = None
        self.batch = int(batch)
        self.sample_rate = float(sample_rate)
        self.max_block_frames = int(max_block_frames)
        self.threads = default_threads() if threads is None else int(threads)
        descriptor = describe_blob(descriptor_blob)
        plan = describe_blob(plan_blob)
        names = [n["name"] for n in descriptor["nodes"]]
        specs = [node_spec(n["type"], n["name"]) for n in descriptor["nodes"]]
        channels = [1] * len(names)
        for value in plan["values"]:
            if 0 <= value["node"] < len(names):
                channels[value["node"]] = value["channels"]
        self._create(bytes(descriptor_blob), bytes(plan_blob), names, specs, channels,
                     names.index(descriptor["sink"]), channel_depth)
        return self

    def _create(self, descriptor_blob: bytes, plan_blob: bytes, names, specs, channels, sink: int,
                channel_depth: int) -> None:
        ffi, lib = self._binding.ffi, self._binding.lib
        self._handle = None
        self.descriptor_blob = descriptor_blob
        self.plan_blob = plan_blob
        self._node_index = {name: i for i, name in enumerate(names)}
        self._specs = specs
        self._channels = channels
        config = ffi.new("AmpGraphConfig *")
        config.batch = self.batch
        config.max_block_frames = self.max_block_frames
        config.threads = self.threads
        config.channel_depth = int(channel_depth)
        config.sample_rate = self.sample_rate
        config.disabled_optimisations = self.plan_disabled_bits()
        error = ffi.new("AmpErrorInfo *")
        handle = ffi.new("AmpGraph **")
        status = lib.amp_graph_create(self.descriptor_blob, len(self.descriptor_blob), self.plan_blob,
                                      len(self.plan_blob), config, handle, error)
        if status != lib.AMP_OK:
            raise error_from_native(lib, status, error, ffi, context="compiling the graph")
        self._handle = handle[0]
        self._error = ffi.new("AmpErrorInfo *")
        self._no_overrides = ffi.NULL
        self._streamers: list[NativeStreamer] = []
        info = ffi.new("AmpGraphInfo *")
        lib.amp_graph_info(self._handle, info)
        self.output_channels = int(info.output_channels)

    def plan_disabled_bits(self) -> int:
        """The AMP_OPT_* bits of the optimisations switched off for this executor."""
        from .blobs import OPTIMISATIONS

        if getattr(self, "plan", None) is None:
            return 0  # blobs as given: the plan's own OPTIONS section says what it applied
        return sum(OPTIMISATIONS.values()) & ~self.plan.optimisations

    # context management -----------------------------------------------------------------------
    def __enter__(self) -> "NativeGraphExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stops its streamers and frees the native graph (idempotent); later calls raise GraphError."""
        for streamer in getattr(self, "_streamers", ()):
            streamer.close()
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None:
            self._binding.lib.amp_graph_destroy(handle)

    def __del__(self) -> None:  # pragma: no cover
        try:
            self.close()
        except Exception:
            pass

    def _check(self, status: int, context: str) -> None:
        lib, ffi = self._binding.lib, self._binding.ffi
        if status != lib.AMP_OK:
            lib.amp_graph_last_error(self._handle, self._error)
            raise error_from_native(lib, status, self._error, ffi, context=context)

    def _live(self):
        if self._handle is None:
            raise GraphError("this executor is closed")
        return self._handle

    # parameters -------------------------------------------------------------------------------
    def _pack_overrides(self, base_params, total_frames: int):
        """Checks each override's shape against (B, C, F) and hands numpy's memory to C as is."""
        ffi = self._binding.ffi
        items = _iter_base_params(base_params)
        keep = []
        overrides = ffi.new("AmpParamOverride[]", max(len(items), 1))
        for k, (node, param, value) in enumerate(items):
            if node not in self._node_index:
                raise GraphError(f"base_params names unknown node '{node}'; nodes: {', '.join(self._node_index)}",
                                 node=node)
            n = self._node_index[node]
            spec = self._specs[n]
            pspec = spec.param(param, node)
            if pspec.static:
                raise GraphError(f"parameter '{param}' of node '{node}' is fixed at creation; set it on the graph",
                                 node=node)
            channels = self._channels[n]
            expected = (self.batch, channels, total_frames)
            array = np.asarray(value, dtype=np.float64)
            if array.ndim == 0:
                array = array.reshape(1, 1, 1)
            if array.ndim != 3 or any(d not in (1, e) for d, e in zip(array.shape, expected)):
                raise GraphError(
                    f"base_params['{node}']['{param}'] has shape {np.shape(value)}; expected a scalar or an array "
                    f"of shape {expected} (B, C, F), where any dimension may be 1 to broadcast",
                    node=node,
                )
            array = np.ascontiguousarray(array)
            keep.append(array)
            o = overrides[k]
            o.node = n
            o.param = spec.param_index(param, node)
            o.data = ffi.cast("const double *", ffi.from_buffer(array))
            o.batch, o.channels, o.frames = array.shape
        return overrides, len(items), keep

    # rendering --------------------------------------------------------------------------------
    def render(self, total_frames: int, block_frames: int | None = None, base_params=None,
               control_history_blob: bytes | None = None) -> np.ndarray:
        """Renders `total_frames` in blocks of `block_frames` in one native call; returns (B, C, F)."""
        handle = self._live()
        ffi, lib = self._binding.ffi, self._binding.lib
        total_frames = int(total_frames)
        if total_frames < 0:
            raise GraphError(f"frames must be >= 0, got {total_frames}")
        block = int(block_frames) if block_frames is not None else min(max(total_frames, 1), self.max_block_frames)
        if not 1 <= block <= self.max_block_frames:
            raise GraphError(f"block_frames must be in [1, {self.max_block_frames}], got {block}")
        if base_params is None:
            overrides, count, keep = self._no_overrides, 0, None
        else:
            overrides, count, keep = self._pack_overrides(base_params, total_frames)
        out = np.empty((self.batch, self.output_channels, total_frames), dtype=np.float64)
        blob = ffi.NULL
        blob_size = 0
        if control_history_blob is not None:
            control_history_blob = bytes(control_history_blob)
            blob, blob_size = control_history_blob, len(control_history_blob)
        # cffi releases the GIL for the call: other Python threads run while the network renders.
        status = lib.amp_graph_render(handle, total_frames, block, overrides, count, blob, blob_size,
                                      ffi.from_buffer("double[]", out), out.size)
        del keep
        if status:
            self._check(status, "render")
        return out

    def run_block(self, frames: int, sample_rate: float | None = None, base_params=None,
                  control_history_blob: bytes | None = None) -> np.ndarray:
        """Renders the next `frames` frames; returns float64 (B, C, frames)."""
        if sample_rate is not None and float(sample_rate) != self.sample_rate:
            raise GraphError(f"this executor was compiled for {self.sample_rate} Hz, not {sample_rate} Hz")
        return self.render(frames, min(max(int(frames), 1), self.max_block_frames), base_params, control_history_blob)

    def reset(self) -> None:
        """Back to time zero with fresh node state."""
        self._check(self._binding.lib.amp_graph_reset(self._live()), "reset")

    # streaming --------------------------------------------------------------------------------
    def create_streamer(self, *, block_frames: int = 256, lead_frames: int | None = None, chunk_blocks: int = 0,
                        base_params=None, control_history_blob: bytes | None = None) -> "NativeStreamer":
        """Starts rendering this graph ahead of its reader, on a thread of its own.

        The stream continues the executor's timeline, and control events sit on that timeline (an
        event at t seconds acts at sample round(t * sample_rate)). ``lead_frames`` (default: four
        blocks) bounds how far ahead it renders, ``chunk_blocks`` how many blocks one network run
        renders (0: a quarter of the ring, at most 4096 frames); ``base_params`` hold one value per
        row and channel (shape (B, C, 1) or anything that broadcasts to it), since a stream has no
        end. While the streamer runs it holds the graph: ``render``, ``run_block`` and ``reset``
        are refused until ``stop()``, after which the timeline stands where rendering stopped (up to
        the lead beyond what was read).
        """
        handle = self._live()
        block_frames = int(block_frames)
        if not 1 <= block_frames <= self.max_block_frames:
            raise GraphError(f"block_frames must be in [1, {self.max_block_frames}], got {block_frames}")
        lead = 4 * block_frames if lead_frames is None else int(lead_frames)
        if not 1 <= lead <= 1 << 26:
            raise GraphError(f"lead_frames must be in [1, {1 << 26}], got {lead}")
        if int(chunk_blocks) < 0:
            raise GraphError(f"chunk_blocks must be >= 0, got {chunk_blocks}")
        for node, param, value in _iter_base_params(base_params):
            shape = np.shape(value)
            if len(shape) == 3 and shape[2] != 1:
                raise GraphError(
                    f"base_params['{node}']['{param}'] has {shape[2]} frames; a stream takes one value per row and "
                    "channel (shape (B, C, 1)); send changes over time as control events", node=node)
        self._streamers = [s for s in self._streamers if not s.closed]
        streamer = NativeStreamer(self, handle, block_frames, lead, int(chunk_blocks), base_params,
                                  control_history_blob)
        self._streamers.append(streamer)
        return streamer

    @property
    def frame_position(self) -> int:
        """Frames rendered since creation or the last reset."""
        info = self._binding.ffi.new("AmpGraphInfo *")
        self._binding.lib.amp_graph_info(self._live(), info)
        return int(info.frame_position)

    def info(self) -> dict:
        """What the native graph was built as (batch, channels, threads, nodes and processes), and how
        its blocks have been rendered so far: on the worker threads together, or alone."""
        info = self._binding.ffi.new("AmpGraphInfo *")
        self._binding.lib.amp_graph_info(self._live(), info)
        return {
            "batch": int(info.batch),
            "output_channels": int(info.output_channels),
            "max_block_frames": int(info.max_block_frames),
            "threads": int(info.threads),
            "node_count": int(info.node_count),
            "process_count": int(info.process_count),
            "sample_rate": float(info.sample_rate),
            "frame_position": int(info.frame_position),
            "blocks_on_threads": int(info.blocks_on_threads),
            "blocks_alone": int(info.blocks_alone),
        }


class NativeStreamer:
    """A graph rendering ahead of its reader into a bounded ring (see ``create_streamer``).

    ``read(frames)`` returns the next frames as float64 (B, C, frames); ``set_control(blob)`` hands
    the running stream new control events; ``stop()`` returns promptly from any state. A failure
    inside the network is raised by the next ``read`` as :class:`amp.NativeRuntimeError`, with the
    node, stage, block index and code. Use as a context manager, or call ``close``.
    """

    def __init__(self, executor: NativeGraphExecutor, graph_handle, block_frames: int, lead_frames: int,
                 chunk_blocks: int, base_params, control_history_blob) -> None:
        self._binding = executor._binding
        ffi, lib = self._binding.ffi, self._binding.lib
        self._handle = None
        self.batch = executor.batch
        self.channels = executor.output_channels
        self.sample_rate = executor.sample_rate
        config = ffi.new("AmpStreamerConfig *")
        config.block_frames = block_frames
        config.lead_frames = lead_frames
        config.chunk_blocks = chunk_blocks
        overrides, count, keep = executor._pack_overrides(base_params, 1)
        blob, blob_size = ffi.NULL, 0
        if control_history_blob is not None:
            blob = bytes(control_history_blob)
            blob_size = len(blob)
        error = ffi.new("AmpErrorInfo *")
        handle = ffi.new("AmpStreamer **")
        status = lib.amp_streamer_create(graph_handle, config, overrides, count, blob, blob_size, handle, error)
        del keep
        if status != lib.AMP_OK:
            raise error_from_native(lib, status, error, ffi, context="starting the streamer")
        self._handle = handle[0]
        self._error = ffi.new("AmpErrorInfo *")
        self._frames_read = ffi.new("int64_t *")
        info = self.info()
        self.block_frames = info["block_frames"]
        self.lead_frames = info["lead_frames"]

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._handle is None

    def _live(self):
        if self._handle is None:
            raise StreamStopped("this streamer is closed", code=self._binding.lib.AMP_ERR_STOPPED, stage="read")
        return self._handle

    def _raise(self, status: int, context: str):
        lib, ffi = self._binding.lib, self._binding.ffi
        lib.amp_streamer_last_error(self._handle, self._error)
        raise error_from_native(lib, status, self._error, ffi, context=context)

    def read(self, frames: int, timeout: float | None = None) -> np.ndarray:
        """The next `frames` frames, float64 (B, C, frames).

        Waits for them; with a `timeout` in seconds, returns what arrived by then (possibly fewer).
        """
        handle = self._live()
        lib, ffi = self._binding.lib, self._binding.ffi
        frames = int(frames)
        if frames < 0:
            raise GraphError(f"frames must be >= 0, got {frames}")
        out = np.empty((self.batch, self.channels, frames), dtype=np.float64)
        import time

        deadline = None if timeout is None else time.monotonic() + max(float(timeout), 0.0)
        got = 0
        # Waits are cut into slices of at most 100 ms so that Ctrl-C reaches a reading thread.
        while got < frames:
            wait_ms = 100
            if deadline is not None:
                wait_ms = int(max(min(deadline - time.monotonic(), 0.1), 0.0) * 1000)
            part = out[:, :, got:] if got else out
            target = part if part.flags.c_contiguous else np.empty(part.shape)
            status = lib.amp_streamer_read(handle, ffi.from_buffer("double[]", target), target.size, frames - got,
                                           wait_ms, self._frames_read)
            n = int(self._frames_read[0])
            if target is not part:
                part[:, :, :n] = target[:, :, :n]
            got += n
            if status != lib.AMP_OK:
                self._raise(status, "read")
            if deadline is not None and time.monotonic() >= deadline:
                break
        return out[:, :, :got] if got < frames else out

    def set_control(self, control_history_blob: bytes | None) -> None:
        """New control events from the next rendered block on (None: none; bound parameters hold)."""
        handle = self._live()
        lib, ffi = self._binding.lib, self._binding.ffi
        blob, size = ffi.NULL, 0
        if control_history_blob is not None:
            blob = bytes(control_history_blob)
            size = len(blob)
        status = lib.amp_streamer_set_control(handle, blob, size)
        if status != lib.AMP_OK:
            self._raise(status, "set_control")

    def stop(self) -> None:
        """Stops rendering (idempotent). A reader waiting meanwhile gets :class:`amp.StreamStopped`."""
        if self._handle is not None:
            self._binding.lib.amp_streamer_stop(self._handle)

    def info(self) -> dict:
        """The streamer's configuration and counters: block and lead frames, frames rendered and read, running,
        failed."""
        info = self._binding.ffi.new("AmpStreamerInfo *")
        self._binding.lib.amp_streamer_info(self._live(), info)
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
        """Stops the stream and frees it (idempotent); a later read raises StreamStopped."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._binding.lib.amp_streamer_destroy(handle)

    def __enter__(self) -> "NativeStreamer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover
        try:
            self.close()
        except Exception:
            pass
