"""The library as a typed, documented package: every public class, method and function says what
it does; py.typed ships; AudioGraph closes like the executor; the demo ends in silence."""

import importlib
import inspect
import pkgutil
from pathlib import Path

import numpy as np

import amp
from amp import app
from amp.render_file import render_chunks

SR = 48000


def public_modules():
    names = ["amp"] + [f"amp.{m.name}" for m in pkgutil.iter_modules(amp.__path__) if not m.name.startswith("_")]
    return [importlib.import_module(name) for name in names]


def generated_doc(obj) -> bool:
    """dataclasses write a signature as the doc of a class that has none."""
    doc = obj.__dict__.get("__doc__") or ""
    return doc.startswith(f"{obj.__name__}(")


def undocumented():
    missing = set()
    for module in public_modules():
        if not (module.__doc__ or "").strip():
            missing.add(module.__name__)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if obj.__module__ != module.__name__ and module.__name__ != "amp":
                continue
            where = f"{obj.__module__}.{obj.__qualname__}"
            if inspect.isfunction(obj):
                if not (obj.__doc__ or "").strip():
                    missing.add(where)
                continue
            if not (obj.__dict__.get("__doc__") or "").strip() or generated_doc(obj):
                missing.add(where)
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member) and not (member.__doc__ or "").strip():
                    missing.add(f"{where}.{attr}")
    return sorted(missing)


def test_every_public_class_method_and_function_has_a_docstring(runtime):
    missing = undocumented()
    assert not missing, "undocumented: " + ", ".join(missing)


def test_the_named_ones_are_among_those_checked(runtime):
    for name in ("close", "set_param", "set_sink", "param", "spec", "node_type", "output_channels"):
        assert (getattr(amp.AudioGraph, name).__doc__ or "").strip(), name


def test_the_package_is_typed():
    assert (Path(amp.__file__).parent / "py.typed").is_file()


def test_audio_graph_is_a_context_manager(runtime):
    with amp.AudioGraph(SR) as graph:
        assert isinstance(graph, amp.AudioGraph)
        graph.add_node("osc", "oscillator", freq=440.0)
        graph.render_block(64)
        executor = graph.executor
        assert executor is not None
    assert graph.executor is None and executor.closed
    # closed is not broken: the graph describes the patch still, and renders again on request
    assert graph.render_block(64).shape == (1, 1, 64)
    graph.close()


def test_the_demo_ends_released_not_cut_off(runtime):
    for seconds in (2.0, 4.1, 9.0):
        graph = app.build_runtime_graph(SR)
        app.record_demo_performance(graph, seconds)
        frames = int(seconds * SR)
        audio = np.concatenate(list(render_chunks(graph, frames, sample_rate=SR, block=256, threads=1)), axis=-1)
        level = np.sqrt(np.sum(audio ** 2, axis=0))
        playing = level[: frames // 2].max()
        tail = level[-int(0.05 * SR):].max()
        assert playing > 0.1
        assert tail < 1e-3 * playing, f"{seconds} s: the last 50 ms peak at {tail / playing:.2e} of the playing level"
