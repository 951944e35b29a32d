"""The default instrument: three oscillators, an envelope, LFOs, a subharmonic and a safety stage.

::

    pitch ──> pitch_quantizer "pitch" ──┬─> oscillator "sine"   ──┐
    (key)                               ├─> oscillator "square" ──┼─> mix "voice" ─> subharmonic "sub"
                                        └─> oscillator "saw"    ──┘          │
    trigger ─> controller "trigger" ─┐                                        v
    gate    ─> controller "gate"    ─┼─> envelope "env" ── level (x) ──> gain "vca" <── (x) lfo "tremolo"
    velocity ─> controller "velocity"┘                                        │
                                                                               v
                                            lfo "autopan" ──(+)──> pan "pan" ─> safety "out"  (stereo)

Control keys (record them with ``graph.record_control_event``): ``pitch`` in Hz, quantized to the
equal-tempered semitone around A440 with a short glide; ``gate`` (>= 0.5 holds a note, a rise
starts one); ``trigger`` (a rise through 0.5 starts or retriggers a note; send it back to 0
afterwards); ``velocity`` (the note's peak level, read when it starts; 1 until the first event).

``build_base_params(graph, frames)`` gives the instrument's per-block parameters (levels, envelope
times, LFO rates...) as arrays a batch can vary row by row, and ``amp.runner.render_audio_block``
renders it block by block from the control history.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .control import ControlDelay
from .errors import GraphError
from .graph import AudioGraph

__all__ = [
    "build_runtime_graph",
    "build_base_params",
    "add_controller",
    "record_demo_performance",
    "BASE_PARAMS",
    "CONTROL_KEYS",
]

CONTROL_KEYS = ("pitch", "trigger", "gate", "velocity")

# The parameters build_base_params hands over per block: what a sound designer or a dataset
# varies without rebuilding the graph.
BASE_PARAMS = (
    "sine.amp",
    "square.amp",
    "square.pulse_width",
    "saw.amp",
    "voice.gain",
    "env.attack",
    "env.hold",
    "env.decay",
    "env.sustain",
    "env.release",
    "sub.div2",
    "sub.div4",
    "tremolo.freq",
    "tremolo.depth",
    "tremolo.offset",
    "autopan.freq",
    "autopan.depth",
    "pitch.slew",
)


def add_controller(graph: AudioGraph, name: str, key: str, value: float = 0.0, smoothing: float = 0.0) -> str:
    """Adds a ``controller`` node that follows control key `key` (`value` until its first event)."""
    graph.add_node(name, "controller", value=value, smoothing=smoothing)
    graph.bind_control(name, "value", key)
    return name


def build_runtime_graph(
    sample_rate: float = 48000.0,
    *,
    control_delay: ControlDelay | None = None,
    root: float = 440.0,
    grid_cents: float = 100.0,
    glide: float = 0.02,
    detune_cents: float = 0.0,
) -> AudioGraph:
    """The three-oscillator instrument (module doc), stereo out through ``safety``.

    `root` and `grid_cents` set the pitch grid (the default is 12-tone equal temperament at A440),
    `glide` the time in seconds to slide to a new note, `detune_cents` how far the saw sits above
    the other two oscillators.
    """
    sample_rate = float(sample_rate)
    if not np.isfinite(sample_rate) or sample_rate <= 0:
        raise GraphError(f"sample_rate must be a positive number, got {sample_rate}")
    if not np.isfinite(detune_cents) or abs(detune_cents) > 1200:
        raise GraphError(f"detune_cents must be within +-1200, got {detune_cents}")
    g = AudioGraph(sample_rate, control_delay=control_delay)

    g.add_node("pitch", "pitch_quantizer", pitch=root, grid=grid_cents, root=root, slew=glide)
    g.bind_control("pitch", "pitch", "pitch")
    add_controller(g, "trigger", "trigger", 0.0)
    add_controller(g, "gate", "gate", 0.0)
    add_controller(g, "velocity", "velocity", 1.0)

    ratios = {"sine": 1.0, "square": 1.0, "saw": float(2.0 ** (detune_cents / 1200.0))}
    g.add_node("sine", "oscillator", waveform="sine", freq=0.0, amp=0.5)
    g.add_node("square", "oscillator", waveform="square", freq=0.0, amp=0.2, pulse_width=0.5)
    g.add_node("saw", "oscillator", waveform="saw", freq=0.0, amp=0.25)
    g.add_node("voice", "mix", channels=1, gain=0.8)
    for name, ratio in ratios.items():
        g.modulate("pitch", name, "freq", scale=ratio)
        g.connect(name, "voice")

    g.add_node("sub", "subharmonic", band_low=30.0, band_high=600.0, div2=0.3, div4=0.0, dry=1.0)
    g.connect("voice", "sub")

    g.add_node("env", "envelope", attack=0.005, hold=0.0, decay=0.15, sustain=0.6, release=0.25, curve=4.0)
    g.connect("trigger", "env", input="trigger")
    g.connect("gate", "env", input="gate")
    g.connect("velocity", "env", input="velocity")

    g.add_node("tremolo", "lfo", waveform="sine", freq=5.0, depth=0.08, offset=0.92)
    g.add_node("vca", "gain", gain=1.0)
    g.connect("sub", "vca")
    g.modulate("env", "vca", "gain", mode="mul", output="level")
    g.modulate("tremolo", "vca", "gain", mode="mul")

    g.add_node("autopan", "lfo", waveform="triangle", freq=0.2, depth=0.4, offset=0.0)
    g.add_node("pan", "pan", pan=0.0)
    g.connect("vca", "pan")
    g.modulate("autopan", "pan", "pan")

    g.add_node("out", "safety", dc_cutoff=10.0, ceiling=1.0, knee=0.9)
    g.connect("pan", "out")
    g.set_sink("out")
    return g


def _row_array(key: str, value: Any, batch: int, frames: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full((batch, 1, 1), float(array))
    if array.ndim == 1 and array.shape[0] in (1, batch):
        return np.broadcast_to(array.reshape(-1, 1, 1), (batch, 1, 1)).copy()
    if array.ndim == 2 and array.shape[0] in (1, batch) and array.shape[1] in (1, frames):
        return np.broadcast_to(array[:, None, :], (batch, 1, array.shape[1])).copy()
    if array.ndim == 3 and array.shape[0] in (1, batch) and array.shape[1] == 1 and array.shape[2] in (1, frames):
        return np.broadcast_to(array, (batch, 1, array.shape[2])).copy()
    raise GraphError(f"build_base_params: '{key}' has shape {array.shape}; give a scalar, (B,), (B, F) or (B, 1, F) "
                     f"with B = {batch} (or 1) and F = {frames} (or 1)")


def build_base_params(
    graph: AudioGraph,
    frames: int,
    *,
    batch: int = 1,
    values: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """The instrument's per-block parameters: ``{node: {param: array (B, 1, F or 1)}}``.

    Every entry of BASE_PARAMS starts at the graph's own value, so rendering with the result
    sounds the same as without it; `values` (``{"node.param": x}``, x a scalar, one value per
    row (B,), or a curve per row (B, F)) changes any of them, e.g. ``{"env.decay":
    np.linspace(0.05, 0.5, B)}`` for a batch of B decays. Entries naming other parameters of the
    graph are passed through as well.
    """
    frames = int(frames)
    batch = int(batch)
    if frames < 1 or batch < 1:
        raise GraphError(f"build_base_params needs frames >= 1 and batch >= 1, got {frames} and {batch}")
    wanted: dict[str, Any] = {}
    for key in BASE_PARAMS:
        node, param = key.split(".")
        if node in graph.nodes:
            wanted[key] = graph.param(node, param)
    for key, value in dict(values or {}).items():
        if not isinstance(key, str) or key.count(".") != 1:
            raise GraphError(f"build_base_params: keys are 'node.param', got {key!r}")
        node, param = key.split(".")
        spec = graph.spec(node).param(param, node)
        if spec.static:
            raise GraphError(f"build_base_params: '{key}' is fixed when the graph is built; pass it to "
                             "build_runtime_graph or set it on the graph", node=node)
        wanted[key] = value
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, value in wanted.items():
        node, param = key.split(".")
        spec = graph.spec(node).param(param, node)
        array = _row_array(key, value, batch, frames)
        if not np.all(np.isfinite(array)) or array.min() < spec.min or array.max() > spec.max:
            raise GraphError(f"build_base_params: '{key}' must be finite and within [{spec.min:g}, {spec.max:g}]",
                             node=node)
        out.setdefault(node, {})[param] = array
    return out


# A short phrase for `amp render --demo`: (start s, duration s, pitch Hz, velocity).
_DEMO_NOTES = (
    (0.00, 0.35, 220.0, 0.9),
    (0.40, 0.35, 277.2, 0.7),
    (0.80, 0.35, 329.6, 0.8),
    (1.20, 0.75, 440.0, 1.0),
    (2.10, 0.30, 392.0, 0.6),
    (2.45, 0.30, 329.6, 0.7),
    (2.80, 1.00, 220.0, 0.9),
)


# Time left after the last note's gate falls: the envelope's release (0.25 s) and a little more, so
# the performance ends in silence rather than cut off at full level.
_DEMO_TAIL = 0.3
_DEMO_SHORTEST_NOTE = 0.05


def record_demo_performance(graph: AudioGraph, seconds: float | None = None, start: float = 0.0) -> float:
    """Records the demo phrase into `graph`'s control history, repeated to fill `seconds`.

    Returns the length of the performance in seconds (the phrase once when `seconds` is None). The
    last note is released 0.3 s before the end (notes that would start later are left out), so the
    performance ends after the release, in silence; a performance shorter than 1.2 s keeps its
    last quarter for the release, as much of it as fits.
    """
    phrase = max(t + d for t, d, _, _ in _DEMO_NOTES) + _DEMO_TAIL
    total = phrase if seconds is None else float(seconds)
    last_release = start + total - min(_DEMO_TAIL, total / 4)
    offset = float(start)
    while offset < start + total:
        for t, duration, pitch, velocity in _DEMO_NOTES:
            begin = offset + t
            if begin + _DEMO_SHORTEST_NOTE > last_release:
                break
            graph.record_control_event(begin, pitch=pitch, velocity=velocity, gate=1.0, trigger=1.0)
            graph.record_control_event(begin + 0.005, trigger=0.0)
            graph.record_control_event(min(begin + duration, last_release), gate=0.0)
        offset += phrase
    return total
