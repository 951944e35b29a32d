"""NativeGraphExecutor: a graph compiled once into libamp_native, rendered many times.

Lifetime and threads: every native handle belongs to one Python object and is freed by its
``close()`` or, when the object is dropped, by a ``weakref.finalize`` that calls only functions
bound when the library loaded (nothing that can run in a garbage collection takes cffi's lock).
Any method may be called from any thread. ``close()`` stops a render or read in progress on
another thread (that call raises :class:`amp.StreamStopped`), waits for it to return, then frees
the handle; a call that starts once ``close()`` has begun is refused with :class:`amp.GraphError`
(executor) or :class:`amp.StreamStopped` (streamer). Renders of one executor do not overlap: a
second ``render``/``run_block``/``reset`` while one runs is refused with :class:`amp.GraphError`.
"""

from __future__ import annotations

import json
import os
import weakref
from typing import Any, Mapping

import numpy as np

from . import _binding
from .checks import MAX_OUTPUT_SAMPLES, output_array
from .checks import count as _count
from .checks import rate as _rate
from .errors import GraphError, StreamStopped, error_from_native
from .native_lifetime import HandleLifetime
from .native_streamer import NativeStreamer

__all__ = ["NativeGraphExecutor", "NativeStreamer", "describe_blob", "infer_batch", "default_threads"]


def default_threads() -> int:
    """The worker threads an executor uses by default: the machine's cores."""
    return max(os.cpu_count() or 1, 1)


# A long render returns to Python this often (milliseconds of native work per call), so that
# signals (Ctrl-C) and close() from another thread get through.
RENDER_SLICE_MS = 50
# run_block outputs up to this many samples are rendered into a kept array and copied out
_SCRATCH_SAMPLES = 1 << 16
_BUSY = "this executor is busy: another thread is rendering or resetting it (one render at a time per executor)"


def _executor_busy() -> GraphError:
    return GraphError(_BUSY)


def _executor_closed() -> GraphError:
    return GraphError("this executor is closed")


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


def _shape_of(value, node: str, param: str) -> tuple:
    try:
        return np.shape(value)
    except (ValueError, TypeError) as exc:
        raise GraphError(f"base_params['{node}']['{param}'] is not an array of numbers: {exc}", node=node) from None


def _as_values(value, node: str, param: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as exc:
        raise GraphError(f"base_params['{node}']['{param}'] is not an array of numbers: {exc}", node=node) from None


def infer_batch(base_params, batch: int | None = None) -> int:
    """B for a render: `batch` if given, else the largest leading dimension among 3-D overrides."""
    if batch is not None:
        return _count("batch", batch, minimum=1, maximum=1 << 20)
    b = 1
    for node, param, value in _iter_base_params(base_params):
        shape = _shape_of(value, node, param)
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
        self._graph_ref = weakref.ref(graph)  # not the graph itself: the graph holds its executor
        self.batch = _count("batch", batch, minimum=1, maximum=1 << 20)
        self.sample_rate = _rate("sample_rate", sample_rate if sample_rate is not None else graph.sample_rate)
        self.max_block_frames = _count("max_block_frames", max_block_frames, minimum=1, maximum=1 << 24)
        self.threads = default_threads() if threads is None else _count("threads", threads, minimum=0, maximum=4096)
        channel_depth = _count("channel_depth", channel_depth, minimum=0, maximum=1 << 16)
        with graph._lock:
            self.plan = graph.compile(disabled_optimisations)
            names = graph.nodes
            descriptor = graph.serialize_node_descriptors()
            specs = [graph.spec(n) for n in names]
            sink = names.index(graph.sink)
        self._create(descriptor, self.plan.blob, names, specs, self.plan.channels, sink, channel_depth)

    @property
    def graph(self):
        """The AudioGraph this executor was compiled from (None for blobs, or once it is gone)."""
        ref = getattr(self, "_graph_ref", None)
        return ref() if ref is not None else None

    @classmethod
    def from_blobs(cls, descriptor_blob: bytes, plan_blob: bytes, *, batch: int = 1, sample_rate: float = 48000.0,
                   max_block_frames: int = 4096, threads: int | None = None,
                   channel_depth: int = 0) -> "NativeGraphExecutor":
        """An executor for blobs as they are (a dump, a replay): the native reader validates them."""
        from .catalogue import node_spec

        self = cls.__new__(cls)
        self._binding = _binding.load()
        self._graph_ref = None
        self.plan = None
        self.batch = _count("batch", batch, minimum=1, maximum=1 << 20)
        self.sample_rate = _rate("sample_rate", sample_rate)
        self.max_block_frames = _count("max_block_frames", max_block_frames, minimum=1, maximum=1 << 24)
        self.threads = default_threads() if threads is None else _count("threads", threads, minimum=0, maximum=4096)
        channel_depth = _count("channel_depth", channel_depth, minimum=0, maximum=1 << 16)
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
        ffi, api, types = self._binding.ffi, self._binding.api, self._binding.types
        self._life = None
        self.descriptor_blob = descriptor_blob
        self.plan_blob = plan_blob
        self._node_index = {name: i for i, name in enumerate(names)}
        self._specs = specs
        self._channels = channels
        self._streamers: list[NativeStreamer] = []
        config = ffi.new(types["AmpGraphConfig *"])
        config.batch = self.batch
        config.max_block_frames = self.max_block_frames
        config.threads = self.threads
        config.channel_depth = int(channel_depth)
        config.sample_rate = self.sample_rate
        config.disabled_optimisations = self.plan_disabled_bits()
        error = ffi.new(types["AmpErrorInfo *"])
        handle = ffi.new(types["AmpGraph **"])
        status = api.amp_graph_create(self.descriptor_blob, len(self.descriptor_blob), self.plan_blob,
                                      len(self.plan_blob), config, handle, error)
        if status != api.AMP_OK:
            raise error_from_native(self._binding.lib, status, error, ffi, context="compiling the graph")
        self._life = HandleLifetime(self, handle[0], api.amp_graph_destroy, api.amp_graph_cancel, _executor_closed,
                                    _executor_busy)
        self._no_overrides = ffi.NULL
        self._progress = ffi.new(types["int64_t *"])
        self._render_error = ffi.new(types["AmpErrorInfo *"])
        info = ffi.new(types["AmpGraphInfo *"])
        api.amp_graph_info(handle[0], info)
        self.output_channels = int(info.output_channels)
        # What every render call uses, looked up once. The construction checks above hold for the
        # executor's life, so a call re-checks only its own arguments.
        self._render_part = api.amp_graph_render_part
        self._from_buffer = ffi.from_buffer
        self._double_array = types["double[]"]
        self._null = ffi.NULL
        # frames a call may ask for before its output passes MAX_OUTPUT_SAMPLES (output_array's limit)
        self._fast_frames = MAX_OUTPUT_SAMPLES // (self.batch * self.output_channels)
        self._scratch = (-1, 0, None, None, False)

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

    @property
    def closed(self) -> bool:
        """True once close() has begun (or creation failed): every later call is refused."""
        life = getattr(self, "_life", None)
        return life is None or life.closed

    def close(self) -> None:
        """Frees the native graph, from any thread at any moment (idempotent). Its streamers close
        first; a render in progress on another thread is stopped (it raises
        :class:`amp.StreamStopped`) and waited for."""
        for streamer in list(getattr(self, "_streamers", ())):
            streamer.close()
        life = getattr(self, "_life", None)
        if life is not None:
            life.close()

    def native_call(self):
        """A context manager giving the native AmpGraph handle for a call made by hand (diagnostics):
        while it is open, close() waits rather than free the graph under it."""
        return self._life.shared

    def _check(self, handle, status: int, context: str) -> None:
        api, ffi = self._binding.api, self._binding.ffi
        if status != api.AMP_OK:
            error = ffi.new(self._binding.types["AmpErrorInfo *"])
            api.amp_graph_last_error(handle, error)
            raise error_from_native(self._binding.lib, status, error, ffi, context=context)

    # parameters -------------------------------------------------------------------------------
    def _pack_overrides(self, base_params, total_frames: int):
        """Checks each override's shape against (B, C, F) and hands numpy's memory to C as is."""
        ffi, types = self._binding.ffi, self._binding.types
        items = _iter_base_params(base_params)
        keep = []
        overrides = ffi.new(types["AmpParamOverride[]"], max(len(items), 1))
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
            array = _as_values(value, node, param)
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
            o.data = ffi.cast(types["const double *"], ffi.from_buffer(array))
            o.batch, o.channels, o.frames = array.shape
        return overrides, len(items), keep

    # rendering --------------------------------------------------------------------------------
    def render(self, total_frames: int, block_frames: int | None = None, base_params=None,
               control_history_blob: bytes | None = None, *, _progress=None) -> np.ndarray:
        """Renders `total_frames` in blocks of `block_frames`; returns float64 (B, C, F).

        The native work is cut into calls of about RENDER_SLICE_MS each, so that Ctrl-C and
        ``close()`` get through. A ``KeyboardInterrupt`` (or any exception) raised between them
        leaves the stream after the last frame rendered; the interrupt carries those frames as
        ``exc.audio`` (B, C, n) and their count as ``exc.frames_rendered``.
        """
        total_frames = _count("frames", total_frames, maximum=(1 << 63) - 1)
        if block_frames is None:
            block = min(max(total_frames, 1), self.max_block_frames)
        else:
            block = _count("block_frames", block_frames, minimum=1, maximum=self.max_block_frames)
        if base_params is None:
            overrides, count, keep = self._no_overrides, 0, None
        else:
            overrides, count, keep = self._pack_overrides(base_params, total_frames)
        out = output_array(self.batch, self.output_channels, total_frames)
        target = self._from_buffer(self._double_array, out)
        self._render_into(out, target, total_frames, block, overrides, count, control_history_blob, _progress, False)
        del keep
        return out

    def run_block(self, frames: int, sample_rate: float | None = None, base_params=None,
                  control_history_blob: bytes | None = None, *, _progress=None) -> np.ndarray:
        """Renders the next `frames` frames; returns float64 (B, C, frames)."""
        if type(frames) is int and 0 <= frames <= self._fast_frames and sample_rate is None and base_params is None:
            # The common call, checked as render() would check it: an int count whose output is
            # within the limit, no overrides to pack; blocks of min(frames, max_block_frames).
            scratch = self._scratch
            if scratch[0] != frames:
                scratch = self._scratch_for(frames)
            frames, block, out, target, kept = scratch
            return self._render_into(out, target, frames, block, self._null, 0, control_history_blob, _progress, kept)
        if sample_rate is not None and _rate("sample_rate", sample_rate) != self.sample_rate:
            raise GraphError(f"this executor was compiled for {self.sample_rate} Hz, not {sample_rate} Hz")
        # blocks of min(frames, max_block_frames), as render() chooses when not told
        return self.render(frames, None, base_params, control_history_blob, _progress=_progress)

    def _scratch_for(self, frames: int) -> tuple:
        # (frames, block, output, its cdata, kept) for a run_block of `frames`. A short block is
        # rendered into an array kept for the purpose and copied out (kept): a copy costs less than
        # handing a new array's buffer to cffi. A long one is rendered into its own array, returned
        # as is (the copy would not pay).
        block = min(max(frames, 1), self.max_block_frames)
        out = np.empty((self.batch, self.output_channels, frames))
        kept = out.size <= _SCRATCH_SAMPLES
        scratch = (frames, block, out, self._from_buffer(self._double_array, out), kept)
        if kept:
            self._scratch = scratch
        return scratch

    def _render_into(self, out: np.ndarray, target, frames: int, block: int, overrides, count: int,
                     control_history_blob, progress, copy_out: bool) -> np.ndarray:
        # The one render loop: `out` is C-contiguous float64 (B, C, frames), `target` its cdata, the
        # counts checked. Returns `out`, or with copy_out a copy of it taken before the turn passes.
        if control_history_blob is None:
            blob, blob_size = self._null, 0
        else:
            blob = control_history_blob if type(control_history_blob) is bytes else bytes(control_history_blob)
            blob_size = len(blob)
        if progress is None:
            progress = self._progress  # renders do not overlap, so they share it and the error
        error = self._render_error
        render_part = self._render_part
        life = self._life
        handle = life.enter_exclusive()
        try:
            progress[0] = 0
            # cffi releases the GIL for each call: other Python threads run while the network renders.
            while True:
                status = render_part(handle, frames, block, overrides, count, blob, blob_size, target, out.size,
                                     RENDER_SLICE_MS, progress, error)
                if status:
                    self._raise_render_error(status, frames, progress, error)
                if progress[0] >= frames:
                    return out.copy() if copy_out else out
        except KeyboardInterrupt as exc:
            done = int(progress[0])
            exc.frames_rendered = done
            exc.audio = out[:, :, :done].copy() if copy_out else out[:, :, :done]
            raise
        finally:
            # inline (see native_lifetime): Python raises a pending signal at a method's entry,
            # which would leave the turn taken for good
            life.busy = False
            if life.closing:
                life.settle()

    def _raise_render_error(self, status: int, frames: int, progress, error):
        api = self._binding.api
        if status == api.AMP_ERR_STOPPED and self._life.closed:
            raise StreamStopped(
                f"render: the executor was closed on another thread while this render ran; "
                f"{int(progress[0])} of {frames} frames were rendered",
                code=status, stage="render")
        raise error_from_native(self._binding.lib, status, error, self._binding.ffi, context="render")

    def reset(self) -> None:
        """Back to time zero with fresh node state."""
        self._life.call_exclusive(self._reset)

    def _reset(self, handle) -> None:
        self._check(handle, self._binding.api.amp_graph_reset(handle), "reset")

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
        block_frames = _count("block_frames", block_frames, minimum=1, maximum=self.max_block_frames)
        lead = 4 * block_frames if lead_frames is None else _count("lead_frames", lead_frames, minimum=1,
                                                                    maximum=1 << 26)
        chunk_blocks = _count("chunk_blocks", chunk_blocks, minimum=0, maximum=1 << 26)
        for node, param, value in _iter_base_params(base_params):
            shape = _shape_of(value, node, param)
            if len(shape) == 3 and shape[2] != 1:
                raise GraphError(
                    f"base_params['{node}']['{param}'] has {shape[2]} frames; a stream takes one value per row and "
                    "channel (shape (B, C, 1)); send changes over time as control events", node=node)
        return self._life.call_exclusive(self._start_streamer, block_frames, lead, chunk_blocks, base_params,
                                         control_history_blob)

    def _start_streamer(self, handle, *args) -> NativeStreamer:
        self._streamers = [s for s in self._streamers if not s.closed]
        streamer = NativeStreamer(self, handle, *args)
        self._streamers.append(streamer)
        return streamer

    def _graph_info(self):
        info = self._binding.ffi.new(self._binding.types["AmpGraphInfo *"])
        self._life.call_shared(self._binding.api.amp_graph_info, info)
        return info

    @property
    def frame_position(self) -> int:
        """Frames rendered since creation or the last reset."""
        return int(self._graph_info().frame_position)

    def info(self) -> dict:
        """What the native graph was built as (batch, channels, threads, nodes and processes), and how
        its blocks have been rendered so far: on the worker threads together, or alone."""
        info = self._graph_info()
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
