"""AudioGraph -> blobs -> native render, checked against analytic references."""

import numpy as np
import pytest

import amp
from amp.native_runtime import NativeGraphExecutor

from conftest import exact_sine, sine_gain_graph

SR = 48000


def test_sine_gain_ten_seconds_matches_analytic_sine(runtime):
    g = sine_gain_graph(freq=440.0, gain=0.5)
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=256) as ex:
        y = ex.render(10 * SR, 256)
    assert y.shape == (1, 1, 10 * SR) and y.dtype == np.float64 and y.flags.c_contiguous
    np.testing.assert_allclose(y[0, 0], exact_sine(440, SR, 10 * SR, 0.5), rtol=0, atol=1e-12)


def test_batch_rows_follow_their_own_frequency(runtime):
    freqs = np.array([110.0, 220.0, 441.0, 1000.0])
    g = sine_gain_graph(gain=1.0)
    frames = 10 * SR
    with NativeGraphExecutor(g, batch=4, sample_rate=SR, max_block_frames=256) as ex:
        y = ex.render(frames, 256, base_params={"osc": {"freq": freqs.reshape(4, 1, 1)}})
    assert y.shape == (4, 1, frames)
    for b, f in enumerate(freqs):
        np.testing.assert_allclose(y[b, 0], exact_sine(int(f), SR, frames), rtol=0, atol=1e-12)


def test_render_block_through_the_graph_continues_the_stream(runtime):
    g = sine_gain_graph(freq=1000.0, gain=1.0)
    blocks = [g.render_block(n, SR) for n in (256, 512, 100, 4096)]
    np.testing.assert_allclose(np.concatenate(blocks, axis=2)[0, 0], exact_sine(1000, SR, 4964), atol=1e-12, rtol=0)


def test_render_block_uses_the_attached_executor_until_the_graph_changes(runtime):
    g = sine_gain_graph(freq=1000.0, gain=1.0)
    attached = g.attach_executor(SR, batch=1, frames=256, threads=1)
    assert attached.info()["threads"] == 1
    first = g.render_block(256, SR)
    assert g.executor is attached and attached.info()["frame_position"] == 256
    second = g.render_block(256, SR)
    np.testing.assert_allclose(np.concatenate([first, second], axis=2)[0, 0], exact_sine(1000, SR, 512),
                               atol=1e-12, rtol=0)
    g.add_node("extra", "constant")  # a change to the graph: the next call builds a new executor
    g.render_block(64, SR)
    assert g.executor is not attached


def test_changing_frame_counts_equal_one_long_render(runtime):
    g = sine_gain_graph(freq=333.0, gain=0.7)
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=4096) as ex:
        pieces = [ex.run_block(n) for n in (256, 512, 100, 4096)]
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=4964) as ex:
        whole = ex.run_block(4964)
    assert np.array_equal(np.concatenate(pieces, axis=2), whole)


def test_add_modulation_does_not_accumulate_across_blocks(runtime):
    g = amp.AudioGraph(SR)
    g.add_node("one", "constant", value=1.0)
    g.add_node("src", "constant", value=0.25)
    g.add_node("out", "gain", gain=1.0)
    g.connect("src", "out")
    g.modulate("one", "out", "gain", scale=1.0, mode="add")
    g.set_sink("out")
    with NativeGraphExecutor(g, sample_rate=SR, max_block_frames=64) as ex:
        blocks = [ex.run_block(64)[0, 0] for _ in range(4)]
    for block in blocks:  # (1 + 1) * 0.25 in every block, not 0.5, 0.75, ...
        assert np.all(block == 0.5)


def test_mul_modulation_and_add_then_mul_order(runtime):
    g = amp.AudioGraph(SR)
    g.add_node("a", "constant", value=3.0)
    g.add_node("m", "constant", value=5.0)
    g.add_node("src", "constant", value=1.0)
    g.add_node("out", "gain", gain=2.0)
    g.connect("src", "out")
    g.modulate("m", "out", "gain", scale=0.5, mode="mul")
    g.modulate("a", "out", "gain", scale=1.0, mode="add")
    y = g.render_block(32, SR)
    assert np.all(y == (2.0 + 3.0) * (5.0 * 0.5))


def test_selecting_one_channel_of_a_stereo_modulation_source(runtime):
    g = amp.AudioGraph(SR)
    g.add_node("stereo", "constant", value=0.0, channels=2)
    g.add_node("src", "constant", value=1.0)
    g.add_node("out", "gain", gain=0.0)
    g.connect("src", "out")
    g.modulate("stereo", "out", "gain", channel=1)
    per_channel = np.array([3.0, 7.0]).reshape(1, 2, 1)
    y = g.render_block(16, SR, base_params={"stereo": {"value": per_channel}})
    assert np.all(y == 7.0)
    g2 = amp.AudioGraph(SR)
    g2.add_node("stereo", "constant", value=0.0, channels=2)
    g2.add_node("src", "constant", value=1.0, channels=2)
    g2.add_node("out", "gain", gain=0.0)
    g2.connect("src", "out")
    g2.modulate("stereo", "out", "gain")  # same width: channel for channel
    y2 = g2.render_block(16, SR, base_params={"stereo": {"value": per_channel}})
    assert np.all(y2[0, 0] == 3.0) and np.all(y2[0, 1] == 7.0)


def test_multichannel_source_into_narrower_target_needs_a_channel(runtime):
    g = amp.AudioGraph(SR)
    g.add_node("stereo", "constant", channels=2)
    g.add_node("osc", "oscillator")
    g.modulate("stereo", "osc", "freq")
    g.set_sink("osc")
    with pytest.raises(amp.GraphError, match="channel"):
        g.render_block(16, SR)


@pytest.mark.parametrize("shape", [(), (3, 1, 1), (3, 1, 64), (1, 1, 64), (1, 1, 1)])
def test_base_params_accepted_shapes(runtime, shape):
    g = sine_gain_graph()
    value = np.full(shape, 0.25) if shape else 0.25
    y = g.render_block(64, SR, base_params={"out": {"gain": value}}, batch=3)
    ref = exact_sine(440, SR, 64, 0.25)
    for b in range(3):
        np.testing.assert_allclose(y[b, 0], ref, atol=1e-15, rtol=0)


def test_base_params_flat_key_and_per_sample_values(runtime):
    g = sine_gain_graph(freq=1000.0)
    ramp = np.linspace(0, 1, 64).reshape(1, 1, 64)
    y = g.render_block(64, SR, base_params={"out.gain": ramp})
    np.testing.assert_allclose(y[0, 0], exact_sine(1000, SR, 64) * ramp[0, 0], atol=1e-15, rtol=0)


@pytest.mark.parametrize("shape", [(64,), (3, 64), (2, 1, 1), (3, 2, 64), (3, 1, 63), (1, 1, 1, 1)])
def test_base_params_other_shapes_name_the_expected_shape(runtime, shape):
    g = sine_gain_graph()
    with pytest.raises(amp.GraphError) as info:
        g.render_block(64, SR, base_params={"out": {"gain": np.ones(shape)}}, batch=3)
    assert "(3, 1, 64)" in str(info.value) and "out" in str(info.value) and "gain" in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_override_is_refused_with_its_position(runtime, bad):
    g = sine_gain_graph()
    first = g.render_block(64, SR)
    value = np.ones((1, 1, 64))
    value[0, 0, 17] = bad
    with pytest.raises(amp.GraphError) as info:
        g.render_block(64, SR, base_params={"out": {"gain": value}})
    text = str(info.value)
    assert "out.gain" in text and "[0, 0, 17]" in text and "finite" in text
    # the refused call changed nothing: the stream continues from where it was
    second = g.render_block(64, SR)
    joined = np.concatenate([first, second], axis=2)[0, 0]
    np.testing.assert_allclose(joined, exact_sine(440, SR, 128, 0.5), atol=1e-14, rtol=0)


def test_override_outside_the_catalogue_range_is_refused(runtime):
    g = sine_gain_graph()
    with pytest.raises(amp.GraphError, match=r"osc\.freq.*\[-1e\+06, 1e\+06\]"):
        g.render_block(8, SR, base_params={"osc": {"freq": 5e6}})


def test_unknown_type_param_and_out_of_range_values_name_what_is_wrong(runtime):
    g = amp.AudioGraph(SR)
    with pytest.raises(amp.GraphError, match="unknown node type 'osc'.*oscillator"):
        g.add_node("a", "osc")
    with pytest.raises(amp.GraphError, match="node 'a' .* no parameter 'frequency'.*freq"):
        g.add_node("a", "oscillator", frequency=3)
    with pytest.raises(amp.GraphError, match=r"node 'a' parameter 'phase' = 2 is outside the allowed range \[0, 1\]"):
        g.add_node("a", "oscillator", phase=2)
    with pytest.raises(ValueError):
        g.add_node("a", "oscillator", freq=float("nan"))
    g.add_node("a", "oscillator")
    with pytest.raises(amp.GraphError, match="already exists"):
        g.add_node("a", "gain")
    with pytest.raises(amp.GraphError, match="no input 'side'"):
        g.add_node("b", "gain")
        g.connect("a", "b", input="side")
    with pytest.raises(amp.GraphError, match="fixed at creation"):
        g.modulate("a", "a", "phase")


def test_cycle_without_a_block_delay_is_rejected_naming_its_nodes(runtime):
    g = amp.AudioGraph(SR)
    g.add_node("src", "oscillator")
    g.add_node("sum", "mix")
    g.add_node("loop", "gain")
    g.connect("src", "sum")
    g.connect("sum", "loop")
    g.connect("loop", "sum")
    g.set_sink("sum")
    with pytest.raises(amp.GraphError, match=r"cycle without a block delay: (sum -> loop -> sum|loop -> sum -> loop)"):
        g.render_block(64, SR)


def test_mix_sums_inputs_channel_mod_n(runtime):
    g = amp.AudioGraph(SR)
    g.add_node("a", "constant", value=1.0)
    g.add_node("b", "constant", value=2.0, channels=2)
    g.add_node("m", "mix", channels=2, gain=0.5)
    g.connect("a", "m")
    g.connect("b", "m")
    g.set_sink("m")
    values = np.array([10.0, 20.0]).reshape(1, 2, 1)
    y = g.render_block(8, SR, base_params={"b": {"value": values}})
    assert np.all(y[0, 0] == 0.5 * (1.0 + 10.0)) and np.all(y[0, 1] == 0.5 * 20.0)


def test_executor_is_a_context_manager_and_closes(runtime):
    g = sine_gain_graph()
    with NativeGraphExecutor(g, sample_rate=SR) as ex:
        ex.run_block(16)
    with pytest.raises(amp.GraphError, match="closed"):
        ex.run_block(16)


def test_patch_round_trip_json_and_toml(runtime, tmp_path):
    g = sine_gain_graph(freq=220.0, gain=0.3)
    g.add_node("lfo", "constant", value=0.1)
    g.modulate("lfo", "out", "gain", scale=2.0)
    g.bind_control("osc", "freq", "pitch")
    config = g.to_config()
    again = amp.AudioGraph.from_config(config)
    assert again.serialize_node_descriptors() == g.serialize_node_descriptors()
    import json

    path = tmp_path / "patch.json"
    path.write_text(json.dumps(config))
    assert amp.AudioGraph.from_config(path).serialize_node_descriptors() == g.serialize_node_descriptors()
    toml = tmp_path / "patch.toml"
    toml.write_text(
        'sample_rate = 48000\nsink = "out"\n'
        '[[nodes]]\nname = "osc"\ntype = "oscillator"\nparams = { freq = 220.0 }\n'
        '[[nodes]]\nname = "out"\ntype = "gain"\nparams = { gain = 0.3 }\n'
        '[[connections]]\nsource = "osc"\ntarget = "out"\n'
    )
    y = amp.AudioGraph.from_config(toml).render_block(480, SR)
    np.testing.assert_allclose(y[0, 0], exact_sine(220, SR, 480, 0.3), atol=1e-14, rtol=0)
    with pytest.raises(amp.GraphError, match="unknown key 'wires'"):
        amp.AudioGraph.from_config({"nodes": [], "wires": []})
