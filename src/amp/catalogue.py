"""The node catalogue, as the native library declares it.

Python holds no list of node types of its own: everything here, from parameter ranges to the
text of ``docs/nodes.md``, is built from ``amp_native_catalogue_json``.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from typing import Mapping

from . import _binding
from .errors import GraphError

__all__ = ["ParamSpec", "PortSpec", "NodeSpec", "catalogue", "node_spec", "render_nodes_markdown"]


@dataclass(frozen=True)
class ParamSpec:
    """A node parameter as the catalogue declares it: default, range, unit, doc, choice names, and whether it is
    fixed at creation or a whole number."""

    name: str
    default: float
    min: float
    max: float
    unit: str
    doc: str
    choices: tuple[str, ...] | None
    static: bool
    integer: bool

    def coerce(self, node: str, value) -> float:
        """Checks a value (a number, or a choice name) and returns it as the float the blob holds."""
        where = f"node '{node}' parameter '{self.name}'"
        if self.choices is not None and isinstance(value, str):
            if value not in self.choices:
                raise GraphError(f"{where} = {value!r} is not one of {', '.join(self.choices)}", node=node)
            return float(self.choices.index(value))
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
            raise GraphError(f"{where} must be a number, got {type(value).__name__}", node=node)
        try:
            number = float(value)
        except (OverflowError, ValueError, TypeError) as exc:
            raise GraphError(f"{where} = {value!r} is not a usable number: {exc}", node=node) from None
        if not math.isfinite(number):
            raise GraphError(f"{where} = {number} is not finite", node=node)
        if number < self.min or number > self.max:
            raise GraphError(f"{where} = {number:g} is outside the allowed range [{self.min:g}, {self.max:g}]", node=node)
        if self.integer and number != math.floor(number):
            raise GraphError(f"{where} = {number:g} must be a whole number", node=node)
        if self.choices is not None and not 0 <= number < len(self.choices):
            raise GraphError(f"{where} = {number:g} is not a choice index of {', '.join(self.choices)}", node=node)
        return number


@dataclass(frozen=True)
class PortSpec:
    """An input or output port: its name, doc, and whether it takes any number of connections."""

    name: str
    doc: str
    multi: bool


@dataclass(frozen=True)
class NodeSpec:
    """A node type as the catalogue declares it: ports, channel rule, block delay and parameters."""

    type: str
    doc: str
    inputs: tuple[PortSpec, ...]
    outputs: tuple[PortSpec, ...]
    channel_rule: str
    channel_value: object
    block_delay: int
    params: tuple[ParamSpec, ...]

    def param(self, name: str, node: str = "") -> ParamSpec:
        """The parameter `name`; GraphError listing the parameters when there is none (`node` names
        the node in the message)."""
        for spec in self.params:
            if spec.name == name:
                return spec
        known = ", ".join(p.name for p in self.params) or "none"
        raise GraphError(f"node '{node}' ({self.type}) has no parameter '{name}'; its parameters: {known}", node=node)

    def param_index(self, name: str, node: str = "") -> int:
        """The index of parameter `name` in the catalogue's order."""
        return self.params.index(self.param(name, node))

    def input_index(self, port: str | int, node: str = "") -> int:
        """The index of input `port` (a name or an index); GraphError listing the inputs when there is none."""
        return _port_index(self.inputs, port, "input", self.type, node)

    def output_index(self, port: str | int, node: str = "") -> int:
        """The index of output `port` (a name or an index); GraphError listing the outputs when there is none."""
        return _port_index(self.outputs, port, "output", self.type, node)


def _port_index(ports, port, kind: str, type_name: str, node: str) -> int:
    if isinstance(port, int) and 0 <= port < len(ports):
        return port
    for i, spec in enumerate(ports):
        if spec.name == port:
            return i
    known = ", ".join(p.name for p in ports) or "none"
    raise GraphError(f"node '{node}' ({type_name}) has no {kind} {port!r}; its {kind}s: {known}", node=node)


def _number(value) -> float:
    return math.inf if value is None else float(value)


def _parse(entries: list[dict]) -> dict[str, NodeSpec]:
    specs = {}
    for entry in entries:
        params = tuple(
            ParamSpec(
                name=p["name"],
                default=float(p["default"]),
                min=-math.inf if p["min"] is None else float(p["min"]),
                max=_number(p["max"]),
                unit=p["unit"],
                doc=p["doc"],
                choices=tuple(p["choices"]) if p["choices"] is not None else None,
                static=bool(p["static"]),
                integer=bool(p["integer"]),
            )
            for p in entry["params"]
        )
        specs[entry["type"]] = NodeSpec(
            type=entry["type"],
            doc=entry["doc"],
            inputs=tuple(PortSpec(p["name"], p["doc"], p["multi"]) for p in entry["inputs"]),
            outputs=tuple(PortSpec(p["name"], p["doc"], p["multi"]) for p in entry["outputs"]),
            channel_rule=entry["channels"]["rule"],
            channel_value=entry["channels"]["value"],
            block_delay=int(entry["block_delay"]),
            params=params,
        )
    return specs


_lock = threading.Lock()
_cached: dict[str, dict[str, NodeSpec]] = {}


_by_build: dict[bool, dict[str, NodeSpec]] = {}  # the binding is fixed once loaded, per build flavour


def catalogue() -> Mapping[str, NodeSpec]:
    """Every node type the loaded library offers, by type name."""
    # Asked for once per node when a graph is built or compiled: the lookup must cost little.
    known = _by_build.get(_binding.diagnostics_build_requested())
    if known is not None:
        return known
    logging_build = _binding.diagnostics_build_requested()
    binding = _binding.load()
    key = str(binding.library_path)
    with _lock:
        if key not in _cached:
            ffi, lib = binding.ffi, binding.lib
            required = ffi.new("size_t *")
            lib.amp_native_catalogue_json(ffi.NULL, 0, required)
            buffer = ffi.new("char[]", required[0])
            status = lib.amp_native_catalogue_json(buffer, required[0], required)
            if status != lib.AMP_OK:  # pragma: no cover
                raise RuntimeError(f"amp_native_catalogue_json failed with status {status}")
            _cached[key] = _parse(json.loads(ffi.string(buffer).decode("utf-8")))
        _by_build[logging_build] = _cached[key]
        return _cached[key]


def node_spec(type_name: str, node: str = "") -> NodeSpec:
    """The spec of catalogue type `type_name`; GraphError listing the known types when there is none."""
    specs = catalogue()
    if type_name not in specs:
        raise GraphError(
            f"unknown node type '{type_name}'{f' for node {node!r}' if node else ''}; known types: "
            + ", ".join(sorted(specs)),
            node=node or None,
        )
    return specs[type_name]


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == math.floor(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


def render_nodes_markdown() -> str:
    """docs/nodes.md, generated from the catalogue."""
    lines = [
        "# Node catalogue",
        "",
        "Generated from the native catalogue by `amp nodes --markdown > docs/nodes.md`; do not edit by hand.",
        "",
    ]
    for spec in sorted(catalogue().values(), key=lambda s: s.type):
        lines += [f"## `{spec.type}`", "", spec.doc, ""]
        channels = {
            "fixed": f"{spec.channel_value}",
            "param": f"the `{spec.channel_value}` parameter",
            "input": f"as wide as the widest signal on input `{spec.channel_value}`",
        }[spec.channel_rule]
        lines.append(f"- Output channels: {channels}.")
        if spec.block_delay:
            lines.append(f"- Delays its input by at least {spec.block_delay} block: it may close a feedback loop.")
        for title, ports in (("Inputs", spec.inputs), ("Outputs", spec.outputs)):
            if ports:
                lines.append(f"- {title}: " + "; ".join(
                    f"`{p.name}`{' (any number of connections)' if p.multi else ''} — {p.doc}" for p in ports))
        lines += ["", "| parameter | default | range | unit | notes |", "|---|---|---|---|---|"]
        for p in spec.params:
            notes = [p.doc]
            if p.choices:
                notes.append("choices: " + ", ".join(f"`{c}`" for c in p.choices))
            if p.static:
                notes.append("fixed at creation")
            lines.append(
                f"| `{p.name}` | {_fmt(p.default)} | [{_fmt(p.min)}, {_fmt(p.max)}] | {p.unit} | {'; '.join(notes)} |"
            )
        lines.append("")
    return "\n".join(lines)
