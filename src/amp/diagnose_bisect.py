"""Bisecting the plan optimisations: all off is the reference; each is turned on in turn and
compared with it (max abs error, Pearson r, SNR), naming the first that changes the output."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .blobs import OPTIMISATIONS
from .diagnose import (
    DumpOptions,
    _call_base_params,
    _default_graph,
    _error_record,
    _flatten_params,
    _max_block_frames,
    record_neutral_controls,
)
from .errors import AmpError

__all__ = ["compare", "BisectStep", "bisect_optimisations", "run_bisect"]


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """Max abs error, Pearson r and SNR (dB) of `candidate` against `reference`, and bit identity."""
    reference = np.asarray(reference, dtype=np.float64).ravel()
    candidate = np.asarray(candidate, dtype=np.float64).ravel()
    identical = reference.shape == candidate.shape and reference.tobytes() == candidate.tobytes()
    if reference.shape != candidate.shape:
        return {"identical": False, "max_abs_error": None, "pearson_r": None, "snr_db": None}
    error = candidate - reference
    max_abs = float(np.max(np.abs(error))) if error.size else 0.0
    if identical:
        return {"identical": True, "max_abs_error": 0.0, "pearson_r": 1.0, "snr_db": math.inf}
    with np.errstate(all="ignore"):
        a = reference - reference.mean()
        b = candidate - candidate.mean()
        denominator = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
        r = float(np.dot(a, b)) / denominator if denominator > 0 else math.nan
        noise = float(np.dot(error, error))
        signal = float(np.dot(reference, reference))
        snr = 10.0 * math.log10(signal / noise) if noise > 0 and signal > 0 else (-math.inf if noise > 0 else math.inf)
    return {"identical": False, "max_abs_error": max_abs, "pearson_r": r, "snr_db": snr}


@dataclass
class BisectStep:
    """One step of a bisection: the optimisations on, the one just added, and its metrics against the reference."""

    enabled: list[str]
    added: str | None
    metrics: dict


def bisect_optimisations(render: Callable[[list[str]], np.ndarray],
                         names: list[str] | None = None) -> tuple[list[BisectStep], str | None]:
    """Renders with every optimisation off (the reference), then turns them on one at a time.

    `render(disabled)` renders with the optimisations named in `disabled` switched off. Step k has
    the first k optimisations on; each step is compared with the reference. Returns the steps and
    the name of the first optimisation whose step changes the output (None when all are identical).
    """
    names = list(OPTIMISATIONS) if names is None else list(names)
    reference = render(list(names))
    steps = [BisectStep([], None, compare(reference, reference))]
    culprit = None
    for k, name in enumerate(names):
        enabled = names[: k + 1]
        output = render([n for n in names if n not in enabled])
        metrics = compare(reference, output)
        steps.append(BisectStep(enabled, name, metrics))
        if culprit is None and not metrics["identical"]:
            culprit = name
    return steps, culprit


def _render_for_bisect(graph, blocks: int, frames: int, sample_rate: float, threads: int | None,
                       params_for: Callable[[int], dict], batch: int = 1) -> Callable[[list[str]], np.ndarray]:
    """A renderer for bisect: the same block calls, parameters and control windows as the dump."""
    from .native_runtime import NativeGraphExecutor

    has_controls = bool(graph.to_config().get("controls"))

    def render(disabled: list[str]) -> np.ndarray:
        out = []
        with NativeGraphExecutor(graph, batch=batch, sample_rate=sample_rate, max_block_frames=_max_block_frames(frames),
                                 threads=threads, disabled_optimisations=disabled) as executor:
            for block in range(blocks):
                t0 = block * frames / sample_rate
                blob = (graph.control_delay.export_control_history_blob(t0, t0 + frames / sample_rate)
                        if has_controls else None)
                out.append(executor.run_block(frames, sample_rate, params_for(block) or None,
                                              control_history_blob=blob))
        return np.concatenate(out, axis=-1)

    return render


def _format_metric(value, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return format(value, fmt)


def run_bisect(options: DumpOptions, log: Callable[[str], None] = print) -> int:
    """`amp diagnose --bisect`: bisects the optimisations for the graph `options` names, prints a table, returns
    the exit status (1 when one changes the output)."""
    from .graph import AudioGraph

    try:
        if options.config:
            graph = AudioGraph.from_config(options.config)
            builder = None
        else:
            graph, builder, _source = _default_graph(float(options.sample_rate or 48000.0))
        sample_rate = float(options.sample_rate or graph.sample_rate)
        record_neutral_controls(graph, options.blocks, options.frames, sample_rate)
        def params_for(block: int) -> dict:
            if builder is None:
                return dict(options.params)
            produced = _call_base_params(builder, graph, block, options.frames, sample_rate, options.batch)
            return {**_flatten_params(produced), **options.params}

        render = _render_for_bisect(graph, options.blocks, options.frames, sample_rate, options.threads,
                                    params_for, options.batch)
        steps, culprit = bisect_optimisations(render)
    except AmpError as exc:
        error = _error_record(exc, "bisect", None)
        log(f"amp diagnose --bisect: FAILED at stage '{error['stage']}'"
            f"{', node ' + repr(error['node']) if error['node'] else ''}: {error['message']}")
        return 2
    labels = [", ".join(step.enabled) or "none (reference)" for step in steps]
    width = max(len(label) for label in labels + ["optimisations on"])
    log(f"{'optimisations on':{width}} {'identical':>9} {'max abs error':>14} {'pearson r':>12} {'SNR dB':>9}")
    for label, step in zip(labels, steps):
        m = step.metrics
        log(f"{label:{width}} {str(m['identical']):>9} {_format_metric(m['max_abs_error'], '.3e'):>14} "
            f"{_format_metric(m['pearson_r'], '.9f'):>12} {_format_metric(m['snr_db'], '.1f'):>9}")
    if culprit is None:
        log("every optimisation leaves the output bit-identical to the reference")
        return 0
    log(f"first optimisation that changes the output: {culprit}")
    return 1


