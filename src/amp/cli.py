"""The `amp` console command: render a patch to WAV, list the catalogue, say what runtime is loaded, diagnose."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import AmpError, GraphError

__all__ = ["main"]


def _demo_graph(sample_rate: float, frequency: float, amplitude: float):
    from .graph import AudioGraph

    graph = AudioGraph(sample_rate)
    graph.add_node("osc", "oscillator", freq=frequency, amp=amplitude)
    graph.set_sink("osc")
    return graph


def _render_instrument_demo(sample_rate: float, frames: int, block: int):
    """The three-oscillator instrument of amp.app playing its demo phrase, block by block."""
    import numpy as np

    from . import app
    from .runner import render_audio_block

    if block < 1:
        raise GraphError(f"--block must be >= 1, got {block}")
    graph = app.build_runtime_graph(sample_rate)
    app.record_demo_performance(graph, frames / sample_rate)
    base_params = app.build_base_params(graph, block)
    pieces = []
    for start in range(0, frames, block):
        pieces.append(render_audio_block(graph, min(block, frames - start), sample_rate, base_params))
    return np.concatenate(pieces, axis=-1) if pieces else np.zeros((1, 2, 0))


def _cmd_info(args) -> int:
    from .system import require_native_graph_runtime

    info = require_native_graph_runtime()
    if args.json:
        print(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in info.__dict__.items()}, indent=2))
    else:
        for key, value in info.__dict__.items():
            print(f"{key:18} {value}")
    return 0


def _cmd_nodes(args) -> int:
    from .catalogue import catalogue, render_nodes_markdown

    if args.markdown:
        sys.stdout.write(render_nodes_markdown())
        return 0
    rows = [("type", "inputs", "outputs", "channels", "parameters")]
    for spec in sorted(catalogue().values(), key=lambda s: s.type):
        channels = {"fixed": str(spec.channel_value), "param": f"={spec.channel_value}",
                    "input": f"<{spec.channel_value}"}[spec.channel_rule]
        rows.append((spec.type, ",".join(p.name for p in spec.inputs) or "-",
                     ",".join(p.name for p in spec.outputs), channels,
                     " ".join(f"{p.name}={p.default:g}" for p in spec.params)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    return 0


def _cmd_render(args) -> int:
    import numpy as np
    import soundfile

    from .graph import AudioGraph

    if args.demo and args.patch:
        raise GraphError("--demo plays the built-in instrument; leave out the patch file")
    if args.patch:
        graph = AudioGraph.from_config(args.patch)
        sample_rate = args.sample_rate or graph.sample_rate
    else:
        sample_rate = args.sample_rate or 48000.0
        graph = None if args.demo else _demo_graph(sample_rate, args.frequency, args.amplitude)
    frames = int(round(args.seconds * sample_rate))
    if graph is None:
        audio = _render_instrument_demo(sample_rate, frames, args.block)
    else:
        from .native_runtime import NativeGraphExecutor

        with NativeGraphExecutor(graph, sample_rate=sample_rate, max_block_frames=args.block,
                                 threads=args.threads) as ex:
            audio = ex.render(frames, args.block)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    soundfile.write(args.out, audio[0].T, int(sample_rate), subtype="FLOAT" if args.float else "PCM_24")
    print(f"wrote {args.out}: {frames} frames, {audio.shape[1]} channel(s) at {sample_rate:g} Hz, peak {peak:.3f}")
    return 0


def _cmd_diagnose(args) -> int:
    from .diagnose import run_from_args

    return run_from_args(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amp", description="amp: native audio synthesis from Python")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="say which native runtime is loaded")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_cmd_info)
    nodes = sub.add_parser("nodes", help="list the node catalogue")
    nodes.add_argument("--markdown", action="store_true", help="print docs/nodes.md")
    nodes.set_defaults(func=_cmd_nodes)
    render = sub.add_parser("render", help="render a patch (or a test tone) to a WAV file")
    render.add_argument("patch", nargs="?", help="a .json or .toml patch file; without one, a sine tone (or the "
                        "instrument with --demo)")
    render.add_argument("-o", "--out", default="amp.wav", help="output file (default amp.wav)")
    render.add_argument("--seconds", type=float, default=3.0)
    render.add_argument("--sample-rate", type=float, default=None)
    render.add_argument("--block", type=int, default=256, help="block size in frames")
    render.add_argument("--threads", type=int, default=None)
    render.add_argument("--frequency", type=float, default=440.0, help="test tone frequency in Hz")
    render.add_argument("--amplitude", type=float, default=0.25, help="test tone amplitude")
    render.add_argument("--float", action="store_true", help="write 32-bit float instead of 24-bit PCM")
    render.add_argument("--demo", action="store_true",
                        help="play a short phrase on the built-in three-oscillator instrument (amp.app)")
    render.set_defaults(func=_cmd_render)
    from .diagnose import add_arguments as _diagnose_arguments

    diagnose = sub.add_parser("diagnose", help="dump a render for native replay (amp_replay), or --bisect the optimisations")
    _diagnose_arguments(diagnose)
    diagnose.set_defaults(func=_cmd_diagnose)
    from .dataset.cli import add_parser as _dataset_parser

    _dataset_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AmpError as exc:
        print(f"amp: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
