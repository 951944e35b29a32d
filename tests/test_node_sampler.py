"""sampler: the buffer played back exactly, looped, re-pitched (against a Catmull-Rom reference
written here), restarted; the data layout and its errors."""

import struct

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor
from amp.sampler import add_sampler, sampler_data

SR = 48000.0


def render(graph, frames, base_params=None, block=256):
    with NativeGraphExecutor(graph, sample_rate=SR, max_block_frames=block, threads=1) as ex:
        return ex.render(frames, block, base_params)


def player(buffer, **params):
    g = amp.AudioGraph(SR)
    add_sampler(g, "play", buffer, **params)
    g.set_sink("play")
    return g


@pytest.fixture
def buffer():
    return np.random.default_rng(12).uniform(-1, 1, 1000)


def test_rate_one_plays_the_buffer_exactly_then_stops(runtime, buffer):
    for block in (1, 64, 999, 4096):
        y = render(player(buffer), 1500, block=min(block, 4096))[0, 0]
        assert np.array_equal(y[:1000], buffer)
        assert np.all(y[1000:] == 0.0)


def test_loop_wraps_around_the_whole_buffer(runtime, buffer):
    y = render(player(buffer, loop="on"), 3500, block=128)[0, 0]
    assert np.array_equal(y, buffer[np.arange(3500) % 1000])


def test_start_and_gain(runtime, buffer):
    y = render(player(buffer, start=250.0, amp=0.5), 800)[0, 0]
    assert np.array_equal(y[:750], 0.5 * buffer[250:])
    assert np.all(y[750:] == 0.0)


def catmull_rom(x, pos, loop):
    """Reference: 4-point cubic Hermite with tangents (x[i+1] - x[i-1]) / 2, 0 outside unless looping."""
    n = len(x)

    def at(i):
        if loop:
            return x[i % n]
        return x[i] if 0 <= i < n else 0.0

    out = []
    for p in pos:
        i = int(np.floor(p))
        t = p - i
        p0, p1, p2, p3 = at(i - 1), at(i), at(i + 1), at(i + 2)
        m1, m2 = (p2 - p0) / 2, (p3 - p1) / 2
        h00, h10, h01, h11 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t, -2 * t**3 + 3 * t**2, t**3 - t**2
        out.append(h00 * p1 + h10 * m1 + h01 * p2 + h11 * m2)
    return np.array(out)


@pytest.mark.parametrize("rate", [0.5, 0.37, 1.6180339, 2.0])
def test_other_rates_interpolate_between_frames(runtime, buffer, rate):
    frames = 400
    y = render(player(buffer, rate=rate, loop="on"), frames)[0, 0]
    positions = np.cumsum(np.concatenate([[0.0], np.full(frames - 1, rate)]))
    positions = np.mod(positions, len(buffer))
    np.testing.assert_allclose(y, catmull_rom(buffer, positions, loop=True), rtol=0, atol=1e-12)
    if rate == 2.0:
        assert np.array_equal(y[:400], buffer[0:800:2])
    if rate == 0.5:
        assert np.array_equal(y[0::2], buffer[:200])


def test_negative_rate_plays_backwards(runtime, buffer):
    y = render(player(buffer, rate=-1.0, start=999.0), 1200)[0, 0]
    assert np.array_equal(y[:1000], buffer[::-1])
    assert np.all(y[1000:] == 0.0)


def test_trigger_restarts_playback(runtime, buffer):
    g = amp.AudioGraph(SR)
    g.add_node("trig", "constant")
    add_sampler(g, "play", buffer, start=10.0)
    g.connect("trig", "play", input="trigger")
    g.set_sink("play")
    trigger = np.zeros(2000)
    trigger[300:305] = 1.0
    trigger[1500] = 1.0
    y = render(g, 2000, {"trig": {"value": trigger.reshape(1, 1, -1)}})[0, 0]
    assert np.array_equal(y[:300], buffer[10:310])
    assert np.array_equal(y[300:1290], buffer[10:1000])
    assert np.all(y[1290:1500] == 0.0)
    assert np.array_equal(y[1500:], buffer[10:510])


def test_stereo_buffer(runtime):
    x = np.stack([np.linspace(-1, 1, 300), np.linspace(1, -1, 300) ** 3])
    y = render(player(x), 300)[0]
    assert y.shape == (2, 300) and np.array_equal(y, x)


def test_data_layout_is_the_documented_one():
    x = np.array([[0.5, -0.25, 1.0], [2.0, 3.0, 4.0]])
    expected = b"AMPS" + struct.pack("<HHQ", 1, 2, 3) + struct.pack("<6d", 0.5, -0.25, 1.0, 2.0, 3.0, 4.0)
    assert sampler_data(x) == expected
    assert sampler_data(np.array([1.0, 2.0])) == b"AMPS" + struct.pack("<HHQ", 1, 1, 2) + struct.pack("<2d", 1, 2)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 3, 4)), "1-D"),
    (np.zeros(0), "at least one frame"),
    (np.array([1.0, np.nan]), "finite"),
    (np.zeros((100, 2)), "channels"),
])
def test_helper_rejects_bad_buffers(bad, match):
    with pytest.raises(amp.AmpError, match=match) as info:
        sampler_data(bad)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("data,match", [
    (None, "no buffer"),
    (np.arange(4.0).tobytes(), "AMPS"),
    (b"AMPS" + struct.pack("<HHQ", 1, 1, 10) + bytes(8 * 9), "10 frames"),
    (b"AMPS" + struct.pack("<HHQ", 2, 1, 1) + bytes(8), "version"),
    (b"AMPS" + struct.pack("<HHQ", 1, 2, 1) + bytes(16), "channels parameter"),
])
def test_a_bad_data_section_fails_the_render_with_the_reason(runtime, data, match):
    g = amp.AudioGraph(SR)
    g.add_node("play", "sampler", data=data)
    g.set_sink("play")
    with pytest.raises(amp.AmpError, match=match) as info:
        render(g, 10)
    assert "play" in str(info.value)
