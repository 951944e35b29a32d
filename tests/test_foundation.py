"""The package loads its one native library, through one binding, and says what it loaded."""

import ctypes
import re
import subprocess
import sys
from pathlib import Path


import amp
from amp import _binding

from conftest import run_python

ROOT = Path(__file__).resolve().parents[1]


def test_require_native_graph_runtime_describes_the_library(runtime):
    assert runtime.library_path.is_file()
    assert runtime.abi_version == _binding.EXPECTED_ABI_VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", runtime.version)
    assert runtime.catalogue_size == len(amp.catalogue.catalogue()) >= 4
    assert isinstance(runtime.logging_compiled, bool)
    assert str(runtime.library_path) in str(runtime)


def test_every_declared_function_resolves_in_the_library(runtime):
    """Checked with ctypes, independently of cffi: the header and the library agree."""
    binding = _binding.load()
    names = re.findall(r"^\s*int32_t\s+(amp_\w+)\s*\(", binding.cdef, flags=re.M)
    assert len(names) >= 10
    library = ctypes.CDLL(str(binding.library_path))
    for name in names:
        assert hasattr(library, name), f"{name} is declared in amp_native.h but not exported"
        assert getattr(binding.lib, name) is not None


def test_the_binding_reads_the_installed_header(runtime):
    binding = _binding.load()
    text = binding.header_path.read_text()
    assert binding.cdef in text
    assert binding.header_path.name == "amp_native.h"


def test_no_second_copy_of_the_declarations_in_python():
    for path in (ROOT / "src" / "amp").rglob("*.py"):
        source = path.read_text()
        assert "typedef struct" not in source, f"{path} holds C declarations"
        assert not re.search(r"int32_t\s+amp_\w+\s*\(", source), f"{path} declares a native function"


def test_missing_library_raises_native_runtime_unavailable_with_build_hint():
    code = (
        "import amp\n"
        "try:\n"
        "    amp.system.require_native_graph_runtime()\n"
        "except amp.NativeRuntimeUnavailable as e:\n"
        "    assert isinstance(e, ImportError) and isinstance(e, amp.AmpError)\n"
        "    print('MESSAGE', e)\n"
    )
    result = run_python(code, {"AMP_NATIVE_LIBRARY": "/nonexistent/libamp_native.so"})
    assert result.returncode == 0, result.stderr
    assert "MESSAGE" in result.stdout and "pip install" in result.stdout and "cmake" in result.stdout


def test_importing_amp_loads_nothing_native():
    result = run_python("import amp, amp._binding as b; print(len(b._cache))",
                        {"AMP_NATIVE_LIBRARY": "/nonexistent/libamp_native.so"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_library_override_is_used(runtime):
    result = run_python("import amp; print(amp.system.require_native_graph_runtime().library_path)",
                        {"AMP_NATIVE_LIBRARY": str(runtime.library_path)})
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == runtime.library_path


def test_no_code_in_the_package_computes_samples():
    """numpy moves arrays in src/amp; it never synthesises or filters them."""
    forbidden = re.compile(
        r"\bnp\.(sin|cos|tan|tanh|exp|log|sqrt|pi|convolve|fft|cumsum|diff|interp|clip|sign|mod|floor)\b"
        r"|\bscipy\b|\blfilter\b|\bmath\.(sin|cos|exp|pi|tanh)\b"
    )
    offenders = []
    for path in (ROOT / "src" / "amp").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if forbidden.search(line.split("#", 1)[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "sample computation in Python:\n" + "\n".join(offenders)


def test_error_classes_are_also_builtin_exceptions():
    assert issubclass(amp.GraphError, ValueError) and issubclass(amp.GraphError, amp.AmpError)
    assert issubclass(amp.FormatError, ValueError)
    assert issubclass(amp.NativeRuntimeError, RuntimeError)
    assert issubclass(amp.NativeRuntimeUnavailable, ImportError)
    assert issubclass(amp.LoggingUnavailable, RuntimeError)


def test_catalogue_entries_carry_everything_the_issue_lists(runtime):
    specs = amp.catalogue.catalogue()
    for required in ("constant", "oscillator", "gain", "mix"):
        assert required in specs
    osc = specs["oscillator"]
    freq = osc.param("freq")
    assert freq.unit == "Hz" and freq.doc and freq.min < freq.default < freq.max
    assert specs["mix"].inputs[0].multi and specs["mix"].channel_rule == "param"
    assert specs["gain"].channel_rule == "input"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "amp.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_info_nodes_and_render(runtime, tmp_path):
    info = run_cli("info")
    assert info.returncode == 0 and str(runtime.library_path) in info.stdout
    nodes = run_cli("nodes")
    assert nodes.returncode == 0
    for name in amp.catalogue.catalogue():
        assert re.search(rf"^{name}\s", nodes.stdout, flags=re.M)
    out = tmp_path / "tone.wav"
    render = run_cli("render", "--seconds", "0.25", "--frequency", "1000", "-o", str(out))
    assert render.returncode == 0, render.stderr
    import numpy as np
    import soundfile

    audio, rate = soundfile.read(out)
    assert rate == 48000 and audio.shape == (12000,)
    assert abs(np.max(np.abs(audio)) - 0.25) < 1e-3
    bad = run_cli("render", "--seconds", "0.1", "--block", "0", "-o", str(out))
    assert bad.returncode == 2 and bad.stderr.startswith("amp: error: argument --block")
