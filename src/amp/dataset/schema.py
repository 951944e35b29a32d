"""The JSON Schema of a dataset specification, and its check with the path of the first bad key.

The schema fixes the structure (which keys exist, their types); spec.py then checks what a schema
cannot say well: each distribution's arguments, and ranges from the node catalogue.
"""

from __future__ import annotations

from typing import Any

from .errors import SpecError, require

__all__ = ["SCHEMA", "validate"]

_NUMBER = {"type": "number"}
_DISTRIBUTION = {
    "type": "object",
    "properties": {
        "distribution": {"enum": ["uniform", "log_uniform", "choice", "normal"]},
        "low": _NUMBER,
        "high": _NUMBER,
        "mean": _NUMBER,
        "std": _NUMBER,
        "values": {"type": "array", "items": _NUMBER, "minItems": 1},
    },
    "required": ["distribution"],
    "additionalProperties": False,
}
_NUMBER_OR_DRAWN = {"anyOf": [_NUMBER, _DISTRIBUTION]}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "amp dataset specification",
    "type": "object",
    "properties": {
        "patch": {"type": ["object", "string"]},
        "count": {"type": "integer", "minimum": 1},
        "seconds": {"type": "number", "exclusiveMinimum": 0},
        "sample_rate": {"type": "number", "exclusiveMinimum": 0},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
        "block_frames": {"type": "integer", "minimum": 1, "maximum": 65536},
        "shard_items": {"type": "integer", "minimum": 1},
        "vary": {"type": "object", "additionalProperties": _DISTRIBUTION},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "time": _NUMBER_OR_DRAWN,
                    "values": {"type": "object", "additionalProperties": _NUMBER_OR_DRAWN, "minProperties": 1},
                },
                "required": ["time", "values"],
                "additionalProperties": False,
            },
        },
        "interpolation": {"type": "object", "additionalProperties": {"enum": ["step", "linear"]}},
    },
    "required": ["count", "seconds", "seed"],
    "additionalProperties": False,
}


def _path(parts) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f'."{part}"' if text else f'"{part}"'
    return text or "(top level)"


def _unfold(error) -> list:
    """A failed anyOf (a number or a distribution) as the failures of the branch the value meant:
    the distribution's when the value is a table, the number's otherwise."""
    if error.validator != "anyOf" or not error.context:
        return [error]
    want = "object" if isinstance(error.instance, dict) else "number"
    branch = [i for i, sub in enumerate(error.validator_value) if sub.get("type") == want]
    inner = [e for e in error.context if branch and e.relative_schema_path[0] == branch[0]]
    return [u for e in inner for u in _unfold(e)] or [error]


def validate(data: Any) -> None:
    """Raises SpecError naming the path of the first key that the schema refuses."""
    jsonschema = require("jsonschema")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = [e for error in validator.iter_errors(data) for e in _unfold(error)]
    if not errors:
        return
    # An unknown key says most about a typo; otherwise the shallowest error.
    error = min(errors, key=lambda e: (e.validator != "additionalProperties", len(e.absolute_path),
                                       list(map(str, e.absolute_path))))
    where = _path(error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        raise SpecError(f"dataset spec: unknown key{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(repr(k) for k in unknown)} at {where}; known keys: {', '.join(known)}")
    raise SpecError(f"dataset spec: at {where}: {error.message}")
