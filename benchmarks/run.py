#!/usr/bin/env python3
"""amp against SignalFlow, pyo and DawDreamer (Faust), side by side in one run.

    python benchmarks/run.py            # the full run; writes its section of docs/performance.md
    python benchmarks/run.py --tiny     # tiny sizes: checks that everything still runs, claims nothing

Every scenario is rendered by amp, by each peer that is installed (`pip install ".[bench]"`) and by
a plain numpy reference; each output's RMS must be within 2 % of the reference's. Renderers take
turns within each repetition, so load from elsewhere on the machine hits them alike, and the best
of the repetitions counts. Real-time factor (RTF) = seconds of audio (times B) / seconds of wall
time, one thread.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# numpy's BLAS threads would spin beside the renderers on a small machine; nothing here needs them.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from amp_impl import AmpAppRenderer, AmpRenderer, load_amp  # noqa: E402
from peers import peer_renderers  # noqa: E402
from reference import Reference, butterworth_q_matches  # noqa: E402
from scenarios import RMS_TOLERANCE, SAMPLE_RATE, Scenario, scenarios, use_cpu_time  # noqa: E402

SECTION_BEGIN = "<!-- benchmarks/run.py: begin -->"
SECTION_END = "<!-- benchmarks/run.py: end -->"
# Peer variants beyond the first of each library run only on the 64-saw scenario.
EXTRA_VARIANTS_ONLY_ON = {"saw64"}
PRIMARY_PEERS = {"signalflow", "pyo", "dawdreamer faust naive saw"}


@dataclass
class Result:
    scenario: Scenario
    block: int | None
    renderer: str
    seconds: float | None     # best wall time of the repetitions
    rms_error: float | None   # worst relative RMS difference from the reference over the batch rows
    note: str = ""

    @property
    def rtf(self) -> float | None:
        if not self.seconds:
            return None
        return self.scenario.batch * self.scenario.frames / SAMPLE_RATE / self.seconds

    @property
    def ns_per_oscillator_sample(self) -> float | None:
        if not self.seconds or not self.scenario.oscillators:
            return None
        return self.seconds / (self.scenario.batch * self.scenario.frames * self.scenario.oscillators) * 1e9

    @property
    def ok(self) -> bool:
        return self.rms_error is None or self.rms_error <= RMS_TOLERANCE


def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(np.square(x), axis=-1))


def rms_error(out: np.ndarray, reference_rms: np.ndarray) -> float:
    if out.shape[0] != reference_rms.shape[0]:
        raise RuntimeError(f"rendered {out.shape[0]} rows, expected {reference_rms.shape[0]}")
    return float(np.max(np.abs(rms(out) / reference_rms - 1.0)))


def run_saw_scenario(scenario: Scenario, renderers, repeat: int, log) -> list[Result]:
    # The reference renders once: it is the yardstick of the output check, and its time a rough baseline.
    reference = Reference(scenario)
    start = time.perf_counter()
    reference_rms = rms(reference.render())
    elapsed = time.perf_counter() - start
    note = "baseline, rendered once" + ("; oscillator sum shared by the variants" if scenario.batch > 1 else "")
    results = [Result(scenario, None, reference.name, elapsed, None, note)]
    for block in scenario.blocks:
        best: dict[str, float] = {}
        errors: dict[str, float] = {}
        failures: dict[str, str] = {}
        for rep in range(repeat):
            for renderer in renderers:
                if renderer.name in failures:
                    continue
                try:
                    elapsed, out = renderer.render(scenario, block)
                except Exception as exc:  # a peer that breaks is reported, not fatal
                    failures[renderer.name] = f"failed: {type(exc).__name__}: {exc}"
                    log(f"  {renderer.name} block {block}: {failures[renderer.name]}")
                    continue
                best[renderer.name] = min(best.get(renderer.name, elapsed), elapsed)
                if rep == 0:
                    errors[renderer.name] = rms_error(out, reference_rms)
                del out
        for renderer in renderers:
            name = renderer.name
            results.append(Result(scenario, block, name, best.get(name), errors.get(name), failures.get(name, "")))
            if name in best:
                r = results[-1]
                log(f"  {scenario.key} block {block:4d} {name:32s} RTF {r.rtf:8.1f}  RMS {100 * r.rms_error:+.2f} %")
    return results


def run_app_scenario(scenario: Scenario, renderer: AmpAppRenderer, repeat: int, log) -> list[Result]:
    results = []
    for block in scenario.blocks:
        best = None
        note = ""
        for _ in range(repeat):
            elapsed, out = renderer.render(scenario, block)
            if not np.all(np.isfinite(out)) or not np.any(out):
                note = "output is silent or not finite"
            best = elapsed if best is None else min(best, elapsed)
        results.append(Result(scenario, block, renderer.name, best, None, note))
        log(f"  app block {block:4d} RTF {results[-1].rtf:8.1f}")
    return results


LEGEND = """\
Renderers: **amp**: one `oscillator` node (saw, BLEP) per saw into a `mix`, then a `biquad` lowpass,
as a user writes the patch; **amp oscillator_bank**: the same patch with one `oscillator_bank` node
(the same oscillator kernel per lane, the same bits) in place of the oscillators and the mix;
**signalflow**: one `SawOscillator` per saw (SignalFlow's saw is not band-limited) into `Sum` and
`BiquadFilter`; **signalflow 1 node x N ch**: one `SawOscillator` with a channel per saw, mixed down by
`ChannelMixer`; **signalflow band-limited table**: one `Wavetable` node per saw reading a band-limited
saw table; **pyo**: `Osc` over pyo's band-limited `SawTable`, `Mix`, `Biquad`; **pyo phasor**: `Phasor`
scaled to [-1, 1] (not band-limited); **dawdreamer faust naive saw**: DawDreamer 0.9.0's Faust
processor (LLVM-compiled) summing `os.lf_saw` (the naive ramp) with `:>`, then `fi.lowpass(2, ...)`;
**dawdreamer faust os.sawtooth**: the same with Faust's anti-aliased `os.sawtooth`. amp computes in float64, the peers in float32. Every renderer
gets the same seeded frequencies and the same 2-pole Butterworth lowpass (Q = 1/sqrt(2)); the numpy
reference sums the saws' Fourier series up to Nyquist. Peers have no batch axis: they render the
B variants one after another and the time is the sum. The targets compare with the fastest
SignalFlow variant and with DawDreamer's naive Faust saw at each block size.
"""


def _fmt(value, spec: str, missing: str = "—") -> str:
    return missing if value is None else format(value, spec)


def amp_ratio(results: list[Result], target: Result, amp_name: str) -> str:
    amp = next((r for r in results if r.scenario is target.scenario and r.block == target.block
                and r.renderer == amp_name and r.seconds), None)
    if amp is None or not target.seconds or target.renderer.startswith("amp"):
        return ""
    return f"{amp.rtf / target.rtf:.2f}×"


def table(results: list[Result], amp_names: list[str]) -> str:
    head = ["scenario", "block", "renderer", "RTF", "ns / osc-sample", "RMS vs numpy"]
    head += [f"{name} ÷ this" for name in amp_names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        check = "" if r.rms_error is None else f"{100 * r.rms_error:.2f} %{'' if r.ok else ' ✗'}"
        cells = [r.scenario.title, _fmt(r.block, "d"), r.renderer + (f" ({r.note})" if r.note else ""),
                 _fmt(r.rtf, ".1f"), _fmt(r.ns_per_oscillator_sample, ".2f", ""), check]
        cells += [amp_ratio(results, r, name) for name in amp_names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: list[Result], amp_names: list[str]) -> list[str]:
    lines = []

    def find(key, block, name):
        return next((r for r in results if r.scenario.key == key and r.block == block and r.renderer == name
                     and r.seconds), None)

    signalflow = [r for r in results if r.renderer.startswith("signalflow") and r.seconds]
    for block in (64, 256):
        peers = [r for r in signalflow if r.scenario.key == "saw64" and r.block == block]
        faust = find("saw64", block, "dawdreamer faust naive saw")
        for name in amp_names:
            amp = find("saw64", block, name)
            if amp is None:
                continue
            if peers:
                fastest = max(peers, key=lambda r: r.rtf)
                ratio = amp.rtf / fastest.rtf
                lines.append(f"- 64 saws, block {block}: {name} / fastest SignalFlow ({fastest.renderer}) = "
                             f"{ratio:.2f}× (target ≥ 5×: {'met' if ratio >= 5.0 else 'missed'})")
            if faust is not None:
                ratio = amp.rtf / faust.rtf
                lines.append(f"- 64 saws, block {block}: {name} / DawDreamer Faust naive saw = "
                             f"{ratio:.2f}× (target ≥ 1.5×: {'met' if ratio >= 1.5 else 'missed'})")
    for name in amp_names:
        for block in (64, 256):
            amp = find("saw640", block, name)
            if amp is not None:
                ns = amp.ns_per_oscillator_sample
                lines.append(f"- 640 saws, block {block}: {name} {ns:.2f} ns per oscillator-sample "
                             f"(target ≤ 0.4: {'met' if ns <= 0.4 else 'missed'})")
    return lines


def write_section(path: Path, body: str) -> None:
    section = f"{SECTION_BEGIN}\n{body.rstrip()}\n{SECTION_END}\n"
    text = path.read_text() if path.exists() else "# Performance\n\n"
    pattern = re.compile(re.escape(SECTION_BEGIN) + r".*?" + re.escape(SECTION_END) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes, one repetition: a smoke run, no claims")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per measurement (default 3; 1 if tiny)")
    parser.add_argument("--scenario", action="append", help="run only these scenario keys (saw64 saw640 batch64 app)")
    parser.add_argument("--renderer", action="append", help="run only these renderers (by name in the table)")
    parser.add_argument("--output", type=Path, default=None,
                        help="the file whose section to write (default docs/performance.md; never for --tiny)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time renders by this process's CPU time instead of wall time (steadier on a shared host)")
    args = parser.parse_args(argv)
    if args.cpu_time:
        use_cpu_time()
    repeat = args.repeat or (1 if args.tiny else 3)
    log = lambda message: print(message, flush=True)  # noqa: E731

    amp, info = load_amp()
    if amp is None:
        print(f"amp cannot run: {info}", file=sys.stderr)
        return 2
    if not butterworth_q_matches():
        print("the reference lowpass is not the Q = 1/sqrt(2) biquad the peers are given", file=sys.stderr)
        return 2
    log(f"amp {getattr(info, 'version', '')} from {getattr(info, 'path', info)}")
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = load_average()

    only = set(args.renderer) if args.renderer else None
    amp_renderers = [r for r in (AmpRenderer(amp, "nodes"), AmpRenderer(amp, "bank"))
                     if only is None or r.name in only]
    notes = [f"{r.name}: skipped, {r.missing}" for r in amp_renderers if r.missing]
    amp_renderers = [r for r in amp_renderers if not r.missing]
    peers, peer_notes = peer_renderers(only)
    notes += peer_notes
    for note in notes:
        log(f"note: {note}")
    amp_names = [r.name for r in amp_renderers]

    results: list[Result] = []
    exercised_amp = False
    for scenario in scenarios(args.tiny):
        if args.scenario and scenario.key not in args.scenario:
            continue
        log(f"{scenario.title}: {scenario.batch} x {scenario.seconds:g} s, blocks {scenario.blocks}")
        if scenario.key == "app":
            app = AmpAppRenderer(amp)
            if app.missing or (only is not None and app.name not in only):
                notes.append(f"{scenario.title}: skipped, {app.missing or 'not selected'}")
                continue
            results += run_app_scenario(scenario, app, repeat, log)
            exercised_amp = True
            continue
        chosen = list(amp_renderers)
        for peer in peers:
            if peer.name in PRIMARY_PEERS or scenario.key in EXTRA_VARIANTS_ONLY_ON:
                chosen.append(peer)
        results += run_saw_scenario(scenario, chosen, repeat, log)
        exercised_amp = exercised_amp or bool(amp_renderers)

    finished = datetime.datetime.now(datetime.timezone.utc)
    m = machine()
    header = [
        f"Measured {finished:%Y-%m-%d %H:%M} UTC on {m['cpu']}, {m['cores']} cores ({m['system']}, Python "
        f"{m['python']}); load average {load_before} before, {load_average()} after; "
        f"{(finished - started).total_seconds():.0f} s in all, best of {repeat}"
        f"{', timed by CPU time' if args.cpu_time else ''}.",
        "",
    ]
    header += [LEGEND, ""]
    body = table(results, amp_names)
    goal_lines = [] if args.tiny else targets(results, amp_names)
    text = "\n".join(header) + body + "\n"
    if goal_lines:
        text += "\nTargets:\n" + "\n".join(goal_lines) + "\n"
    if notes:
        text += "\nNotes:\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print()
    print(text)

    if not args.tiny and not args.no_write or args.output is not None:
        path = args.output or HERE.parent / "docs" / "performance.md"
        write_section(path, "## Against the peers (`benchmarks/run.py`)\n\n`python benchmarks/run.py` (peers: "
                      "`pip install \".[bench]\"`; the section is rewritten by each run).\n\n" + text)
        log(f"wrote {path}")

    broken = [r for r in results if r.renderer.startswith("amp") and (not r.ok or r.note)]
    if broken:
        for r in broken:
            print(f"amp output check failed: {r.scenario.title}, block {r.block}, {r.renderer}: "
                  f"RMS off by {_fmt(r.rms_error, '.4f')} {r.note}", file=sys.stderr)
        return 1
    if not exercised_amp:
        print("note: amp rendered no scenario (its nodes are not all there yet)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
