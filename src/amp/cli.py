"""The `amp` console command (also ``python -m amp``).

Each subcommand is one ``_register_*`` function adding its parser to the subparsers and naming the
function that runs it; ``COMMANDS`` lists them in the order ``amp --help`` shows them. Every
failure ends as one line, ``amp: error: ...``, and exit status 2; Ctrl-C as ``amp: interrupted``
and status 130.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Callable

from .errors import AmpError

__all__ = ["main", "build_parser", "COMMANDS", "AmpArgumentParser"]

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class AmpArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, ``amp: error: ...``, with exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        """Prints the one-line error and exits with status 2."""
        self.exit(EXIT_ERROR, f"amp: error: {message} (see '{self.prog} --help')\n")


# ----- argument types: each refuses nonsense with a message naming what it expected -----------------
def whole_number(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be {span}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def finite_number(text: str) -> float:
    """An argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


# ----- info, nodes, schema, diagnose --------------------------------------------------------------
def _cmd_info(args) -> int:
    from .system import require_native_graph_runtime

    info = require_native_graph_runtime()
    if args.json:
        print(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in info.__dict__.items()}, indent=2))
    else:
        for key, value in info.__dict__.items():
            print(f"{key:18} {value}")
    return 0


def _register_info(sub) -> None:
    info = sub.add_parser("info", help="say which native runtime is loaded")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_cmd_info)


def _number(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.10g}"


def describe_param(p) -> tuple[str, str, str]:
    """(default, allowed values, unit) of a parameter as `amp nodes` shows them."""
    if p.choices is not None:
        return p.choices[int(p.default)], " | ".join(p.choices), ""
    kind = "whole " if p.integer else ""
    return _number(p.default), f"{kind}[{_number(p.min)}, {_number(p.max)}]", p.unit


def _cmd_nodes(args) -> int:
    from .catalogue import catalogue, render_nodes_markdown

    if args.markdown:
        sys.stdout.write(render_nodes_markdown())
        return 0
    for spec in sorted(catalogue().values(), key=lambda s: s.type):
        channels = {"fixed": f"{spec.channel_value} channel(s)", "param": f"channels from '{spec.channel_value}'",
                    "input": f"as wide as input '{spec.channel_value}'"}[spec.channel_rule]
        inputs = ",".join(p.name for p in spec.inputs) or "-"
        outputs = ",".join(p.name for p in spec.outputs)
        print(f"{spec.type}  in: {inputs}  out: {outputs}  {channels}")
        rows = [(p.name, *describe_param(p), " (fixed at creation)" if p.static else "") for p in spec.params]
        width = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
        for name, default, allowed, unit, static in rows:
            print(f"    {name:<{width[0]}}  {default:<{width[1]}}  {allowed:<{width[2]}}  {unit}{static}".rstrip())
    return 0


def _register_nodes(sub) -> None:
    nodes = sub.add_parser("nodes", help="list the node catalogue: parameters with default, range or choices, unit",
                           description="Lists every node type: its inputs, outputs and channels, then each "
                                       "parameter with its default, its range (or choice names) and its unit.")
    nodes.add_argument("--markdown", action="store_true", help="print docs/nodes.md instead")
    nodes.set_defaults(func=_cmd_nodes)


def _cmd_schema(args) -> int:
    from .patches import schema_text

    sys.stdout.write(schema_text())
    return 0


def _register_schema(sub) -> None:
    schema = sub.add_parser("schema", help="print the JSON Schema of patch files (docs/patches.md)",
                            description="Prints the JSON Schema (draft 2020-12) every patch is checked against, "
                                        "generated from the loaded library's node catalogue.")
    schema.set_defaults(func=_cmd_schema)


def _cmd_diagnose(args) -> int:
    from .diagnose import run_from_args

    return run_from_args(args)


def _register_diagnose(sub) -> None:
    from .diagnose import add_arguments

    diagnose = sub.add_parser("diagnose",
                              help="dump a render for native replay (amp_replay), or --bisect the optimisations")
    add_arguments(diagnose)
    diagnose.set_defaults(func=_cmd_diagnose)


def _register_render(sub) -> None:
    from .cli_audio import register_render

    register_render(sub)


def _register_play(sub) -> None:
    from .cli_audio import register_play

    register_play(sub)


def _register_dataset(sub) -> None:
    from .dataset.cli import add_parser

    add_parser(sub)


COMMANDS: list[Callable] = [_register_render, _register_play, _register_dataset, _register_nodes, _register_schema,
                            _register_info, _register_diagnose]


def build_parser() -> argparse.ArgumentParser:
    """The `amp` parser with every subcommand of COMMANDS."""
    from . import __version__

    parser = AmpArgumentParser(prog="amp", description="amp: native audio synthesis from Python")
    parser.add_argument("--version", action="version", version=f"amp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0, 1 for a diagnosis that found a
    difference, 2 for an error, 130 for Ctrl-C)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.parser = getattr(args, "parser", parser)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("amp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except AmpError as exc:
        print(f"amp: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (`amp nodes | head`): nothing left to say, and nothing to say it to.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"amp: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        # A fault of amp's own: still one line, unless AMP_TRACEBACK=1 asks for the whole story.
        if os.environ.get("AMP_TRACEBACK") == "1":
            raise
        print(f"amp: error: internal error, {type(exc).__name__}: {exc} (AMP_TRACEBACK=1 shows where)",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
