"""The peers: SignalFlow, pyo and DawDreamer (Faust), each rendering a saw scenario offline (no
audio device).

Every renderer returns (seconds spent rendering, output (B, frames)). Building the graph is not
timed; rendering is. Peers render a batch's variants one after another (neither has a batch
axis), and their time is the sum of those renders.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile

import numpy as np

from reference import SawBank
from scenarios import Q, SAMPLE_RATE, Scenario, clock


def _quiet_import(name: str):
    # pyo prints a banner about its GUI toolkit on import.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return __import__(name)


def load_signalflow():
    try:
        return _quiet_import("signalflow"), None
    except ImportError as exc:
        return None, f"not installed ({exc}); pip install '.[bench]'"


def load_pyo():
    try:
        return _quiet_import("pyo"), None
    except ImportError as exc:
        return None, f"not installed ({exc}); pip install '.[bench]'"


def load_dawdreamer():
    try:
        return _quiet_import("dawdreamer"), None
    except ImportError as exc:
        return None, f"not installed ({exc}); pip install '.[bench]'"


# ----- SignalFlow --------------------------------------------------------------------------------
class SignalFlowRenderer:
    """variant: "nodes" (one SawOscillator node per saw), "multichannel" (one SawOscillator with a
    channel per saw, mixed down by ChannelMixer) or "wavetable" (one Wavetable node per saw, reading
    the band-limited table; SignalFlow's SawOscillator is not band-limited)."""

    def __init__(self, sf, variant: str) -> None:
        self.sf = sf
        self.variant = variant
        self.name = {"nodes": "signalflow", "multichannel": "signalflow 1 node x N ch",
                     "wavetable": "signalflow band-limited table"}[variant]

    def _graph(self, scenario: Scenario, block: int, cutoff: float):
        sf = self.sf
        config = sf.AudioGraphConfig()
        config.output_buffer_size = block
        config.sample_rate = SAMPLE_RATE
        graph = sf.AudioGraph(config=config, output_device=sf.AudioOut_Dummy(1, SAMPLE_RATE, block), start=False)
        freqs = scenario.freqs()
        if self.variant == "nodes":
            mixed = sf.Sum([sf.SawOscillator(float(f)) for f in freqs])
        elif self.variant == "multichannel":
            mixed = sf.ChannelMixer(1, sf.SawOscillator(freqs.tolist()), False)
        else:
            bank = SawBank(freqs)
            tables = {k: sf.Buffer(t[:-1].tolist()) for k, t in bank.tables.items()}
            mixed = sf.Sum([sf.Wavetable(tables[k], float(f)) for f, k in zip(freqs, bank.harmonics)])
        out = sf.BiquadFilter(mixed * (1.0 / len(freqs)), "low_pass", float(cutoff), Q)
        graph.play(out)
        return graph

    def render(self, scenario: Scenario, block: int) -> tuple[float, np.ndarray]:
        rows = []
        elapsed = 0.0
        for cutoff in scenario.cutoffs:
            graph = self._graph(scenario, block, cutoff)
            try:
                start = clock()
                buffer = graph.render_to_new_buffer(scenario.frames)
                elapsed += clock() - start
                rows.append(np.asarray(buffer.data, dtype=np.float64)[0])
            finally:
                graph.destroy()
        return elapsed, np.stack(rows)


# ----- pyo ---------------------------------------------------------------------------------------
class PyoRenderer:
    """variant: "table" (Osc over pyo's band-limited SawTable, one stream per saw, the way pyo's
    docs build a saw) or "phasor" (Phasor scaled to [-1, 1]: not band-limited)."""

    def __init__(self, pyo, variant: str) -> None:
        self.pyo = pyo
        self.variant = variant
        self.name = {"table": "pyo", "phasor": "pyo phasor (aliasing)"}[variant]

    def _render_one(self, scenario: Scenario, block: int, cutoff: float, path: str) -> float:
        pyo = self.pyo
        server = pyo.Server(sr=SAMPLE_RATE, nchnls=1, buffersize=block, duplex=0, audio="offline")
        server.setVerbosity(0)
        server.boot()
        try:
            server.recordOptions(dur=scenario.frames / SAMPLE_RATE, filename=path, fileformat=0, sampletype=3)
            freqs = scenario.freqs().tolist()
            n = len(freqs)
            if self.variant == "table":
                harmonics = int((SAMPLE_RATE / 2) // max(freqs))
                table = pyo.SawTable(order=harmonics, size=8192)
                # SawTable holds sum_k sin(k x) / k: scale its fundamental to the reference's 2 / pi.
                values = np.asarray(table.getTable(), dtype=np.float64)
                fundamental = 2.0 * np.abs(np.fft.rfft(values)[1]) / len(values)
                osc = pyo.Osc(table, freq=freqs, mul=float((2.0 / np.pi) / fundamental / n))
            else:
                osc = pyo.Phasor(freq=freqs, mul=2.0 / n, add=-1.0 / n)
            mixed = pyo.Mix(osc, voices=1)
            out = pyo.Biquad(mixed, freq=float(cutoff), q=Q, type=0)
            out.out()
            start = clock()
            server.start()  # offline: returns when the recording is complete
            return clock() - start
        finally:
            server.shutdown()

    def render(self, scenario: Scenario, block: int) -> tuple[float, np.ndarray]:
        import soundfile

        rows = []
        elapsed = 0.0
        with tempfile.TemporaryDirectory(prefix="amp-bench-pyo-") as directory:
            for i, cutoff in enumerate(scenario.cutoffs):
                path = os.path.join(directory, f"variant{i}.wav")
                elapsed += self._render_one(scenario, block, cutoff, path)
                data, rate = soundfile.read(path, dtype="float64", always_2d=True)
                if rate != SAMPLE_RATE:
                    raise RuntimeError(f"pyo wrote {rate} Hz, expected {SAMPLE_RATE}")
                row = np.zeros(scenario.frames)
                row[: min(len(data), scenario.frames)] = data[: scenario.frames, 0]
                rows.append(row)
        return elapsed, np.stack(rows)


# ----- DawDreamer (Faust) ------------------------------------------------------------------------
class DawDreamerRenderer:
    """DawDreamer's Faust processor, compiled by its LLVM backend: the compiled-code ceiling.
    variant: "naive" (`os.lf_saw`, the naive ramp) or "sawtooth" (`os.sawtooth`, Faust's
    anti-aliased saw). The saws are summed by Faust's `:>`, scaled, and `fi.lowpass(2, cutoff)` (a
    2-pole Butterworth) filters them."""

    def __init__(self, daw, variant: str) -> None:
        self.daw = daw
        self.variant = variant
        self.name = {"naive": "dawdreamer faust naive saw", "sawtooth": "dawdreamer faust os.sawtooth"}[variant]

    def _code(self, scenario: Scenario, cutoff: float) -> str:
        saw = "os.lf_saw" if self.variant == "naive" else "os.sawtooth"
        freqs = scenario.freqs()
        voices = ", ".join(f"{saw}({float(f)!r})" for f in freqs)
        return (f'import("stdfaust.lib");\nprocess = ({voices}) :> *({1.0 / len(freqs)!r}) : '
                f"fi.lowpass(2, {float(cutoff)!r});\n")

    def render(self, scenario: Scenario, block: int) -> tuple[float, np.ndarray]:
        rows = []
        elapsed = 0.0
        for cutoff in scenario.cutoffs:
            engine = self.daw.RenderEngine(SAMPLE_RATE, block)
            processor = engine.make_faust_processor("saws")
            processor.set_dsp_string(self._code(scenario, cutoff))
            processor.compile()
            engine.load_graph([(processor, [])])
            start = clock()
            engine.render(scenario.frames / SAMPLE_RATE)
            elapsed += clock() - start
            audio = np.asarray(engine.get_audio(), dtype=np.float64)
            row = np.zeros(scenario.frames)
            row[: min(audio.shape[1], scenario.frames)] = audio[0, : scenario.frames]
            rows.append(row)
        return elapsed, np.stack(rows)


def peer_renderers(only: set[str] | None = None) -> tuple[list, list[str]]:
    """The peer renderers that can run here, and a note for each one that cannot."""
    renderers = []
    notes = []
    sf, why = load_signalflow()
    if sf is None:
        notes.append(f"SignalFlow skipped: {why}")
    else:
        renderers += [SignalFlowRenderer(sf, v) for v in ("nodes", "multichannel", "wavetable")]
    pyo, why = load_pyo()
    if pyo is None:
        notes.append(f"pyo skipped: {why}")
    else:
        renderers += [PyoRenderer(pyo, v) for v in ("table", "phasor")]
    daw, why = load_dawdreamer()
    if daw is None:
        notes.append(f"DawDreamer skipped: {why}")
    else:
        renderers += [DawDreamerRenderer(daw, v) for v in ("naive", "sawtooth")]
    if only is not None:
        renderers = [r for r in renderers if r.name in only]
    return renderers, notes
