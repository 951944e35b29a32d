"""amp: audio synthesis in Python, every sample computed by a native runtime.

Importing amp loads nothing native; the library is loaded on first use, and
``amp.system.require_native_graph_runtime()`` says what was loaded or how to build it.
"""

from . import catalogue, diagnostics, errors, native_runtime, system
from .control import ControlDelay
from .errors import (
    AmpError,
    AmpMemoryError,
    FormatError,
    GraphError,
    LoggingUnavailable,
    NativeRuntimeError,
    NativeRuntimeUnavailable,
    PatchFileError,
    StreamStopped,
)
from .graph import AudioGraph

__version__ = "0.1.0"

__all__ = [
    "AudioGraph",
    "ControlDelay",
    "AmpError",
    "AmpMemoryError",
    "FormatError",
    "GraphError",
    "LoggingUnavailable",
    "NativeRuntimeError",
    "NativeRuntimeUnavailable",
    "PatchFileError",
    "StreamStopped",
    "errors",
    "system",
]
