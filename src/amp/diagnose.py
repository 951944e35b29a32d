"""Diagnostics: dump a render with everything needed to replay it natively, and bisect optimisations.

``run_dump`` renders a graph (the default three-oscillator instrument, or a patch file) block by block
through :func:`amp.runner.render_audio_block`, driven by neutral control curves recorded as real
control events, and writes into a dump directory:

- ``descriptor.bin``, ``plan.bin`` and each block's ``control_block_XXX.bin``, with the native JSON
  description of each (``*.json``), all written *before* the native call that reads them;
- ``params_block_XXX_N_P.npy`` for each per-block parameter override;
- ``block_XXX.npy``: the PCM of each block, float64 (B, C, F);
- ``amp_cdef.h``: the C declarations the CFFI binding was generated from;
- ``replay.json``: what ``amp_replay DUMP_DIR`` (native/tools) needs to render the same calls again;
- ``state.json``: the call in flight, kept up to date, so a dump left by a crash says where it was;
- ``summary.json``: library, node order, parameter spans, per-node timings, peak/RMS/NaN per block;
- ``error.json`` when the render failed (node, stage, block, code, message);
- ``waveform.png`` and ``graph.png`` when matplotlib is installed (the ``diagnostics`` extra).

``amp.diagnose_bisect.bisect_optimisations`` renders with every plan optimisation off (the reference) and then turns
them on one at a time, reporting max abs error, Pearson r and SNR against the reference.
The console entry points are ``amp diagnose`` and ``scripts/graph_runtime_diagnostic.py``.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import math
import os
import sys

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _binding

from .diagnose_pictures import render_pictures
from .errors import AmpError, GraphError
from .graph import render_block_capacity

__all__ = [
    "DumpOptions",
    "DumpResult",
    "run_dump",
    "record_neutral_controls",
    "node_timings",
    "set_timing",
    "main",
]

REPLAY_FORMAT = "amp-replay"
REPLAY_VERSION = 1
# Values that leave an instrument sounding steadily; every other bound key holds its parameter's value.
NEUTRAL_KEY_VALUES = {"gate": 1.0, "velocity": 1.0, "envelope": 1.0}
TRIGGER_KEYS = ("trigger",)
PITCH_HZ = 440.0


# ----- native timing ------------------------------------------------------------------------------
def set_timing(executor, enabled: bool = True) -> None:
    """Switches per-node timing on (clearing the totals) or off for a NativeGraphExecutor."""
    with executor.native_call() as handle:
        status = executor._binding.api.amp_graph_set_timing(handle, 1 if enabled else 0)
        executor._check(handle, status, "amp_graph_set_timing")


def node_timings(executor) -> tuple[np.ndarray, np.ndarray]:
    """Accumulated (nanoseconds, process calls) per node, by descriptor node index."""
    ffi, api = executor._binding.ffi, executor._binding.api
    count = ffi.new("uint32_t *")
    with executor.native_call() as handle:
        api.amp_graph_node_timings(handle, ffi.NULL, ffi.NULL, 0, count)
        n = int(count[0])
        ns = np.zeros(n, dtype=np.uint64)
        calls = np.zeros(n, dtype=np.uint64)
        if n:
            status = api.amp_graph_node_timings(handle, ffi.cast("uint64_t *", ffi.from_buffer(ns)),
                                                ffi.cast("uint64_t *", ffi.from_buffer(calls)), n, count)
            executor._check(handle, status, "amp_graph_node_timings")
    return ns, calls


# ----- the graph to diagnose ----------------------------------------------------------------------
def _default_graph(sample_rate: float):
    """The three-oscillator instrument of amp.app, its per-block parameters builder and its origin."""
    from . import app

    return app.build_runtime_graph(sample_rate), app.build_base_params, "amp.app.build_runtime_graph"


def _call_base_params(builder, graph, block: int, frames: int, sample_rate: float, batch: int):
    """amp.app.build_base_params for one block, passing whichever of its arguments it names."""
    import inspect

    offered = {"graph": graph, "frames": frames, "sample_rate": sample_rate, "batch": batch, "block": block,
               "block_index": block, "t0": block * frames / sample_rate}
    signature = inspect.signature(builder)
    kwargs = {}
    for name, parameter in signature.parameters.items():
        if name in offered:
            kwargs[name] = offered[name]
        elif parameter.default is inspect.Parameter.empty and parameter.kind in (
                parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            raise GraphError(f"build_base_params needs '{name}', which the diagnostics cannot supply")
    return builder(**kwargs)


def _bound_controls(graph) -> list[dict]:
    return list(graph.to_config().get("controls", []))


def record_neutral_controls(graph, blocks: int, frames: int, sample_rate: float) -> dict[str, float]:
    """Records, for every bound control key, a steady value as an event at the start of each block.

    Gate, velocity and envelope keys hold 1 (an instrument sounding steadily); a trigger key fires
    once (1 for one sample at time zero, then 0); a pitch key whose parameter is zero holds 440 (Hz);
    any other key holds its parameter's value in the patch, so the patch renders as written. Each value is clipped to the bound parameter's range.
    Returns the value each key holds.
    """
    held: dict[str, float] = {}
    ranges: dict[str, tuple[float, float]] = {}
    for binding in _bound_controls(graph):
        key, node, param = binding["key"], binding["node"], binding["param"]
        spec = graph.spec(node).param(param, node)
        lo, hi = ranges.get(key, (spec.min, spec.max))
        ranges[key] = (max(lo, spec.min), min(hi, spec.max))
        value = graph.param(node, param)
        if key == "pitch" and value <= 0.0:
            value = PITCH_HZ  # a pitch of zero would silence the instrument
        held.setdefault(key, NEUTRAL_KEY_VALUES.get(key, value))
    for key in held:
        lo, hi = ranges[key]
        if lo <= hi:
            held[key] = float(min(max(held[key], lo), hi))
    for key, value in held.items():
        if key in TRIGGER_KEYS:
            graph.record_control_event(0.0, extras={key: 1.0})
            graph.record_control_event(1.0 / sample_rate, extras={key: 0.0})
            continue
        for block in range(blocks):
            graph.record_control_event(block * frames / sample_rate, extras={key: value})
    return held


# ----- the dump -----------------------------------------------------------------------------------
@dataclass
class DumpOptions:
    """What run_dump renders (graph, blocks, frames, batch, threads, parameter overrides) and where it dumps."""

    dump_dir: Path = Path("logs/native_debug")
    blocks: int = 4
    frames: int = 512
    sample_rate: float | None = None
    config: str | None = None
    threads: int | None = None
    batch: int = 1
    params: dict[str, float] = field(default_factory=dict)  # 'node.param' -> value, for every block
    pictures: bool = True


@dataclass
class DumpResult:
    """What run_dump did: success, the dump directory, its summary, the error record and the rendered blocks."""

    ok: bool
    dump_dir: Path
    summary: dict
    error: dict | None = None
    blocks: list[np.ndarray] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The exit status for the command line: 0 on success, 1 when the render failed."""
        return 0 if self.ok else 1


_OWN_PATTERNS = ("block_*.npy", "params_block_*.npy", "control_block_*", "descriptor.*", "plan.*", "replay.json",
                 "summary.json", "state.json", "error.json", "amp_cdef.h", "*.png", "crash_traceback.txt")


def _clear(directory: Path) -> None:
    """Removes a previous dump's files (and only those), so nothing stale is replayed."""
    for pattern in _OWN_PATTERNS:
        for path in directory.glob(pattern):
            if path.is_file():
                path.unlink()


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _finite_or_none(x: float):
    return float(x) if math.isfinite(x) else None


def _write_blob(directory: Path, name: str, blob: bytes) -> None:
    """The blob, then its native description (or the reader's complaint, which is the diagnosis)."""
    from .native_runtime import describe_blob

    (directory / f"{name}.bin").write_bytes(blob)
    try:
        description = describe_blob(blob)
    except AmpError as exc:
        description = {"error": str(exc), "node": exc.node, "stage": exc.stage, "code": exc.code}
    _write_json(directory / f"{name}.json", description)


def _library_info() -> dict:
    from .system import require_native_graph_runtime

    info = require_native_graph_runtime()
    binding = _binding.load()
    return {
        "path": str(info.library_path),
        "header": str(info.header_path),
        "version": info.version,
        "abi_version": info.abi_version,
        "variant": "logging" if info.logging_compiled else "plain",
        "logging_enabled": info.logging_enabled,
        "catalogue_size": info.catalogue_size,
        "cdef": "amp_cdef.h" if binding.cdef else None,
    }


def _normalise_params(base_params) -> list[tuple[str, str, np.ndarray]]:
    from .native_runtime import _iter_base_params

    return [(node, param, np.asarray(value, dtype=np.float64)) for node, param, value in _iter_base_params(base_params)]


def _parse_param_options(items) -> dict[str, float]:
    params = {}
    for item in items or ():
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise GraphError(f"--param {item!r}: write NODE.PARAM=VALUE")
        key, value = item.split("=", 1)
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise GraphError(f"--param {item!r}: {value!r} is not a number") from None
    return params


def _max_block_frames(frames: int) -> int:
    """The block capacity AudioGraph.render_block gives its executor for calls of `frames` frames."""
    return render_block_capacity(frames)


def _attach_executor(graph, sample_rate: float, batch: int, frames: int, threads: int | None):
    """Builds the executor render_block will use (with the requested threads) and switches timing on:
    the dump times every block and chooses the thread count, while the blocks still go through
    render_audio_block."""
    executor = graph.attach_executor(sample_rate, batch, frames, threads=threads)
    set_timing(executor, True)
    return executor


def _error_record(exc: BaseException, phase: str, block: int | None) -> dict:
    if isinstance(exc, AmpError):
        return {
            "type": type(exc).__name__,
            "message": str(exc),
            "code": exc.code,
            "node": exc.node,
            "stage": exc.stage or phase,
            "block": exc.block_index if exc.block_index is not None else block,
        }
    return {"type": type(exc).__name__, "message": str(exc), "code": None, "node": None, "stage": phase,
            "block": block}


def _block_stats(block: np.ndarray) -> dict:
    finite = np.isfinite(block)
    values = block[finite]
    return {
        "shape": list(block.shape),
        "peak": float(np.max(np.abs(values))) if values.size else None,
        "rms": math.sqrt(float(np.mean(values * values))) if values.size else None,
        "nan_count": int(np.count_nonzero(np.isnan(block))),
        "inf_count": int(np.count_nonzero(np.isinf(block))),
    }


def run_dump(options: DumpOptions, log: Callable[[str], None] = print) -> DumpResult:
    """Renders and dumps as the module docstring describes. Never raises for a failing graph: the
    result (and error.json) says which node and stage failed."""
    directory = Path(options.dump_dir)
    directory.mkdir(parents=True, exist_ok=True)
    _clear(directory)
    crash_file = open(directory / "crash_traceback.txt", "w")
    faulthandler.enable(crash_file)
    phase, block_index = "load", None
    summary: dict[str, Any] = {"status": "running", "dump_dir": str(directory)}
    replay: dict[str, Any] = {"format": REPLAY_FORMAT, "version": REPLAY_VERSION, "calls": []}
    blocks: list[np.ndarray] = []
    graph = None
    try:
        summary["library"] = _library_info()
        (directory / "amp_cdef.h").write_text(_binding.load().cdef)

        phase = "patch"
        if options.config:
            from .graph import AudioGraph

            graph = AudioGraph.from_config(options.config)
            builder, source = None, f"patch {options.config}"
        else:
            graph, builder, source = _default_graph(float(options.sample_rate or 48000.0))
        sample_rate = float(options.sample_rate or graph.sample_rate)
        frames, blocks_wanted, batch = int(options.frames), int(options.blocks), int(options.batch)
        if frames < 1 or blocks_wanted < 1 or batch < 1:
            raise GraphError(f"frames, blocks and batch must be >= 1; got {frames}, {blocks_wanted}, {batch}")
        summary.update({"graph": source, "sample_rate": sample_rate, "frames": frames, "blocks": blocks_wanted,
                        "batch": batch, "threads": options.threads})
        held = record_neutral_controls(graph, blocks_wanted, frames, sample_rate)
        summary["controls"] = {"held": held, "bindings": _bound_controls(graph)}

        phase = "compile"
        plan = graph.compile()
        descriptor_blob = graph.serialize_node_descriptors()
        _write_blob(directory, "descriptor", descriptor_blob)
        _write_blob(directory, "plan", plan.blob)
        names = graph.nodes
        index = {name: i for i, name in enumerate(names)}
        summary["node_order"] = [{"position": k, "index": n, "name": names[n], "type": graph.node_type(names[n]),
                                  "channels": plan.channels[n]} for k, n in enumerate(plan.order)]
        summary["optimisations"] = plan.enabled()
        max_block_frames = _max_block_frames(frames)
        replay["config"] = {"batch": batch, "max_block_frames": max_block_frames,
                            "threads": int(options.threads or 0), "channel_depth": 0, "sample_rate": sample_rate,
                            "disabled_optimisations": 0}
        replay["descriptor"], replay["plan"] = "descriptor.bin", "plan.bin"
        replay["node_names"] = names
        _write_json(directory / "replay.json", replay)

        phase = "create"
        _write_json(directory / "state.json", {"stage": "create", "block": None})
        executor = _attach_executor(graph, sample_rate, batch, frames, options.threads)
        replay["config"]["threads"] = executor.threads
        replay["config"]["max_block_frames"] = executor.max_block_frames
        summary["threads"] = executor.threads
        _write_json(directory / "replay.json", replay)

        from .runner import render_audio_block

        spans: dict[tuple[str, str], list[float]] = {}
        timings: list[dict] = []
        stats: list[dict] = []
        previous_ns = np.zeros(len(names), dtype=np.uint64)
        for block_index in range(blocks_wanted):
            phase = "render"
            params = dict(options.params)
            if builder is not None:
                produced = _call_base_params(builder, graph, block_index, frames, sample_rate, batch)
                params = {**_flatten_params(produced), **params}
            call = {"block": block_index, "total_frames": frames,
                    "block_frames": min(frames, executor.max_block_frames),
                    "expected": f"block_{block_index:03d}.npy", "control": None, "overrides": []}
            t0 = block_index * frames / sample_rate
            if graph.to_config().get("controls"):
                name = f"control_block_{block_index:03d}"
                _write_blob(directory, name, graph.control_delay.export_control_history_blob(t0, t0 + frames / sample_rate))
                call["control"] = f"{name}.bin"
            for node, param, value in _normalise_params(params):
                if node not in index:
                    continue  # the executor names the unknown node when it refuses the call
                array = value.reshape(1, 1, 1) if value.ndim == 0 else value
                spec = graph.spec(node)
                p = spec.param_index(param, node)
                file = f"params_block_{block_index:03d}_{index[node]:03d}_{p:02d}.npy"
                np.save(directory / file, np.ascontiguousarray(array, dtype="<f8"))
                call["overrides"].append({"node": index[node], "param": p, "name": f"{node}.{param}", "file": file})
                if array.size:
                    span = spans.setdefault((node, param), [math.inf, -math.inf])
                    span[0] = min(span[0], float(np.nanmin(array)))
                    span[1] = max(span[1], float(np.nanmax(array)))
            replay["calls"].append(call)
            _write_json(directory / "replay.json", replay)
            _write_json(directory / "state.json", {"stage": "render", "block": block_index,
                                                   "call": call})
            out = render_audio_block(graph, frames, sample_rate, params or None, batch=batch)
            if graph.executor is not executor:
                raise GraphError("render_block built a new executor; the dump's timings would not be of this render")
            np.save(directory / f"block_{block_index:03d}.npy", np.ascontiguousarray(out, dtype="<f8"))
            blocks.append(out)
            ns, _calls = node_timings(executor)
            timings.append({names[n]: int(ns[n] - previous_ns[n]) for n in range(len(names))})
            previous_ns = ns
            stats.append({"block": block_index, **_block_stats(out)})
        block_index = None
        phase = "summary"
        summary["parameters"] = _parameter_spans(graph, plan, spans)
        summary["node_timings_ns"] = timings
        summary["node_timings_total_ns"] = {name: int(previous_ns[i]) for i, name in enumerate(names)}
        summary["blocks_stats"] = stats
        summary["output"] = {"channels": int(blocks[0].shape[1]), "frames": frames * blocks_wanted,
                             **_block_stats(np.concatenate(blocks, axis=-1))}
        summary["status"] = "ok"
        _write_json(directory / "state.json", {"stage": "done", "block": None})
        if options.pictures:
            summary["pictures"] = render_pictures(directory, graph, plan, blocks, sample_rate)
        _write_json(directory / "summary.json", summary)
        log(f"amp diagnose: rendered {blocks_wanted} blocks of {frames} frames ({source}) into {directory}")
        return DumpResult(True, directory, summary, None, blocks)
    except (AmpError, ValueError, RuntimeError, OSError, KeyError, TypeError) as exc:
        error = _error_record(exc, phase, block_index)
        _write_json(directory / "error.json", error)
        summary["status"] = "failed"
        summary["error"] = error
        _write_json(directory / "summary.json", summary)
        where = [f"stage '{error['stage']}'"]
        if error["node"]:
            where.insert(0, f"node '{error['node']}'")
        if error["block"] is not None:
            where.append(f"block {error['block']}")
        log(f"amp diagnose: FAILED at {', '.join(where)}: {error['message']}")
        log(f"amp diagnose: the dump in {directory} holds the blobs of the failing call (replay.json, state.json)")
        return DumpResult(False, directory, summary, error, blocks)
    finally:
        faulthandler.disable()
        crash_file.close()
        if (directory / "crash_traceback.txt").stat().st_size == 0:
            (directory / "crash_traceback.txt").unlink()
        if graph is not None:
            graph.close()


def _flatten_params(params) -> dict:
    """{'node.param': value} from either spelling of base_params."""
    flat = {}
    for node, param, value in (_normalise_params(params) if params else []):
        flat[f"{node}.{param}"] = value
    return flat


def _parameter_spans(graph, plan, spans) -> dict:
    """Per node and parameter: its patch value, catalogue range, what drives it, and the span of the
    values given to the runtime (before modulation, which the runtime applies)."""
    config = graph.to_config()
    bound = {(c["node"], c["param"]): c["key"] for c in config.get("controls", [])}
    modulated: dict[tuple[str, str], list[str]] = {}
    for m in config.get("modulations", []):
        modulated.setdefault((m["target"], m["param"]), []).append(f"{m['mode']} {m['source']} x {m['scale']:g}")
    held = {}
    for c in config.get("controls", []):
        times, values = graph.control_delay.events(c["key"])
        if values.size:
            held[c["key"]] = [float(values.min()), float(values.max())]
    result = {}
    for name in graph.nodes:
        spec = graph.spec(name)
        entries = {}
        for p in spec.params:
            value = graph.param(name, p.name)
            if (name, p.name) in spans:
                source, span = "override", spans[(name, p.name)]
            elif (name, p.name) in bound:
                key = bound[(name, p.name)]
                source, span = f"control:{key}", held.get(key, [value, value])
            else:
                source, span = "static" if p.static else "base", [value, value]
            entries[p.name] = {"value": value, "range": [p.min, p.max], "source": source,
                               "span": [_finite_or_none(span[0]), _finite_or_none(span[1])],
                               "modulation": modulated.get((name, p.name), [])}
        result[name] = {"type": graph.node_type(name), "params": entries}
    return result


# ----- command line -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--blocks", type=int, default=4, help="blocks to render (default 4)")
    parser.add_argument("--frames", type=int, default=512, help="frames per block (default 512)")
    parser.add_argument("--sample-rate", type=float, default=None, help="Hz (default: the patch's, or 48000)")
    parser.add_argument("--config", default=None, metavar="PATCH",
                        help="a .json or .toml patch; without one, amp.app's three-oscillator graph")
    parser.add_argument("--threads", type=int, default=None, help="worker threads of the runtime")
    parser.add_argument("--batch", type=int, default=1, help="batch rows B (default 1)")
    parser.add_argument("--param", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="override a parameter for every block (repeatable)")
    parser.add_argument("--dump-dir", default="logs/native_debug", help="where the dump goes")
    parser.add_argument("--no-pictures", action="store_true", help="skip the PNGs")
    parser.add_argument("--bisect", action="store_true",
                        help="instead of dumping, render with every optimisation off and then on one at a time")


def options_from_args(args) -> DumpOptions:
    return DumpOptions(dump_dir=Path(args.dump_dir), blocks=args.blocks, frames=args.frames,
                       sample_rate=args.sample_rate, config=args.config, threads=args.threads, batch=args.batch,
                       params=_parse_param_options(args.param), pictures=not args.no_pictures)


def run_from_args(args) -> int:
    try:
        options = options_from_args(args)
    except AmpError as exc:
        print(f"amp: error: {exc}", file=sys.stderr)
        return 2
    if args.bisect:
        from .diagnose_bisect import run_bisect

        return run_bisect(options)
    result = run_dump(options, log=lambda text: print(text, file=sys.stdout if text.find("FAILED") < 0 else sys.stderr))
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    """`scripts/graph_runtime_diagnostic.py`: parses `argv` and runs the dump or the bisection."""
    parser = argparse.ArgumentParser(
        prog="graph_runtime_diagnostic",
        description="Render a graph block by block and dump everything needed to replay it natively "
                    "(amp_replay DUMP_DIR), or bisect the plan optimisations.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
