"""The Zarr store of a dataset: its layout, its checks, and the per-shard completion marker.

Layout (zarr format 3, uncompressed so that the bytes are the same on every machine)::

    attrs["amp_dataset"]   format, the specification, its fingerprint, shard_items, channels, frames
    audio                  float32 (count, channels, frames), one chunk per shard
    params/<node.param>    float64 (count,), one chunk per shard
    events/<j>/time        float64 (count,): event j's time for each item; events/<j>/<key> its values
    done                   uint8 (shards,), one chunk per shard: 1 once the shard's data is all written

A shard's ``done`` entry is written after its audio and values, so a shard cut short is rendered
again; every shard writes only chunks of its own, so workers never write the same object.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import StoreError, require
from .spec import DatasetSpec

__all__ = ["DatasetStore", "FORMAT", "ATTRIBUTE"]

FORMAT = 1
ATTRIBUTE = "amp_dataset"


def _zarr():
    zarr = require("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        raise StoreError(f"amp.dataset needs zarr 3 or later; zarr {zarr.__version__} is installed")
    return zarr


def _open(url: str, mode: str, storage_options: dict | None):
    zarr = _zarr()
    if url.startswith("file://"):
        url = url[len("file://"):]  # a plain path: zarr's local store makes the directories
    kwargs: dict[str, Any] = {"mode": mode, "zarr_format": 3}
    if storage_options:
        kwargs["storage_options"] = storage_options
    return zarr.open_group(url, **kwargs)


def _missing(exc: Exception) -> bool:
    from zarr.errors import GroupNotFoundError

    return isinstance(exc, (FileNotFoundError, GroupNotFoundError))


@dataclass
class DatasetStore:
    url: str
    group: Any
    spec: DatasetSpec
    shard_items: int
    channels: int
    storage_options: dict | None = None

    @property
    def shards(self) -> int:
        return math.ceil(self.spec.count / self.shard_items)

    def shard_range(self, shard: int) -> tuple[int, int]:
        start = shard * self.shard_items
        return start, min(start + self.shard_items, self.spec.count)

    # ----- opening ----------------------------------------------------------------------------
    @classmethod
    def open_or_create(cls, url: str, spec: DatasetSpec, *, shard_items: int | None, channels: int,
                       storage_options: dict | None = None) -> "DatasetStore":
        """Opens the store at `url` made from this specification, or makes a new one there.

        Refuses (StoreError) a store of another specification or shape, a store that is not amp's,
        and a local directory that holds anything else.
        """
        url = os.fspath(url)
        try:
            group = _open(url, "r+", storage_options)
        except Exception as exc:  # zarr raises many kinds for a store it cannot read
            if not _missing(exc):
                raise StoreError(f"{url} is not a readable Zarr store: {type(exc).__name__}: {exc}") from None
            group = None
        if group is None:
            local = url[len("file://"):] if url.startswith("file://") else url
            if "://" not in local and os.path.exists(local) and (not os.path.isdir(local) or os.listdir(local)):
                raise StoreError(f"{url} exists and is not a Zarr store; give an empty or new directory")
            chosen = shard_items or spec.shard_items or default_shard_items(spec, channels)
            try:
                group = _open(url, "w-", storage_options)
            except OSError as exc:
                raise StoreError(f"cannot create a store at {url}: {exc.strerror or exc}") from None
            group.attrs[ATTRIBUTE] = {
                "format": FORMAT,
                "fingerprint": spec.fingerprint(),
                "spec": spec.to_dict(),
                "shard_items": chosen,
                "channels": channels,
                "frames": spec.frames,
            }
            store = cls(url, group, spec, chosen, channels, storage_options)
            store._create_arrays()
            return store
        meta = group.attrs.asdict().get(ATTRIBUTE)
        if not isinstance(meta, dict):
            raise StoreError(f"{url} is a Zarr store but not an amp dataset (no '{ATTRIBUTE}' attribute)")
        if meta.get("format") != FORMAT:
            raise StoreError(f"{url} is an amp dataset of format {meta.get('format')!r}; this amp reads {FORMAT}")
        if meta.get("fingerprint") != spec.fingerprint():
            raise StoreError(f"{url} holds another dataset: its specification's fingerprint is "
                             f"{str(meta.get('fingerprint'))[:16]}…, this one's {spec.fingerprint()[:16]}…; "
                             "give another --out, or the specification it was made from")
        stored = meta.get("shard_items")
        wanted = shard_items or spec.shard_items
        if wanted is not None and wanted != stored:
            raise StoreError(f"{url} was made with shard_items = {stored}; resume it with the same, not {wanted}")
        if meta.get("channels") != channels or meta.get("frames") != spec.frames:
            raise StoreError(f"{url} holds {meta.get('channels')} channel(s) × {meta.get('frames')} frames; this "
                             f"specification renders {channels} × {spec.frames}")
        store = cls(url, group, spec, int(stored), channels, storage_options)
        store._check_arrays()
        return store

    @classmethod
    def open_existing(cls, url: str, spec_dict: dict, storage_options: dict | None = None) -> "DatasetStore":
        """The store as a worker opens it: the attributes say its shape (checked by the client)."""
        group = _open(url, "r+", storage_options)
        meta = group.attrs.asdict()[ATTRIBUTE]
        spec = DatasetSpec.from_dict(spec_dict)
        return cls(url, group, spec, int(meta["shard_items"]), int(meta["channels"]), storage_options)

    def _expected(self) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], str]]:
        count, n = self.spec.count, self.shard_items
        arrays = {"audio": ((count, self.channels, self.spec.frames), (n, self.channels, self.spec.frames),
                            "float32")}
        for key in self.spec.vary:
            arrays[f"params/{key}"] = ((count,), (n,), "float64")
        for j, event in enumerate(self.spec.events):
            for column in ("time", *event.values):
                arrays[f"events/{j}/{column}"] = ((count,), (n,), "float64")
        return arrays

    def _create_arrays(self) -> None:
        for name, (shape, chunks, dtype) in self._expected().items():
            if name not in self.group:
                self.group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, compressors=None,
                                        fill_value=0)
        # Last: a store with `done` has every other array.
        self.group.create_array("done", shape=(self.shards,), chunks=(1,), dtype="uint8", compressors=None,
                                fill_value=0)

    def _check_arrays(self) -> None:
        if "done" not in self.group:
            self._create_arrays()  # creation was cut short: nothing was rendered yet
            return
        expected = self._expected()
        expected["done"] = ((self.shards,), (1,), "uint8")
        for name, (shape, chunks, dtype) in expected.items():
            try:
                array = self.group[name]
                found = (tuple(array.shape), tuple(array.chunks), str(array.dtype))
            except KeyError:
                raise StoreError(f"{self.url} is missing the array '{name}': the store is damaged") from None
            except Exception as exc:
                raise StoreError(f"{self.url}: the array '{name}' cannot be read ({type(exc).__name__}: {exc})") from None
            if found != (shape, chunks, dtype):
                raise StoreError(f"{self.url}: the array '{name}' is {found[2]} {found[0]} in chunks {found[1]}; "
                                 f"expected {dtype} {shape} in chunks {chunks}")

    # ----- shards -----------------------------------------------------------------------------
    def done_shards(self) -> np.ndarray:
        try:
            done = np.asarray(self.group["done"][:])
        except Exception as exc:
            raise StoreError(f"{self.url}: the completion markers cannot be read ({type(exc).__name__}: {exc})") from None
        if np.any((done != 0) & (done != 1)):
            raise StoreError(f"{self.url}: the completion markers hold values other than 0 and 1: the store is damaged")
        return done.astype(bool)

    def pending_shards(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(~self.done_shards())]

    def write_audio(self, shard: int, audio: np.ndarray) -> None:
        start, stop = self.shard_range(shard)
        self.group["audio"][start:stop] = audio

    def write_values(self, shard: int, params: dict[str, np.ndarray], events: list[dict[str, np.ndarray]]) -> None:
        start, stop = self.shard_range(shard)
        for key, values in params.items():
            self.group[f"params/{key}"][start:stop] = values
        for j, columns in enumerate(events):
            for column, values in columns.items():
                self.group[f"events/{j}/{column}"][start:stop] = values

    def mark_done(self, shard: int) -> None:
        self.group["done"][shard] = 1


def default_shard_items(spec: DatasetSpec, channels: int) -> int:
    """About 32 MiB of float32 audio per shard, between 1 and 256 items and at most the count."""
    per_item = 4 * channels * spec.frames
    return int(max(1, min(256, spec.count, (32 << 20) // max(per_item, 1))))
