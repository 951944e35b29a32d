"""amp.dataset.render (defined here): the shards of a specification, on a local Dask cluster or a given one."""

from __future__ import annotations

import numbers
import os
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import DatasetError, RenderArgumentError, require
from .shard import render_shard
from .spec import DatasetSpec
from .store import DatasetStore

__all__ = ["render", "RenderSummary"]

CONNECT_TIMEOUT = "10s"  # how long --scheduler may take to answer


@dataclass
class RenderSummary:
    url: str
    items: int
    shards: int
    shards_skipped: int
    shards_rendered: int
    items_rendered: int
    seconds: float

    @property
    def items_per_second(self) -> float:
        return self.items_rendered / self.seconds if self.seconds > 0 else 0.0


def _as_spec(spec: DatasetSpec | Mapping[str, Any] | str | os.PathLike) -> DatasetSpec:
    if isinstance(spec, DatasetSpec):
        return spec
    if isinstance(spec, Mapping):
        return DatasetSpec.from_dict(spec)
    return DatasetSpec.from_file(spec)


def _count(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise RenderArgumentError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


@contextmanager
def _dask_client(client, scheduler: str | None, workers: int | None):
    if client is not None:
        yield client
        return
    distributed = require("dask.distributed")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    if scheduler is not None:
        try:
            connected = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise DatasetError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with connected:
            yield connected
        return
    import logging

    n = workers or max(os.cpu_count() or 1, 1)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as local:
        yield local


def render(spec, out: str | os.PathLike, *, shard_items: int | None = None, client=None, scheduler: str | None = None,
           workers: int | None = None, progress: bool = True, storage_options: dict | None = None) -> RenderSummary:
    """Renders every item of `spec` (a DatasetSpec, a dict, or a .toml/.json path) into the Zarr store
    at `out` (a local path, or an fsspec URL every worker can reach), skipping shards already done.

    Shards run on `client` (a ``dask.distributed.Client``), else on the scheduler at `scheduler`,
    else on a LocalCluster of `workers` processes (default: one per core), one thread each;
    ``workers=0`` renders in this process without Dask. Returns a RenderSummary.
    """
    began = time.perf_counter()
    spec = _as_spec(spec)
    shard_items = _count(shard_items, "shard_items")
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 0:
            raise RenderArgumentError(f"workers must be a whole number >= 0, got {workers!r}")
        workers = int(workers)
    if sum(x is not None for x in (client, scheduler, workers)) > 1:
        raise RenderArgumentError("give at most one of client, scheduler and workers")
    graph = spec.graph()
    channels = graph.output_channels()
    graph.close()
    url = os.fspath(out)
    if "://" not in url:
        url = os.path.abspath(url)  # the workers' working directory need not be this one
    store = DatasetStore.open_or_create(url, spec, shard_items=shard_items, channels=channels,
                                        storage_options=storage_options)
    pending = store.pending_shards()
    skipped = store.shards - len(pending)
    pending_items = sum(b - a for a, b in map(store.shard_range, pending))
    bar = _progress_bar(spec.count, spec.count - pending_items, progress)
    spec_dict = spec.to_dict()
    try:
        if pending and workers == 0:
            for shard in pending:
                bar.update(render_shard(spec_dict, url, shard, storage_options))
        elif pending:
            _run_on_dask(spec_dict, url, pending, store, client, scheduler, workers, storage_options, bar)
    finally:
        bar.close()
    return RenderSummary(url, spec.count, store.shards, skipped, len(pending), pending_items,
                         time.perf_counter() - began)


def _run_on_dask(spec_dict, url, pending, store, client, scheduler, workers, storage_options, bar) -> None:
    as_completed = require("dask.distributed").as_completed

    run = uuid.uuid4().hex[:8]
    with _dask_client(client, scheduler, workers) as dask_client:
        futures = {}
        for shard in pending:
            future = dask_client.submit(render_shard, spec_dict, url, shard, storage_options,
                                        key=f"amp-dataset-{run}-shard-{shard}", pure=False)
            futures[future] = shard
        try:
            for future in as_completed(futures):
                shard = futures[future]
                try:
                    bar.update(future.result())
                except Exception as exc:
                    start, stop = store.shard_range(shard)
                    raise DatasetError(f"shard {shard} (items {start} to {stop - 1}) failed: "
                                       f"{type(exc).__name__}: {exc}; run again to resume") from exc
        finally:
            for future in futures:
                future.cancel()


def _progress_bar(total: int, initial: int, wanted: bool):
    return require("tqdm").tqdm(total=total, initial=initial, unit="item", desc="amp dataset",
                                dynamic_ncols=True, disable=not wanted or not sys.stderr.isatty())
