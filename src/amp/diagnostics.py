"""Run-time switches of the logging build."""

from __future__ import annotations

import os
from pathlib import Path

from . import _binding
from .errors import LoggingUnavailable, error_from_native

__all__ = ["enable_py_c_logging", "logging_enabled", "log_directory"]

_enabled = False


def log_directory() -> Path:
    """Where records go: AMP_LOG_DIR, or ``logs/`` under the working directory."""
    return Path(os.environ.get("AMP_LOG_DIR") or "logs")


def logging_enabled() -> bool:
    """True while enable_py_c_logging has logging switched on."""
    return _enabled


def enable_py_c_logging(enabled: bool = True, directory: str | os.PathLike | None = None) -> Path:
    """Switches logging on (or off) in the native library and in amp's Python layer.

    Records are JSON lines in ``<directory>/amp_native.jsonl`` (default :func:`log_directory`). Only
    the logging build has logging compiled in: select it by setting ``AMP_NATIVE_DIAGNOSTICS_BUILD=1``
    before importing amp. With the plain build, asking for logging raises
    :class:`amp.LoggingUnavailable`.
    """
    global _enabled
    binding = _binding.load()
    lib = binding.lib
    target = Path(directory) if directory is not None else log_directory()
    if enabled and not binding.logging_build:
        raise LoggingUnavailable(
            f"{binding.library_path.name} is the plain build: logging is not compiled in. Set "
            "AMP_NATIVE_DIAGNOSTICS_BUILD=1 before importing amp to load the logging build "
            "(libamp_native_logging.so, installed beside it), or build native/ with "
            "-DAMP_NATIVE_ENABLE_LOGGING=ON.",
            code=int(lib.AMP_ERR_LOGGING_UNAVAILABLE),
        )
    if enabled:
        target.mkdir(parents=True, exist_ok=True)
        status = lib.amp_native_logging_set_directory(str(target).encode())
        if status != lib.AMP_OK:
            raise error_from_native(lib, status, context=f"log directory {target}")
    status = lib.amp_native_logging_set(1 if enabled else 0)
    if status != lib.AMP_OK:
        raise error_from_native(lib, status, context="amp_native_logging_set")
    _enabled = bool(enabled)
    return target
