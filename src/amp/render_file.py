"""Rendering a graph into a sound file, streamed: memory stays flat however long the render.

The graph renders in chunks of whole blocks through one :class:`NativeGraphExecutor`, each chunk
driven by its window of the graph's control history, and each chunk goes straight to an
:class:`amp.output_file.AudioFileWriter`. With ``normalize``, the graph is rendered twice: once to
measure the peak, once to write it scaled (the runtime is deterministic, so both passes compute the
same samples; this costs render time rather than a temporary file as large as the output).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import GraphError
from .graph import AudioGraph
from .output_file import AudioFileWriter, OutputFormat

__all__ = ["RenderResult", "render_chunks", "render_to_file", "progress_bar"]

# About a third of a second of audio per native call: Ctrl-C is noticed between calls.
CHUNK_FRAMES = 16384


@dataclass(frozen=True)
class RenderResult:
    """What ``render_to_file`` wrote: frames, channels, the peak before any clipping, the count of
    samples clipped, and the gain applied by normalizing (1 without)."""

    path: Path
    frames: int
    channels: int
    sample_rate: float
    peak: float
    clipped: int
    gain: float


def render_chunks(graph: AudioGraph, frames: int, *, sample_rate: float, block: int = 256,
                  threads: int | None = None, executor_ready: Callable[[int], None] | None = None
                  ) -> Iterator[np.ndarray]:
    """The first `frames` frames of `graph` as consecutive float64 chunks of shape (C, F).

    Blocks of `block` frames, `threads` worker threads; the control history of the graph drives
    bound parameters sample-accurately. `executor_ready(channels)` is called once the graph is
    compiled, before the first chunk.
    """
    from .native_runtime import NativeGraphExecutor

    sample_rate = float(sample_rate)
    chunk = block * max(1, CHUNK_FRAMES // block)
    controlled = bool(graph.control_delay.keys)
    with NativeGraphExecutor(graph, sample_rate=sample_rate, max_block_frames=block, threads=threads) as ex:
        if executor_ready is not None:
            executor_ready(ex.output_channels)
        for start in range(0, frames, chunk):
            n = min(chunk, frames - start)
            blob = None
            if controlled:
                blob = graph.control_delay.export_control_history_blob(start / sample_rate, (start + n) / sample_rate)
            yield ex.render(n, block, control_history_blob=blob)[0]


def with_output_gain(graph: AudioGraph, gain: float) -> AudioGraph:
    """A copy of `graph` (sharing its control history) whose sink feeds a ``gain`` node of `gain`:
    the scaling is computed natively like every other sample."""
    copy = AudioGraph.from_config(graph.to_config())
    copy.control_delay = graph.control_delay
    for name in graph.nodes:  # sample data is not part of a patch's text
        copy._nodes[name].data = graph._nodes[name].data
    name = "normalize"
    while name in copy.nodes:
        name += "_"
    try:
        copy.add_node(name, "gain", gain=gain)
    except GraphError:
        raise GraphError(f"cannot normalize: the output's peak is too small to scale (gain {gain:g})") from None
    copy.connect(graph.sink, name)
    copy.set_sink(name)
    return copy


def progress_bar(seconds: float, enabled: bool, description: str):
    """A tqdm bar on stderr counting seconds of audio, drawn only when `enabled` and stderr is a
    terminal, and only once the render has taken a second."""
    from tqdm import tqdm

    return tqdm(total=round(seconds, 3), unit="s", desc=description, file=sys.stderr, delay=1.0, leave=False,
                disable=not enabled or not sys.stderr.isatty(), dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of audio "
                           "[{elapsed}<{remaining}]")


def render_to_file(graph: AudioGraph, fmt: OutputFormat, frames: int, *, sample_rate: float | None = None,
                   block: int = 256, threads: int | None = None, normalize: float | None = None,
                   progress: bool = True) -> RenderResult:
    """Renders `frames` frames of `graph` into the file `fmt` describes (see the module doc).

    `normalize`: scale so that the peak is this value (0 < normalize <= 1). The temporary file is
    created before rendering starts, so an unwritable place is reported at once; on any failure,
    or Ctrl-C, nothing is left behind and the target is untouched.
    """
    sample_rate = float(sample_rate if sample_rate is not None else graph.sample_rate)
    frames = int(frames)
    if frames < 1:
        raise GraphError(f"a render needs at least one frame, got {frames}")
    if normalize is not None and not 0.0 < float(normalize) <= 1.0:
        raise GraphError(f"normalize must be in (0, 1], got {normalize}")
    passes = 2 if normalize is not None else 1
    state: dict = {}

    def open_writer(channels: int) -> None:
        if "writer" not in state:
            state["writer"] = AudioFileWriter(fmt, sample_rate, channels)

    seconds = frames / sample_rate
    with progress_bar(seconds * passes, progress, f"rendering {fmt.path.name}") as bar:
        try:
            gain = 1.0
            target = graph
            if normalize is not None:
                peak = 0.0
                for chunk in render_chunks(graph, frames, sample_rate=sample_rate, block=block, threads=threads,
                                           executor_ready=open_writer):
                    if chunk.size:
                        peak = max(peak, float(np.max(np.abs(chunk))))
                    bar.update(chunk.shape[-1] / sample_rate)
                if peak > 0:
                    gain = float(normalize) / peak
                    target = with_output_gain(graph, gain)
            for chunk in render_chunks(target, frames, sample_rate=sample_rate, block=block, threads=threads,
                                       executor_ready=open_writer):
                state["writer"].write(chunk)
                bar.update(chunk.shape[-1] / sample_rate)
            writer = state["writer"]
            path = writer.commit()
        except BaseException:
            if "writer" in state:
                state["writer"].abort()
            raise
    peak = writer.peak / gain
    return RenderResult(path, writer.frames, writer.channels, sample_rate, peak, writer.clipped, gain)
