"""amp.dataset specifications: the schema, the catalogue ranges, and item i drawn from (seed, i) alone."""

import json
import math

import numpy as np
import pytest
from scipy import stats

import amp
from amp.dataset import DatasetSpec, SpecError, draw_item

pytest.importorskip("jsonschema")


def base(**extra):
    spec = {"count": 20, "seconds": 0.25, "seed": 11,
            "vary": {"env.decay": {"distribution": "log_uniform", "low": 0.05, "high": 1.0}}}
    spec.update(extra)
    return spec


@pytest.mark.parametrize("data, where", [
    (base(colour="red"), "'colour' at (top level)"),
    (base(vary={"env.decay": {"distribution": "uniform", "low": 0.1, "hihg": 0.2}}), "'hihg' at vary.\"env.decay\""),
    (base(events=[{"time": 0.0, "values": {"gate": 1}}, {"time": 0.1, "vaules": {"gate": 0}}]), "'vaules' at events[1]"),
    (base(events=[{"time": {"distribution": "uniform", "low": 0, "high": 0.1, "mode": 2}, "values": {"gate": 1}}]),
     "'mode' at events[0].time"),
])
def test_unknown_keys_are_refused_with_their_path(runtime, data, where):
    with pytest.raises(SpecError, match="unknown key") as info:
        DatasetSpec.from_dict(data)
    assert where in str(info.value)
    assert isinstance(info.value, amp.AmpError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("field, value, needle", [
    ("count", 1.5, "count"), ("count", "10", "count"), ("count", 0, "count"), ("seed", -1, "seed"),
    ("seconds", 0, "seconds"), ("count", True, "count"),
])
def test_wrong_types_are_refused(runtime, field, value, needle):
    with pytest.raises(SpecError, match=needle):
        DatasetSpec.from_dict(base(**{field: value}))


@pytest.mark.parametrize("vary, needle", [
    ({"pan.pan": {"distribution": "uniform", "low": -2.0, "high": 0.5}}, r"vary.pan.pan.low = -2 is outside .*\[-1, 1\]"),
    ({"pan.pan": {"distribution": "normal", "mean": 0.0, "std": 0.5, "high": 3.0}}, r"high = 3 is outside"),
    ({"pan.pan": {"distribution": "choice", "values": [0.0, 1.5]}}, r"values\[1\] = 1.5 is outside"),
    ({"env.decay": {"distribution": "log_uniform", "low": 0.0, "high": 1.0}}, "0 < low"),
    ({"env.decay": {"distribution": "uniform", "low": 0.5, "high": 0.1}}, "must not exceed"),
    ({"env.decay": {"distribution": "uniform", "low": 0.1}}, "needs high"),
    ({"pan.pan": {"distribution": "normal", "mean": 0.0, "std": 0.001, "low": 0.5}}, "no probability left"),
    ({"env.decay": {"distribution": "choice", "values": [0.1], "low": 0.0}}, "takes no low"),
    ({"sine.waveform": {"distribution": "choice", "values": [0, 1]}}, "fixed when the node is created"),
    ({"nosuch.amp": {"distribution": "uniform", "low": 0, "high": 1}}, "no node named 'nosuch'"),
    ({"sine.colour": {"distribution": "uniform", "low": 0, "high": 1}}, "no parameter 'colour'"),
])
def test_distributions_must_stay_in_the_catalogue_range(runtime, vary, needle):
    with pytest.raises(SpecError, match=needle):
        DatasetSpec.from_dict(base(vary=vary))


def test_events_must_name_bound_keys_and_stay_in_time_and_range(runtime):
    with pytest.raises(SpecError, match="no parameter of the patch is bound to control key 'brightness'"):
        DatasetSpec.from_dict(base(events=[{"time": 0.0, "values": {"brightness": 1.0}}]))
    with pytest.raises(SpecError, match=r"events\[0\].time = 0.5 is outside"):
        DatasetSpec.from_dict(base(events=[{"time": 0.5, "values": {"gate": 1.0}}]))
    with pytest.raises(SpecError, match=r"events\[0\].time.high = 0.3 is outside"):
        DatasetSpec.from_dict(base(events=[{"time": {"distribution": "uniform", "low": 0, "high": 0.3},
                                            "values": {"gate": 1.0}}]))
    with pytest.raises(SpecError, match="follows control key 'gate'"):
        DatasetSpec.from_dict(base(vary={"gate.value": {"distribution": "uniform", "low": 0, "high": 1}},
                                   events=[{"time": 0.0, "values": {"gate": 1.0}}]))


@pytest.mark.parametrize("patch, needle", [
    ({"nodes": 5}, "patch: nodes: 5 is not of type 'array'"),
    ({"nodes": [{"name": "a", "type": "no_such_type"}]}, "unknown node type 'no_such_type'"),
    ({"nodes": [], "colour": 1}, "patch: colour: unknown key 'colour'"),
    ("missing.toml", "cannot read"),
    ("patch.txt", "not a .json or .toml patch file"),
])
def test_bad_patches_are_refused(runtime, patch, needle):
    with pytest.raises(SpecError, match=needle):
        DatasetSpec.from_dict(base(patch=patch, vary={}))


def test_a_patch_changed_after_the_spec_was_made_is_checked_again(runtime):
    """graph() skips the schema check for a patch it has checked already, and only for that patch."""
    patch = {"nodes": [{"name": "osc", "type": "oscillator", "params": {"freq": 220.0}}]}
    spec = DatasetSpec.from_dict(base(patch=patch, vary={}))
    assert spec.graph().to_config()["nodes"][0]["params"]["freq"] == 220.0
    spec.patch["nodes"][0]["params"]["colour"] = 1.0
    with pytest.raises(SpecError, match="colour"):
        spec.graph()


def test_files_and_dicts_agree_and_round_trip(runtime, tmp_path):
    patch = {"nodes": [{"name": "osc", "type": "oscillator", "params": {"freq": 220.0}},
                       {"name": "out", "type": "gain", "params": {"gain": 0.5}}],
             "connections": [{"source": "osc", "target": "out"}], "sink": "out"}
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches" / "tone.json").write_text(json.dumps(patch))
    (tmp_path / "spec.toml").write_text(
        'patch = "patches/tone.json"\ncount = 5\nseconds = 0.1\nseed = 3\nsample_rate = 8000\n'
        '[vary."osc.freq"]\ndistribution = "uniform"\nlow = 100\nhigh = 200\n')
    from_toml = DatasetSpec.from_file(tmp_path / "spec.toml")
    (tmp_path / "spec.json").write_text(json.dumps({**from_toml.to_dict()}))
    from_json = DatasetSpec.from_file(tmp_path / "spec.json")
    assert from_toml.fingerprint() == from_json.fingerprint() == DatasetSpec.from_dict(from_toml.to_dict()).fingerprint()
    assert from_toml.patch["nodes"][0]["name"] == "osc" and from_toml.frames == 800
    with pytest.raises(SpecError, match="cannot read"):
        DatasetSpec.from_file(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("count = \n")
    with pytest.raises(SpecError, match="not valid TOML"):
        DatasetSpec.from_file(tmp_path / "bad.toml")


# ----- drawing --------------------------------------------------------------------------------

def _u(word):
    return ((int(word) >> 11) + 0.5) / 2.0**53


def redraw(seed, item, kinds):
    """The documented recipe (docs/datasets.md), written out without amp.dataset: Philox4x64 keyed by
    the seed, counter item·2^64, one word per value, then the formula of each distribution."""
    from statistics import NormalDist

    words = np.random.Philox(key=seed, counter=item << 64).random_raw(len(kinds))
    out = []
    for word, (kind, args) in zip(words, kinds):
        u = _u(word)
        if kind == "uniform":
            out.append(args["low"] + (args["high"] - args["low"]) * u)
        elif kind == "log_uniform":
            out.append(min(max(args["low"] * (args["high"] / args["low"]) ** u, args["low"]), args["high"]))
        elif kind == "choice":
            out.append(args["values"][int(u * len(args["values"]))])
        else:
            n = NormalDist(args["mean"], args["std"])
            a, b = n.cdf(args["low"]), n.cdf(args["high"])
            out.append(min(max(n.inv_cdf(a + u * (b - a)), args["low"]), args["high"]))
    return out


VARY = {
    "env.decay": {"distribution": "log_uniform", "low": 0.05, "high": 2.0},
    "sine.amp": {"distribution": "uniform", "low": 0.1, "high": 0.8},
    "sub.div2": {"distribution": "choice", "values": [0.0, 0.25, 0.5]},
    "pan.pan": {"distribution": "normal", "mean": 0.2, "std": 0.4},
}


def test_item_i_is_redrawn_from_the_seed_alone(runtime):
    spec = DatasetSpec.from_dict(base(count=1000, seed=2**63 + 5, vary=VARY))
    kinds = [(d["distribution"], {**d, "low": d.get("low", -1.0), "high": d.get("high", 1.0)}) for d in VARY.values()]
    for item in (999, 0, 517, 3):  # any order, any subset
        drawn = draw_item(spec, item).params
        assert list(drawn.values()) == redraw(2**63 + 5, item, kinds)
    with pytest.raises(IndexError):
        draw_item(spec, 1000)


def test_draws_follow_their_distributions(runtime):
    n = 3000
    spec = DatasetSpec.from_dict(base(count=n, vary=VARY))
    draws = [draw_item(spec, i).params for i in range(n)]
    col = {key: np.array([d[key] for d in draws]) for key in VARY}
    assert stats.kstest(col["sine.amp"], stats.uniform(0.1, 0.7).cdf).pvalue > 1e-3
    assert stats.kstest(col["env.decay"], stats.loguniform(0.05, 2.0).cdf).pvalue > 1e-3
    assert stats.kstest(col["pan.pan"], stats.truncnorm(-3.0, 2.0, loc=0.2, scale=0.4).cdf).pvalue > 1e-3
    counts = np.array([np.sum(col["sub.div2"] == v) for v in (0.0, 0.25, 0.5)])
    assert counts.sum() == n and stats.chisquare(counts).pvalue > 1e-3
    assert col["pan.pan"].min() >= -1.0 and col["pan.pan"].max() <= 1.0


def test_whole_parameters_are_rounded(runtime):
    spec = DatasetSpec.from_dict(base(patch={"nodes": [{"name": "n", "type": "noise", "params": {}}]},
                                      vary={"n.seed": {"distribution": "uniform", "low": 0, "high": 50}}))
    if not spec.graph().spec("n").param("seed").integer or spec.graph().spec("n").param("seed").static:
        pytest.skip("the noise node's seed is not a whole, per-row parameter in this catalogue")
    values = [draw_item(spec, i).params["n.seed"] for i in range(20)]
    assert all(v == round(v) for v in values)


def test_the_example_in_docs_datasets_is_a_valid_specification(runtime):
    import re
    from pathlib import Path

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    text = (Path(__file__).resolve().parents[1] / "docs" / "datasets.md").read_text()
    example = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    spec = DatasetSpec.from_dict(tomllib.loads(example))
    assert spec.count == 10000 and spec.events_drawn and len(spec.vary) == 4
    documented = set(re.findall(r"^\| `(\w+)` \|", text[text.index("| key | type"):], re.M))
    from amp.dataset.schema import SCHEMA

    assert documented >= set(SCHEMA["properties"])
