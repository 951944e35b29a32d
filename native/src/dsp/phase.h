/* phase.h - a phase in cycles as a 64-bit fixed-point fraction (one unit is 2^-64 cycle), moved
 * on by integer addition modulo 2^64. Integer addition is exact and associative, so a running sum,
 * a product and any split into blocks give the same bits, and the only error is the increment's
 * rounding: at most 2^-64 cycle per sample, about 1e-11 cycle after an hour at 48 kHz. The
 * increment is computed from freq / sample_rate in double-double (the product's error by Dekker's
 * method, or by a fused multiply-add where the kernel's target has one: the same bits), so the
 * pitch is exact to 2^-64 cycle per sample.
 *
 * Conversions between doubles and the fixed point use only IEEE additions and bit moves (no
 * integer<->double conversion instructions, which narrower vector units lack), so loops of them
 * vectorize, and the same operations give the same bits on every machine: the including file must
 * not let the compiler contract products and sums. */
#ifndef AMP_DSP_PHASE_H
#define AMP_DSP_PHASE_H

#include "../amp_wrapping.h"

#include <stdint.h>
#include <string.h>

/* Inlined wherever used: a vector loop that calls one of these instead runs it a sample at a
 * time, and the oscillator's kernels grow past the compiler's inlining budget. */
#if defined(__GNUC__)
#define AMP_PHASE_INLINE __attribute__((always_inline))
#else
#define AMP_PHASE_INLINE
#endif

#define AMP_PHASE_ROUNDER 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to a whole number */

/* x rounded to the nearest whole number (ties to even), for |x| < 2^51. */
static inline AMP_WRAPPING AMP_PHASE_INLINE int64_t amp_phase_round(double x)
{
    const double t = x + AMP_PHASE_ROUNDER;
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    return bits - (int64_t)0x4338000000000000;
}

/* The same as a double: x - nearest is exact for any x, floor follows from it without libm. */
static inline AMP_WRAPPING AMP_PHASE_INLINE double amp_phase_nearest(double x)
{
    return (x + AMP_PHASE_ROUNDER) - AMP_PHASE_ROUNDER;
}

/* a * b exactly, as product + error (Dekker: no fused multiply-add, which a target may lack). */
static inline AMP_WRAPPING AMP_PHASE_INLINE double amp_phase_split_high(double a)
{
    const double c = 134217729.0 * a; /* 2^27 + 1 */
    return c - (c - a);
}

static inline AMP_WRAPPING AMP_PHASE_INLINE double amp_phase_product_error(double a, double b, double product)
{
    const double ah = amp_phase_split_high(a);
    const double al = a - ah;
    const double bh = amp_phase_split_high(b);
    const double bl = b - bh;
    return ((ah * bh - product) + ah * bl + al * bh) + al * bl;
}

/* freq clamped to [-1e9, 1e9], NaN to 0: written as three independent selects (a min, a max
 * and a NaN test), which vectorize to four operations where the nested form took ten. */
static inline AMP_WRAPPING AMP_PHASE_INLINE double amp_phase_clamp(double freq)
{
    double x = freq == freq ? freq : 0.0;
    x = x > 1.0e9 ? 1.0e9 : x;
    return x < -1.0e9 ? -1.0e9 : x;
}

/* The increment freq / sample_rate as hi + lo, to about 1e-32 of it: hi is freq times the
 * reciprocal (rounded twice, so not the nearest quotient), lo the exact remainder freq - hi *
 * sample_rate (Dekker's product) over sample_rate. No division: loops of these vectorize cheaply.
 * A frequency pushed out of range by modulation is clamped (NaN to 0) so that the phase stays
 * finite. */
static inline AMP_WRAPPING AMP_PHASE_INLINE void amp_phase_increment(double freq, double sample_rate, double inverse_rate, double *hi, double *lo)
{
    freq = amp_phase_clamp(freq);
    *hi = freq * inverse_rate;
    const double p = *hi * sample_rate;
    *lo = ((freq - p) - amp_phase_product_error(*hi, sample_rate, p)) * inverse_rate;
}

/* The same, with the product's error from a fused multiply-add (fused nonzero: only in code built
 * for a target that has one, else it is a library call) or from Dekker's product (fused 0): a
 * compile-time constant at each call. Both give the exact error hi * sample_rate - p, the same
 * bits, wherever the partial products of Dekker's split stay normal, which holds for
 * |freq| >= 2^-900 (sample rates below 2^30); below that |lo| < 2^-900 cycle, which moves
 * amp_phase_fixed's result by nothing, so the fixed-point increment is the same either way. */
static inline AMP_WRAPPING AMP_PHASE_INLINE void amp_phase_increment_with(double freq, double sample_rate,
                                                                          double inverse_rate, double *hi, double *lo,
                                                                          const int fused)
{
    if (!fused) {
        amp_phase_increment(freq, sample_rate, inverse_rate, hi, lo);
        return;
    }
    freq = amp_phase_clamp(freq);
    *hi = freq * inverse_rate;
    const double p = *hi * sample_rate;
    *lo = ((freq - p) - __builtin_fma(*hi, sample_rate, -p)) * inverse_rate;
}

/* hi + lo cycles (|hi| < 2^31, |lo| <= ulp(hi)) in fixed point modulo one cycle, to the nearest
 * unit: the whole cycles are taken off exactly, then the fraction is cut into two 32-bit halves. */
static inline AMP_WRAPPING AMP_PHASE_INLINE uint64_t amp_phase_fixed(double hi, double lo)
{
    const double r = hi - amp_phase_nearest(hi);       /* exact, in [-1/2, 1/2] */
    const double s = r * 4294967296.0;                 /* exact */
    const double n = amp_phase_nearest(s);
    const double a = n > s ? n - 1.0 : n;              /* floor(s) */
    const double b = (s - a) * 4294967296.0 + lo * 18446744073709551616.0;
    return ((uint64_t)amp_phase_round(a) << 32) + (uint64_t)amp_phase_round(b);
}

/* 1 + the phase in cycles, in [1, 2), to 2^-52: the top 52 bits as the mantissa of 1.x. */
static inline AMP_WRAPPING double amp_phase_one_plus(uint64_t p)
{
    const uint64_t bits = (p >> 12) | (uint64_t)0x3ff0000000000000;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* The phase in cycles, in [0, 1), to 2^-52 (exact). */
static inline AMP_WRAPPING double amp_phase_cycles(uint64_t p)
{
    return amp_phase_one_plus(p) - 1.0;
}

/* The rest of the phase below 2^-52 cycle, in cycles (exact). */
static inline AMP_WRAPPING double amp_phase_cycles_low(uint64_t p)
{
    const uint64_t bits = (p & 0xfff) | (uint64_t)0x4330000000000000;
    double d;
    memcpy(&d, &bits, sizeof d);
    return (d - 4503599627370496.0) * 5.421010862427522e-20; /* 2^-64 */
}

/* Whole cycles the phase moved over going from prev to p by a step of less than half a cycle
 * (signed as the step, whose fixed-point form is `step`): -1, 0 or 1. */
static inline AMP_WRAPPING double amp_phase_wraps(uint64_t prev, uint64_t p, uint64_t step)
{
    const int forward = (int64_t)step > 0;
    const int backward = (int64_t)step < 0;
    return (double)(forward & (p < prev)) - (double)(backward & (p > prev));
}

#endif
