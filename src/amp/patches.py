"""Patch files: reading JSON and TOML, and the JSON Schema every patch is checked against.

The schema is generated from the native catalogue (node types, their parameters with ranges, units
and choice names), so it says exactly what the loaded library accepts; ``patch.schema.json`` in this
package is the same schema for the library the package was built with (``amp schema`` prints it).
``docs/patches.md`` describes the format.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from pathlib import Path
from typing import Any, Mapping

from .errors import GraphError, PatchFileError

__all__ = ["SCHEMA_ID", "patch_schema", "schema_text", "load_patch_file", "validate_patch"]

SCHEMA_ID = "urn:amp-synth:patch-schema:1"

_PORT = {"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}],
         "description": "a port by name, or by index (0 is the first)"}
_NAME = {"type": "string", "minLength": 1, "description": "a node's name"}


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _param_schema(p) -> dict:
    """One parameter: a number within its range, or one of its choice names (or their index)."""
    unit = f" ({p.unit})" if p.unit else ""
    description = f"{p.doc}{unit}" + ("; fixed at creation" if p.static else "")
    if p.choices is not None:
        return {"description": description, "default": p.choices[int(p.default)],
                "oneOf": [{"enum": list(p.choices)},
                          {"type": "integer", "minimum": 0, "maximum": len(p.choices) - 1}]}
    schema: dict[str, Any] = {"description": description, "type": "integer" if p.integer else "number",
                              "default": int(p.default) if p.integer else p.default}
    if _finite(p.min):
        schema["minimum"] = int(p.min) if p.integer else p.min
    if _finite(p.max):
        schema["maximum"] = int(p.max) if p.integer else p.max
    if p.unit:
        schema["x-unit"] = p.unit
    return schema


def _strict(properties: dict, required: list[str], description: str) -> dict:
    return {"type": "object", "description": description, "properties": properties, "required": required,
            "additionalProperties": False}


def patch_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a patch, generated from the loaded library's catalogue."""
    from .catalogue import catalogue

    specs = sorted(catalogue().values(), key=lambda s: s.type)
    defs: dict[str, Any] = {}
    branches = []
    for spec in specs:
        defs[f"params.{spec.type}"] = {
            "type": "object", "description": f"parameters of a '{spec.type}' node",
            "properties": {p.name: _param_schema(p) for p in spec.params}, "additionalProperties": False}
        branches.append({"if": {"properties": {"type": {"const": spec.type}}, "required": ["type"]},
                         "then": {"properties": {"params": {"$ref": f"#/$defs/params.{spec.type}"}}}})
    node = _strict({"name": {"type": "string", "minLength": 1, "maxLength": 63,
                             "description": "the node's name, unique in the patch"},
                    "type": {"enum": [s.type for s in specs], "description": "a catalogue type (amp nodes)"},
                    "params": {"type": "object", "description": "parameter values; the rest keep their defaults"}},
                   ["name", "type"], "a node")
    node["allOf"] = branches
    connection = _strict({"source": _NAME, "target": _NAME, "output": _PORT, "input": _PORT},
                         ["source", "target"], "audio from an output of `source` into an input of `target`")
    modulation = _strict({"source": _NAME, "target": _NAME, "param": {"type": "string", "minLength": 1},
                          "scale": {"type": "number", "default": 1.0},
                          "mode": {"enum": ["add", "mul"], "default": "add"},
                          "channel": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                                      "description": "one channel of the source; absent or null: all"},
                          "output": _PORT},
                         ["source", "target", "param"],
                         "adds (mode add) or multiplies (mode mul) source × scale into target.param")
    control = _strict({"node": _NAME, "param": {"type": "string", "minLength": 1},
                       "key": {"type": "string", "minLength": 1, "maxLength": 63}},
                      ["node", "param", "key"], "node.param follows the control key `key`")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "amp patch",
        "description": "A graph of native DSP nodes (docs/patches.md).",
        "type": "object",
        "properties": {
            "sample_rate": {"type": "number", "exclusiveMinimum": 0, "default": 48000.0,
                            "description": "Hz; amp render and amp play use it unless --sample-rate is given"},
            "nodes": {"type": "array", "items": node},
            "connections": {"type": "array", "items": connection},
            "modulations": {"type": "array", "items": modulation},
            "controls": {"type": "array", "items": control},
            "sink": {"oneOf": [_NAME, {"type": "null"}],
                     "description": "the node whose output is the patch's output (default: the last node)"},
        },
        "required": ["nodes"],
        "additionalProperties": False,
        "$defs": defs,
    }


def schema_text() -> str:
    """The schema as ``amp schema`` prints it (and as ``patch.schema.json`` holds it)."""
    return json.dumps(patch_schema(), indent=2, ensure_ascii=False) + "\n"


_lock = threading.Lock()
_validators: dict[str, Any] = {}


def _validator():
    from . import _binding

    key = str(_binding.load().library_path)
    with _lock:
        if key not in _validators:
            from jsonschema import Draft202012Validator

            _validators[key] = Draft202012Validator(patch_schema())
        return _validators[key]


def _where(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the patch"


def _describe(error) -> str:
    """One line for a schema violation: where it is and what is wrong, in the patch's own terms."""
    path = list(error.absolute_path)
    instance, schema = error.instance, error.schema
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        allowed = list(schema.get("properties", {}))
        extra = [k for k in instance if k not in allowed]
        return (f"{_where(path + [extra[0]])}: unknown key {extra[0]!r}; allowed here: "
                f"{', '.join(allowed) or 'none'}")
    if not path and error.validator == "type":
        return "a patch is a JSON object (or a TOML document) with at least 'nodes'"
    if error.validator == "required":
        return f"{_where(path)}: {error.message}"
    if error.validator == "enum" and path and path[-1] == "type":
        return f"{_where(path)}: unknown node type {instance!r}; known types: {', '.join(schema['enum'])}"
    if error.validator in ("oneOf", "anyOf") and error.context:
        choices = [c for c in error.context if c.validator == "enum"]
        if choices:
            names = ", ".join(map(str, choices[0].validator_value))
            return f"{_where(path)}: {instance!r} is not one of {names} (or their index)"
    return f"{_where(path)}: {error.message}"


def validate_patch(config: Any, source: str | None = None) -> None:
    """Checks a patch (a dict as loaded from JSON or TOML) against the schema.

    Raises :class:`amp.GraphError` naming the first problem's place in the patch (``nodes[0].param``)
    and, when given, the `source` file.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(config))
    if error is not None:
        prefix = f"{source}: " if source else ""
        node = _node_named(config, list(error.absolute_path))
        where = f" (node '{node}')" if node else ""
        raise GraphError(f"{prefix}{_describe(error)}{where}", node=node)


def _node_named(config: Any, path: list) -> str | None:
    """The name of the node a schema error lies in, when it lies in one that has a name."""
    if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
        try:
            name = config["nodes"][path[1]]["name"]
        except (KeyError, IndexError, TypeError):
            return None
        return name if isinstance(name, str) else None
    return None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def load_patch_file(path: str | os.PathLike) -> dict:
    """Reads a ``.json`` or ``.toml`` patch file into a dict (not yet validated).

    Raises :class:`amp.PatchFileError` (also an ``OSError``) naming the file when it cannot be read,
    and :class:`amp.GraphError` when it has another extension or a syntax error (with its line and
    column).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise GraphError(f"{path}: a patch file ends in .json or .toml")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PatchFileError(f"{path}: cannot be read: no such patch file") from None
    except IsADirectoryError:
        raise PatchFileError(f"{path}: cannot be read: it is a directory, not a patch file") from None
    except OSError as exc:
        raise PatchFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GraphError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            match = _TOML_POSITION.search(message)
            if match:
                message = message[:match.start()]
                raise GraphError(f"{path}: TOML syntax error at line {match.group(1)}, column {match.group(2)}: "
                                 f"{message}") from None
            raise GraphError(f"{path}: TOML syntax error: {message}") from None
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphError(f"{path}: JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return config
