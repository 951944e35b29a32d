"""render_block forgets the control events the stream has passed (ControlDelay retention): memory
stays bounded over a long performance, and not one rendered sample changes."""

import json

import numpy as np
import pytest

import amp
from amp.native_runtime import describe_blob

from conftest import run_python

SR = 8000


def performed_graph(retention, seconds=12, seed=3):
    """An oscillator whose pitch (step) and a gain whose level (linear) follow events at random
    times, some of them sharing a time, over `seconds` seconds."""
    g = amp.AudioGraph(SR, control_delay=amp.ControlDelay(retention=retention))
    g.add_node("osc", "oscillator")
    g.add_node("vca", "gain")
    g.connect("osc", "vca")
    g.bind_control("osc", "freq", "pitch")
    g.bind_control("vca", "gain", "level")
    g.control_delay.set_interpolation("level", "linear")
    g.set_sink("vca")
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.0, seconds, 60 * seconds))
    times[10::50] = times[9::50][: len(times[10::50])]  # some events at equal times
    for t in times:
        g.record_control_event(float(t), pitch=float(rng.uniform(100, 1000)), extras={"level": float(rng.uniform(0, 1))})
    return g


def render_in_uneven_blocks(g, seconds, late_events=False):
    rng = np.random.default_rng(11)
    pieces, blobs = [], []
    done = 0
    while done < seconds * SR:
        frames = int(rng.integers(1, 3000))
        t0 = done / SR
        if late_events:
            # a player a little late: events for just before and just after the block starts
            g.record_control_event(t0 - 0.0004, pitch=float(rng.uniform(100, 1000)))
            g.record_control_event(t0 + 0.0002, extras={"level": float(rng.uniform(0, 1))})
        blobs.append(g.control_delay.export_control_history_blob(t0, t0 + frames / SR))
        pieces.append(g.render_block(frames, SR))
        done += frames
    return np.concatenate(pieces, axis=2), blobs


@pytest.mark.parametrize("late_events", [False, True])
def test_forgetting_changes_no_sample(runtime, late_events):
    """Every event kept (retention None) against the default and against keeping nothing behind the
    stream: the same control windows, bit for bit the same audio."""
    kept, kept_blobs = render_in_uneven_blocks(performed_graph(None), 12, late_events)
    assert np.ptp(kept) > 0.5  # the events really moved the sound
    for retention in (amp.ControlDelay().retention, 0.0, 0.25):
        g = performed_graph(retention)
        pruned, pruned_blobs = render_in_uneven_blocks(g, 12, late_events)
        assert pruned_blobs == kept_blobs
        assert pruned.tobytes() == kept.tobytes()


def test_history_behind_the_stream_is_forgotten_but_the_value_in_force_kept(runtime):
    g = performed_graph(2.0, seconds=12)
    everything = performed_graph(None, seconds=12)
    before = len(g.control_delay.events("pitch")[0])
    for graph in (g, everything):
        for _ in range(10):
            graph.render_block(SR, SR)  # ten seconds
    times, _values = g.control_delay.events("pitch")
    all_times, _ = everything.control_delay.events("pitch")
    assert len(all_times) == before  # nothing forgotten without retention
    # forgotten: everything before 10 - 2 = 8 s except the last event before it
    assert np.count_nonzero(times < 8.0) == 1
    assert times[0] == all_times[all_times < 8.0][-1]
    assert np.array_equal(times[1:], all_times[all_times >= 8.0])
    # windows inside the retention, and ahead, export as if nothing were forgotten
    for t0, t1 in [(8.0, 9.0), (9.5, 10.0), (10.0, 12.5), (7.9999, 8.2)]:
        assert (g.control_delay.export_control_history_blob(t0, t1)
                == everything.control_delay.export_control_history_blob(t0, t1))
    # before it, a window sees the kept event as the one in force, and nothing older
    early = describe_blob(g.control_delay.export_control_history_blob(1.0, 2.0))
    pitch = [k for k in early["keys"] if k["key"] == "pitch"][0]
    assert [e[0] for e in pitch["events"]] == [times[0]]


def test_sample_control_tensor_of_the_block_just_rendered(runtime):
    """The README's inspection of the curves of the recent past still works after render_block."""
    g = performed_graph(amp.ControlDelay().retention, seconds=3)
    reference = performed_graph(None, seconds=3)
    for graph in (g, reference):
        for _ in range(3):
            graph.render_block(SR, SR)
    assert np.array_equal(g.sample_control_tensor(2.0, SR, SR), reference.sample_control_tensor(2.0, SR, SR))


def test_retention_is_checked(runtime):
    for bad in (-1.0, float("nan"), float("inf"), "10", True):
        with pytest.raises(amp.GraphError, match="retention"):
            amp.ControlDelay(retention=bad)
    cd = amp.ControlDelay()
    assert cd.retention == 10.0
    cd.retention = None
    assert cd.retention is None
    with pytest.raises(amp.GraphError, match="retention"):
        cd.retention = -0.5
    assert amp.ControlDelay(retention=3).retention == 3.0


SOAK = """
import json, os, sys
import amp
retention = json.loads(sys.argv[1]) if len(sys.argv) > 1 else "default"
SR = 8000
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
delay = amp.ControlDelay() if retention == "default" else amp.ControlDelay(retention=retention)
g = amp.AudioGraph(SR, control_delay=delay)
g.add_node("osc", "oscillator")
g.add_node("vca", "gain")
g.connect("osc", "vca")
g.bind_control("osc", "freq", "pitch")
g.bind_control("vca", "gain", "level")
g.set_sink("vca")
per_second = 2000
for second in range(250):
    # the next second's events (two keys: 4,000 events), then that second rendered
    for k in range(per_second):
        g.record_control_event(second + k / per_second, pitch=100.0 + k, extras={"level": k / per_second})
    g.render_block(SR, SR)
    if second == 49:
        warm = rss()
print(json.dumps({"warm": warm, "end": rss()}))
"""

GROWTH_BOUND = 16 * 2**20


def soak(*args):
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    # Under AddressSanitizer freed blocks wait in a quarantine of up to 256 MB before reuse, which
    # would read as growth; the measure is of what amp keeps, so the subprocess reuses at once.
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"
    done = subprocess.run([sys.executable, "-c", SOAK, *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["end"] - result["warm"]


def test_a_million_events_rendered_as_they_come_keep_memory_flat(runtime):
    """A million events (250 s of two keys at 2 kHz), each second recorded just ahead of its render:
    after the first 50 s the resident memory stays flat. The same run keeping every event grows by
    some 60 bytes an event (about 50 MB over the last 800,000), which the bound of 16 MB excludes."""
    grown = soak()
    assert grown < GROWTH_BOUND, f"resident memory grew by {grown / 2**20:.1f} MB over 800,000 events"
    kept = soak("null")
    assert kept > 2 * GROWTH_BOUND, f"keeping every event grew only {kept / 2**20:.1f} MB: the measure sees nothing"
