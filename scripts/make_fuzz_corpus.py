"""Writes the seed corpus of the libFuzzer harnesses (native/fuzz/corpus/), from the Python writers.

    python scripts/make_fuzz_corpus.py

corpus/graphs/ holds the fixed graphs (NAME.ampd, .ampp, .ampc) that the plan and control harnesses
pair their fuzzed blob with; between them they use every node type in the catalogue, fused chains,
feedback through block_delay, node data (a sampler's buffer), control bindings with step and linear
keys, and modulations of both modes with and without a channel. corpus/descriptor/, plan/ and
control/ hold the seeds: an 8-byte settings prefix (native/fuzz/fuzz_common.h) and a blob. Crash
reproducers, once fixed, go in corpus/<format>/ under a name that says what they found; this script
leaves files it did not write alone.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parents[1] / "native" / "fuzz" / "corpus"
SR = 48000.0


def chain():
    """A straight chain the compiler fuses, ending in the safety stage."""
    import amp

    g = amp.AudioGraph(SR)
    g.add_node("osc", "oscillator", freq=220.0, waveform=1)
    g.add_node("bq", "biquad", mode=1, freq=1800.0, q=2.0)
    g.add_node("lp", "one_pole", cutoff=3000.0)
    g.add_node("sv", "svf", mode=2, cutoff=900.0, q=1.5)
    g.add_node("dc", "dc_block", cutoff=15.0)
    g.add_node("g", "gain", gain=0.8)
    g.add_node("out", "safety", ceiling=0.9)
    for a, b in [("osc", "bq"), ("bq", "lp"), ("lp", "sv"), ("sv", "dc"), ("dc", "g"), ("g", "out")]:
        g.connect(a, b)
    g.bind_control("osc", "freq", "pitch")
    g.control_delay.set_interpolation("pitch", "linear")
    g.set_sink("out")
    for i, t in enumerate(np.linspace(0.0, 0.02, 7)):
        g.record_control_event(float(t), pitch=110.0 * (1 + i % 4))
    return g


def feedback():
    """A loop closed by block_delay, a delay line with feedback, stereo noise into a mix."""
    import amp

    g = amp.AudioGraph(SR)
    g.add_node("n", "noise", color=1, amp=0.3, seed=7, channels=2)
    g.add_node("m", "mix", channels=2, gain=0.5)
    g.add_node("bd", "block_delay", frames=96, channels=2)
    g.add_node("fb", "gain", gain=0.6)
    g.add_node("d", "delay", max_time=0.05, time=0.01, feedback=0.4, interpolation=1)
    g.add_node("out", "gain", gain=0.5)
    g.connect("n", "m")
    g.connect("fb", "m")
    g.connect("m", "bd")
    g.connect("bd", "fb")
    g.connect("m", "d")
    g.connect("d", "out")
    g.bind_control("out", "gain", "level")
    g.set_sink("out")
    for t in np.linspace(0.0, 0.02, 5):
        g.record_control_event(float(t), extras={"level": float(0.1 + t)})
    return g


def sampler():
    """A sampler with its buffer as node data, triggered by an LFO; an envelope shapes it and a pan
    spreads it."""
    import amp
    from amp.sampler import add_sampler

    g = amp.AudioGraph(SR)
    g.add_node("clock", "lfo", freq=40.0, waveform=3)
    add_sampler(g, "smp", np.sin(np.linspace(0, 40, 300)).reshape(1, -1) * np.linspace(1, 0, 300), loop=1, rate=1.5)
    g.add_node("gate", "constant", value=1.0)
    g.add_node("vel", "controller", value=0.8, smoothing=0.001)
    g.add_node("env", "envelope", attack=0.002, decay=0.01, sustain=0.5, release=0.01)
    g.add_node("vca", "gain", gain=1.0)
    g.add_node("out", "pan", pan=-0.3)
    g.connect("clock", "smp")
    g.connect("clock", "env", input="trigger")
    g.connect("gate", "env", input="gate")
    g.connect("vel", "env", input="velocity")
    g.connect("smp", "vca")
    g.connect("vca", "out")
    g.modulate("env", "vca", "gain", scale=1.0, mode="mul")
    g.bind_control("vel", "value", "velocity")
    g.bind_control("out", "pan", "pan")
    g.control_delay.set_interpolation("pan", "linear")
    g.set_sink("out")
    for i, t in enumerate(np.linspace(0.0, 0.02, 6)):
        g.record_control_event(float(t), velocity=0.2 * (i % 5), extras={"pan": float(-1 + 0.4 * i)})
    return g


def modulation():
    """Modulations of both modes, from a mono LFO and from one channel of a two-channel constant,
    into an oscillator bank, an oscillator with FM and a quantised pitch."""
    import amp

    g = amp.AudioGraph(SR)
    g.add_node("lfo", "lfo", freq=5.0, depth=0.5)
    g.add_node("two", "constant", value=0.25, channels=2)
    # the bank's lanes: its data section holds one float64 frequency ratio per lane
    g.add_node("bank", "oscillator_bank", {"freq": 330.0, "amp": 0.4},
               data=np.array([1.0, 1.5, 2.01, 3.0, 4.5, 5.0, 6.25, 7.0, 8.5], dtype="<f8").tobytes())
    g.add_node("q", "pitch_quantizer", pitch=440.0, grid=100.0, root=440.0, slew=0.001)
    g.add_node("osc", "oscillator", freq=440.0, amp=0.5)
    g.add_node("m", "mix", gain=0.5)
    g.connect("lfo", "q")
    g.connect("bank", "osc", input="fm")
    g.connect("bank", "m")
    g.connect("osc", "m")
    g.modulate("lfo", "bank", "freq", scale=20.0)
    g.modulate("two", "osc", "amp", scale=2.0, mode="mul", channel=1)
    g.modulate("q", "osc", "freq", scale=0.01)
    g.bind_control("bank", "amp", "envelope")
    g.set_sink("m")
    for t in np.linspace(0.0, 0.02, 9):
        g.record_control_event(float(t), envelope=float(0.5 + t), pitch=float(300 + 1000 * t))
    return g


def spectral():
    """fft_division of two signals and the subharmonic generator."""
    import amp

    g = amp.AudioGraph(SR)
    g.add_node("a", "oscillator", freq=300.0)
    g.add_node("b", "noise", amp=0.5, seed=3)
    g.add_node("div", "fft_division", hop=64, regularisation=1e-3)
    g.add_node("sub", "subharmonic", band_low=60.0, band_high=600.0)
    g.add_node("out", "safety")
    g.connect("a", "div", input="a")
    g.connect("b", "div", input="b")
    g.connect("div", "sub")
    g.connect("sub", "out")
    g.bind_control("a", "freq", "pitch")
    g.set_sink("out")
    for t in np.linspace(0.0, 0.02, 4):
        g.record_control_event(float(t), pitch=float(200 + 5000 * t))
    return g


def wide():
    """Many records of each kind: sixty sources into one sum (which the runtime may split into
    stages), each modulated, so that a mutated count has many records to disagree with."""
    import amp

    g = amp.AudioGraph(SR)
    g.add_node("out", "mix", gain=0.01)
    g.add_node("l", "lfo", freq=2.0)
    for i in range(30):
        g.add_node(f"c{i}", "constant", value=0.01 * i)
        g.add_node(f"o{i}", "oscillator", freq=100.0 + 7 * i)
        g.connect(f"c{i}", "out")
        g.connect(f"o{i}", "out")
        g.modulate("l", f"o{i}", "freq", scale=float(i))
    g.set_sink("out")
    g.record_control_event(0.0, pitch=1.0)
    return g


GRAPHS = {"g0_chain": chain, "g1_feedback": feedback, "g2_sampler": sampler, "g3_modulation": modulation,
          "g4_spectral": spectral, "g5_wide": wide}


def prefix(graph: int, batch: int = 1, threads: int = 1, disabled: int = 0, plan_flags: int = 0,
           max_block: int = 64, block: int = 32, frames: int = 200, calls: int = 0x3F, depth: int = 0,
           rate: int = 0) -> bytes:
    """The settings prefix of native/fuzz/fuzz_common.h."""
    return bytes([graph, ((batch - 1) & 3) | (depth << 2) | (rate << 4), threads, disabled | (plan_flags << 4),
                  max_block - 1, (block - 1) % max_block, frames // 4, calls])


# Settings the seeds are written with: one thread and the defaults, several threads with batch 2
# and a streamer, everything disabled with odd block sizes and a reset.
SETTINGS = [
    dict(),
    dict(batch=2, threads=2, max_block=128, block=100, frames=900, calls=0x1F | 0x80, depth=1),
    dict(batch=3, threads=3, disabled=15, max_block=17, block=5, frames=251, calls=0x2D, rate=2),
]


def build() -> dict[str, bytes]:
    import amp  # noqa: F401  (the writers)

    files: dict[str, bytes] = {}
    names = sorted(GRAPHS)
    all_types = set()
    for index, name in enumerate(names):
        g = GRAPHS[name]()
        all_types |= {g.node_type(n) for n in g.nodes}
        descriptor = g.serialize_node_descriptors()
        plan = g.serialize_compiled_plan(disabled_optimisations=[])
        control = g.control_delay.export_control_history_blob(0.0, 0.02)
        files[f"graphs/{name}.ampd"] = descriptor
        files[f"graphs/{name}.ampp"] = plan
        files[f"graphs/{name}.ampc"] = control
        for k, settings in enumerate(SETTINGS):
            head = prefix(index, **settings)
            files[f"descriptor/{name}_{k}"] = head + descriptor
            files[f"plan/{name}_{k}"] = head + plan
            files[f"control/{name}_{k}"] = head + control
        files[f"plan/{name}_unoptimised"] = prefix(index) + g.serialize_compiled_plan(disabled_optimisations=["all"])
        files[f"control/{name}_late_window"] = prefix(index, frames=400) + g.control_delay.export_control_history_blob(
            0.005, 0.015)
        files[f"control/{name}_empty"] = prefix(index) + g.control_delay.export_control_history_blob(5.0, 6.0)
    from amp import catalogue

    missing = set(catalogue.catalogue()) - all_types
    if missing:
        raise SystemExit(f"the corpus graphs leave out node types {sorted(missing)}")
    return files


def main() -> int:
    files = build()
    for relative, blob in sorted(files.items()):
        path = CORPUS / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    print(f"wrote {len(files)} files under {CORPUS} ({sum(map(len, files.values()))} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
