"""The one CFFI binding to libamp_native.

The C declarations are read at load time from ``amp_native.h`` (the region between
``AMP_CDEF_BEGIN`` and ``AMP_CDEF_END``), the header installed with the library; there is no
second copy of them. The binding is ABI-level (``ffi.dlopen``): importing amp never compiles
anything, and cffi releases the GIL for the duration of every native call.

Every function and constant of the library is looked up once, when it loads, into ``Binding.api``
(a plain namespace), and the C types amp uses into ``Binding.types``. cffi looks names up lazily
under a lock of its own; a garbage collection that starts while that lock is held (say inside an
``ffi.cast``) and runs a finalizer that looked a name up for the first time would wait for the lock
for ever. Code that can run during a collection therefore uses only what is bound here.
"""

from __future__ import annotations

import os
import threading
import types
from dataclasses import dataclass
from pathlib import Path

from .errors import NativeRuntimeUnavailable

__all__ = ["Binding", "load", "diagnostics_build_requested", "LIBRARY_NAMES", "HEADER_NAME"]

EXPECTED_ABI_VERSION = 2
LIBRARY_NAMES = {False: "libamp_native.so", True: "libamp_native_logging.so"}
HEADER_NAME = "amp_native.h"
_CDEF_BEGIN = "/* AMP_CDEF_BEGIN */"
_CDEF_END = "/* AMP_CDEF_END */"
_TRUTHY = {"1", "true", "yes", "on"}

BUILD_HINT = (
    "Build and install it with `pip install .` from the amp source tree (a C/C++ compiler and "
    "CMake are needed; pip fetches CMake if it is missing), or point AMP_NATIVE_LIBRARY at a "
    "library built with `cmake -S native -B build/native && cmake --build build/native`."
)


def diagnostics_build_requested() -> bool:
    """True when AMP_NATIVE_DIAGNOSTICS_BUILD asks for the logging build."""
    return os.environ.get("AMP_NATIVE_DIAGNOSTICS_BUILD", "").strip().lower() in _TRUTHY


# The C types amp's Python side uses, resolved once (a string type is parsed under cffi's lock).
C_TYPES = (
    "AmpErrorInfo *", "AmpGraphInfo *", "AmpStreamerInfo *", "AmpGraphConfig *", "AmpStreamerConfig *",
    "AmpGraph **", "AmpStreamer **", "AmpParamOverride[]", "AmpLibraryInfo *", "int64_t *", "size_t *",
    "uint64_t[]", "uint32_t *", "double[]", "char[]", "const double *",
)


@dataclass(frozen=True)
class Binding:
    ffi: object
    lib: object
    library_path: Path
    header_path: Path
    cdef: str
    logging_build: bool
    api: object = None      # every amp_* function and AMP_* constant, bound at load
    types: object = None    # C_TYPES by name, e.g. types["AmpErrorInfo *"]


def bind_all(ffi, lib):
    """Looks every name of the library up now (so that cffi never does it later) into a namespace,
    and resolves C_TYPES."""
    api = types.SimpleNamespace()
    for name in dir(lib):
        setattr(api, name, getattr(lib, name))
    resolved = {name: ffi.typeof(name) for name in C_TYPES}
    return api, resolved


def _package_native_dirs() -> list[Path]:
    # Every directory of the amp package (an editable install can have two), each with _native/.
    import amp

    return [Path(entry) / "_native" for entry in getattr(amp, "__path__", [])]


def extract_cdef(header_text: str) -> str:
    """The plain-C declaration region of amp_native.h."""
    try:
        start = header_text.index(_CDEF_BEGIN) + len(_CDEF_BEGIN)
        end = header_text.index(_CDEF_END, start)
    except ValueError as exc:
        raise NativeRuntimeUnavailable(
            f"{HEADER_NAME} has no {_CDEF_BEGIN} ... {_CDEF_END} region: it is not amp's header"
        ) from exc
    return header_text[start:end]


def _find_library(logging_build: bool) -> Path:
    override = os.environ.get("AMP_NATIVE_LIBRARY")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise NativeRuntimeUnavailable(f"AMP_NATIVE_LIBRARY={override} is not a file. {BUILD_HINT}")
        return path.resolve()
    name = LIBRARY_NAMES[logging_build]
    searched = []
    for directory in _package_native_dirs():
        candidate = directory / name
        searched.append(str(candidate))
        if candidate.is_file():
            return candidate.resolve()
    which = "logging build" if logging_build else "native library"
    raise NativeRuntimeUnavailable(
        f"amp's {which} ({name}) is not installed; looked in {', '.join(searched) or 'no package directory'}. "
        + BUILD_HINT
    )


def _find_header(library: Path) -> Path:
    override = os.environ.get("AMP_NATIVE_HEADER")
    candidates = [Path(override)] if override else []
    candidates.append(library.parent / "include" / HEADER_NAME)
    candidates += [d / "include" / HEADER_NAME for d in _package_native_dirs()]
    # a source checkout used with AMP_NATIVE_LIBRARY and PYTHONPATH=src
    candidates.append(Path(__file__).resolve().parents[2] / "native" / "include" / HEADER_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise NativeRuntimeUnavailable(
        f"{HEADER_NAME} not found (looked in {', '.join(map(str, candidates))}); the binding reads its "
        f"declarations from it. {BUILD_HINT}"
    )


_lock = threading.Lock()
_cache: dict[bool, Binding] = {}


def load() -> Binding:
    """Loads (once per process) the library selected by the environment and returns its binding."""
    logging_build = diagnostics_build_requested()
    with _lock:
        if logging_build in _cache:
            return _cache[logging_build]
        try:
            import cffi
        except ImportError as exc:  # pragma: no cover - cffi is a hard dependency
            raise NativeRuntimeUnavailable(f"cffi is not installed: {exc}") from exc
        library = _find_library(logging_build)
        header = _find_header(library)
        cdef = extract_cdef(header.read_text(encoding="utf-8"))
        ffi = cffi.FFI()
        ffi.cdef(cdef)
        try:
            lib = ffi.dlopen(str(library))
        except OSError as exc:
            raise NativeRuntimeUnavailable(f"could not load {library}: {exc}. {BUILD_HINT}") from exc
        info = ffi.new("AmpLibraryInfo *")
        status = lib.amp_native_library_info(info)
        if status != lib.AMP_OK or info.abi_version != EXPECTED_ABI_VERSION or lib.AMP_ABI_VERSION != EXPECTED_ABI_VERSION:
            raise NativeRuntimeUnavailable(
                f"{library} speaks ABI version {info.abi_version} (header {lib.AMP_ABI_VERSION}); this amp "
                f"package expects {EXPECTED_ABI_VERSION}. Rebuild it from the same source tree. {BUILD_HINT}"
            )
        try:
            api, resolved = bind_all(ffi, lib)
        except AttributeError as exc:
            raise NativeRuntimeUnavailable(f"{library} does not match {header}: {exc}. {BUILD_HINT}") from exc
        binding = Binding(ffi, lib, library, header, cdef, bool(info.logging_compiled), api, resolved)
        _cache[logging_build] = binding
        return binding
