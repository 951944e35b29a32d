"""One shard, as a worker renders it: draw, render in one batch, write straight into the store."""

from __future__ import annotations

import os

from .items import render_items
from .store import DatasetStore

__all__ = ["render_shard"]

# For the tests of interrupted runs: the worker rendering this shard dies after writing its audio
# and before marking it done, as a process killed at the worst moment would.
CRASH_ENV = "AMP_DATASET_TEST_CRASH_SHARD"


def render_shard(spec_dict: dict, url: str, shard: int, storage_options: dict | None = None) -> int:
    """Renders shard `shard` into the store at `url`; returns how many items it wrote."""
    store = DatasetStore.open_existing(url, spec_dict, storage_options)
    start, stop = store.shard_range(shard)
    rendered = render_items(store.spec, start, stop)
    store.write_values(shard, rendered.params, rendered.events)
    store.write_audio(shard, rendered.audio)
    if os.environ.get(CRASH_ENV) == str(shard):
        os._exit(70)
    store.mark_done(shard)
    return stop - start
