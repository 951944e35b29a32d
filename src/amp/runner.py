"""Rendering a graph block by block from a control history: the path the examples, the
diagnostics script and the tests all share."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .graph import AudioGraph

__all__ = ["render_audio_block", "render_blocks"]


def render_audio_block(
    graph: AudioGraph,
    frames: int,
    sample_rate: float | None = None,
    base_params: Mapping[str, Any] | None = None,
    *,
    batch: int | None = None,
) -> np.ndarray:
    """Renders the next `frames` frames of `graph`, driven by its control history.

    The window [t, t + frames / sample_rate) of ``graph.control_delay`` (t: the time the graph has
    reached) goes to the runtime as a control blob; ``base_params`` gives per-block parameter values
    (see ``AudioGraph.render_block``). Returns float64 (B, C, frames).
    """
    return graph.render_block(frames, sample_rate, base_params, batch=batch)


def render_blocks(
    graph: AudioGraph,
    blocks: int,
    frames: int,
    sample_rate: float | None = None,
    base_params=None,
) -> list[np.ndarray]:
    """`blocks` consecutive blocks of `frames` frames; `base_params` may be a callable of the block index."""
    out = []
    for index in range(int(blocks)):
        params = base_params(index) if callable(base_params) else base_params
        out.append(render_audio_block(graph, frames, sample_rate, params))
    return out
