"""amp.dataset rendering: batched shards equal single renders, a two-worker Dask cluster writes the
same bytes as one process, an interrupted run resumes to the same bytes, foreign stores are refused."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import amp
from amp.dataset import DatasetSpec, DatasetError, StoreError, draw_item, render, render_items
from amp.native_runtime import NativeGraphExecutor

zarr = pytest.importorskip("zarr")
distributed = pytest.importorskip("dask.distributed")

SPEC = {
    "count": 11,
    "seconds": 0.2,
    "sample_rate": 16000,
    "seed": 99,
    "shard_items": 3,
    "block_frames": 256,
    "vary": {
        "env.decay": {"distribution": "log_uniform", "low": 0.02, "high": 0.5},
        "saw.amp": {"distribution": "uniform", "low": 0.0, "high": 0.5},
        "pan.pan": {"distribution": "normal", "mean": 0.0, "std": 0.5},
        "tremolo.freq": {"distribution": "choice", "values": [2.0, 5.0, 9.0]},
    },
    "events": [
        {"time": 0.0, "values": {"pitch": {"distribution": "log_uniform", "low": 110.0, "high": 880.0},
                                 "gate": 1.0, "trigger": 1.0,
                                 "velocity": {"distribution": "uniform", "low": 0.3, "high": 1.0}}},
        {"time": 0.004, "values": {"trigger": 0.0}},
        {"time": {"distribution": "uniform", "low": 0.05, "high": 0.15}, "values": {"gate": 0.0}},
    ],
    "interpolation": {"pitch": "linear"},
}


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_store(a: Path, b: Path):
    fa, fb = files_of(a), files_of(b)
    assert sorted(fa) == sorted(fb)
    different = [name for name in fa if fa[name] != fb[name]]
    assert not different, f"files differ: {different[:5]}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The dataset rendered in this one process, without Dask."""
    out = tmp_path_factory.mktemp("reference") / "store"
    summary = render(SPEC, out, workers=0, progress=False)
    assert summary.shards == 4 and summary.shards_rendered == 4
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two worker processes; the one that renders shard 1 first dies once, after writing its audio
    and before marking the shard done (the flag file says it happened)."""
    flag = tmp_path_factory.mktemp("crash") / "died"
    os.environ["AMP_DATASET_TEST_CRASH_SHARD"] = f"1:{flag}"
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=40)
    finally:
        del os.environ["AMP_DATASET_TEST_CRASH_SHARD"]
    with cluster, distributed.Client(cluster) as client:
        client.crash_flag = flag
        yield client


def reference_item(spec: DatasetSpec, item: int) -> np.ndarray:
    """Item `item` rendered the plain way: its own graph, its values set on the graph, its events
    recorded as control events, one native call."""
    draw = draw_item(spec, item)
    graph = spec.graph()
    for key, value in draw.params.items():
        node, param = key.split(".")
        graph.set_param(node, param, value)
    for key, mode in spec.interpolation.items():
        graph.control_delay.set_interpolation(key, mode)
    for time, values in draw.events:
        graph.record_control_event(time, extras=values)
    blob = graph.control_delay.export_control_history_blob(0.0, spec.seconds)
    with NativeGraphExecutor(graph, max_block_frames=spec.block_frames, threads=1) as executor:
        return executor.render(spec.frames, spec.block_frames, control_history_blob=blob)[0]


def test_an_item_in_a_shard_is_the_item_rendered_alone(runtime):
    spec = DatasetSpec.from_dict(SPEC)
    shard = render_items(spec, 3, 6)
    for row, item in enumerate(range(3, 6)):
        alone = reference_item(spec, item).astype(np.float32)
        assert np.abs(alone).max() > 0.01  # a note sounds
        np.testing.assert_array_equal(shard.audio[row], alone)


def test_shared_events_and_per_item_curves_render_the_same(runtime):
    fixed = dict(SPEC, events=[{"time": 0.0, "values": {"pitch": 330.0, "gate": 1.0, "trigger": 1.0}},
                               {"time": 0.004, "values": {"trigger": 0.0}},
                               {"time": 0.1, "values": {"gate": 0.0, "pitch": 440.0}}])
    # The same events, one of them written as a distribution that can draw one value only: each
    # item then carries its own curves instead of the one shared control blob.
    drawn = json.loads(json.dumps(fixed))
    drawn["events"][2]["time"] = {"distribution": "uniform", "low": 0.1, "high": 0.1}
    a, b = DatasetSpec.from_dict(fixed), DatasetSpec.from_dict(drawn)
    assert not a.events_drawn and b.events_drawn
    np.testing.assert_array_equal(render_items(a, 0, 4).audio, render_items(b, 0, 4).audio)


def test_two_workers_write_the_bytes_one_process_writes_though_one_dies(runtime, reference, cluster, tmp_path):
    summary = render(SPEC, tmp_path / "store", client=cluster, progress=False)
    assert cluster.crash_flag.exists()  # a worker did die mid-shard; Dask gave the shard to another
    assert summary.shards_rendered == 4
    assert_same_store(reference, tmp_path / "store")


def test_parameters_in_the_store_are_redrawn_from_the_seed(runtime, reference):
    group = amp.dataset.open_store(reference)
    spec = DatasetSpec.from_dict(group.attrs["amp_dataset"]["spec"])
    assert spec.fingerprint() == DatasetSpec.from_dict(SPEC).fingerprint()
    for item in (10, 0, 6):
        draw = draw_item(spec, item)
        for key, value in draw.params.items():
            assert group[f"params/{key}"][item] == value
        assert group["events/2/time"][item] == draw.events[2][0]
        assert group["events/0/pitch"][item] == draw.events[0][1]["pitch"]
    assert group["audio"].shape == (11, 2, 3200) and group["audio"].dtype == np.float32
    assert list(group["done"][:]) == [1, 1, 1, 1]


def test_a_worker_killed_mid_run_then_a_resumed_run_gives_the_same_bytes(runtime, reference, cluster, tmp_path,
                                                                          monkeypatch):
    import dask

    out = tmp_path / "store"
    # The worker that renders shard 2 dies after writing its audio, before marking it done; with no
    # second chance allowed the run stops there.
    monkeypatch.setenv("AMP_DATASET_TEST_CRASH_SHARD", "2")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with pytest.raises(DatasetError, match=r"shard 2 \(items 6 to 8\) failed.*run again to resume"):
            render(SPEC, out, workers=2, progress=False)
    monkeypatch.delenv("AMP_DATASET_TEST_CRASH_SHARD")
    group = zarr.open_group(str(out), mode="r")
    assert group["done"][2] == 0
    assert np.any(group["audio"][6:9] != 0)  # the shard's audio was written: only the marker is missing
    summary = render(SPEC, out, client=cluster, progress=False)
    assert summary.shards_rendered >= 1 and summary.shards_skipped + summary.shards_rendered == 4
    assert_same_store(reference, out)
    again = render(SPEC, out, workers=0, progress=False)
    assert again.shards_rendered == 0


def test_an_interrupted_store_resumes_whatever_the_shard_order(runtime, reference, tmp_path):
    out = tmp_path / "store"
    shutil.copytree(reference, out)
    group = zarr.open_group(str(out), mode="r+")
    # Shards 0 and 3 undone and their audio scrambled, as if cut short while writing.
    for shard, (a, b) in ((0, (0, 3)), (3, (9, 11))):
        group["done"][shard] = 0
        group["audio"][a:b] = np.float32(0.5)
    render(SPEC, out, workers=0, progress=False)
    assert_same_store(reference, out)


def test_foreign_and_damaged_stores_are_refused(runtime, reference, tmp_path):
    other = dict(SPEC, seed=100)
    with pytest.raises(StoreError, match="holds another dataset"):
        render(other, reference, workers=0, progress=False)
    with pytest.raises(StoreError, match="made with shard_items = 3"):
        render(SPEC, reference, shard_items=4, workers=0, progress=False)

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not a store")
    with pytest.raises(StoreError, match="exists and is not a Zarr store"):
        render(SPEC, junk, workers=0, progress=False)

    plain = tmp_path / "plain"
    zarr.open_group(str(plain), mode="w").create_array("x", shape=(3,), dtype="f4")
    with pytest.raises(StoreError, match="not an amp dataset"):
        render(SPEC, plain, workers=0, progress=False)

    missing = tmp_path / "missing"
    shutil.copytree(reference, missing)
    shutil.rmtree(missing / "audio")
    with pytest.raises(StoreError, match="missing the array 'audio'"):
        render(SPEC, missing, workers=0, progress=False)

    garbled = tmp_path / "garbled"
    shutil.copytree(reference, garbled)
    (garbled / "zarr.json").write_text("{ not json")
    with pytest.raises(StoreError, match="not a readable Zarr store"):
        render(SPEC, garbled, workers=0, progress=False)

    marker = tmp_path / "marker"
    shutil.copytree(reference, marker)
    (marker / "done" / "c" / "1").write_bytes(b"\x07")
    with pytest.raises(StoreError, match="completion markers"):
        render(SPEC, marker, workers=0, progress=False)

    reshaped = tmp_path / "reshaped"
    shutil.copytree(reference, reshaped)
    meta = json.loads((reshaped / "params" / "saw.amp" / "zarr.json").read_text())
    meta["shape"] = [12]
    (reshaped / "params" / "saw.amp" / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match=r"'params/saw.amp' is float64 \(12,\)"):
        render(SPEC, reshaped, workers=0, progress=False)


def test_render_arguments_are_checked(runtime, tmp_path, monkeypatch):
    import amp.dataset.dispatch as dispatch

    monkeypatch.setattr(dispatch, "CONNECT_TIMEOUT", "1s")
    from amp.dataset import RenderArgumentError

    with pytest.raises(RenderArgumentError, match="shard_items must be a whole number"):
        render(SPEC, tmp_path / "s", shard_items=1.5, workers=0)
    with pytest.raises(ValueError, match="workers must be a whole number"):
        render(SPEC, tmp_path / "s", workers=1.5)
    with pytest.raises(RenderArgumentError, match="at most one of"):
        render(SPEC, tmp_path / "s", workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(DatasetError, match="cannot reach the Dask scheduler"):
        render(SPEC, tmp_path / "s2", scheduler="tcp://127.0.0.1:9", progress=False)


def test_the_command_line(runtime, tmp_path, capsys, monkeypatch):
    from amp.cli import main

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(dict(SPEC, count=2, shard_items=2)))
    assert main(["dataset", str(spec), "--out", str(tmp_path / "store"), "--workers", "1"]) == 0
    assert "2 items in 1 shards" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text(json.dumps(dict(SPEC, colour=1)))
    assert main(["dataset", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amp: error: dataset spec: unknown key 'colour'") and err.count("\n") == 1



def test_ctrl_c_stops_the_command_with_status_130_leaving_a_resumable_store(runtime, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"count": 2000, "seconds": 1.0, "seed": 1, "shard_items": 4,
                                "vary": {"env.decay": {"distribution": "uniform", "low": 0.1, "high": 0.5}}}))
    out = tmp_path / "store"
    command = [sys.executable, "-c", "import sys; from amp.cli import main; sys.exit(main())",
               "dataset", str(spec), "--out", str(out), "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the first shard is done
            try:
                if zarr.open_group(str(out), mode="r")["done"][:].any():
                    break
            except Exception:
                pass
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "amp: interrupted; run the same command again to resume"
    done = zarr.open_group(str(out), mode="r")["done"][:]
    assert 0 < done.sum() < len(done)


def test_a_store_at_an_fsspec_url(runtime, reference, tmp_path):
    """memory:// (fsspec's in-process file system) stands for an object store here; file:// is a
    path that any worker on a shared file system reaches."""
    small = dict(SPEC, count=4, shard_items=2)
    render(small, "memory://amp-dataset-test/store", workers=0, progress=False)
    group = amp.dataset.open_store("memory://amp-dataset-test/store")
    reference_audio = zarr.open_group(str(reference), mode="r")["audio"][:4]
    np.testing.assert_array_equal(group["audio"][:], reference_audio)
    render(small, f"file://{tmp_path}/store", workers=0, progress=False)
    again = render(small, tmp_path / "store", workers=0, progress=False)
    assert again.shards_skipped == 2
    with pytest.raises(StoreError, match="cannot create a store"):
        render(small, "/proc/no-such-dir/store", workers=0, progress=False)
