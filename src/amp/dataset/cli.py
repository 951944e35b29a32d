"""`amp dataset SPEC --out DIR`: the command-line face of amp.dataset.render."""

from __future__ import annotations

import argparse
import sys

from ..errors import AmpError

__all__ = ["add_parser", "run"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "dataset", help="render a dataset specification into a Zarr store (resumes an interrupted run)",
        description="Renders every item of a dataset specification (.toml or .json, see docs/datasets.md) "
                    "in shards into the Zarr store --out, skipping shards already complete. By default on a "
                    "local Dask cluster with one process per core; --scheduler sends the shards to a running "
                    "cluster, whose workers must reach --out (a shared path or an fsspec URL such as s3://...).")
    parser.add_argument("spec", help="the dataset specification (.toml or .json)")
    parser.add_argument("--out", required=True, help="the Zarr store: a directory or an fsspec URL")
    parser.add_argument("--shard-items", type=_positive, default=None,
                        help="items per shard (default: the spec's shard_items, else about 32 MiB of audio)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive, default=None,
                       help="worker processes of the local cluster (default: one per core)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    """Renders; errors print one line `amp: error: ...` and return 2, Ctrl-C returns 130."""
    from . import render
    from .spec import DatasetSpec

    try:
        spec = DatasetSpec.from_file(args.spec)
        summary = render(spec, args.out, shard_items=args.shard_items, scheduler=args.scheduler,
                         workers=args.workers, progress=not args.quiet)
    except AmpError as exc:
        print(f"amp: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("amp: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"{summary.url}: {summary.items} items in {summary.shards} shards "
              f"({summary.shards_skipped} already done, {summary.shards_rendered} rendered in "
              f"{summary.seconds:.1f} s, {summary.items_per_second:.1f} items/s)")
    return 0
