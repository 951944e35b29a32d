#!/usr/bin/env python3
"""Where the 64-saw patch spends its time in amp: each part rendered on its own, one thread.

    python benchmarks/parts.py [--seconds 10] [--repeat 5]

Prints ns per sample of each part (per oscillator-sample where there are N of them): the saw
oscillator node alone, a node that does almost nothing (a constant) times 64 into a mix (the
runtime's per-node cost plus the mix), the mix of 64 constants alone counted per input, the biquad,
and the oscillator_bank per lane.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenarios import SAMPLE_RATE, oscillator_freqs  # noqa: E402


def timed(graph, frames: int, block: int, repeat: int) -> float:
    from amp.native_runtime import NativeGraphExecutor

    best = None
    for _ in range(repeat):
        with NativeGraphExecutor(graph, sample_rate=SAMPLE_RATE, max_block_frames=block, threads=1) as ex:
            start = time.perf_counter()
            ex.render(frames, block)
            elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def parts(n: int):
    import amp

    freqs = oscillator_freqs(n)

    def saw():
        g = amp.AudioGraph(SAMPLE_RATE)
        g.add_node("saw", "oscillator", waveform="saw", freq=float(freqs[0]))
        return g, 1

    def constants_mix():
        g = amp.AudioGraph(SAMPLE_RATE)
        g.add_node("mix", "mix", gain=1.0 / n)
        for i in range(n):
            g.add_node(f"c{i}", "constant", value=float(i))
            g.connect(f"c{i}", "mix")
        g.set_sink("mix")
        return g, n

    def constant():
        g = amp.AudioGraph(SAMPLE_RATE)
        g.add_node("c", "constant", value=1.0)
        return g, 1

    def biquad():
        g = amp.AudioGraph(SAMPLE_RATE)
        g.add_node("c", "constant", value=1.0)
        g.add_node("lp", "biquad", mode="lowpass", freq=2000.0)
        g.connect("c", "lp")
        return g, 1

    def bank():
        g = amp.AudioGraph(SAMPLE_RATE)
        g.add_node("bank", "oscillator_bank", amp=1.0 / n, data=np.asarray(freqs, "<f8").tobytes())
        return g, n

    def saws_mix():
        g = amp.AudioGraph(SAMPLE_RATE)
        g.add_node("mix", "mix", gain=1.0 / n)
        for i, f in enumerate(freqs):
            g.add_node(f"s{i}", "oscillator", waveform="saw", freq=float(f))
            g.connect(f"s{i}", "mix")
        g.set_sink("mix")
        return g, n

    return [
        ("one saw oscillator node", saw, "per sample"),
        ("one constant node", constant, "per sample"),
        (f"{n} constant nodes into a mix", constants_mix, "per node-sample"),
        ("constant into a biquad lowpass", biquad, "per sample"),
        (f"{n} saw oscillator nodes into a mix", saws_mix, "per oscillator-sample"),
        (f"oscillator_bank of {n} saw lanes", bank, "per lane-sample"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--oscillators", type=int, default=64)
    args = parser.parse_args()
    frames = int(args.seconds * SAMPLE_RATE)
    print(f"| part | block | ns | unit |\n|---|---|---|---|")
    for title, build, unit in parts(args.oscillators):
        for block in (64, 256):
            graph, count = build()
            seconds = timed(graph, frames, block, args.repeat)
            print(f"| {title} | {block} | {seconds / (frames * count) * 1e9:.2f} | {unit} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
