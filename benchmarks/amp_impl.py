"""amp rendering the scenarios, through the public Python API, one thread."""

from __future__ import annotations


import numpy as np

from scenarios import Q, SAMPLE_RATE, Scenario, clock


def load_amp():
    """(amp module, runtime info) or (None, reason)."""
    try:
        import amp
        from amp import system

        return amp, system.require_native_graph_runtime()
    except Exception as exc:  # an ImportError or NativeRuntimeUnavailable, said as is
        return None, f"{type(exc).__name__}: {exc}"


def _pick(spec, *names):
    for name in names:
        if any(p.name == name for p in spec.params):
            return name
    return None


def lowpass_params(catalogue) -> tuple[dict | None, str | None, str]:
    """The biquad's fixed parameters for a Q = 1/sqrt(2) lowpass and the name of its cutoff, or a reason."""
    spec = catalogue.get("biquad")
    if spec is None:
        return None, None, "the catalogue has no biquad node yet"
    cutoff = _pick(spec, "cutoff", "freq", "frequency")
    q = _pick(spec, "q", "Q")
    params = {q: Q} if q else {}
    for p in spec.params:
        if p.choices and any(c in p.choices for c in ("lowpass", "low_pass", "lp")):
            params[p.name] = next(c for c in ("lowpass", "low_pass", "lp") if c in p.choices)
    if cutoff is None or q is None:
        return None, None, f"biquad has no cutoff/q parameters: {[p.name for p in spec.params]}"
    return params, cutoff, ""


def saw_available(catalogue) -> str:
    spec = catalogue.get("oscillator")
    waveform = next((p for p in spec.params if p.name == "waveform"), None) if spec else None
    if waveform is None or not waveform.choices or "saw" not in waveform.choices:
        return "the oscillator has no saw waveform yet"
    return ""


class AmpRenderer:
    """layout "nodes": one oscillator node per saw into a mix, as a user writes it; "bank": one
    oscillator_bank node with a lane per saw."""

    def __init__(self, amp, layout: str) -> None:
        from amp import catalogue

        self.amp = amp
        self.layout = layout
        self.name = {"nodes": "amp", "bank": "amp oscillator_bank"}[layout]
        self.catalogue = catalogue.catalogue()
        self.filter_params, self.cutoff_name, reason = lowpass_params(self.catalogue)
        if layout == "nodes":
            self.missing = saw_available(self.catalogue) or reason
        else:
            self.missing = "" if "oscillator_bank" in self.catalogue else "the catalogue has no oscillator_bank node"
            self.missing = self.missing or reason

    def graph(self, scenario: Scenario):
        graph = self.amp.AudioGraph(SAMPLE_RATE)
        freqs = scenario.freqs()
        n = len(freqs)
        if self.layout == "nodes":
            graph.add_node("mix", "mix", gain=1.0 / n)
            for i, f in enumerate(freqs):
                graph.add_node(f"saw{i}", "oscillator", freq=float(f), waveform="saw")
                graph.connect(f"saw{i}", "mix")
        else:
            graph.add_node("mix", "oscillator_bank", freq=1.0, amp=1.0 / n, waveform="saw",
                           data=np.asarray(freqs, dtype="<f8").tobytes())
        graph.add_node("lp", "biquad", {**self.filter_params, self.cutoff_name: float(scenario.cutoffs[0])})
        graph.connect("mix", "lp")
        graph.set_sink("lp")
        return graph

    def render(self, scenario: Scenario, block: int) -> tuple[float, np.ndarray]:
        from amp.native_runtime import NativeGraphExecutor

        graph = self.graph(scenario)
        base_params = None
        if scenario.batch > 1:
            base_params = {"lp": {self.cutoff_name: np.asarray(scenario.cutoffs, dtype=np.float64).reshape(-1, 1, 1)}}
        with NativeGraphExecutor(graph, batch=scenario.batch, sample_rate=SAMPLE_RATE, max_block_frames=block,
                                 threads=1) as executor:
            start = clock()
            out = executor.render(scenario.frames, block, base_params)
            elapsed = clock() - start
        return elapsed, out[:, 0, :]


class AmpAppRenderer:
    """The default three-oscillator instrument of amp.app playing its demo phrase: its control
    history goes to the runtime as one control blob, the render is one native call."""

    name = "amp"

    def __init__(self, amp) -> None:
        self.amp = amp
        try:
            from amp import app  # noqa: F401

            self.missing = ""
        except ImportError as exc:
            self.missing = f"amp.app is not there yet ({exc})"

    def render(self, scenario: Scenario, block: int) -> tuple[float, np.ndarray]:
        from amp import app
        from amp.native_runtime import NativeGraphExecutor

        graph = app.build_runtime_graph(SAMPLE_RATE)
        seconds = app.record_demo_performance(graph, scenario.frames / SAMPLE_RATE)
        blob = graph.control_delay.export_control_history_blob(0.0, seconds)
        base_params = app.build_base_params(graph, scenario.frames)
        with NativeGraphExecutor(graph, sample_rate=SAMPLE_RATE, max_block_frames=block, threads=1) as executor:
            start = clock()
            out = executor.render(scenario.frames, block, base_params, control_history_blob=blob)
            elapsed = clock() - start
        return elapsed, out.reshape(-1, out.shape[-1])
