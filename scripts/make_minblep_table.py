"""Writes native/src/dsp/minblep_table.h: the band-limited step and ramp residuals of the oscillator.

The oscillator's saw, square and triangle are the ideal (naive) waveforms passed through a fixed
linear-phase lowpass h, sampled. A naive waveform is linear between breakpoints, so that product
is the naive waveform shifted by h's mean delay m1, plus one residual per breakpoint:

    step residual  r_step(x) = S(x) - 1           S = the step response of h
    ramp residual  r_ramp(x) = A(x) - x + m1       A = the integral of S

x being the time since the breakpoint in samples. Both vanish after TAPS samples. Each is stored as
TAPS polynomials of degree ORDER - 1 in the fraction d in [0, 1): segment k holds r(k + d).

h: a Kaiser-windowed sinc (cutoff CUTOFF cycles per sample, beta BETA, HALF_WIDTH samples each
side), delayed by HALF_WIDTH samples so that it is causal, designed OVERSAMPLE times finer than the
output rate. It is linear phase rather than minimum phase because a minimum-phase version of the
same magnitude overshoots a step by about 20 % of its height (a saw would peak at 1.4), where this
one overshoots by 8.7 % (peak 1.17); the price is HALF_WIDTH samples of latency.

Run after changing a constant; tests/test_node_oscillator.py fails while the header is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

HEADER = Path(__file__).resolve().parents[1] / "native" / "src" / "dsp" / "minblep_table.h"

TAPS = 24
ORDER = 8
HALF_WIDTH = 12
CUTOFF = 0.44
BETA = 6.0
OVERSAMPLE = 256


def design():
    import numpy as np
    from numpy.polynomial import polynomial as P

    q = OVERSAMPLE
    t = np.arange(-HALF_WIDTH * q, HALF_WIDTH * q + 1) / q
    prototype = 2.0 * CUTOFF * np.sinc(2.0 * CUTOFF * t) * np.kaiser(len(t), BETA)
    n = TAPS * q + 1
    h = np.zeros(n)
    h[: min(len(prototype), n)] = prototype[:n]
    h *= q / np.trapezoid(h)
    x = np.arange(n) / q
    step = np.concatenate([[0.0], np.cumsum((h[1:] + h[:-1]) / 2.0) / q])
    area = np.concatenate([[0.0], np.cumsum((step[1:] + step[:-1]) / 2.0) / q])
    delay = float(np.trapezoid(x * h) / q)
    r_step = step - 1.0
    r_ramp = area - x + delay
    d = np.linspace(0.0, 1.0, q + 1)
    tables = []
    for r in (r_step, r_ramp):
        rows = []
        for k in range(TAPS):
            coef = P.polyfit(d, r[k * q:(k + 1) * q + 1], ORDER - 1)
            rows.append(coef)
        # The residuals end at zero: the last segment must reach it exactly at d = 1.
        rows[-1][0] -= P.polyval(1.0, rows[-1])
        tables.append(rows)
    return delay, tables[0], tables[1]


def render() -> str:
    delay, step, ramp = design()

    def table(name: str, rows) -> str:
        # Stored by power, then segment: the oscillator evaluates all segments at once.
        lines = [f"static const double {name}[AMP_MINBLEP_ORDER][AMP_MINBLEP_TAPS] = {{"]
        for j in range(len(rows[0])):
            lines.append("    {" + ", ".join(f"{float(row[j]):.17g}" for row in rows) + "},")
        lines.append("};")
        return "\n".join(lines)

    return "\n".join([
        "/* minblep_table.h - written by scripts/make_minblep_table.py (the design is described there);",
        " * do not edit. Residuals of a linear-phase band-limited step and ramp, per sample segment k, as",
        " * polynomials in the fraction d: r(k + d) = sum_j table[j][k] d^j. */",
        "#ifndef AMP_MINBLEP_TABLE_H",
        "#define AMP_MINBLEP_TABLE_H",
        "",
        f"#define AMP_MINBLEP_TAPS {TAPS}",
        f"#define AMP_MINBLEP_ORDER {ORDER}",
        "",
        "/* The lowpass's mean delay in samples: the band-limited waveform is the naive one this much later. */",
        f"static const double amp_minblep_delay = {delay:.17g};",
        "",
        table("amp_minblep_step", step),
        "",
        table("amp_minblep_ramp", ramp),
        "",
        "#endif",
        "",
    ])


def main() -> int:
    HEADER.parent.mkdir(parents=True, exist_ok=True)
    HEADER.write_text(render())
    print(f"wrote {HEADER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
