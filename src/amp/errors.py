"""Exceptions raised by amp.

Every error is an :class:`AmpError` and also the built-in exception a caller would expect
(``ValueError`` for bad input, ``RuntimeError`` for failures while rendering, ``ImportError`` when
the native library cannot be loaded, ``MemoryError`` when a result would not fit, ``OSError`` when a
patch file cannot be read). Errors that come from the native library carry its status
``code`` and, where there is one, the ``node``, ``stage`` and ``block_index`` it concerns.
"""

from __future__ import annotations

__all__ = [
    "AmpError",
    "NativeRuntimeUnavailable",
    "GraphError",
    "FormatError",
    "NativeRuntimeError",
    "LoggingUnavailable",
    "AmpMemoryError",
    "StreamStopped",
    "PatchFileError",
    "error_from_native",
]


class AmpError(Exception):
    """Base class of every amp error."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        node: str | None = None,
        stage: str | None = None,
        block_index: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.node = node
        self.stage = stage
        self.block_index = block_index


class NativeRuntimeUnavailable(AmpError, ImportError):
    """The native library is missing, unloadable, or of another ABI version."""


class GraphError(AmpError, ValueError):
    """A graph, a parameter value or a render argument is not acceptable."""


class FormatError(AmpError, ValueError):
    """A binary blob failed validation in the native reader."""


class NativeRuntimeError(AmpError, RuntimeError):
    """A node failed while the network was rendering."""


class LoggingUnavailable(AmpError, RuntimeError):
    """Logging was requested from a library built without it."""


class AmpMemoryError(AmpError, MemoryError):
    """The native library could not allocate what the graph needs."""


class StreamStopped(AmpError, RuntimeError):
    """A streamer was read after it stopped, or a render or read was stopped by close()."""


class PatchFileError(AmpError, OSError):
    """A patch file could not be read (missing, unreadable)."""


# Status codes from native/include/amp_native.h (also reachable as lib.AMP_ERR_* at run time; kept
# here as a mapping to classes, not as a second declaration of the values).
_CLASS_BY_NAME = {
    "AMP_ERR_INVALID_ARGUMENT": GraphError,
    "AMP_ERR_FORMAT": FormatError,
    "AMP_ERR_GRAPH": GraphError,
    "AMP_ERR_RUNTIME": NativeRuntimeError,
    "AMP_ERR_OUT_OF_MEMORY": AmpMemoryError,
    "AMP_ERR_BUFFER_TOO_SMALL": NativeRuntimeError,
    "AMP_ERR_LOGGING_UNAVAILABLE": LoggingUnavailable,
    "AMP_ERR_STOPPED": StreamStopped,
    "AMP_ERR_INTERNAL": NativeRuntimeError,
}


def error_from_native(lib, code: int, info=None, ffi=None, context: str | None = None) -> AmpError:
    """Builds the exception for a native status ``code`` and an optional ``AmpErrorInfo``."""
    cls: type[AmpError] = NativeRuntimeError
    name = f"status {code}"
    for constant, candidate in _CLASS_BY_NAME.items():
        if getattr(lib, constant) == code:
            cls = candidate
            name = constant
            break
    node = stage = None
    block = None
    text = ""
    if info is not None and ffi is not None:
        text = ffi.string(info.message).decode("utf-8", "replace")
        node = ffi.string(info.node).decode("utf-8", "replace") or None
        stage = ffi.string(info.stage).decode("utf-8", "replace") or None
        block = int(info.block_index) if info.block_index >= 0 else None
    if not text:
        text = name
    where = []
    if node:
        where.append(f"node '{node}'")
    if stage:
        where.append(f"stage {stage}")
    if block is not None:
        where.append(f"block {block}")
    prefix = f"{context}: " if context else ""
    suffix = f" [{', '.join(where)}; {name}]" if where else f" [{name}]"
    return cls(prefix + text + suffix, code=code, node=node, stage=stage, block_index=block)
