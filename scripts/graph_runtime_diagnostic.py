#!/usr/bin/env python3
"""Render a graph block by block and dump everything needed to replay it without Python.

    scripts/graph_runtime_diagnostic.py --blocks 4 --dump-dir logs/native_debug
    scripts/graph_runtime_diagnostic.py --config patch.json --frames 256 --threads 2
    scripts/graph_runtime_diagnostic.py --bisect --config patch.json

Then replay the dump natively (gdb, valgrind and the sanitizers welcome):

    build/native/tools/amp_replay logs/native_debug

Exits non-zero when the render fails, naming the node and stage; the dump then holds the blobs of
the failing call. The same is `amp diagnose`; the implementation is amp.diagnose.
"""

import sys
from pathlib import Path

try:
    import amp.diagnose
except ImportError:  # a source checkout that is not installed: use its src/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import amp.diagnose

if __name__ == "__main__":
    sys.exit(amp.diagnose.main())
