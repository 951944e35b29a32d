/* osc_lane.h - one oscillator (a lane) over a block: the code every oscillator in the catalogue
 * runs, so that an oscillator node, a bank's lane and a fused group's lane give the same bits.
 *
 * The phase is fixed point (phase.h): sample n's phase is the previous one plus the increment the
 * previous sample's frequency gives (freq + fm), so a steady tone at phase p0 has phase
 * p0 + n freq / sample_rate, exact to 2^-64 cycle per sample.
 *
 * The sine is exact: amp * sin(2 pi phase), to about 1e-16 (sine.h). The saw, square and triangle
 * are band-limited (blep_shapes.h): the naive shape through a fixed linear-phase lowpass
 * (cutoff 0.44 sample_rate, 12 samples of delay), which is the naive line delayed by the
 * lowpass's mean delay plus a tabulated residual per breakpoint. A band-limited shape is the
 * lowpass's response to gate * naive, where the gate is open while |freq| < sample_rate / 2: it
 * starts as if it had always run at its first frequency, fades out (band-limited) when the
 * frequency reaches Nyquist, is silent at and above it, and fades in again below it. So the output
 * never holds a DC or aliased fundamental, and every change of level it makes is one the lowpass
 * has smoothed.
 *
 * The reset input restarts the phase at `phase` when it rises through 0.5. The crossing's time
 * inside the sample is interpolated from the two samples around it and the jump it makes is
 * band-limited like any other, so a reset at audio rate is a clean hard sync.
 *
 * The block runs in passes: the increments (vectorized), the phases (a running integer sum), the
 * values and where anything happens (vectorized), then, one sample at a time, only the samples
 * where a breakpoint, a reset or a gate change happens and the residual samples after them (a
 * steady lane finds its breakpoints by integer division instead), then amp. Every sample takes
 * the same operations whichever way the block was cut, so the bits do not depend on block sizes.
 * The including file must not let the compiler contract products and sums. */
#ifndef AMP_DSP_OSC_LANE_H
#define AMP_DSP_OSC_LANE_H

#include "../amp_node.h"
#include "blep_shapes.h"
#include "phase.h"
#include "../amp_wrapping.h"
#include "sine.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct AmpOscLane {
    uint64_t phase;    /* the phase of the last sample written, or the initial phase */
    uint64_t step;     /* the increment from the last sample to the next */
    double step_d;     /* the same in cycles */
    double reset_prev; /* the reset input's last sample */
    double level;      /* the square's naive level at the last sample */
    int32_t started;
    int32_t pos;       /* ring slot of the next sample */
    int32_t pending;   /* how many ring slots from pos may be non-zero */
    int32_t walking;   /* a steady block left `until` and `walk_width` for the next one */
    double freq;       /* the constant frequency the cached increment was made from */
    uint64_t inc;      /* the cached increment, fixed point and in cycles (valid when have_inc) */
    double inc_d;
    int32_t have_inc;
    int32_t unused;
    uint64_t until[2]; /* samples from the next block's first to each breakpoint's next crossing */
    double walk_width;
    double ring[AMP_SHAPE_RING];
} AmpOscLane;

/* Per-block work space, max_frames long each (one per node: lanes run one after another). */
typedef struct AmpOscScratch {
    uint64_t *ph;   /* each sample's phase */
    uint64_t *incf; /* each sample's increment (varying frequency only) */
    double *incd;   /* the same in cycles */
    uint64_t *ev;   /* nonzero where something happens */
    double *rx;     /* the reset's time before the sample, or -1 */
    int fused;      /* the kernel runs as a copy with fused multiply-adds (amp_fma_clones_fused) */
} AmpOscScratch;

enum { AMP_OSC_SCRATCH_ARRAYS = 5 };

static inline AMP_WRAPPING void amp_osc_scratch_init(AmpOscScratch *s, double *memory, int32_t max_frames)
{
    s->ph = (uint64_t *)memory;
    s->incf = (uint64_t *)(memory + max_frames);
    s->incd = memory + 2 * (size_t)max_frames;
    s->ev = (uint64_t *)(memory + 3 * (size_t)max_frames);
    s->rx = memory + 4 * (size_t)max_frames;
    s->fused = amp_fma_clones_fused();
}

static inline AMP_WRAPPING void amp_osc_lane_init(AmpOscLane *lane, uint64_t phase0)
{
    memset(lane, 0, sizeof *lane);
    lane->phase = phase0;
}

/* The increment freq / sr (inverse_rate = 1 / sr) in cycles and in fixed point; fused as in
 * amp_phase_increment_with. */
static inline AMP_WRAPPING __attribute__((always_inline)) void
amp_osc_increment(double freq, double sr, double inverse_rate, double *inc_d, uint64_t *inc_f, const int fused)
{
    double hi;
    double lo;
    amp_phase_increment_with(freq, sr, inverse_rate, &hi, &lo, fused);
    *inc_d = hi;
    *inc_f = amp_phase_fixed(hi, lo);
}

/* Each sample's increment from the frequency row and fm (NULL: unconnected). One loop per kind of
 * source, each with plain loads: a select on fm inside the loop becomes a masked load from fm,
 * which with fm NULL touches an unmapped page with every lane masked off (a slow microcode assist
 * on AMD machines), and a load at a stride known only at run time becomes eight scalar loads.
 * x + 0.0 where fm is unconnected keeps the bits of the one-loop form (it turns -0 into +0). */
static inline AMP_WRAPPING __attribute__((always_inline)) void
amp_osc_increments(const double *fq, ptrdiff_t fq_stride, const double *fm, double sr, double *restrict incd,
                   uint64_t *restrict incf, int32_t frames, const int fused)
{
    const double inverse_rate = 1.0 / sr;
    if (fm != NULL && fq_stride == 0) {
        const double base = fq[0];
        for (int32_t f = 0; f < frames; ++f) {
            amp_osc_increment(base + fm[f], sr, inverse_rate, &incd[f], &incf[f], fused);
        }
    } else if (fm != NULL) {
        for (int32_t f = 0; f < frames; ++f) {
            amp_osc_increment(fq[f * fq_stride] + fm[f], sr, inverse_rate, &incd[f], &incf[f], fused);
        }
    } else if (fq_stride == 1) {
        for (int32_t f = 0; f < frames; ++f) {
            amp_osc_increment(fq[f] + 0.0, sr, inverse_rate, &incd[f], &incf[f], fused);
        }
    } else {
        for (int32_t f = 0; f < frames; ++f) {
            amp_osc_increment(fq[f * fq_stride] + 0.0, sr, inverse_rate, &incd[f], &incf[f], fused);
        }
    }
}

/* Whether two lanes hold the same state, field by field: then the same inputs give them the same
 * samples. */
static inline AMP_WRAPPING int amp_osc_lane_same(const AmpOscLane *a, const AmpOscLane *b)
{
    return a->phase == b->phase && a->step == b->step && memcmp(&a->step_d, &b->step_d, sizeof(double)) == 0 &&
           memcmp(&a->reset_prev, &b->reset_prev, sizeof(double)) == 0 &&
           memcmp(&a->level, &b->level, sizeof(double)) == 0 && a->started == b->started && a->pos == b->pos &&
           a->pending == b->pending && a->walking == b->walking && memcmp(&a->freq, &b->freq, sizeof(double)) == 0 &&
           a->inc == b->inc && memcmp(&a->inc_d, &b->inc_d, sizeof(double)) == 0 && a->have_inc == b->have_inc &&
           a->until[0] == b->until[0] && a->until[1] == b->until[1] &&
           memcmp(&a->walk_width, &b->walk_width, sizeof(double)) == 0 &&
           memcmp(a->ring, b->ring, sizeof(a->ring)) == 0;
}

/* The fixed-point form of the `phase` parameter (out of range: 0). */
static inline AMP_WRAPPING uint64_t amp_osc_phase0(double phase)
{
    return (phase >= 0.0 && phase < 1.0) ? amp_phase_fixed(phase, 0.0) : 0;
}

static inline AMP_WRAPPING int amp_osc_live(double inc)
{
    return fabs(inc) < 0.5;
}

static inline AMP_WRAPPING double amp_osc_width(double w)
{
    return w < 0.0 ? 0.0 : (w > 1.0 ? 1.0 : w);
}

/* The value of a sample before its residuals: the sine, or the gated band-limited line. */
static inline AMP_WRAPPING double amp_osc_value(int wf, uint64_t p, double inc, double width)
{
    if (wf == AMP_SHAPE_SINE) {
        return amp_sin_cycles(amp_phase_cycles(p), amp_phase_cycles_low(p));
    }
    if (wf == AMP_SHAPE_SAW) {
        /* 2p - 1 is 2 (1 + p) - 3, exactly: two operations on 1 + p, which is the phase's bits. */
        const double line = 2.0 * amp_phase_one_plus(p) - (3.0 + amp_minblep_delay * 2.0 * inc);
        return amp_osc_live(inc) ? line : 0.0;
    }
    const double line = amp_shape_line(wf, amp_phase_cycles(p), width, inc);
    return amp_osc_live(inc) ? line : 0.0;
}

/* Which side of its breakpoints the phase is on (the triangle: 0, 1 or 2; the others: 0). */
static inline AMP_WRAPPING uint64_t amp_osc_region(int wf, uint64_t p)
{
    return wf == AMP_SHAPE_TRIANGLE ? (uint64_t)(p >= ((uint64_t)1 << 62)) + (uint64_t)(p >= ((uint64_t)3 << 62)) : 0;
}

/* What sample f (with phase p, increment inc) changes relative to the sample before it (phase prev,
 * increment step in fixed point and step_d in cycles): nonzero when it passes a breakpoint, the
 * square's level moves or the gate opens or closes. */
static inline AMP_WRAPPING uint64_t amp_osc_event(int wf, uint64_t prev, uint64_t p, uint64_t step, double step_d, double inc,
                                     double width_prev, double width)
{
    const uint64_t gate = (uint64_t)(amp_osc_live(step_d) != amp_osc_live(inc));
    if (wf == AMP_SHAPE_SQUARE) {
        const uint64_t was = amp_phase_cycles(prev) < width_prev;
        const uint64_t is = amp_phase_cycles(p) < width;
        return gate | (was ^ is);
    }
    /* A wrap forwards carries out of prev + step, one backwards does not (a step below zero is
     * 2^64 - |step|); with step 0 nothing carries and nothing wraps. So the phase wrapped exactly
     * when the carry differs from the step's sign: (step > 0 and p < prev) or (step < 0 and
     * p > prev), in two comparisons. p is prev + step except at a reset, which is an event
     * anyway. */
    const uint64_t wraps = (uint64_t)(p < prev) ^ (uint64_t)((int64_t)step < 0);
    return gate | wraps | (amp_osc_region(wf, prev) ^ amp_osc_region(wf, p));
}

/* The first sample starts a shape as if it had always run at this frequency: the residuals of the
 * breakpoints its phase passed in the samples before (those still ringing) go in the ring. */
static inline AMP_WRAPPING void amp_osc_history(AmpOscLane *lane, int wf, uint64_t p, uint64_t step, double inc, double width)
{
    uint64_t later = p;
    for (int skip = 0; skip < AMP_MINBLEP_TAPS; ++skip) {
        const uint64_t earlier = later - step;
        const double e = amp_phase_cycles(earlier);
        const double l = amp_phase_cycles(later);
        const double wraps = amp_phase_wraps(earlier, later, step);
        if (wf == AMP_SHAPE_SQUARE) {
            const double rise = amp_shape_since(e, l, wraps, 0.0, inc);
            const double fall = amp_shape_since(e, l, wraps, width, inc);
            const double sign = inc >= 0.0 ? 1.0 : -1.0;
            if (rise >= 0.0) {
                amp_shape_schedule_past(lane->ring, lane->pos, &lane->pending, rise, 2.0 * sign, 0.0, skip);
            }
            if (fall >= 0.0) {
                amp_shape_schedule_past(lane->ring, lane->pos, &lane->pending, fall, -2.0 * sign, 0.0, skip);
            }
        } else {
            amp_shape_breakpoints_past(lane->ring, lane->pos, &lane->pending, wf, e, l, wraps, inc, 0.0, 2.0, skip);
        }
        later = earlier;
    }
}

/* The residuals sample f schedules (it is an event sample, or the block's first). */
static inline AMP_WRAPPING AMP_SHAPE_INLINE void amp_osc_handle(AmpOscLane *lane, double *level, int wf, uint64_t phase0, uint64_t prev,
                                  uint64_t p, uint64_t step, double step_d, double inc, double width, double rx)
{
    double *ring = lane->ring;
    if (lane->pending == 0) {
        /* Every slot is 0, so the ring may start anywhere: at 0, the residuals about to be
         * scheduled and their taking make runs that do not wrap round its end. */
        lane->pos = 0;
    }
    const double pd = amp_phase_cycles(p);
    const double value = pd < width ? 1.0 : -1.0; /* the square's level */
    if (!lane->started) {
        if (wf != AMP_SHAPE_SINE && amp_osc_live(inc)) {
            amp_osc_history(lane, wf, p, amp_phase_fixed(inc, 0.0), inc, width);
        }
        lane->started = 1;
        *level = value;
        return;
    }
    const int live_prev = amp_osc_live(step_d);
    const double prev_d = amp_phase_cycles(prev);
    if (rx >= 0.0) {
        /* A reset rx samples before this one: the phase would have gone on to `moved`. */
        const uint64_t moved = prev + step;
        const double moved_d = amp_phase_cycles(moved);
        if (live_prev) {
            const double old_p = moved_d - rx * step_d;
            const double old_w = old_p - floor(old_p);
            const double p0 = amp_phase_cycles(phase0);
            amp_shape_breakpoints(ring, lane->pos, &lane->pending, wf, prev_d, moved_d,
                                  amp_phase_wraps(prev, moved, step), step_d, rx, 2.0);
            if (wf != AMP_SHAPE_SQUARE) {
                const double jump = amp_shape_naive(wf, p0, width) - amp_shape_naive(wf, old_w, width);
                const double kink = (amp_shape_slope(wf, p0) - amp_shape_slope(wf, old_w)) * step_d;
                amp_shape_schedule(ring, lane->pos, &lane->pending, rx, jump, kink);
            }
            amp_shape_breakpoints(ring, lane->pos, &lane->pending, wf, p0, pd, amp_phase_wraps(phase0, p, step),
                                  step_d, 0.0, rx);
        }
    } else if (live_prev) {
        amp_shape_breakpoints(ring, lane->pos, &lane->pending, wf, prev_d, pd, amp_phase_wraps(prev, p, step), step_d,
                              0.0, 2.0);
    }
    if (wf == AMP_SHAPE_SQUARE) {
        if (value != *level && live_prev) {
            amp_shape_square_edge(ring, lane->pos, &lane->pending, value, *level, pd, width, step_d, rx);
        }
        *level = value;
    }
    if (wf != AMP_SHAPE_SINE && live_prev != amp_osc_live(inc)) {
        /* The gate closes (the naive shape drops to 0 here) or opens (it starts here). */
        const double sign = live_prev ? -1.0 : 1.0;
        amp_shape_schedule(ring, lane->pos, &lane->pending, 0.0, sign * amp_shape_naive(wf, pd, width),
                           sign * (amp_shape_slope(wf, pd) * inc));
    }
}

/* Sample f's residuals: those it schedules (an event sample, or the block's first), then the one
 * due, added to its value in y. */
static inline AMP_WRAPPING AMP_SHAPE_INLINE void amp_osc_visit(AmpOscLane *lane, double *level, int wf, uint64_t phase0, uint64_t prev, uint64_t p,
                                 uint64_t step, double step_d, double inc, double width, double rx, int event,
                                 double *y)
{
    if (event) {
        amp_osc_handle(lane, level, wf, phase0, prev, p, step, step_d, inc, width, rx);
    }
    if (lane->pending > 0) {
        *y += amp_shape_take(lane->ring, &lane->pos, &lane->pending);
    }
}

/* The square's level as a fixed-point threshold: p_d < width exactly when p < *w (0 < width < 1:
 * otherwise the level never changes and this returns 0). */
static inline AMP_WRAPPING int amp_osc_width_threshold(double width, uint64_t *w)
{
    const double x = width * 4503599627370496.0; /* 2^52, exact */
    const double n = amp_phase_nearest(x);
    const double c = n < x ? n + 1.0 : n; /* ceil */
    if (!(width > 0.0) || !(c < 4503599627370496.0)) {
        return 0;
    }
    const double shifted = c + 4503599627370496.0; /* in [2^52, 2^53): c is its mantissa */
    uint64_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    *w = (bits & (((uint64_t)1 << 52) - 1)) << 12;
    return 1;
}

/* Samples from a phase q, moving by step (fixed point, nonzero), until the phase crosses t (going
 * up through it when forwards, down when backwards): at least 1. A step of one unit (a frequency
 * of about 5e-20 cycles per sample) from t itself crosses it again only after 2^64 samples, which
 * does not fit: that is UINT64_MAX, never, where it used to wrap to 0 and stall the walk. */
static inline AMP_WRAPPING uint64_t amp_osc_until(uint64_t q, uint64_t t, uint64_t step)
{
    const uint64_t whole = (int64_t)step > 0 ? (t - q - 1) / step : (q - t) / (0 - step);
    return whole == UINT64_MAX ? UINT64_MAX : whole + 1;
}

/* A steady lane (constant frequency, no reset input) after its first sample: the phases are
 * p0 + f * step, so the breakpoints fall where integer division says, with nothing to look for in
 * between. The samples visited, and what each does, are the ones the general walk finds. */
static inline AMP_WRAPPING AMP_SHAPE_INLINE void amp_osc_steady_walk(AmpOscLane *lane, double *level, int wf, uint64_t phase0, uint64_t p0,
                                       uint64_t step, double inc, double width, double *y, int32_t frames)
{
    uint64_t at[2];
    int count = 0;
    if (amp_osc_live(inc) && step != 0) {
        if (wf == AMP_SHAPE_SAW) {
            at[count++] = 0;
        } else if (wf == AMP_SHAPE_TRIANGLE) {
            at[count++] = (uint64_t)1 << 62;
            at[count++] = (uint64_t)3 << 62;
        } else if (wf == AMP_SHAPE_SQUARE) {
            uint64_t w;
            if (amp_osc_width_threshold(width, &w)) {
                at[count++] = 0;
                at[count++] = w;
            }
        }
    }
    /* The first sample is visited unless the last block was steady at this increment (and width)
     * and no breakpoint falls on it: then it has nothing to schedule. */
    const int known = count > 0 && lane->walking && lane->started && lane->step == step && lane->walk_width == width;
    const uint64_t never = UINT64_MAX;
    const uint64_t span = (uint64_t)frames;
    if (known && lane->until[0] >= span && (count < 2 || lane->until[1] >= span)) {
        /* No breakpoint in this block (most blocks): only the residuals still pending, which the
         * walk below would take in the same order, and the countdowns. Kept apart so that none of
         * the walk's set-up runs. */
        if (lane->pending > 0) {
            const uint64_t n = (uint64_t)lane->pending < span ? (uint64_t)lane->pending : span;
            amp_shape_take_run(lane->ring, &lane->pos, &lane->pending, y, (int32_t)n);
        }
        for (int i = 0; i < count; ++i) {
            lane->until[i] = lane->until[i] == never ? never : lane->until[i] - span;
        }
        lane->walk_width = width; /* equal, but its sign may differ (-0 is a width of 0) */
        if (wf == AMP_SHAPE_SQUARE) {
            *level = amp_phase_cycles(p0 + (span - 1) * step) < width ? 1.0 : -1.0;
        }
        return;
    }
    int first_event = !known;
    for (int i = 0; i < count; ++i) {
        first_event |= known && lane->until[i] == 0;
    }
    amp_osc_visit(lane, level, wf, phase0, lane->phase, p0, lane->step, lane->step_d, inc, width, -1.0, first_event,
                  &y[0]);
    uint64_t next[2] = {never, never};
    for (int i = 0; i < count; ++i) {
        next[i] = known && lane->until[i] != 0 ? lane->until[i] : amp_osc_until(p0, at[i], step);
    }
    uint64_t f = 1;
    while (f < span) {
        const uint64_t event = count == 2 && next[1] < next[0] ? next[1] : next[0];
        if (f < event && f < span && lane->pending > 0) {
            uint64_t n = (uint64_t)lane->pending;
            n = event - f < n ? event - f : n;
            n = span - f < n ? span - f : n;
            amp_shape_take_run(lane->ring, &lane->pos, &lane->pending, y + f, (int32_t)n);
            f += n;
        }
        if (event >= span) {
            break;
        }
        f = event;
        const uint64_t p = p0 + f * step;
        amp_osc_visit(lane, level, wf, phase0, p - step, p, step, inc, inc, width, -1.0, 1, &y[f]);
        for (int i = 0; i < count; ++i) {
            if (next[i] == f) {
                const uint64_t k = amp_osc_until(p, at[i], step);
                next[i] = k < never - f ? f + k : never;
            }
        }
        ++f;
    }
    for (int i = 0; i < count; ++i) {
        lane->until[i] = next[i] == never ? never : next[i] - span;
    }
    lane->walking = count > 0;
    lane->walk_width = width;
    if (wf == AMP_SHAPE_SQUARE) {
        *level = amp_phase_cycles(p0 + (span - 1) * step) < width ? 1.0 : -1.0;
    }
}

/* One lane over `frames` samples into y. fq/fm/rs/am/pw as the node's rows (NULL fm and rs when
 * unconnected, zero strides where constant); wf, varying (fq_stride != 0 or fm connected) and
 * resets (rs connected) are compile-time constants at each call site, so each gets its own loops.
 * A sample is am * (value + residual), the residual added only where one is pending. */
static inline AMP_WRAPPING __attribute__((always_inline)) void
amp_osc_lane_run(const AmpOscScratch *s, AmpOscLane *lane, const int wf, const int varying, const int resets,
                 uint64_t phase0, const double *fq, ptrdiff_t fq_stride, const double *fm, const double *rs,
                 const double *am, ptrdiff_t am_stride, const double *pw, ptrdiff_t pw_stride, double sr,
                 double *restrict y, int32_t frames)
{
    uint64_t *restrict ph = s->ph;
    uint64_t *restrict incf = s->incf;
    double *restrict incd = s->incd;
    uint64_t *restrict ev = s->ev;
    double *restrict rx = s->rx;
    const int square = wf == AMP_SHAPE_SQUARE;
    double c_d = 0.0;
    uint64_t c_f = 0;
    if (varying) {
        if (s->fused) {
            amp_osc_increments(fq, fq_stride, fm, sr, incd, incf, frames, 1);
        } else {
            amp_osc_increments(fq, fq_stride, fm, sr, incd, incf, frames, 0);
        }
    } else if (lane->have_inc && fq[0] == lane->freq) {
        c_d = lane->inc_d;
        c_f = lane->inc;
    } else {
        double lo;
        amp_phase_increment(fq[0], sr, 1.0 / sr, &c_d, &lo);
        c_f = amp_phase_fixed(c_d, lo);
        lane->freq = fq[0];
        lane->inc = c_f;
        lane->inc_d = c_d;
        lane->have_inc = 1;
    }
#define AMP_OSC_INCF(f) (varying ? incf[f] : c_f)
#define AMP_OSC_INCD(f) (varying ? incd[f] : c_d)
    const uint64_t first = lane->started ? lane->phase + lane->step : lane->phase;
    double level = lane->level;
    if (!varying && !resets) {
        /* Steady: the values, then the first sample's and the breakpoints' residuals. */
        const double width = square ? amp_osc_width(pw[0]) : 0.5;
        uint64_t p = first;
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = amp_osc_value(wf, p, c_d, width);
            p += c_f;
        }
        amp_osc_steady_walk(lane, &level, wf, phase0, first, c_f, c_d, width, y, frames);
        lane->phase = first + (uint64_t)(frames - 1) * c_f;
    } else {
        /* The phases. */
        uint64_t p = lane->phase;
        if (resets) {
            double reset_prev = lane->reset_prev;
            uint64_t step = lane->step;
            double step_d = lane->step_d;
            int started = lane->started;
            for (int32_t f = 0; f < frames; ++f) {
                rx[f] = -1.0;
                if (started) {
                    p += step;
                    if (reset_prev < 0.5 && rs[f] >= 0.5) {
                        rx[f] = (rs[f] - 0.5) / (rs[f] - reset_prev);
                        p = phase0 + amp_phase_fixed(rx[f] * step_d, 0.0);
                    }
                }
                reset_prev = rs[f];
                started = 1;
                ph[f] = p;
                step = AMP_OSC_INCF(f);
                step_d = AMP_OSC_INCD(f);
            }
            lane->reset_prev = reset_prev;
        } else {
            /* A running sum, four samples per step of the chain: integer addition is exact and
             * associative (modulo 2^64), so the partial sums give the same phases. */
            p = first;
            ph[0] = p;
            int32_t f = 1;
            for (; f + 4 <= frames; f += 4) {
                const uint64_t a = AMP_OSC_INCF(f - 1);
                const uint64_t ab = a + AMP_OSC_INCF(f);
                const uint64_t c = AMP_OSC_INCF(f + 1);
                const uint64_t cd = c + AMP_OSC_INCF(f + 2);
                ph[f] = p + a;
                ph[f + 1] = p + ab;
                ph[f + 2] = (p + ab) + c;
                p += ab + cd;
                ph[f + 3] = p;
            }
            for (; f < frames; ++f) {
                p += AMP_OSC_INCF(f - 1);
                ph[f] = p;
            }
        }
        /* The values and the events (sample 0 is always visited), in one pass over the phases. */
        y[0] = amp_osc_value(wf, ph[0], AMP_OSC_INCD(0), square ? amp_osc_width(pw[0]) : 0.5);
        if (wf != AMP_SHAPE_SINE) {
            for (int32_t f = 1; f < frames; ++f) {
                const double w0 = square ? amp_osc_width(pw[(f - 1) * pw_stride]) : 0.5;
                const double w1 = square ? amp_osc_width(pw[f * pw_stride]) : 0.5;
                y[f] = amp_osc_value(wf, ph[f], AMP_OSC_INCD(f), w1);
                ev[f] = amp_osc_event(wf, ph[f - 1], ph[f], AMP_OSC_INCF(f - 1), AMP_OSC_INCD(f - 1), AMP_OSC_INCD(f),
                                      w0, w1);
            }
        } else {
            for (int32_t f = 1; f < frames; ++f) {
                y[f] = amp_osc_value(wf, ph[f], AMP_OSC_INCD(f), 0.5);
                ev[f] = 0;
            }
        }
        if (resets) {
            for (int32_t f = 1; f < frames; ++f) {
                ev[f] |= (uint64_t)(rx[f] >= 0.0);
            }
        }
        /* One at a time: the event samples and the residuals after them. */
        for (int32_t f = 0; f < frames; ++f) {
            if (f > 0 && lane->pending == 0) {
                /* Eight at a time while none has an event: a loop that may leave after any sample
                 * does not vectorize, an OR of eight does. */
                while (f + 8 <= frames) {
                    uint64_t any = 0;
                    for (int32_t k = 0; k < 8; ++k) {
                        any |= ev[f + k];
                    }
                    if (any != 0) {
                        break;
                    }
                    f += 8;
                }
                while (f < frames && ev[f] == 0) {
                    ++f;
                }
                if (f == frames) {
                    break;
                }
            }
            const double width = square ? amp_osc_width(pw[f * pw_stride]) : 0.5;
            const uint64_t prev = f > 0 ? ph[f - 1] : lane->phase;
            const uint64_t step = f > 0 ? AMP_OSC_INCF(f - 1) : lane->step;
            const double step_d = f > 0 ? AMP_OSC_INCD(f - 1) : lane->step_d;
            amp_osc_visit(lane, &level, wf, phase0, prev, ph[f], step, step_d, AMP_OSC_INCD(f), width,
                          resets ? rx[f] : -1.0, f == 0 || ev[f] != 0, &y[f]);
        }
        lane->phase = ph[frames - 1];
        lane->walking = 0;
    }
    /* amp. */
    if (am_stride == 0) {
        const double gain = am[0];
        if (gain != 1.0) { /* x * 1 is x, bit for bit */
            for (int32_t f = 0; f < frames; ++f) {
                y[f] *= gain;
            }
        }
    } else {
        for (int32_t f = 0; f < frames; ++f) {
            y[f] *= am[f * am_stride];
        }
    }
    lane->level = level;
    lane->step = AMP_OSC_INCF(frames - 1);
    lane->step_d = AMP_OSC_INCD(frames - 1);
    lane->started = 1;
#undef AMP_OSC_INCF
#undef AMP_OSC_INCD
}

#endif
