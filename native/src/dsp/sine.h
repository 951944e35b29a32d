/* sine.h - sin(2 pi p) for a phase p in cycles, without libm.
 *
 * The phase is reduced in cycles, where it is exact: q = the quarter nearest to p, r = p - q / 4
 * in [-1/8, 1/8] (an exact subtraction), x = 2 pi r; then sin x or cos x by the polynomial
 * kernels of fdlibm (k_sin.c, k_cos.c, |x| <= pi / 4), picked and signed by the quarter. The error
 * is about 1e-16, below that of sin(2 * M_PI * p) itself, whose argument is already rounded. It
 * is written with selects only, so a loop of these vectorizes, and the same operations give the
 * same bits on every machine (the including file must not let the compiler contract them). */
#ifndef AMP_DSP_SINE_H
#define AMP_DSP_SINE_H

/* sin(2 pi (p + lo)), p in [0, 1] and |lo| below ulp(p). */
static inline double amp_sin_cycles(double p, double lo)
{
    const double two_pi = 6.283185307179586476925286766559;
    const double quarter = (4.0 * p + 6755399441055744.0) - 6755399441055744.0; /* nearest, 0..4 */
    const double x = two_pi * (p - 0.25 * quarter) + two_pi * lo;
    const double z = x * x;
    const double s = x + x * z *
                             (-1.66666666666666324348e-01 +
                              z * (8.33333333332248946124e-03 +
                                   z * (-1.98412698298579493134e-04 +
                                        z * (2.75573137070700676789e-06 +
                                             z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)))));
    const double c = 1.0 - 0.5 * z +
                     z * z *
                         (4.16666666666666019037e-02 +
                          z * (-1.38888888888741095749e-03 +
                               z * (2.48015872894767294178e-05 +
                                    z * (-2.75573143513906633035e-07 +
                                         z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))));
    /* 0/1 weights rather than branches: exact (one term is always 0) and vectorizable. */
    const double odd = (quarter == 1.0 ? 1.0 : 0.0) + (quarter == 3.0 ? 1.0 : 0.0);
    const double negative = (quarter == 2.0 ? 1.0 : 0.0) + (quarter == 3.0 ? 1.0 : 0.0);
    return (s * (1.0 - odd) + c * odd) * (1.0 - 2.0 * negative);
}

#endif
