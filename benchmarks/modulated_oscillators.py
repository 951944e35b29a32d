#!/usr/bin/env python3
"""Modulated oscillators: ns per oscillator-sample of 16 saws into a mix, one thread.

    python benchmarks/modulated_oscillators.py [--block 256] [--seconds 4]

Variants: "steady" (fixed frequencies), "fm" (an audio-rate FM input from a `constant` node each),
"fm sine" (the FM input from one 5 Hz sine `oscillator` shared by all, so every sample's frequency
differs),
"freq override" (the frequency as a per-sample parameter override), "amp override" (fixed
frequency, amp as a per-sample override), "control key" (the frequency bound to a control key,
200 events, linear). The time is the whole render's (oscillators, mix, runtime) per
oscillator-sample, best of 5.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000
N = 16


def build(kind: str, frames: int):
    g = amp.AudioGraph(SR)
    g.add_node("mix", "mix")
    params = {}
    for k in range(N):
        g.add_node(f"o{k}", "oscillator", freq=110.0 * (1 + k * 0.01), waveform="saw")
        g.connect(f"o{k}", "mix")
        if kind == "fm":
            g.add_node(f"m{k}", "constant", value=3.0)
            g.connect(f"m{k}", f"o{k}", input="fm")
        elif kind == "fm sine":
            if k == 0:
                g.add_node("lfo", "oscillator", freq=5.0, amp=20.0)
            g.connect("lfo", f"o{k}", input="fm")
        elif kind == "freq override":
            params[f"o{k}"] = {"freq": np.linspace(100, 300, frames)[None, None, :] * (1 + k * 0.01)}
        elif kind == "amp override":
            params[f"o{k}"] = {"amp": np.linspace(0.5, 1, frames)[None, None, :]}
        elif kind == "control key":
            g.bind_control(f"o{k}", "freq", f"p{k}")
            g.control_delay.set_interpolation(f"p{k}", "linear")
    g.set_sink("mix")
    blob = None
    if kind == "control key":
        rng = np.random.default_rng(1)
        for t in np.linspace(0, frames / SR, 200):
            g.record_control_event(float(t), extras={f"p{k}": float(rng.uniform(100, 300)) for k in range(N)})
        blob = g.control_delay.export_control_history_blob(0.0, frames / SR)
    return g, params or None, blob


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    frames = int(args.seconds * SR)
    print("| variant | ns per oscillator-sample (best of 5) |")
    print("|---|---|")
    for kind in ("steady", "fm", "fm sine", "amp override", "freq override", "control key"):
        g, params, blob = build(kind, frames)
        best = float("inf")
        with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=args.block, threads=1) as ex:
            for _ in range(5):
                start = time.perf_counter()
                ex.render(frames, args.block, params, control_history_blob=blob)
                best = min(best, time.perf_counter() - start)
        print(f"| {kind} | {best / (frames * N) * 1e9:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
