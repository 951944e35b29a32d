"""amp.dataset: many variations of a patch, drawn reproducibly and rendered in shards into Zarr.

A DatasetSpec names a patch, a distribution per parameter to vary, a count, a duration, a seed and
control events per item; item i depends only on (seed, i). ``render`` draws and renders the items in
shards, each shard one batched native call, on a local Dask cluster or a given one, into a Zarr
store that an interrupted run resumes. This is the only part of amp that uses Dask (imported when
a render starts). See docs/datasets.md.
"""

from .distributions import Distribution
from .draw import ItemDraw, draw_item, item_words
from .errors import DatasetError, DatasetUnavailable, RenderArgumentError, SpecError, StoreError
from .spec import DatasetSpec, EventSpec

__all__ = [
    "DatasetSpec",
    "EventSpec",
    "Distribution",
    "ItemDraw",
    "draw_item",
    "item_words",
    "render",
    "render_items",
    "open_store",
    "DatasetError",
    "DatasetUnavailable",
    "RenderArgumentError",
    "SpecError",
    "StoreError",
]


def render(spec, out, **kwargs):
    """Renders `spec` into the Zarr store at `out` (see amp.dataset.dispatch.render)."""
    from .dispatch import render as _render

    return _render(spec, out, **kwargs)


def render_items(spec, start, stop):
    """Items start..stop-1 of `spec` rendered in one batch, without a store (RenderedItems)."""
    from .items import render_items as _render_items

    return _render_items(spec, start, stop)


def open_store(url, storage_options=None):
    """The Zarr group of a dataset store, read-only, after checking that it is one."""
    from .store import ATTRIBUTE, _open

    group = _open(str(url), "r", storage_options)
    if ATTRIBUTE not in group.attrs.asdict():
        raise StoreError(f"{url} is a Zarr store but not an amp dataset (no '{ATTRIBUTE}' attribute)")
    return group
