"""DatasetSpec: a patch, the parameters to vary and how, a count, a duration, a seed, and control
events per item; read from and written to JSON or TOML like a patch."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import AmpError
from .distributions import Distribution
from .errors import SpecError
from .schema import validate

__all__ = ["DatasetSpec", "EventSpec", "load_spec_file"]

DEFAULT_BLOCK_FRAMES = 512

# Patches (as canonical JSON, sample rate included) that passed the schema check in this process.
_CHECKED_PATCHES: set[str] = set()
_CHECKED_PATCHES_KEPT = 32


@dataclass(frozen=True)
class EventSpec:
    """A control event of every item: its time and values, each a number or a Distribution."""

    time: float | Distribution
    values: dict[str, float | Distribution]

    @property
    def drawn(self) -> bool:
        return isinstance(self.time, Distribution) or any(isinstance(v, Distribution) for v in self.values.values())

    def to_dict(self) -> dict[str, Any]:
        def plain(value):
            return value.to_dict() if isinstance(value, Distribution) else value

        return {"time": plain(self.time), "values": {k: plain(v) for k, v in self.values.items()}}


def _read_mapping(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            return tomllib.loads(data.decode("utf-8"))
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path} is not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {exc}") from None


def load_spec_file(path: str | os.PathLike) -> "DatasetSpec":
    return DatasetSpec.from_file(path)


@dataclass
class DatasetSpec:
    """What to render: `count` items of `seconds` each at `sample_rate`, item i drawn from (seed, i).

    ``patch`` is a patch as a dict (the JSON/TOML patch format); ``vary`` maps ``"node.param"`` to
    a Distribution; ``events`` are the control events of every item, in order. Build one with
    ``from_dict`` or ``from_file`` (which check it against the catalogue) rather than by hand.
    """

    patch: dict[str, Any]
    count: int
    seconds: float
    seed: int
    sample_rate: float = 48000.0
    vary: dict[str, Distribution] = field(default_factory=dict)
    events: list[EventSpec] = field(default_factory=list)
    interpolation: dict[str, str] = field(default_factory=dict)
    block_frames: int = DEFAULT_BLOCK_FRAMES
    shard_items: int | None = None

    # ----- reading ----------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "DatasetSpec":
        """Reads a .toml or .json specification; a patch given as a path is relative to it."""
        path = Path(path)
        return cls.from_dict(_read_mapping(path), base_dir=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike | None = None) -> "DatasetSpec":
        """Checks `data` (the schema, then distributions against the catalogue) and builds the spec.

        ``patch`` may be a dict, a path to a .json/.toml patch (relative to `base_dir`), or absent
        for the default three-oscillator instrument (``amp.app.build_runtime_graph``). The spec keeps
        the patch itself, so that a store's attributes say everything needed to render it again.
        """
        validate(data)
        data = copy.deepcopy(dict(data))
        patch = _resolve_patch(data.get("patch"), float(data.get("sample_rate", 48000.0)), base_dir)
        # A patch file's own rate serves when the specification names none.
        sample_rate = float(data.get("sample_rate", patch.get("sample_rate", 48000.0)))
        if not math.isfinite(sample_rate) or sample_rate <= 0:
            raise SpecError(f"dataset spec: sample_rate must be a positive number, got {sample_rate!r}")
        vary = {key: Distribution.from_dict(value, f"vary.{key}") for key, value in data.get("vary", {}).items()}
        events = []
        for i, event in enumerate(data.get("events", [])):
            where = f"events[{i}]"
            time = _number_or_drawn(event["time"], f"{where}.time")
            values = {key: _number_or_drawn(v, f"{where}.values.{key}") for key, v in event["values"].items()}
            events.append(EventSpec(time, values))
        spec = cls(
            patch=patch,
            count=int(data["count"]),
            seconds=float(data["seconds"]),
            seed=int(data["seed"]),
            sample_rate=sample_rate,
            vary=vary,
            events=events,
            interpolation=dict(data.get("interpolation", {})),
            block_frames=int(data.get("block_frames", DEFAULT_BLOCK_FRAMES)),
            shard_items=int(data["shard_items"]) if "shard_items" in data else None,
        )
        spec.check()
        return spec

    # ----- checking ---------------------------------------------------------------------------
    def graph(self):
        """The patch as an AudioGraph at the spec's sample rate."""
        from ..graph import AudioGraph

        config = dict(self.patch)
        config["sample_rate"] = self.sample_rate
        # Checking a patch against its schema takes about as long as rendering a shard's first
        # item, and a worker would check the same patch two or three times per shard: a patch
        # this process has checked already (the same JSON) is not checked again.
        checked = json.dumps(config, sort_keys=True, default=repr)
        try:
            if checked in _CHECKED_PATCHES:
                return AudioGraph._from_valid_config(config)
            graph = AudioGraph.from_config(config)
            if len(_CHECKED_PATCHES) >= _CHECKED_PATCHES_KEPT:
                _CHECKED_PATCHES.clear()
            _CHECKED_PATCHES.add(checked)
            return graph
        except AmpError as exc:
            raise SpecError(f"dataset spec: patch: {exc}") from None
        except (TypeError, AttributeError, KeyError) as exc:  # a patch whose parts have the wrong shape
            raise SpecError(f"dataset spec: patch is not a valid patch ({type(exc).__name__}: {exc})") from None

    @property
    def frames(self) -> int:
        return int(round(self.seconds * self.sample_rate))

    def check(self) -> None:
        """Every varied parameter exists, can change per item, and its distribution stays in range;
        every event key is bound in the patch and its values stay in the bound parameters' ranges."""
        if not math.isfinite(self.seconds) or self.frames < 1:
            raise SpecError(f"dataset spec: seconds = {self.seconds:g} gives no frame at {self.sample_rate:g} Hz")
        graph = self.graph()
        self._checked_vary = {}
        for key, dist in self.vary.items():
            where = f"vary.{key}"
            if key.count(".") != 1:
                raise SpecError(f"dataset spec: {where}: keys are 'node.param', got {key!r}")
            node, param = key.split(".")
            try:
                pspec = graph.spec(node).param(param, node)
            except AmpError as exc:
                raise SpecError(f"dataset spec: {where}: {exc}") from None
            if pspec.static:
                raise SpecError(f"dataset spec: {where}: parameter '{param}' of node '{node}' is fixed when the "
                                "node is created, so it cannot vary from item to item in one batch")
            self._checked_vary[key] = (dist.clipped_to(pspec.min, pspec.max, f"dataset spec: {where}"),
                                       pspec.integer)
        bound: dict[str, list[tuple[str, str]]] = {}
        for (node, param, key) in _bindings(graph):
            bound.setdefault(key, []).append((node, param))
        for key in self.interpolation:
            if key not in bound:
                raise SpecError(f"dataset spec: interpolation.{key}: no parameter of the patch is bound to control "
                                f"key '{key}'; bound keys: {', '.join(sorted(bound)) or 'none'}")
        driven = {key for event in self.events for key in event.values}
        for key in self.vary:
            node, param = key.split(".")
            for n, p, k in _bindings(graph):
                if (n, p) == (node, param) and k in driven:
                    raise SpecError(f"dataset spec: vary.{key}: this parameter follows control key '{k}', which the "
                                    "events drive; vary the events' values instead")
        self._checked_events = []
        for i, event in enumerate(self.events):
            where = f"dataset spec: events[{i}]"
            time = event.time
            if isinstance(time, Distribution):
                time = time.clipped_to(0.0, self.seconds, f"{where}.time")
            elif not 0.0 <= time <= self.seconds:
                raise SpecError(f"{where}.time = {time:g} is outside the item's [0, {self.seconds:g}] s")
            values = {}
            for key, value in event.values.items():
                if key not in bound:
                    raise SpecError(f"{where}.values.{key}: no parameter of the patch is bound to control key "
                                    f"'{key}'; bound keys: {', '.join(sorted(bound)) or 'none'}")
                lo = max(graph.spec(n).param(p, n).min for n, p in bound[key])
                hi = min(graph.spec(n).param(p, n).max for n, p in bound[key])
                if isinstance(value, Distribution):
                    value = value.clipped_to(lo, hi, f"{where}.values.{key}")
                elif not lo <= value <= hi:
                    raise SpecError(f"{where}.values.{key} = {value:g} is outside the allowed range [{lo:g}, {hi:g}]")
                values[key] = value
            self._checked_events.append((time, values))
        graph.close()

    # ----- writing ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "patch": copy.deepcopy(self.patch),
            "count": self.count,
            "seconds": self.seconds,
            "sample_rate": self.sample_rate,
            "seed": self.seed,
            "block_frames": self.block_frames,
        }
        if self.shard_items is not None:
            out["shard_items"] = self.shard_items
        if self.vary:
            out["vary"] = {key: dist.to_dict() for key, dist in self.vary.items()}
        if self.events:
            out["events"] = [event.to_dict() for event in self.events]
        if self.interpolation:
            out["interpolation"] = dict(self.interpolation)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of everything that decides the items (shard_items apart)."""
        data = self.to_dict()
        data.pop("shard_items", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    # what draw.py needs, checked
    def drawn_parameters(self) -> dict[str, tuple[Distribution, bool]]:
        if not hasattr(self, "_checked_vary"):
            self.check()
        return self._checked_vary

    def checked_events(self) -> list[tuple[float | Distribution, dict[str, float | Distribution]]]:
        if not hasattr(self, "_checked_events"):
            self.check()
        return self._checked_events

    @property
    def events_drawn(self) -> bool:
        return any(event.drawn for event in self.events)


def _number_or_drawn(value: Any, where: str) -> float | Distribution:
    if isinstance(value, Mapping):
        return Distribution.from_dict(value, where)
    return float(value)


def _bindings(graph) -> list[tuple[str, str, str]]:
    return [(c["node"], c["param"], c["key"]) for c in graph.to_config()["controls"]]


def _resolve_patch(patch: Any, sample_rate: float, base_dir) -> dict[str, Any]:
    if patch is None:
        from ..app import build_runtime_graph

        graph = build_runtime_graph(sample_rate)
        config = graph.to_config()
        graph.close()
        return config
    if isinstance(patch, str):
        path = Path(patch)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if path.suffix.lower() not in (".json", ".toml"):
            raise SpecError(f"dataset spec: patch: {patch!r} is not a .json or .toml patch file")
        data = _read_mapping(path)
        if not isinstance(data, Mapping):
            raise SpecError(f"dataset spec: patch: {path} does not hold a patch (a table with 'nodes')")
        return dict(data)
    return dict(patch)
