"""Writes the blobs the native tests read (native/tests/data/), from the Python writers.

Run after a format change; tests/test_native_test_data.py fails while the files are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "native" / "tests" / "data"


def build() -> dict[str, bytes]:
    import numpy as np

    import amp

    g = amp.AudioGraph(48000)
    g.add_node("osc", "oscillator", freq=440.0)
    g.add_node("lfo", "constant", value=0.5)
    g.add_node("out", "gain", gain=0.5)
    g.connect("osc", "out")
    g.modulate("lfo", "out", "gain", scale=0.5)
    g.bind_control("osc", "freq", "pitch")
    g.control_delay.set_interpolation("pitch", "linear")
    g.set_sink("out")
    for i, t in enumerate(np.linspace(0.0, 0.1, 9)):
        g.record_control_event(float(t), pitch=220.0 * (1 + i % 3))
    return {
        "sine_gain.ampd": g.serialize_node_descriptors(),
        "sine_gain.ampp": g.serialize_compiled_plan(disabled_optimisations=[]),
        "performance.ampc": g.control_delay.export_control_history_blob(0.0, 0.1),
    }


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    for name, blob in build().items():
        (DATA / name).write_bytes(blob)
        print(f"wrote {DATA / name} ({len(blob)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
