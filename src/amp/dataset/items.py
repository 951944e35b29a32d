"""Rendering a run of items in one batch: the items on the batch axis of one executor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..native_runtime import NativeGraphExecutor
from .controls import ItemCurves, control_delay
from .draw import ItemDraw, draw_items
from .spec import DatasetSpec

__all__ = ["RenderedItems", "render_items", "SEGMENT_FRAMES"]

# Items are rendered in segments of about this many frames, one native call each, so that the
# per-item control curves of a long item need not be held whole.
SEGMENT_FRAMES = 1 << 16


@dataclass
class RenderedItems:
    audio: np.ndarray                         # float32 (B, C, F)
    params: dict[str, np.ndarray]             # "node.param" -> float64 (B,)
    events: list[dict[str, np.ndarray]]       # per event: "time" and each key -> float64 (B,)


def _segment_frames(block: int) -> int:
    return block * max(1, SEGMENT_FRAMES // block)


def render_items(spec: DatasetSpec, start: int, stop: int) -> RenderedItems:
    """Items start..stop-1 of `spec`, rendered as one batch with ``threads=1``."""
    draws: list[ItemDraw] = draw_items(spec, start, stop)
    batch = len(draws)
    frames = spec.frames
    block = min(spec.block_frames, frames)
    segment = _segment_frames(block)
    graph = spec.graph()
    params = {key: np.array([d.params[key] for d in draws]) for key in spec.vary}
    static: dict[str, dict[str, np.ndarray]] = {}
    for key, values in params.items():
        node, param = key.split(".")
        static.setdefault(node, {})[param] = values.reshape(batch, 1, 1)
    shared = curves = None
    if spec.events and not spec.events_drawn:
        shared = control_delay(spec, draws[0].events)
    elif spec.events:
        curves = ItemCurves(spec, graph, draws, segment)
    try:
        with NativeGraphExecutor(graph, batch=batch, max_block_frames=block, threads=1) as executor:
            audio = np.empty((batch, executor.output_channels, frames), dtype=np.float32)
            for at in range(0, frames, segment):
                n = min(segment, frames - at)
                base = {node: dict(values) for node, values in static.items()}
                if curves is not None:
                    for node, values in curves.segment(at, n).items():
                        base.setdefault(node, {}).update(values)
                blob = None
                if shared is not None:
                    blob = shared.export_control_history_blob(at / spec.sample_rate, (at + n) / spec.sample_rate)
                audio[:, :, at:at + n] = executor.render(n, block, base or None, blob)
    finally:
        if curves is not None:
            curves.close()
        graph.close()
    events = []
    for j in range(len(spec.events)):
        columns = {"time": np.array([d.events[j][0] for d in draws])}
        for key in spec.events[j].values:
            columns[key] = np.array([d.events[j][1][key] for d in draws])
        events.append(columns)
    return RenderedItems(audio, params, events)
