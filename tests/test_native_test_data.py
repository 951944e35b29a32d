"""The blobs the native tests read are what the current writers produce."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_native_test_blobs_are_current(runtime):
    spec = importlib.util.spec_from_file_location("make_data", ROOT / "scripts" / "make_native_test_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, blob in module.build().items():
        path = ROOT / "native" / "tests" / "data" / name
        assert path.read_bytes() == blob, f"{path} is stale: run python scripts/make_native_test_data.py"
