"""What native runtime is loaded, or why none is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import _binding
from .errors import NativeRuntimeUnavailable

__all__ = ["NativeRuntimeInfo", "require_native_graph_runtime", "NativeRuntimeUnavailable"]


@dataclass(frozen=True)
class NativeRuntimeInfo:
    """The loaded libamp_native: where it is, what it is, and what it holds."""

    library_path: Path
    header_path: Path
    version: str
    abi_version: int
    logging_compiled: bool
    logging_enabled: bool
    catalogue_size: int

    def __str__(self) -> str:
        return (
            f"libamp_native {self.version} (ABI {self.abi_version}, "
            f"{'logging build' if self.logging_compiled else 'plain build'}"
            f"{', logging on' if self.logging_enabled else ''}) at {self.library_path}; "
            f"{self.catalogue_size} node types"
        )


def require_native_graph_runtime() -> NativeRuntimeInfo:
    """Loads the native library and describes it.

    Raises :class:`amp.NativeRuntimeUnavailable` (an ``ImportError``) saying how to build the library
    when it is missing, cannot be loaded, or has another ABI version. There is no fallback: amp
    renders natively or not at all.
    """
    binding = _binding.load()
    ffi, lib = binding.ffi, binding.lib
    info = ffi.new("AmpLibraryInfo *")
    status = lib.amp_native_library_info(info)
    if status != lib.AMP_OK:  # pragma: no cover - the call cannot fail with a valid pointer
        raise NativeRuntimeUnavailable(f"amp_native_library_info failed with status {status}")
    return NativeRuntimeInfo(
        library_path=binding.library_path,
        header_path=binding.header_path,
        version=ffi.string(info.version).decode(),
        abi_version=int(info.abi_version),
        logging_compiled=bool(info.logging_compiled),
        logging_enabled=bool(info.logging_enabled),
        catalogue_size=int(info.catalogue_size),
    )
