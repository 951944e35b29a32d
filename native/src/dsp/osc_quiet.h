/* osc_quiet.h - a steady saw or triangle lane's block as a small call.
 *
 * Most blocks of a steady tone hold no wrap of the saw and no corner of the triangle (a 110 Hz saw
 * wraps once every 436 samples): what amp_osc_lane_run does for them is the values, the residuals
 * still pending from the last breakpoint and the countdowns to the next. That work is a few dozen
 * instructions at block 64, while the general kernel, which carries every shape, frequency kind
 * and breakpoint path, spends more than that on its own entry and set-up. amp_osc_quiet_run does
 * the same work, in the same order on each sample, so the bits are the general kernel's; the
 * blocks with a breakpoint go through amp_osc_steady_run, the general kernel's steady path itself
 * without its dispatch. The general kernel remains the only one that decides when a lane is steady
 * (amp_osc_steady_walk leaves `walking` and the countdowns); these only read its decision. */
#ifndef AMP_DSP_OSC_QUIET_H
#define AMP_DSP_OSC_QUIET_H

#include "osc_lane.h"

/* Whether a lane at constant frequency `freq` went on steadily from its last block at the same
 * increment (amp_osc_steady_walk left `walking`, the countdowns and a width of 0.5 for it): then
 * amp_osc_steady_run gives what amp_osc_lane_run would. */
static inline AMP_WRAPPING int amp_osc_steady(const AmpOscLane *lane, int wf, double freq, int32_t frames)
{
    return (wf == AMP_SHAPE_SAW || wf == AMP_SHAPE_TRIANGLE) && frames > 0 && lane->walking && lane->started &&
           lane->have_inc && freq == lane->freq && lane->step == lane->inc && lane->inc != 0 &&
           amp_osc_live(lane->inc_d) && lane->walk_width == 0.5;
}

/* Whether, besides, the next `frames` samples hold no breakpoint, so that amp_osc_quiet_run gives
 * what amp_osc_lane_run would: the conditions under which amp_osc_steady_walk takes its quiet
 * branch. */
static inline AMP_WRAPPING int amp_osc_quiet(const AmpOscLane *lane, int wf, double freq, int32_t frames)
{
    const uint64_t span = (uint64_t)frames;
    return amp_osc_steady(lane, wf, freq, frames) && lane->until[0] >= span &&
           (wf != AMP_SHAPE_TRIANGLE || lane->until[1] >= span);
}

/* The sample at phase p: amp_osc_value's, bit for bit. The saw's 2 (1 + p) - c takes one fused
 * multiply-add where the running copy has them (`fused`, amp_fma_clones_fused()): 2 (1 + p) is
 * exact, so rounding 2 (1 + p) - c once is what rounding it after the exact doubling gives, and
 * the sum's own addition then has the adders to itself. */
static inline AMP_WRAPPING __attribute__((always_inline)) double amp_osc_quiet_value(const int wf, uint64_t p, double inc,
                                                                                  double saw_offset, const int fused)
{
    if (wf == AMP_SHAPE_SAW) {
        return fused ? fma(amp_phase_one_plus(p), 2.0, -saw_offset) : 2.0 * amp_phase_one_plus(p) - saw_offset;
    }
    return amp_osc_value(wf, p, inc, 0.5);
}

/* The block x (its values and residuals) times amp, as the general kernel applies it, then, with
 * `adds`, added into y (y + x, as a sum adds it). */
static inline AMP_WRAPPING __attribute__((always_inline)) void
amp_osc_amp_and_add(double *restrict x, const double *am, ptrdiff_t am_stride, double *restrict y, int32_t frames,
                    const int adds)
{
    if (am_stride == 0) {
        const double gain = am[0];
        if (gain != 1.0) { /* x * 1 is x, bit for bit */
            for (int32_t f = 0; f < frames; ++f) {
                x[f] *= gain;
            }
        }
    } else {
        for (int32_t f = 0; f < frames; ++f) {
            x[f] *= am[f * am_stride];
        }
    }
    if (adds) {
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = y[f] + x[f];
        }
    }
}

/* Adds the block x times amp (a constant gain) into y (y + x, as a sum adds it) in one pass from
 * phase p: x is the value, plus, on the first n samples, the residual in res[0..n), each taken
 * (its slot cleared) as amp_shape_take_run takes it. What a block made in work space, its
 * residuals added, scaled and then added into y gives, without the work space. */
static inline AMP_WRAPPING __attribute__((always_inline)) void
amp_osc_add_direct(const int wf, uint64_t p, uint64_t step, double inc, double saw_offset, double gain,
                   double *restrict y, int32_t frames, double *restrict res, int32_t n, const int fused)
{
    if (gain == 1.0) { /* x * 1 is x, bit for bit */
        for (int32_t f = 0; f < n; ++f) {
            const double x = amp_osc_quiet_value(wf, p + (uint64_t)f * step, inc, saw_offset, fused) + res[f];
            res[f] = 0.0;
            y[f] = y[f] + x;
        }
        p += (uint64_t)n * step;
        for (int32_t f = n; f < frames; ++f) {
            y[f] = y[f] + amp_osc_quiet_value(wf, p, inc, saw_offset, fused);
            p += step;
        }
    } else {
        for (int32_t f = 0; f < n; ++f) {
            const double x = amp_osc_quiet_value(wf, p + (uint64_t)f * step, inc, saw_offset, fused) + res[f];
            res[f] = 0.0;
            y[f] = y[f] + x * gain;
        }
        p += (uint64_t)n * step;
        for (int32_t f = n; f < frames; ++f) {
            y[f] = y[f] + amp_osc_quiet_value(wf, p, inc, saw_offset, fused) * gain;
            p += step;
        }
    }
}

/* The quiet block: values, pending residuals, amp; then the lane moves on by `frames`. With
 * `adds`, each sample is added into y (y + x, as a sum adds it) instead of written, through `temp`
 * (frames long) where the residuals or a varying amp come in between. */
static inline AMP_WRAPPING __attribute__((always_inline)) void
amp_osc_quiet_run(AmpOscLane *lane, const int wf, const double *am, ptrdiff_t am_stride, double *restrict y,
                  int32_t frames, const int adds, double *restrict temp, const int fused)
{
    const uint64_t step = lane->inc;
    const double inc = lane->inc_d;
    const uint64_t first = lane->phase + lane->step;
    const uint64_t span = (uint64_t)frames;
    const uint64_t never = UINT64_MAX;
    const double saw_offset = 3.0 + amp_minblep_delay * 2.0 * inc; /* as amp_osc_value writes it */
    const int32_t taken = lane->pending < frames ? lane->pending : frames; /* residuals due in the block */
    if (lane->pending == 0 && am_stride == 0) {
        /* x * 1 is x, bit for bit; the general kernel multiplies by amp after the residuals, of
         * which there are none here. */
        const double gain = am[0];
        uint64_t p = first;
        if (gain == 1.0) {
            for (int32_t f = 0; f < frames; ++f) {
                const double x = amp_osc_quiet_value(wf, p, inc, saw_offset, fused);
                y[f] = adds ? y[f] + x : x;
                p += step;
            }
        } else {
            for (int32_t f = 0; f < frames; ++f) {
                const double x = amp_osc_quiet_value(wf, p, inc, saw_offset, fused) * gain;
                y[f] = adds ? y[f] + x : x;
                p += step;
            }
        }
    } else if (adds && am_stride == 0 && lane->pos + taken <= AMP_SHAPE_RING) {
        amp_osc_add_direct(wf, first, step, inc, saw_offset, am[0], y, frames, lane->ring + lane->pos, taken, fused);
        lane->pos = (lane->pos + taken) & (AMP_SHAPE_RING - 1);
        lane->pending -= taken;
    } else {
        double *restrict x = adds ? temp : y;
        uint64_t p = first;
        for (int32_t f = 0; f < frames; ++f) {
            x[f] = amp_osc_quiet_value(wf, p, inc, saw_offset, fused);
            p += step;
        }
        if (taken > 0) {
            amp_shape_take_run(lane->ring, &lane->pos, &lane->pending, x, taken);
        }
        amp_osc_amp_and_add(x, am, am_stride, y, frames, adds);
    }
    lane->until[0] = lane->until[0] == never ? never : lane->until[0] - span;
    if (wf == AMP_SHAPE_TRIANGLE) {
        lane->until[1] = lane->until[1] == never ? never : lane->until[1] - span;
    }
    lane->phase = first + (span - 1) * step;
    lane->step_d = inc;
}

/* A steady block with breakpoints in it (amp_osc_steady, not amp_osc_quiet): amp_osc_lane_run's
 * steady path without its dispatch and set-up. The values, the walk over the breakpoints and the
 * residuals (amp_osc_steady_walk itself), amp; with `adds`, the block is made in `temp` and added
 * into y. */
static inline AMP_WRAPPING __attribute__((always_inline)) void
amp_osc_steady_run(AmpOscLane *lane, const int wf, uint64_t phase0, const double *am, ptrdiff_t am_stride,
                   double *restrict y, int32_t frames, const int adds, double *restrict temp, const int fused)
{
    const uint64_t step = lane->inc;
    const double inc = lane->inc_d;
    const uint64_t first = lane->phase + lane->step;
    const double saw_offset = 3.0 + amp_minblep_delay * 2.0 * inc;
    double *restrict x = adds ? temp : y;
    uint64_t p = first;
    for (int32_t f = 0; f < frames; ++f) {
        x[f] = amp_osc_quiet_value(wf, p, inc, saw_offset, fused);
        p += step;
    }
    double level = lane->level;
    amp_osc_steady_walk(lane, &level, wf, phase0, first, step, inc, 0.5, x, frames);
    amp_osc_amp_and_add(x, am, am_stride, y, frames, adds);
    lane->phase = first + (uint64_t)(frames - 1) * step;
    lane->level = level;
    lane->step = step;
    lane->step_d = inc;
    lane->started = 1;
}

/* A steady saw's block, added into y at a constant amp, when nothing is pending and the block
 * holds one wrap (amp_osc_steady, not amp_osc_quiet, and no second wrap before its end): the
 * wrap's residual goes into the ring as amp_osc_steady_walk schedules it, and the block is added
 * straight into y, the residual's samples taken on the way. Returns 0, having changed nothing,
 * where those conditions do not hold. */
static inline AMP_WRAPPING __attribute__((always_inline)) int
amp_osc_saw_wrap_run(AmpOscLane *lane, uint64_t phase0, double gain, double *restrict y, int32_t frames,
                     const int fused)
{
    const uint64_t never = UINT64_MAX;
    const uint64_t span = (uint64_t)frames;
    const uint64_t e = lane->until[0];
    if (lane->pending != 0 || e >= span) {
        return 0;
    }
    const uint64_t step = lane->inc;
    const double inc = lane->inc_d;
    const uint64_t first = lane->phase + lane->step;
    const uint64_t at = first + e * step;
    const uint64_t k = amp_osc_until(at, 0, step);
    const uint64_t next = k < never - e ? e + k : never;
    if (next < span) {
        return 0;
    }
    double level = lane->level;
    if (e == 0) {
        amp_osc_handle(lane, &level, AMP_SHAPE_SAW, phase0, lane->phase, at, lane->step, lane->step_d, inc, 0.5, -1.0);
    } else {
        amp_osc_handle(lane, &level, AMP_SHAPE_SAW, phase0, at - step, at, step, inc, inc, 0.5, -1.0);
    }
    const int32_t before = (int32_t)e;
    const int32_t n = lane->pending < frames - before ? lane->pending : frames - before;
    const double saw_offset = 3.0 + amp_minblep_delay * 2.0 * inc;
    /* pending was 0, so amp_osc_handle started the ring at slot 0: the n slots do not wrap. */
    amp_osc_add_direct(AMP_SHAPE_SAW, first, step, inc, saw_offset, gain, y, before, NULL, 0, fused);
    amp_osc_add_direct(AMP_SHAPE_SAW, at, step, inc, saw_offset, gain, y + before, frames - before,
                       lane->ring + lane->pos, n, fused);
    lane->pos = (lane->pos + n) & (AMP_SHAPE_RING - 1);
    lane->pending -= n;
    lane->until[0] = next == never ? never : next - span;
    lane->walking = 1;
    lane->walk_width = 0.5;
    lane->phase = first + (span - 1) * step;
    lane->level = level;
    lane->step = step;
    lane->step_d = inc;
    lane->started = 1;
    return 1;
}

#endif
