/* phase.h - a phase in cycles kept in double-double precision, and where it is `count` samples
 * after an anchor: a product, not a running sum, so no rounding accumulates over a steady tone and
 * no sample waits for the one before it. Every product and sum is rounded on its own (Dekker's
 * product rather than a fused multiply-add, which a target may lack), so the same operations give
 * the same bits on every machine: the including file must not let the compiler contract them, and
 * a loop of amp_phase_at vectorizes with the same results as one sample at a time. */
#ifndef AMP_DSP_PHASE_H
#define AMP_DSP_PHASE_H

#include <stdint.h>
#include <string.h>

typedef struct AmpPhase {
    double hi; /* in [0, 1) */
    double lo; /* |lo| <= ulp(hi) / 2 */
} AmpPhase;

/* a * b exactly, as hi + lo (Dekker's product: no fused multiply-add, which this target may
 * lack, and the same bits wherever it runs). */
static inline double amp_phase_split_high(double a)
{
    const double c = 134217729.0 * a; /* 2^27 + 1 */
    return c - (c - a);
}

static inline double amp_phase_product_error(double a, double b, double product)
{
    const double ah = amp_phase_split_high(a);
    const double al = a - ah;
    const double bh = amp_phase_split_high(b);
    const double bl = b - bh;
    return ((ah * bh - product) + ah * bl + al * bh) + al * bl;
}

/* The increment freq / sample_rate split into a rounded part and its exact remainder. A frequency
 * pushed out of range by modulation is clamped (NaN to 0) so that the phase stays finite. */
static inline void amp_phase_increment(double freq, double sample_rate, double *hi, double *lo)
{
    freq = freq > 1.0e9 ? 1.0e9 : (freq < -1.0e9 ? -1.0e9 : (freq == freq ? freq : 0.0));
    *hi = freq / sample_rate;
    const double p = *hi * sample_rate;
    *lo = ((freq - p) - amp_phase_product_error(*hi, sample_rate, p)) / sample_rate;
}

/* An increment as a head of at most 36 significant bits and the rest: count * head is exact for
 * any count below 2^17. */
static inline void amp_phase_split_increment(double inc_hi, double inc_lo, double *head, double *tail)
{
    uint64_t bits;
    memcpy(&bits, &inc_hi, sizeof bits);
    bits &= ~(uint64_t)0x1ffff;
    memcpy(head, &bits, sizeof bits);
    *tail = (inc_hi - *head) + inc_lo;
}

/* The phase `count` samples after the anchor, anchor + count * (head + tail) in double-double,
 * wrapped into [0, 1); *whole receives the whole cycles taken off. */
static inline AmpPhase amp_phase_at(AmpPhase anchor, double head, double tail, double count, double *whole)
{
    const double prod = count * head;
    const double s = anchor.hi + prod;
    const double bv = s - anchor.hi;
    const double e = (anchor.hi - (s - bv)) + (prod - bv) + anchor.lo + count * tail;
    /* floor(s) without a call or a conversion: adding and taking off 1.5 * 2^52 rounds to the
     * nearest integer (exact for |s| < 2^51, far beyond any phase here). */
    const double nearest = (s + 6755399441055744.0) - 6755399441055744.0;
    double fl = nearest > s ? nearest - 1.0 : nearest;
    const double hi = s - fl; /* exact */
    double t = hi + e;
    const double lo = e - (t - hi);
    /* Written as selects so that a loop of these vectorizes. */
    const double up = t >= 1.0 ? 1.0 : 0.0;
    const double down = t < 0.0 ? 1.0 : 0.0;
    t = (t - up) + down;
    fl = (fl + up) - down;
    const double top = t >= 1.0 ? 1.0 : 0.0; /* a hair below a whole cycle: call it the cycle's start */
    t = top > 0.0 ? 0.0 : t;
    *whole = fl + top;
    return (AmpPhase){t, lo};
}

#endif
