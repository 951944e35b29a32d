"""Control events for a batch whose items each have their own.

One native call applies one control blob to every row, so items whose events differ cannot share
it. Their curves are rendered instead, item by item, by a probe graph per bound parameter (a
``constant`` node bound to the same key, holding the parameter's own value until the first event,
exactly as the bound parameter does), and handed to the batched render as per-row ``base_params``
curves, which take the place of the control curve. Events that every item shares go to the
batched render as one control blob.
"""

from __future__ import annotations

import numpy as np

from ..control import ControlDelay
from ..graph import AudioGraph
from ..native_runtime import NativeGraphExecutor
from .draw import ItemDraw
from .spec import DatasetSpec

__all__ = ["control_delay", "ItemCurves"]


def control_delay(spec: DatasetSpec, events: list[tuple[float, dict[str, float]]]) -> ControlDelay:
    delay = ControlDelay(interpolation=spec.interpolation)
    for time, values in events:
        delay.record_control_event(time, extras=values)
    return delay


class ItemCurves:
    """Per-item curves of the parameters bound to the keys the events drive, one segment at a time
    (the segments must follow one another from frame 0)."""

    def __init__(self, spec: DatasetSpec, graph: AudioGraph, draws: list[ItemDraw], max_frames: int) -> None:
        driven = {key for _time, values in spec.checked_events() for key in values}
        self.targets = [(c["node"], c["param"], c["key"]) for c in graph.to_config()["controls"] if c["key"] in driven]
        self.sample_rate = spec.sample_rate
        self.block = spec.block_frames
        self.delays = [control_delay(spec, draw.events) for draw in draws]
        self.probes: list[list[NativeGraphExecutor]] = []
        for _draw in draws:
            row = []
            for node, param, key in self.targets:
                probe = AudioGraph(spec.sample_rate)
                probe.add_node("curve", "constant", value=graph.param(node, param))
                probe.bind_control("curve", "value", key)
                row.append(NativeGraphExecutor(probe, batch=1, max_block_frames=max_frames, threads=1))
            self.probes.append(row)

    def segment(self, start: int, frames: int) -> dict[str, dict[str, np.ndarray]]:
        """{node: {param: (B, 1, frames)}} for frames [start, start + frames) of every item."""
        batch = len(self.delays)
        curves = [np.empty((batch, 1, frames)) for _ in self.targets]
        t0, t1 = start / self.sample_rate, (start + frames) / self.sample_rate
        for b, delay in enumerate(self.delays):
            blob = delay.export_control_history_blob(t0, t1)
            for k, probe in enumerate(self.probes[b]):
                curves[k][b, 0] = probe.render(frames, min(frames, probe.max_block_frames),
                                               control_history_blob=blob)[0, 0]
        out: dict[str, dict[str, np.ndarray]] = {}
        for (node, param, _key), curve in zip(self.targets, curves):
            out.setdefault(node, {})[param] = curve
        return out

    def close(self) -> None:
        for row in self.probes:
            for probe in row:
                probe.close()
        self.probes = []
