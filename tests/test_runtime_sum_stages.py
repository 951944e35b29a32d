"""Wide sums in stages: a mix of more than eight connections fires as a chain of processes, each
adding a run of the connections to the running sum, so that threads can share the sum.

The claim is that this changes no sample. References from outside the runtime: every input is
rendered alone as its own graph, and numpy adds them one after another in connection order (the
same IEEE additions in the same order), then applies the gain; renders with the optimisation
switched off, on other thread counts and block schedules, must give the same bytes.
"""

import math

import numpy as np
import pytest

import amp
from amp.diagnose import node_timings, set_timing
from amp.native_runtime import NativeGraphExecutor

SR = 48000.0
FRAMES = 3000
BATCH = 2
STAGE_INPUTS = 8  # the runtime's widest stage


def add_branch(g, i, stereo=False):
    """Oscillator -> gain, optionally panned to stereo; returns the node that feeds the mix."""
    g.add_node(f"osc{i}", "oscillator", freq=60.0 + 37.0 * i, waveform=["sine", "saw", "square", "triangle"][i % 4])
    g.add_node(f"amp{i}", "gain", gain=0.25 + 0.5 * ((i * 7) % 11) / 11.0)
    g.connect(f"osc{i}", f"amp{i}")
    if not stereo:
        return f"amp{i}"
    g.add_node(f"pan{i}", "pan", pan=-0.9 + 1.8 * ((i * 5) % 13) / 13.0)
    g.connect(f"amp{i}", f"pan{i}")
    return f"pan{i}"


def wide_mix(count, gain=0.37, channels=1, stereo_every=0):
    g = amp.AudioGraph(SR)
    g.add_node("sum", "mix", gain=gain, channels=channels)
    for i in range(count):
        g.connect(add_branch(g, i, stereo=stereo_every > 0 and i % stereo_every == 0), "sum")
    g.set_sink("sum")
    return g


def branch_alone(i, stereo):
    g = amp.AudioGraph(SR)
    g.set_sink(add_branch(g, i, stereo=stereo))
    return g


def render(graph, *, threads=1, block=256, calls=None, disabled=(), control=None, batch=BATCH):
    with NativeGraphExecutor(graph, batch=batch, max_block_frames=1024, threads=threads,
                             disabled_optimisations=list(disabled)) as ex:
        if calls is not None:
            return np.concatenate([ex.run_block(n) for n in calls], axis=2), ex.info()["process_count"]
        return ex.render(FRAMES, block, None, control), ex.info()["process_count"]


def sequential_sum(graph_inputs, channels, gain):
    """out[c mod channels] += x[c] for every input in connection order, then times gain."""
    total = np.zeros((BATCH, channels, FRAMES))
    for x in graph_inputs:
        for c in range(x.shape[1]):
            total[:, c % channels] = total[:, c % channels] + x[:, c]
    return total * gain


def random_lengths(rng):
    lengths = []
    while sum(lengths) < FRAMES:
        lengths.append(min(int(rng.integers(1, 1025)), FRAMES - sum(lengths)))
    return lengths


def same_bytes(a, b):
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("count", [9, 17, 40, 130])
def test_a_wide_mix_is_the_sequential_sum_of_its_inputs_on_any_threads_and_blocks(count):
    graph = wide_mix(count)
    inputs = [render(branch_alone(i, False))[0] for i in range(count)]
    expected = sequential_sum(inputs, 1, 0.37)
    whole, unstaged_processes = render(graph, disabled=["sum_stages"])
    assert same_bytes(whole, expected)
    stages = math.ceil(count / STAGE_INPUTS)
    calls = random_lengths(np.random.default_rng(count))
    for threads in (1, 2, 4):
        for block in (37, 64, 1024):
            got, processes = render(graph, threads=threads, block=block)
            assert processes == unstaged_processes + stages - 1  # the sum did run in stages
            assert same_bytes(got, expected), (threads, block)
        got, _ = render(graph, threads=threads, calls=calls)
        assert same_bytes(got, expected), (threads, "run_block")


def test_a_sum_of_eight_or_fewer_runs_as_one_process():
    graph = wide_mix(STAGE_INPUTS)
    assert render(graph)[1] == render(graph, disabled=["sum_stages"])[1]


@pytest.mark.parametrize("channels,stereo_every", [(2, 3), (2, 1), (1, 2)])
def test_stages_keep_the_channel_mapping_of_mono_and_stereo_inputs(channels, stereo_every):
    # Some inputs are panned to stereo. Into two channels a stereo input lands on 0 and 1, a mono
    # one on 0 only; into one channel both of a stereo input's channels land on 0, one after the
    # other.
    count = 20
    graph = wide_mix(count, gain=-1.5, channels=channels, stereo_every=stereo_every)
    inputs = [render(branch_alone(i, i % stereo_every == 0))[0] for i in range(count)]
    expected = sequential_sum(inputs, channels, -1.5)
    for threads in (1, 2):
        for disabled in ((), ("sum_stages",)):
            got, _ = render(graph, threads=threads, block=100, disabled=disabled)
            assert same_bytes(got, expected), (threads, disabled)


def test_a_controlled_and_modulated_gain_is_applied_once_after_the_whole_sum():
    graph = wide_mix(25)
    graph.bind_control("sum", "gain", "velocity")
    graph.add_node("wobble", "lfo", freq=3.0)
    graph.modulate("wobble", "sum", "gain", scale=0.3, mode="add")
    graph.record_control_event(0.0101, velocity=0.8)
    graph.record_control_event(0.0333, velocity=-0.4)
    blob = graph.control_delay.export_control_history_blob(0.0, FRAMES / SR)
    reference, _ = render(graph, threads=1, block=1024, disabled=["sum_stages"], control=blob)
    # The gain changes within the render, so the sum is not just a scaled copy of one gain.
    unscaled, _ = render(wide_mix(25, gain=1.0), block=1024)
    ratio = reference[0, 0, 100:] / unscaled[0, 0, 100:]
    assert np.nanmax(ratio) - np.nanmin(ratio) > 0.5
    for threads in (1, 2, 4):
        for block in (7, 64, 333):
            got, _ = render(graph, threads=threads, block=block, control=blob)
            assert same_bytes(got, reference), (threads, block)


def test_a_wide_mix_inside_a_feedback_loop_and_read_by_two_nodes():
    # The running sum is read by a gain (the sink's input) and by a block delay feeding it back.
    g = amp.AudioGraph(SR)
    g.add_node("sum", "mix", gain=0.5)
    for i in range(12):
        g.connect(add_branch(g, i), "sum")
    g.add_node("echo", "block_delay", frames=256)
    g.connect("sum", "echo")
    g.connect("echo", "sum")
    g.add_node("tap", "gain", gain=0.8)
    g.connect("sum", "tap")
    g.add_node("out", "mix")
    g.connect("tap", "out")
    g.connect("sum", "out")
    g.set_sink("out")
    for block in (64, 250):
        reference, _ = render(g, threads=1, block=block, disabled=["sum_stages"])
        for threads in (1, 2, 4, 8):
            got, _ = render(g, threads=threads, block=block)
            assert same_bytes(got, reference), (threads, block)


def test_a_staged_mix_is_timed_as_one_node_called_once_per_block():
    graph = wide_mix(30)
    with NativeGraphExecutor(graph, max_block_frames=64, threads=2) as ex:
        set_timing(ex, True)
        ex.render(64 * 50, 64)
        ns, calls = node_timings(ex)
    mix = graph.nodes.index("sum")
    assert ns[mix] > 0
    assert list(calls) == [50] * len(graph.nodes)  # the mix too, though each block fires four stages
