"""ABI hygiene: the library exports exactly the declared functions and never prints, aborts or exits."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from amp import _binding

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_CALLS = ("abort", "exit", "_exit", "_Exit", "printf", "puts", "putchar", "perror", "vprintf")


def symbols(path: Path, *flags: str) -> set[str]:
    out = subprocess.run(["nm", "-D", *flags, str(path)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not installed")
def test_library_exports_exactly_the_header_and_calls_nothing_forbidden(runtime):
    binding = _binding.load()
    declared = set(re.findall(r"^\s*int32_t\s+(amp_\w+)\s*\(", binding.cdef, flags=re.M))
    exported = {s for s in symbols(binding.library_path, "--defined-only") if s.startswith("amp_")}
    assert exported == declared
    undefined = symbols(binding.library_path, "--undefined-only")
    assert not undefined & set(FORBIDDEN_CALLS), undefined & set(FORBIDDEN_CALLS)


def test_native_sources_never_print_abort_or_exit():
    pattern = re.compile(r"\b(" + "|".join(FORBIDDEN_CALLS) + r")\s*\(|fprintf\s*\(\s*std(out|err)|std::(cout|cerr)")
    offenders = []
    for path in (ROOT / "native" / "src").rglob("*"):
        if path.suffix not in (".c", ".cpp", ".h", ".hpp"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("//", 1)[0]
            if pattern.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
