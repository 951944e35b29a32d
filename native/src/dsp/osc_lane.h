/* osc_lane.h - one oscillator (a lane) over a block: the code every oscillator in the catalogue
 * runs, so that an oscillator node, a bank's lane and a fused group's lane give the same bits.
 *
 * The phase is fixed point (phase.h): sample n's phase is the previous one plus the increment the
 * previous sample's frequency gives (freq + fm), so a steady tone at phase p0 has phase
 * p0 + n freq / sample_rate, exact to 2^-64 cycle per sample.
 *
 * The sine is exact: amp * sin(2 pi phase), to about 1e-16 (sine.h). The saw, square and triangle
 * are band-limited (blep_shapes.h): the naive shape through a fixed linear-phase lowpass
 * (cutoff 0.44 sample_rate, 12 samples of delay), which is the naive line delayed by the lowpass's mean delay plus a
 * tabulated residual per breakpoint. A band-limited shape is the lowpass's response to
 * gate * naive, where the gate is open while |freq| < sample_rate / 2: it starts as if it had
 * always run at its first frequency, fades out (band-limited) when the frequency reaches Nyquist,
 * is silent at and above it, and fades in again below it. So the output never holds a DC or aliased fundamental,
 * and every change of level it makes is one the lowpass has smoothed.
 *
 * The reset input restarts the phase at `phase` when it rises through 0.5. The crossing's time
 * inside the sample is interpolated from the two samples around it and the jump it makes is
 * band-limited like any other, so a reset at audio rate is a clean hard sync.
 *
 * The block runs in passes: the increments (vectorized), the phases (a running integer sum), the
 * values and where anything happens (vectorized), then, one sample at a time, only the samples
 * where a breakpoint, a reset or a gate change happens and the residual samples after them. Every
 * sample takes the same operations whichever way the block was cut, so the bits do not depend on
 * block sizes. The including file must not let the compiler contract products and sums. */
#ifndef AMP_DSP_OSC_LANE_H
#define AMP_DSP_OSC_LANE_H

#include "blep_shapes.h"
#include "phase.h"
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
    int32_t unused;
    double ring[AMP_SHAPE_RING];
} AmpOscLane;

/* Per-block work space, max_frames long each (one per node: lanes run one after another). */
typedef struct AmpOscScratch {
    uint64_t *ph;   /* each sample's phase */
    uint64_t *incf; /* each sample's increment (varying frequency only) */
    double *incd;   /* the same in cycles */
    uint64_t *ev;   /* nonzero where something happens */
    double *rx;     /* the reset's time before the sample, or -1 */
} AmpOscScratch;

enum { AMP_OSC_SCRATCH_ARRAYS = 5 };

static inline void amp_osc_scratch_init(AmpOscScratch *s, double *memory, int32_t max_frames)
{
    s->ph = (uint64_t *)memory;
    s->incf = (uint64_t *)(memory + max_frames);
    s->incd = memory + 2 * (size_t)max_frames;
    s->ev = (uint64_t *)(memory + 3 * (size_t)max_frames);
    s->rx = memory + 4 * (size_t)max_frames;
}

static inline void amp_osc_lane_init(AmpOscLane *lane, uint64_t phase0)
{
    memset(lane, 0, sizeof *lane);
    lane->phase = phase0;
}

/* The fixed-point form of the `phase` parameter (out of range: 0). */
static inline uint64_t amp_osc_phase0(double phase)
{
    return (phase >= 0.0 && phase < 1.0) ? amp_phase_fixed(phase, 0.0) : 0;
}

static inline int amp_osc_live(double inc)
{
    return fabs(inc) < 0.5;
}

static inline double amp_osc_width(double w)
{
    return w < 0.0 ? 0.0 : (w > 1.0 ? 1.0 : w);
}

/* The value of a sample before its residuals: the sine, or the gated band-limited line. */
static inline double amp_osc_value(int wf, uint64_t p, double inc, double width)
{
    if (wf == AMP_SHAPE_SINE) {
        return amp_sin_cycles(amp_phase_cycles(p), amp_phase_cycles_low(p));
    }
    const double line = amp_shape_line(wf, amp_phase_cycles(p), width, inc);
    return amp_osc_live(inc) ? line : 0.0;
}

/* Which side of its breakpoints the phase is on (the triangle: 0, 1 or 2; the others: 0). */
static inline uint64_t amp_osc_region(int wf, uint64_t p)
{
    return wf == AMP_SHAPE_TRIANGLE ? (uint64_t)(p >= ((uint64_t)1 << 62)) + (uint64_t)(p >= ((uint64_t)3 << 62)) : 0;
}

/* What sample f (with phase p, increment inc) changes relative to the sample before it (phase prev,
 * increment step in fixed point and step_d in cycles): nonzero when it passes a breakpoint, the
 * square's level moves or the gate opens or closes. */
static inline uint64_t amp_osc_event(int wf, uint64_t prev, uint64_t p, uint64_t step, double step_d, double inc,
                                     double width_prev, double width)
{
    const uint64_t gate = (uint64_t)(amp_osc_live(step_d) != amp_osc_live(inc));
    if (wf == AMP_SHAPE_SQUARE) {
        const uint64_t was = amp_phase_cycles(prev) < width_prev;
        const uint64_t is = amp_phase_cycles(p) < width;
        return gate | (was ^ is);
    }
    const uint64_t wraps = (uint64_t)(((int64_t)step > 0) & (p < prev)) | (uint64_t)(((int64_t)step < 0) & (p > prev));
    return gate | wraps | (amp_osc_region(wf, prev) ^ amp_osc_region(wf, p));
}

/* The first sample starts a shape as if it had always run at this frequency: the residuals of the
 * breakpoints its phase passed in the samples before (those still ringing) go in the ring. */
static inline void amp_osc_history(AmpOscLane *lane, int wf, uint64_t p, uint64_t step, double inc, double width)
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
static inline void amp_osc_handle(AmpOscLane *lane, double *level, int wf, uint64_t phase0, uint64_t prev,
                                  uint64_t p, uint64_t step, double step_d, double inc, double width, double rx)
{
    double *ring = lane->ring;
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

/* One lane over `frames` samples into y. fq/fm/rs/am/pw as the node's rows (NULL fm and rs when
 * unconnected, zero strides where constant); wf, varying (fq_stride != 0 or fm connected) and
 * resets (rs connected) are compile-time constants at each call site, so each gets its own loops. */
static inline __attribute__((always_inline)) void
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
    double c_d = 0.0;
    uint64_t c_f = 0;
    if (varying) {
        for (int32_t f = 0; f < frames; ++f) {
            double hi;
            double lo;
            amp_phase_increment(fq[f * fq_stride] + (fm != NULL ? fm[f] : 0.0), sr, &hi, &lo);
            incd[f] = hi;
            incf[f] = amp_phase_fixed(hi, lo);
        }
    } else {
        double lo;
        amp_phase_increment(fq[0], sr, &c_d, &lo);
        c_f = amp_phase_fixed(c_d, lo);
    }
#define AMP_OSC_INCF(f) (varying ? incf[f] : c_f)
#define AMP_OSC_INCD(f) (varying ? incd[f] : c_d)
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
    } else if (varying) {
        if (lane->started) {
            p += lane->step;
        }
        ph[0] = p;
        for (int32_t f = 1; f < frames; ++f) {
            p += incf[f - 1];
            ph[f] = p;
        }
    } else {
        if (lane->started) {
            p += lane->step;
        }
        for (int32_t f = 0; f < frames; ++f) {
            ph[f] = p;
            p += c_f;
        }
    }
    /* The values, times amp, and the events (sample 0 is always looked at). */
    const int square = wf == AMP_SHAPE_SQUARE;
    for (int32_t f = 0; f < frames; ++f) {
        const double width = square ? amp_osc_width(pw[f * pw_stride]) : 0.5;
        y[f] = am[f * am_stride] * amp_osc_value(wf, ph[f], AMP_OSC_INCD(f), width);
    }
    if (wf != AMP_SHAPE_SINE) {
        for (int32_t f = 1; f < frames; ++f) {
            const double w0 = square ? amp_osc_width(pw[(f - 1) * pw_stride]) : 0.5;
            const double w1 = square ? amp_osc_width(pw[f * pw_stride]) : 0.5;
            ev[f] = amp_osc_event(wf, ph[f - 1], ph[f], AMP_OSC_INCF(f - 1), AMP_OSC_INCD(f - 1), AMP_OSC_INCD(f), w0,
                                  w1);
        }
    } else {
        for (int32_t f = 1; f < frames; ++f) {
            ev[f] = 0;
        }
    }
    if (resets) {
        for (int32_t f = 1; f < frames; ++f) {
            ev[f] |= (uint64_t)(rx[f] >= 0.0);
        }
    }
    /* One at a time: the event samples and the residuals after them. */
    double level = lane->level;
    for (int32_t f = 0; f < frames; ++f) {
        if (f > 0 && lane->pending == 0) {
            /* Eight at a time while none has an event: a loop that may leave after any sample does
             * not vectorize, an OR of eight does. */
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
        const double inc = AMP_OSC_INCD(f);
        if (f == 0 || ev[f] != 0) {
            const uint64_t prev = f > 0 ? ph[f - 1] : lane->phase;
            const uint64_t step = f > 0 ? AMP_OSC_INCF(f - 1) : lane->step;
            const double step_d = f > 0 ? AMP_OSC_INCD(f - 1) : lane->step_d;
            amp_osc_handle(lane, &level, wf, phase0, prev, ph[f], step, step_d, inc, width, resets ? rx[f] : -1.0);
        }
        if (lane->pending > 0) {
            const double value = amp_osc_value(wf, ph[f], inc, width);
            y[f] = am[f * am_stride] * (value + amp_shape_take(lane->ring, &lane->pos, &lane->pending));
        }
    }
    lane->level = level;
    lane->phase = ph[frames - 1];
    lane->step = AMP_OSC_INCF(frames - 1);
    lane->step_d = AMP_OSC_INCD(frames - 1);
    lane->started = 1;
#undef AMP_OSC_INCF
#undef AMP_OSC_INCD
}

#endif
