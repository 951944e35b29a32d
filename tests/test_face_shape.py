"""One stream, one shape: render_block never restarts a stream silently."""

from __future__ import annotations

import numpy as np
import pytest

import amp
from conftest import exact_sine


def sine(sample_rate=48000) -> amp.AudioGraph:
    g = amp.AudioGraph(sample_rate)
    g.add_node("osc", "oscillator", freq=1000.0)
    return g


def test_changing_the_batch_mid_stream_is_refused_and_says_how_to_start_anew():
    g = sine()
    g.render_block(480)
    rows = {"osc": {"freq": np.array([500, 1000, 1500, 2000.0]).reshape(4, 1, 1)}}
    with pytest.raises(amp.GraphError, match=r"B=4.*B=1.*reset\(\)"):
        g.render_block(480, base_params=rows)
    with pytest.raises(amp.GraphError, match="reset"):
        g.render_block(480, batch=2)
    # the refused calls left the stream alone: it continues the 1 kHz sine where it was
    out = g.render_block(480)
    assert g.frame_position == 960
    np.testing.assert_allclose(out[0, 0], exact_sine(1000, 48000, 960)[480:], atol=1e-9)


def test_after_reset_a_new_batch_starts_a_new_stream_at_zero():
    g = sine()
    g.render_block(480)
    g.reset()
    rows = g.render_block(480, base_params={"osc": {"freq": np.array([500, 1000.0]).reshape(2, 1, 1)}})
    assert rows.shape == (2, 1, 480) and g.frame_position == 480
    np.testing.assert_allclose(rows[0, 0], exact_sine(500, 48000, 480), atol=1e-9)
    np.testing.assert_allclose(rows[1, 0], exact_sine(1000, 48000, 480), atol=1e-9)
    # and that stream continues with B=2
    more = g.render_block(480, batch=2)
    np.testing.assert_allclose(more[1, 0], exact_sine(1000, 48000, 960)[480:], atol=1e-9)


def test_a_batch_of_one_row_override_keeps_the_stream():
    g = sine()
    g.render_block(480)
    out = g.render_block(480, base_params={"osc": {"freq": 1000.0}})
    np.testing.assert_allclose(out[0, 0], exact_sine(1000, 48000, 960)[480:], atol=1e-9)


def test_a_sample_rate_other_than_the_graphs_is_refused():
    g = sine(48000)
    g.render_block(100)
    with pytest.raises(amp.GraphError, match="44100.*48000"):
        g.render_block(100, 44100)
    same = g.render_block(100, 48000)  # the graph's own rate, given explicitly, continues the stream
    np.testing.assert_allclose(same[0, 0], exact_sine(1000, 48000, 200)[100:], atol=1e-9)
    assert g.frame_position == 200


def test_the_readme_first_patch_runs_as_written():
    # The README's first example: one row, then (after reset) four rows at once.
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"## A first patch\s+```python\n(.*?)```", readme, re.S).group(1)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["audio"].shape == (1, 1, 48000)
    assert scope["rows"].shape == (4, 1, 4800)
