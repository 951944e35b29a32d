/* blep_shapes.h - the saw, square and triangle as the oscillator band-limits them: each naive
 * shape over a phase p in [0, 1) is linear between breakpoints, so through the fixed
 * linear-phase lowpass of minblep_table.h it is the naive line delayed by the lowpass's mean
 * delay, plus a tabulated residual per breakpoint (a step where the value jumps, a ramp where the
 * slope changes). Residuals wait in a ring of AMP_SHAPE_RING samples until their sample comes.
 * Here: the shapes, where a moving phase passes their breakpoints, and the residuals those
 * schedule. The including file must not let the compiler contract products and sums, so that
 * the same operations give the same bits everywhere. */
#ifndef AMP_DSP_BLEP_SHAPES_H
#define AMP_DSP_BLEP_SHAPES_H

#include "minblep_table.h"
#include "sine.h"

#include <math.h>
#include <stdint.h>

enum { AMP_SHAPE_SINE = 0, AMP_SHAPE_SAW = 1, AMP_SHAPE_SQUARE = 2, AMP_SHAPE_TRIANGLE = 3 };

/* Inlined into the kernels that use them: an out-of-line copy is built for the baseline target
 * only, so the residual's 24-tap loops ran two at a time (SSE2) under kernels built for AVX-512,
 * and with the waveform a run-time switch. */
#if defined(__GNUC__)
#define AMP_SHAPE_INLINE __attribute__((always_inline))
#else
#define AMP_SHAPE_INLINE
#endif

#define AMP_SHAPE_RING 32 /* a power of two holding AMP_MINBLEP_TAPS samples of residuals */
#define AMP_SHAPE_TWO_PI 6.283185307179586476925286766559

/* The naive shape at p (pw: the square's pulse width); the sine for AMP_SHAPE_SINE. */
static inline double amp_shape_naive(int wf, double p, double pw)
{
    switch (wf) {
    case AMP_SHAPE_SAW:
        return 2.0 * p - 1.0;
    case AMP_SHAPE_SQUARE:
        return p < pw ? 1.0 : -1.0;
    case AMP_SHAPE_TRIANGLE: {
        /* 0/1 weights rather than branches (exact: two terms are 0), so that loops vectorize. */
        const double rising = p < 0.25 ? 1.0 : 0.0;
        const double last = p >= 0.75 ? 1.0 : 0.0;
        return rising * (4.0 * p) + (1.0 - rising - last) * (2.0 - 4.0 * p) + last * (4.0 * p - 4.0);
    }
    default:
        return amp_sin_cycles(p, 0.0);
    }
}

/* d naive / d phase. */
static inline double amp_shape_slope(int wf, double p)
{
    switch (wf) {
    case AMP_SHAPE_SAW:
        return 2.0;
    case AMP_SHAPE_SQUARE:
        return 0.0;
    case AMP_SHAPE_TRIANGLE:
        return (p < 0.25 ? 8.0 : 0.0) + (p >= 0.75 ? 8.0 : 0.0) - 4.0;
    default:
        return AMP_SHAPE_TWO_PI * cos(AMP_SHAPE_TWO_PI * p);
    }
}

/* Adds scale times a tabulated residual, its polynomial in x evaluated at xp (the powers of x),
 * to the ring's next AMP_MINBLEP_TAPS - skip samples, from the residual's sample `skip` on (a
 * breakpoint `skip` samples further back). */
static inline AMP_SHAPE_INLINE void amp_shape_add_residual(double *ring, int32_t pos,
                                          const double table[AMP_MINBLEP_ORDER][AMP_MINBLEP_TAPS],
                                          const double *xp, double scale, int skip)
{
    if (skip == 0 && pos + AMP_MINBLEP_TAPS <= AMP_SHAPE_RING) {
        /* The usual case: a breakpoint with nothing pending starts the ring at 0. Each tap sums its
         * terms in the order of j, in registers, and goes straight into its slot (the loop over k
         * vectorizes); a block of sums stored and loaded again at another width stalled the
         * load. */
        double *a = ring + pos;
        for (int k = 0; k < AMP_MINBLEP_TAPS; ++k) {
            double r = 0.0;
            for (int j = 0; j < AMP_MINBLEP_ORDER; ++j) {
                r += table[j][k] * xp[j];
            }
            a[k] += scale * r;
        }
        return;
    }
    /* Every segment at once (the loops over k vectorize); each sums its terms in the order of j. */
    double r[AMP_MINBLEP_TAPS];
    for (int k = 0; k < AMP_MINBLEP_TAPS; ++k) {
        r[k] = 0.0;
    }
    for (int j = 0; j < AMP_MINBLEP_ORDER; ++j) {
        for (int k = 0; k < AMP_MINBLEP_TAPS; ++k) {
            r[k] += table[j][k] * xp[j];
        }
    }
    /* Into the ring in two contiguous runs: up to its end, then from its start. */
    const int count = AMP_MINBLEP_TAPS - skip;
    const int head = AMP_SHAPE_RING - pos < count ? AMP_SHAPE_RING - pos : count;
    double *a = ring + pos;
    const double *b = r + skip;
    for (int k = 0; k < head; ++k) {
        a[k] += scale * b[k];
    }
    for (int k = head; k < count; ++k) {
        ring[k - head] += scale * b[k];
    }
}

/* The residual due at the ring's slot pos, taken out of the ring (pending > 0): the slot is cleared
 * and pos moves on. */
static inline AMP_SHAPE_INLINE double amp_shape_take(double *ring, int32_t *pos, int32_t *pending)
{
    const double residual = ring[*pos];
    ring[*pos] = 0.0;
    *pos = (*pos + 1) & (AMP_SHAPE_RING - 1);
    --*pending;
    return residual;
}

/* The next n residuals (n <= pending) taken out of the ring and added to y[0..n), in two
 * contiguous runs (they vectorize): the same as n calls of amp_shape_take. */
static inline AMP_SHAPE_INLINE void amp_shape_take_run(double *ring, int32_t *pos, int32_t *pending, double *y, int32_t n)
{
    const int32_t head = AMP_SHAPE_RING - *pos < n ? AMP_SHAPE_RING - *pos : n;
    double *a = ring + *pos;
    for (int32_t i = 0; i < head; ++i) {
        y[i] += a[i];
        a[i] = 0.0;
    }
    for (int32_t i = head; i < n; ++i) {
        y[i] += ring[i - head];
        ring[i - head] = 0.0;
    }
    *pos = (*pos + n) & (AMP_SHAPE_RING - 1);
    *pending -= n;
}

/* Adds the residuals of a breakpoint x + skip samples before the next sample (x in [0, 1]): a
 * jump of `jump` in value and a change of `kink` per sample in slope. */
static inline AMP_SHAPE_INLINE void amp_shape_schedule_past(double *ring, int32_t pos, int32_t *pending, double x, double jump,
                                           double kink, int skip)
{
    double xp[AMP_MINBLEP_ORDER];
    xp[0] = 1.0;
    for (int j = 1; j < AMP_MINBLEP_ORDER; ++j) {
        xp[j] = xp[j - 1] * x;
    }
    if (jump != 0.0) {
        amp_shape_add_residual(ring, pos, amp_minblep_step, xp, jump, skip);
    }
    if (kink != 0.0) {
        amp_shape_add_residual(ring, pos, amp_minblep_ramp, xp, kink, skip);
    }
    if (*pending < AMP_MINBLEP_TAPS - skip) {
        *pending = AMP_MINBLEP_TAPS - skip;
    }
}

static inline AMP_SHAPE_INLINE void amp_shape_schedule(double *ring, int32_t pos, int32_t *pending, double x, double jump, double kink)
{
    amp_shape_schedule_past(ring, pos, pending, x, jump, kink, 0);
}

/* Samples since the phase, moving by inc per sample (|inc| < 1) from prev to p with `wraps`
 * whole cycles taken off, passed point c: in [0, 1] when it did, else -1. Counting crossings from
 * the two phases and the wraps (not from distances) counts each exactly once, whatever the
 * rounding. */
static inline AMP_SHAPE_INLINE double amp_shape_since(double prev, double p, double wraps, double c, double inc)
{
    /* At c = 0 the comparisons are always true: the count is the wraps alone. */
    const double count = c == 0.0 ? wraps : wraps + (double)(p >= c) - (double)(prev >= c);
    const double a = fabs(inc);
    if (count == 0.0 || !(a < 1.0) || a == 0.0) {
        return -1.0;
    }
    double d = inc > 0.0 ? p - c : c - p;
    if (d < 0.0) {
        d += 1.0;
    }
    const double x = d / a;
    return x > 1.0 ? 1.0 : x;
}

/* The saw's and triangle's breakpoints passed on the way from prev to p, counting those in
 * [from, to) samples ago, `skip` samples before the next sample. */
static inline AMP_SHAPE_INLINE void amp_shape_breakpoints_past(double *ring, int32_t pos, int32_t *pending, int wf, double prev,
                                              double p, double wraps, double inc, double from, double to, int skip)
{
    if (wf == AMP_SHAPE_SAW) {
        const double x = amp_shape_since(prev, p, wraps, 0.0, inc);
        if (x >= from && x < to) {
            amp_shape_schedule_past(ring, pos, pending, x, inc >= 0.0 ? -2.0 : 2.0, 0.0, skip);
        }
    } else if (wf == AMP_SHAPE_TRIANGLE) {
        const double a = fabs(inc);
        const double x1 = amp_shape_since(prev, p, wraps, 0.25, inc);
        if (x1 >= from && x1 < to) {
            amp_shape_schedule_past(ring, pos, pending, x1, 0.0, -8.0 * a, skip);
        }
        const double x2 = amp_shape_since(prev, p, wraps, 0.75, inc);
        if (x2 >= from && x2 < to) {
            amp_shape_schedule_past(ring, pos, pending, x2, 0.0, 8.0 * a, skip);
        }
    }
}

static inline AMP_SHAPE_INLINE void amp_shape_breakpoints(double *ring, int32_t pos, int32_t *pending, int wf, double prev, double p,
                                         double wraps, double inc, double from, double to)
{
    amp_shape_breakpoints_past(ring, pos, pending, wf, prev, p, wraps, inc, from, to, 0);
}

/* The saw's or triangle's naive value minus delay * slope: the band-limited line between
 * breakpoints. */
static inline double amp_shape_line(int wf, double p, double width, double inc)
{
    return amp_shape_naive(wf, p, width) - amp_minblep_delay * amp_shape_slope(wf, p) * inc;
}

/* The square's level changed from `level` to `value` on this sample: the residual of the edge
 * that did it, rising at p = 0, falling at the width (the other way round when the phase runs
 * backwards). Where the width moved across the phase instead, or a reset jumped it, the edge is
 * put inside this sample at the nearest time the phase allows. */
static inline AMP_SHAPE_INLINE void amp_shape_square_edge(double *ring, int32_t pos, int32_t *pending, double value, double level, double p,
                                   double width, double step, double since_reset)
{
    const int rising = value > level;
    const double edge = (rising == (step >= 0.0)) ? 0.0 : width;
    double d = step >= 0.0 ? p - edge : edge - p;
    if (d < 0.0) {
        d += 1.0;
    }
    double x = fabs(step) > 0.0 ? d / fabs(step) : 0.0;
    x = x > 1.0 ? 1.0 : x;
    if (since_reset >= 0.0 && x > since_reset) {
        x = since_reset;
    }
    amp_shape_schedule(ring, pos, pending, x, value - level, 0.0);
}

#endif
