"""Fits the top three sections of the noise node's pink filter (native/src/nodes/noise.c).

The pink filter is a cascade of first-order sections (1 - z_k / z) / (1 - p_k / z) with poles at
0.25 sample_rate / 2^k and zeros half an octave above each, mapped by p = exp(-2 pi f / sample_rate).
That gives -3 dB per octave wherever the sections are far below Nyquist; the top three are fitted
here by least squares so that the slope holds up to 0.49 sample_rate. The grid is relative to the
sample rate, so the fit holds at every rate. Prints the constants noise.c uses.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

SECTIONS = 16
FITTED = 3


def response_db(poles, zeros, nu):
    w = np.exp(-2j * np.pi * nu)
    h = np.ones_like(w)
    for p, z in zip(poles, zeros):
        h *= (1 - z * w) / (1 - p * w)
    return 20 * np.log10(np.abs(h))


def main() -> None:
    nus = 0.25 * 2.0 ** -np.arange(SECTIONS)
    poles = np.exp(-2 * np.pi * nus)
    zeros = np.exp(-2 * np.pi * nus * np.sqrt(2.0))
    grid = np.geomspace(2e-4, 0.49, 600)

    def deviation(x):
        p, z = poles.copy(), zeros.copy()
        p[:FITTED], z[:FITTED] = x[:FITTED], x[FITTED:]
        d = response_db(p, z, grid) + 10 * np.log10(grid)
        return d - d.mean()

    fit = optimize.least_squares(deviation, np.r_[poles[:FITTED], zeros[:FITTED]], bounds=(-0.99, 0.999))
    print("max deviation dB", np.abs(deviation(fit.x)).max())
    print("poles", ", ".join(f"{v:.17g}" for v in fit.x[:FITTED]))
    print("zeros", ", ".join(f"{v:.17g}" for v in fit.x[FITTED:]))


if __name__ == "__main__":
    main()
