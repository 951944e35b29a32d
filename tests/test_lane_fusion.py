"""lane_fusion: oscillators that feed only a mix run inside the mix's process; the output is the
same, bit for bit, as with the optimisation off, whatever the oscillators do (the reference is the
unfused render, which test_node_oscillator.py and test_oscillator_contract.py check against
analytic signals)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import amp
from amp.native_runtime import NativeGraphExecutor

SR = 48000
WAVEFORMS = ["sine", "saw", "square", "triangle"]

lane = st.fixed_dictionaries({
    "waveform": st.sampled_from(WAVEFORMS),
    "freq": st.floats(-30000.0, 30000.0, allow_nan=False),
    "amp": st.floats(-2.0, 2.0, allow_nan=False),
    "phase": st.floats(0.0, 0.999),
    "pulse_width": st.floats(0.0, 1.0),
    "fm": st.booleans(),          # an audio-rate FM input from its own modulator
    "reset": st.booleans(),       # a hard-sync input
    "curve": st.booleans(),       # freq follows a control key
    "modulated": st.booleans(),   # amp modulated by a route from an LFO
})


def build(lanes, extra_input):
    g = amp.AudioGraph(SR)
    g.add_node("mix", "mix", gain=0.3)
    g.add_node("lfo", "oscillator", freq=3.0, amp=0.5)
    g.add_node("sync", "oscillator", freq=77.0, waveform="square")
    for k, spec in enumerate(lanes):
        name = f"o{k}"
        g.add_node(name, "oscillator", waveform=spec["waveform"], freq=spec["freq"], amp=spec["amp"],
                   phase=spec["phase"], pulse_width=spec["pulse_width"])
        if spec["fm"]:
            g.add_node(f"m{k}", "oscillator", freq=5.0 + k, amp=200.0)
            g.connect(f"m{k}", name, input="fm")
        if spec["reset"]:
            g.connect("sync", name, input="reset")
        if spec["curve"]:
            g.bind_control(name, "freq", f"pitch{k}")
            g.control_delay.set_interpolation(f"pitch{k}", "linear")
        if spec["modulated"]:
            g.modulate("lfo", name, "amp")
        g.connect(name, "mix")
        if extra_input and k == len(lanes) // 2:
            g.connect("lfo", "mix")  # an input that is not fused, between the lanes
    g.add_node("lp", "biquad")
    g.connect("mix", "lp")
    g.set_sink("lp")
    rng = np.random.default_rng(len(lanes))
    for t in np.sort(rng.uniform(0.0, 0.05, 6)):
        g.record_control_event(float(t), extras={f"pitch{k}": float(rng.uniform(50, 30000)) for k in range(len(lanes))})
    return g


def render(g, frames, block, threads, disabled, processes=None):
    blob = g.control_delay.export_control_history_blob(0.0, frames / SR)
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=512, threads=threads,
                             disabled_optimisations=disabled) as ex:
        if processes is not None:
            processes.append(ex.info()["process_count"])
        return ex.render(frames, block, control_history_blob=blob)


def plain(lanes):
    """Lanes with no input: their only use is the mix, and no chain can take them, so they are
    always fused (those with inputs may be chained to their modulator by chain fusion first)."""
    return sum(1 for spec in lanes if not spec["fm"] and not spec["reset"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lanes=st.lists(lane, min_size=2, max_size=11), block=st.sampled_from([1, 7, 64, 333, 512]),
       threads=st.sampled_from([1, 2]), extra_input=st.booleans())
def test_fused_lanes_give_the_unfused_bits(runtime, lanes, block, threads, extra_input):
    g = build(lanes, extra_input)
    frames = 2400
    counts = []
    fused = render(g, frames, block, threads, [], counts)
    unfused = render(g, frames, 512, 1, ["lane_fusion"], counts)
    assert np.all(np.isfinite(fused))
    assert np.array_equal(fused, unfused)
    if plain(lanes) >= 2:
        assert counts[1] - counts[0] >= plain(lanes)  # each joined the mix's process


def test_the_plan_reports_lane_fusion_and_the_runtime_fuses(runtime):
    lanes = [{"waveform": "saw", "freq": 110.0 + k, "amp": 1.0, "phase": 0.0, "pulse_width": 0.5, "fm": False,
              "reset": False, "curve": False, "modulated": False} for k in range(9)]
    g = build(lanes, False)
    with NativeGraphExecutor(g, sample_rate=SR, threads=1) as ex:
        assert "lane_fusion" in ex.plan.enabled()
    with NativeGraphExecutor(g, sample_rate=SR, threads=1, disabled_optimisations=["lane_fusion"]) as ex:
        assert "lane_fusion" not in ex.plan.enabled()
    counts = []
    y = render(g, 4800, 64, 1, [], counts)
    assert np.ptp(y) > 0.1
    assert np.array_equal(y, render(g, 4800, 64, 1, ["lane_fusion"], counts))
    assert counts[0] == counts[1] - 9


def test_runs_of_fused_lanes_are_the_sequential_sum_of_each_oscillator_alone(runtime):
    """Many lanes (whole runs of eight and a partial one, an unfused input between them): the mix
    is the sum, in connection order, of each oscillator rendered on its own, times the gain."""
    specs = [{"waveform": WAVEFORMS[k % 4], "freq": 55.0 * (1.0 + 0.37 * k), "amp": 0.5 + 0.01 * k,
              "phase": (0.1 * k) % 1.0} for k in range(21)]
    frames, gain = 3000, 0.3

    def alone(spec):
        g = amp.AudioGraph(SR)
        g.add_node("o", "oscillator", **spec)
        g.set_sink("o")
        with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=512, threads=1) as ex:
            return ex.render(frames, 512)[0, 0]

    lfo = {"waveform": "sine", "freq": 3.0, "amp": 0.5, "phase": 0.0}
    g = amp.AudioGraph(SR)
    g.add_node("mix", "mix", gain=gain)
    g.add_node("lfo", "oscillator", **lfo)
    expected = np.zeros(frames)
    for k, spec in enumerate(specs):
        g.add_node(f"o{k}", "oscillator", **spec)
        g.connect(f"o{k}", "mix")
        expected = expected + alone(spec)
        if k == 10:
            g.connect("lfo", "mix")
            expected = expected + alone(lfo)
    g.set_sink("mix")
    expected = expected * gain
    for block, threads in ((64, 1), (37, 2), (512, 1)):
        counts = []
        got = render(g, frames, block, threads, [], counts)
        assert np.array_equal(got[0, 0], expected), (block, threads)
        assert counts[0] <= 2  # the 21 lanes ran inside the mix's process


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("sink", ["mix", "lp"])
@pytest.mark.parametrize("batch,threads,block", [(1, 1, 64), (1, 2, 97), (2, 1, 64), (1, 1, 1)])
def test_oscillators_adding_into_their_sum_give_the_unfused_bits(runtime, channels, sink, batch, threads, block):
    """A mix fed only by fused oscillators: in a render of one row each adds its block straight into
    the sum (steady saws and triangles mostly through their quiet blocks, with residuals pending
    across block edges), the sum's gain follows a modulation; the bits are those of the unfused
    render, whichever channel count, reader, thread count, block size or batch."""
    g, blob, frames = _adding_graph(channels, sink)
    outs = []
    for disabled in ([], ["lane_fusion"]):
        with NativeGraphExecutor(g, batch=batch, sample_rate=SR, max_block_frames=512, threads=threads,
                                 disabled_optimisations=disabled) as ex:
            outs.append(ex.render(frames, block, control_history_blob=blob))
    assert np.ptp(outs[0]) > 0.1
    assert np.array_equal(outs[0], outs[1])


def test_timed_renders_time_each_adding_oscillator_and_give_the_same_bits(runtime):
    """With per-node timing on, the runtime calls each adding oscillator on its own (one call runs
    the whole row of them otherwise) so that each gets a time: the bits do not change, and every
    oscillator has a call per block."""
    from amp.diagnose import node_timings, set_timing

    g, blob, frames = _adding_graph(1, "lp")
    outs = []
    for timed in (False, True):
        with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=512, threads=1) as ex:
            set_timing(ex, timed)
            outs.append(ex.render(frames, 64, control_history_blob=blob))
            if timed:
                ns, calls = node_timings(ex)
    assert np.array_equal(outs[0], outs[1])
    oscillators = [i for i, name in enumerate(g.nodes) if name[0] == "o" and name[1:].isdigit()]
    assert len(oscillators) == 10
    assert all(calls[i] == frames // 64 for i in oscillators), calls


def _adding_graph(channels: int, sink: str):
    """Ten oscillators of every shape into a mix (one modulated amp, one frequency from a control
    key), the mix's gain modulated, read by the sink or a lowpass: (graph, control blob, frames)."""
    g = amp.AudioGraph(SR)
    g.add_node("mix", "mix", channels=channels, gain=0.25)
    g.add_node("wobble", "oscillator", freq=2.0, amp=0.1)
    g.modulate("wobble", "mix", "gain")
    shapes = ["saw", "triangle", "saw", "square", "sine", "triangle", "saw", "saw", "triangle", "saw"]
    for k, shape in enumerate(shapes):
        g.add_node(f"o{k}", "oscillator", waveform=shape, freq=97.0 * (1.0 + 0.61 * k),
                   amp=1.0 if k % 2 == 0 else 0.9 - 0.07 * k, phase=(0.13 * k) % 1.0)
        g.connect(f"o{k}", "mix")
    g.modulate("wobble", "o3", "amp")
    g.bind_control("o6", "freq", "bend")
    g.record_control_event(0.05, extras={"bend": 300.0})
    g.record_control_event(0.12, extras={"bend": 1500.0})
    if sink == "lp":
        g.add_node("lp", "biquad")
        g.connect("mix", "lp")
    g.set_sink(sink)
    frames = 9600
    return g, g.control_delay.export_control_history_blob(0.0, frames / SR), frames
