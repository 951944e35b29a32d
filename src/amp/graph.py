"""AudioGraph: a description of a patch. It computes nothing; the native runtime renders it."""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from . import catalogue as _catalogue
from .blobs import (
    DescriptorBinding,
    DescriptorEdge,
    DescriptorModulation,
    DescriptorNode,
    write_descriptor_blob,
)
from .checks import count as _count
from .checks import number as _number
from .checks import rate as _rate
from .control import ControlDelay
from .errors import GraphError
from .native_runtime import infer_batch
from .plan import CompiledPlan, GraphTopology, compile_plan, parse_optimisations

__all__ = ["AudioGraph"]


@dataclass
class _Node:
    name: str
    type: str
    params: dict[str, float]
    data: bytes | None = None


@dataclass
class _Modulation:
    source: str
    output: int
    target: str
    param: str
    scale: float
    mode: str
    channel: int | None


@dataclass
class _Edge:
    source: str
    output: int
    target: str
    input: int



def _edit(method):
    # Edits take the graph's lock, so that a render_block on another thread compiles a whole graph.
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


def render_block_capacity(frames: int) -> int:
    """The block capacity of the executor render_block builds for calls of `frames` frames: a longer
    call is rendered in several blocks of it, so the state survives."""
    return max(4096, min(int(frames), 65536))

class AudioGraph:
    """A graph of native DSP nodes.

    Build it by catalogue type (``add_node``), wire audio (``connect``), modulate parameters
    (``modulate``), bind parameters to control keys (``bind_control``) and name the sink
    (``set_sink``). ``render_block`` renders through the native runtime and returns float64
    ``(B, C, F)``: batches, channels, frames.
    """

    def __init__(self, sample_rate: float = 48000.0, control_delay: ControlDelay | None = None) -> None:
        self.sample_rate = _rate("sample_rate", sample_rate)
        self._lock = threading.RLock()
        self._rendering = False
        self.control_delay = control_delay if control_delay is not None else ControlDelay()
        self._nodes: dict[str, _Node] = {}
        self._edges: list[_Edge] = []
        self._single_inputs: set[tuple[str, int]] = set()  # (node, input) of connected one-connection inputs
        self._modulations: list[_Modulation] = []
        self._bindings: dict[tuple[str, str], str] = {}
        self._sink: str | None = None
        self._sink_explicit = False
        self._version = 0
        self._executor = None
        self._executor_key = None
        self._frame_position = 0

    # ----- building -------------------------------------------------------------------------
    def _changed(self) -> None:
        self._version += 1

    def _node(self, name: str) -> _Node:
        if name not in self._nodes:
            raise GraphError(f"no node named '{name}'; nodes: {', '.join(self._nodes) or 'none'}", node=name)
        return self._nodes[name]

    def spec(self, name: str) -> _catalogue.NodeSpec:
        """The catalogue spec of node `name`'s type."""
        return _catalogue.node_spec(self._node(name).type, name)

    @_edit
    def add_node(self, name: str, type: str, params: Mapping[str, Any] | None = None, *, data: bytes | None = None,
                 **kwargs: Any) -> str:
        """Adds a node of catalogue `type`; parameters are checked against the catalogue."""
        if not isinstance(name, str) or not 1 <= len(name.encode("utf-8")) <= 63 or any(ord(ch) < 32 for ch in name):
            raise GraphError(f"node name {name!r} must be 1 to 63 bytes of printable UTF-8")
        if name in self._nodes:
            raise GraphError(f"a node named '{name}' already exists", node=name)
        spec = _catalogue.node_spec(type, name)
        values: dict[str, float] = {}
        for key, value in {**dict(params or {}), **kwargs}.items():
            values[key] = spec.param(key, name).coerce(name, value)
        self._nodes[name] = _Node(name, type, values, bytes(data) if data is not None else None)
        if not self._sink_explicit:
            self._sink = name  # until set_sink is called, the sink is the node added last
        self._changed()
        return name

    @_edit
    def set_param(self, node: str, param: str, value: Any) -> None:
        """Sets `node.param` to `value` (a number, or a choice name), checked against the catalogue."""
        spec = self.spec(node)
        self._node(node).params[param] = spec.param(param, node).coerce(node, value)
        self._changed()

    def param(self, node: str, param: str) -> float:
        """The value of `node.param`: the one set, else the catalogue default."""
        spec = self.spec(node)
        return self._node(node).params.get(param, spec.param(param, node).default)

    @_edit
    def connect(self, source: str, target: str, *, output: str | int = 0, input: str | int = 0) -> None:
        """Feeds `output` of `source` into `input` of `target`."""
        source_spec = self.spec(source)
        target_spec = self.spec(target)
        out_index = source_spec.output_index(output, source)
        in_index = target_spec.input_index(input, target)
        port = target_spec.inputs[in_index]
        if not port.multi and (target, in_index) in self._single_inputs:
            raise GraphError(f"input '{port.name}' of node '{target}' is already connected", node=target)
        if not port.multi:
            self._single_inputs.add((target, in_index))
        self._edges.append(_Edge(source, out_index, target, in_index))
        self._changed()

    @_edit
    def modulate(self, source: str, target: str, param: str, scale: float = 1.0, mode: str = "add",
                 channel: int | None = None, *, output: str | int = 0) -> None:
        """Adds (``mode="add"``) or multiplies (``mode="mul"``) `source` × `scale` into `target.param`.

        ``channel`` picks one channel of a multichannel source; with None, a mono source feeds every
        channel and a source as wide as the target feeds channel for channel.
        """
        spec = self.spec(target)
        pspec = spec.param(param, target)
        if pspec.static:
            raise GraphError(f"parameter '{param}' of node '{target}' is fixed at creation and cannot be modulated",
                             node=target)
        if mode not in ("add", "mul"):
            raise GraphError(f"modulation mode must be 'add' or 'mul', got {mode!r}", node=target)
        try:
            scale = _number("modulation scale", scale)
        except GraphError as exc:
            raise GraphError(exc.message, node=target) from None
        if channel is not None and (not isinstance(channel, (int, np.integer)) or channel < 0):
            raise GraphError(f"modulation channel must be None or a non-negative int, got {channel!r}", node=target)
        out_index = self.spec(source).output_index(output, source)
        self._modulations.append(_Modulation(source, out_index, target, param, scale, mode,
                                             None if channel is None else int(channel)))
        self._changed()

    @_edit
    def bind_control(self, node: str, param: str, key: str) -> None:
        """Makes `node.param` follow control key `key` (its descriptor value until the first event)."""
        pspec = self.spec(node).param(param, node)
        if pspec.static:
            raise GraphError(f"parameter '{param}' of node '{node}' is fixed at creation and cannot follow a control",
                             node=node)
        if not isinstance(key, str) or not 1 <= len(key.encode()) <= 63:
            raise GraphError(f"control key {key!r} must be a name of 1 to 63 bytes", node=node)
        self._bindings[(node, param)] = key
        self._changed()

    @_edit
    def set_sink(self, node: str) -> None:
        """Makes `node` the graph's output (by default, the node added last)."""
        self._node(node)
        self._sink = node
        self._sink_explicit = True
        self._changed()

    @property
    def sink(self) -> str | None:
        """The name of the output node, or None for an empty graph."""
        return self._sink

    @property
    def nodes(self) -> list[str]:
        """The node names, in the order they were added."""
        return list(self._nodes)

    def node_type(self, name: str) -> str:
        """The catalogue type of node `name`."""
        return self._node(name).type

    # ----- compiling ------------------------------------------------------------------------
    def _topology(self) -> GraphTopology:
        if not self._nodes:
            raise GraphError("the graph has no nodes")
        names = list(self._nodes)
        index = {name: i for i, name in enumerate(names)}
        types = _catalogue.catalogue()  # once, not per node: a graph may have 100,000
        specs = [types[self._nodes[n].type] for n in names]
        defaults = {t: {p.name: p.default for p in spec.params} for t, spec in types.items()}
        params = []
        for name, spec in zip(names, specs):
            values = dict(defaults[spec.type])
            values.update(self._nodes[name].params)
            params.append(values)
        return GraphTopology(
            names=names,
            specs=specs,
            params=params,
            edges=[(index[e.source], e.output, index[e.target], e.input) for e in self._edges],
            modulations=[
                (index[m.source], m.output, -1 if m.channel is None else m.channel, index[m.target], m.param, m.mode,
                 m.scale)
                for m in self._modulations
            ],
            sink=index[self._sink],
        )

    def serialize_node_descriptors(self) -> bytes:
        """The descriptor blob (docs/formats.md): nodes, parameters, wiring, control bindings, sink."""
        names = list(self._nodes)
        if not names:
            raise GraphError("the graph has no nodes")
        index = {name: i for i, name in enumerate(names)}
        nodes = [DescriptorNode(n.name, n.type, sorted(n.params.items()), n.data) for n in self._nodes.values()]
        edges = [DescriptorEdge(index[e.source], e.output, index[e.target], e.input) for e in self._edges]
        mods = [
            DescriptorModulation(index[m.source], m.output, -1 if m.channel is None else m.channel, index[m.target],
                                 m.param, m.mode, m.scale)
            for m in self._modulations
        ]
        bindings = [DescriptorBinding(index[node], param, key) for (node, param), key in self._bindings.items()]
        return write_descriptor_blob(nodes, edges, mods, bindings, index[self._sink])

    def compile(self, disabled_optimisations=None) -> CompiledPlan:
        """The compiled plan. `disabled_optimisations`: names to switch off (default: AMP_DISABLE_OPTIMISATIONS)."""
        if disabled_optimisations is None:
            disabled_optimisations = os.environ.get("AMP_DISABLE_OPTIMISATIONS", "").split(",")
        bits = disabled_optimisations if isinstance(disabled_optimisations, int) else parse_optimisations(
            disabled_optimisations)
        return compile_plan(self._topology(), bits)

    def serialize_compiled_plan(self, disabled_optimisations=None) -> bytes:
        """The plan blob (docs/formats.md): order, buffers, fused chains, route order."""
        return self.compile(disabled_optimisations).blob

    def output_channels(self) -> int:
        """How many channels the sink produces (the plan's channel inference)."""
        plan = self.compile()
        return plan.channels[list(self._nodes).index(self._sink)]

    # ----- control --------------------------------------------------------------------------
    def record_control_event(self, timestamp: float, pitch=None, envelope=None, trigger=None, gate=None,
                             velocity=None, extras=None) -> None:
        """Records a control event in this graph's control_delay (see ControlDelay)."""
        try:
            self.control_delay.record_control_event(timestamp, pitch=pitch, envelope=envelope, trigger=trigger,
                                                    gate=gate, velocity=velocity, extras=extras)
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, GraphError):
                raise
            raise GraphError(f"control event at {timestamp!r}: {exc}") from None

    def sample_control_tensor(self, t0: float, frames: int, sample_rate: float | None = None,
                              keys: list[str] | None = None) -> np.ndarray:
        """The per-sample curves the runtime derives from the control history, shape (K, frames).

        Rendered natively (one ``constant`` node bound to each key), so it is exactly what a bound
        parameter sees, except before a key's first event: there the tensor holds 0, where a bound
        parameter holds its own value.
        """
        sr = self.sample_rate if sample_rate is None else _rate("sample_rate", sample_rate)
        frames = _count("frames", frames, maximum=1 << 26)
        keys = list(keys) if keys is not None else self.control_delay.keys
        out = np.zeros((len(keys), frames))
        blob = self.control_delay.export_control_history_blob(t0, t0 + frames / sr)
        from .native_runtime import NativeGraphExecutor

        for k, key in enumerate(keys):
            probe = AudioGraph(sr)
            probe.add_node("control", "constant")
            probe.bind_control("control", "value", key)
            with NativeGraphExecutor(probe, sample_rate=sr, max_block_frames=min(max(int(frames), 1), 65536)) as ex:
                out[k] = ex.render(int(frames), min(max(int(frames), 1), 65536), control_history_blob=blob)[0, 0]
        return out

    # ----- rendering ------------------------------------------------------------------------
    def _executor_for(self, sample_rate: float, batch: int, frames: int):
        key = (self._version, float(sample_rate), int(batch))
        if self._executor is not None and self._executor_key == key:
            return self._executor
        return self.attach_executor(sample_rate, batch, frames)

    def attach_executor(self, sample_rate: float, batch: int = 1, frames: int = 4096, threads: int | None = None):
        """Builds anew the executor that render_block uses for this sample rate and batch (with
        `threads` worker threads; default: the machine's cores), closing the one before, and returns
        it: the diagnostics time its nodes while render_block drives it. The next render_block with
        the same sample rate and batch, and no change to the graph in between, uses it."""
        from .native_runtime import NativeGraphExecutor

        with self._lock:
            if self._executor is not None:
                self._executor.close()
                self._executor = None
            self._executor = NativeGraphExecutor(self, batch=batch, sample_rate=sample_rate,
                                                 max_block_frames=render_block_capacity(frames), threads=threads)
            self._executor_key = (self._version, float(sample_rate), int(batch))
            return self._executor

    @property
    def executor(self):
        """The executor render_block last used or attach_executor built, or None."""
        return self._executor

    @property
    def frame_position(self) -> int:
        """Where the stream stands: frames rendered by render_block since the start or reset()."""
        return self._frame_position

    def render_block(self, frames: int, sample_rate: float | None = None, base_params=None, *,
                     batch: int | None = None) -> np.ndarray:
        """Renders the next `frames` frames; returns float64 (B, C, frames).

        The graph keeps its state (oscillator phases, filter memories) from call to call; the
        control history window for the block is exported and applied sample-accurately. One stream
        has one shape: `sample_rate` (when given) must be the graph's, and the batch B chosen by
        the first call after creation or ``reset()`` holds until the next ``reset()``; a call that
        would change it raises GraphError. Calls from several threads do not overlap: one made while
        another renders raises GraphError.
        """
        frames = _count("frames", frames, maximum=(1 << 63) - 1)
        if sample_rate is not None and _rate("sample_rate", sample_rate) != self.sample_rate:
            raise GraphError(
                f"render_block at {float(sample_rate)} Hz: this graph renders at {self.sample_rate} Hz "
                f"(AudioGraph(sample_rate=...)); build a graph at the rate you want instead")
        sr = self.sample_rate
        b = infer_batch(base_params, batch)
        # A Ctrl-C may be raised wherever a call into C returns: once this call has claimed the
        # graph (`claimed`), the finally gives it back before anything that could be interrupted.
        claimed = False
        try:
            with self._lock:
                if self._rendering:
                    raise GraphError("another thread is rendering this graph (render_block calls do not overlap)")
                if self._frame_position > 0 and self._executor is not None and self._executor.batch != b:
                    raise GraphError(
                        f"render_block with batch B={b}: this stream has B={self._executor.batch} since its start, and "
                        f"is {self._frame_position} frames in; a stream keeps its batch. Call reset() to start a new "
                        "stream (from frame 0, with fresh state) with another batch")
                executor = self._executor_for(sr, b, frames)
                t0 = self._frame_position / sr
                blob = None
                if self._bindings:
                    blob = self.control_delay.export_control_history_blob(t0, t0 + frames / sr)
                    from . import diagnostics

                    if diagnostics.logging_enabled():
                        _write_last_control_blob(blob)
                progress = executor._binding.ffi.new(executor._binding.types["int64_t *"])
                self._rendering = claimed = True
            return executor.run_block(frames, None, base_params, control_history_blob=blob, _progress=progress)
        finally:
            if claimed:
                with self._lock:
                    self._rendering = False
                    self._frame_position += progress[0]  # what was rendered, even when interrupted
                    self.control_delay.stream_reached(self._frame_position / sr)  # bounds the history kept

    def reset(self) -> None:
        """Back to time zero with fresh node state: a new stream, which may have another batch."""
        with self._lock:
            if self._rendering:
                raise GraphError("another thread is rendering this graph; reset it when that render returns")
            self._frame_position = 0
            if self._executor is not None:
                self._executor.reset()

    def close(self) -> None:
        """Frees the native executor (from any thread; a render in progress raises StreamStopped).
        The graph stays usable: the next render_block builds a new one, which starts a new stream."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()
        with self._lock:
            self._frame_position = 0

    def __enter__(self) -> "AudioGraph":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- patch files ----------------------------------------------------------------------
    def to_config(self) -> dict:
        """The graph as a plain dict (the JSON/TOML patch format)."""
        config: dict[str, Any] = {
            "sample_rate": self.sample_rate,
            "nodes": [{"name": n.name, "type": n.type, "params": dict(n.params)} for n in self._nodes.values()],
            "connections": [
                {"source": e.source, "output": self.spec(e.source).outputs[e.output].name, "target": e.target,
                 "input": self.spec(e.target).inputs[e.input].name}
                for e in self._edges
            ],
            "modulations": [
                {"source": m.source, "output": self.spec(m.source).outputs[m.output].name, "target": m.target,
                 "param": m.param, "scale": m.scale, "mode": m.mode, "channel": m.channel}
                for m in self._modulations
            ],
            "controls": [{"node": n, "param": p, "key": k} for (n, p), k in self._bindings.items()],
            "sink": self._sink,
        }
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | os.PathLike) -> "AudioGraph":
        """Builds a graph from a dict, or a .json / .toml patch file (docs/patches.md).

        The patch is checked against the JSON Schema of ``amp.patches`` first: an unknown key
        anywhere, a parameter out of its range or a wrong type raises :class:`amp.GraphError`
        naming its place in the patch (and the file).
        """
        from . import patches

        source = None
        if isinstance(config, (str, os.PathLike)):
            source = str(config)
            config = patches.load_patch_file(config)
        patches.validate_patch(config, source)
        return cls._from_valid_config(config)

    @classmethod
    def _from_valid_config(cls, config: Mapping[str, Any]) -> "AudioGraph":
        """from_config for a patch already checked against the schema (the catalogue still checks
        every value as the graph is built)."""
        graph = cls(float(config.get("sample_rate", 48000.0)))
        try:
            for node in config.get("nodes", []):
                graph.add_node(node["name"], node["type"], node.get("params", {}))
            for c in config.get("connections", []):
                graph.connect(c["source"], c["target"], output=c.get("output", 0), input=c.get("input", 0))
            for m in config.get("modulations", []):
                graph.modulate(m["source"], m["target"], m["param"], scale=m.get("scale", 1.0),
                               mode=m.get("mode", "add"), channel=m.get("channel"), output=m.get("output", 0))
            for c in config.get("controls", []):
                graph.bind_control(c["node"], c["param"], c["key"])
        except KeyError as exc:
            raise GraphError(f"patch entry is missing the field {exc}") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, GraphError):
                raise
            raise GraphError(f"patch entry is not usable: {exc}") from None
        if config.get("sink") is not None:
            graph.set_sink(config["sink"])
        return graph


def _write_last_control_blob(blob: bytes) -> None:
    """While logging is on: the control blob of the next native call, and its description."""
    from . import diagnostics
    from .native_runtime import describe_blob

    directory = diagnostics.log_directory()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "last_control_blob.bin").write_bytes(blob)
    (directory / "last_control_blob.json").write_text(json.dumps(describe_blob(blob), indent=2))
