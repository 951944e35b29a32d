"""One shard, as a worker renders it: draw, render in one batch, write straight into the store."""

from __future__ import annotations

import os

from .items import render_items
from .store import DatasetStore

__all__ = ["render_shard"]

# For the tests of interrupted runs: "N" makes the worker rendering shard N die after writing its
# audio and before marking it done, as a process killed at the worst moment would; "N:PATH" makes
# it die only if PATH does not exist yet (creating it), so that Dask's retry then succeeds.
CRASH_ENV = "AMP_DATASET_TEST_CRASH_SHARD"


def _crash_if_asked(shard: int) -> None:
    target, _, once = os.environ.get(CRASH_ENV, "").partition(":")
    if target != str(shard):
        return
    if once:
        try:
            open(once, "x").close()
        except FileExistsError:
            return
    os._exit(70)


def render_shard(spec_dict: dict, url: str, shard: int, storage_options: dict | None = None) -> int:
    """Renders shard `shard` into the store at `url`; returns how many items it wrote."""
    store = DatasetStore.open_existing(url, spec_dict, storage_options)
    start, stop = store.shard_range(shard)
    rendered = render_items(store.spec, start, stop)
    store.write_values(shard, rendered.params, rendered.events)
    store.write_audio(shard, rendered.audio)
    _crash_if_asked(shard)
    store.mark_done(shard)
    return stop - start
