/* oscillator - sine, saw, square and triangle from one phase kept in double-double precision, so
 * that ten seconds of a steady tone stay within 1e-15 cycles of the exact phase (dsp/phase.h).
 *
 * The sine is exact: sample n of a steady tone is amp * sin(2 pi (phase + n freq / sample_rate)),
 * to about 1e-16 (dsp/sine.h).
 * The saw, square and triangle are band-limited: each is its naive waveform through a fixed
 * minimum-phase lowpass (cutoff 0.44 sample_rate, dsp/minblep_table.h), sampled. A naive waveform
 * is linear between breakpoints, so that is the naive waveform delayed by the lowpass's mean delay
 * m1 (about 2 samples), value - m1 * slope, plus a tabulated residual per breakpoint: a step
 * residual where the value jumps, a ramp residual where the slope changes. Residuals reach 24
 * samples ahead and wait in a small ring per batch row (dsp/blep_shapes.h). The breakpoint's time
 * inside the sample comes from the phase, so the correction is exact to the table's precision for
 * any frequency.
 *
 * Naive shapes over the phase p in [0, 1): saw 2p - 1 (the step from +1 to -1 at p = 0); square
 * +1 for p < pulse_width, else -1; triangle 4p on [0, 1/4), 2 - 4p on [1/4, 3/4), 4p - 4 after
 * (in phase with the sine).
 *
 * The reset input restarts the phase at `phase` when it rises through 0.5. The crossing's time
 * inside the sample is interpolated from the two samples around it and the jump it makes is
 * band-limited like any other, so a reset at audio rate is a clean hard sync. */
/* The double-double arithmetic needs every product and sum rounded on its own (no contraction into
 * fused multiply-adds, whatever the target); selects of FP values must be allowed to compute both
 * sides so that the steady loop vectorizes (nothing here reads the FP exception flags). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "../amp_node.h"
#include "../dsp/blep_shapes.h"
#include "../dsp/phase.h"
#include "../dsp/sine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OSC_PARAM_FREQ, OSC_PARAM_AMP, OSC_PARAM_PHASE, OSC_PARAM_WAVEFORM, OSC_PARAM_PULSE_WIDTH };
enum { OSC_INPUT_FM, OSC_INPUT_RESET };

#define OSC_ANCHOR_SPAN 65536.0 /* samples between phase anchors at most */

typedef struct OscRow {
    AmpPhase phase;        /* the phase of the last sample written, or the initial phase */
    AmpPhase anchor;       /* the phase `count` samples before that one */
    double anchor_inc_hi;  /* the increment since the anchor, as hi + lo */
    double anchor_inc_lo;
    double anchor_head;    /* the same split for exact products (amp_phase_split_increment) */
    double anchor_tail;
    double count;
    double whole;          /* whole cycles from the anchor to the last sample */
    double inc_hi;         /* the increment from the last sample to the next, as hi + lo */
    double inc_lo;
    double reset_prev;     /* the reset input's last sample */
    double level;          /* the square's naive level at the last sample */
    int32_t started;
    int32_t pos;           /* ring slot of the next sample */
    int32_t pending;       /* how many ring slots from pos may be non-zero */
    double ring[AMP_SHAPE_RING];
} OscRow;

typedef struct OscillatorState {
    int32_t batch;
    int32_t waveform;
    int32_t max_frames;
    double initial_phase;
    OscRow *rows;
    double *scratch; /* 4 * max_frames: a block's breakpoint counts (osc_run_steady's q), and a
                      * sine's phases (hi, lo) and residuals for osc_run's second pass */
} OscillatorState;

static void osc_reset_rows(OscillatorState *state)
{
    for (int32_t b = 0; b < state->batch; ++b) {
        OscRow *row = &state->rows[b];
        *row = (OscRow){0};
        row->phase = (AmpPhase){state->initial_phase, 0.0};
        row->anchor = row->phase;
    }
}

static int osc_create(const AmpNodeSetup *setup, void **out_state)
{
    OscillatorState *state = (OscillatorState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->initial_phase = setup->initial_params[OSC_PARAM_PHASE];
    state->waveform = (int32_t)setup->initial_params[OSC_PARAM_WAVEFORM];
    if (state->initial_phase >= 1.0 || !(state->initial_phase >= 0.0)) {
        state->initial_phase = 0.0;
    }
    state->max_frames = setup->max_frames;
    state->rows = (OscRow *)amp_node_calloc((size_t)setup->batch, sizeof(OscRow));
    state->scratch = (double *)amp_node_calloc(4 * (size_t)setup->max_frames, sizeof(double));
    if (state->rows == NULL || state->scratch == NULL) {
        free(state->rows);
        free(state->scratch);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    osc_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static inline double osc_wrap(double p)
{
    return p - floor(p);
}

/* One row over a block. The caller passes NULL inputs and zero strides where they are constant,
 * and a constant waveform, so that each call site compiles to its own loop. */
static inline __attribute__((always_inline)) void osc_run(const OscillatorState *state, OscRow *row, const int wf,
                                                          const double *fq, const ptrdiff_t fq_stride,
                                                          const double *fm, const double *rs, const double *am,
                                                          const ptrdiff_t am_stride, const double *pw,
                                                          const ptrdiff_t pw_stride, double sr,
                                                          double *restrict y, int32_t begin, int32_t end)
{
    const double phase0 = state->initial_phase;
    const int varying = fq_stride != 0 || fm != NULL;
    double *restrict sine_hi = state->scratch + state->max_frames;
    double *restrict sine_lo = state->scratch + 2 * (size_t)state->max_frames;
    double *restrict sine_residual = state->scratch + 3 * (size_t)state->max_frames;
    double *restrict ring = row->ring;
    AmpPhase phase = row->phase;
    double step_hi = row->inc_hi;
    double step_lo = row->inc_lo;
    AmpPhase anchor = row->anchor;
    double anchor_inc_hi = row->anchor_inc_hi;
    double anchor_inc_lo = row->anchor_inc_lo;
    double head = row->anchor_head;
    double tail = row->anchor_tail;
    double count = row->count;
    double whole = row->whole;
    double reset_prev = row->reset_prev;
    double level = row->level;
    int started = row->started;
    int32_t pos = row->pos;
    int32_t pending = row->pending;
    double inc_hi = 0.0;
    double inc_lo = 0.0;
    if (!varying) {
        amp_phase_increment(fq[0], sr, &inc_hi, &inc_lo);
    }
    for (int32_t f = begin; f < end; ++f) {
        if (varying) {
            amp_phase_increment(fq[f * fq_stride] + (fm != NULL ? fm[f] : 0.0), sr, &inc_hi, &inc_lo);
        }
        double width = 0.5;
        if (wf == AMP_SHAPE_SQUARE) {
            width = pw[f * pw_stride];
            width = width < 0.0 ? 0.0 : (width > 1.0 ? 1.0 : width);
        }
        double since_reset = -1.0;
        if (started) {
            /* In a steady block only the first two steps can differ from the anchor's: the one
             * from the previous block and the first of this one. */
            if (((varying || f < 2) && (step_hi != anchor_inc_hi || step_lo != anchor_inc_lo)) ||
                count >= OSC_ANCHOR_SPAN) {
                anchor = phase;
                anchor_inc_hi = step_hi;
                anchor_inc_lo = step_lo;
                amp_phase_split_increment(step_hi, step_lo, &head, &tail);
                count = 0.0;
                whole = 0.0;
            }
            count += 1.0;
            double moved_whole = 0.0;
            const AmpPhase moved = amp_phase_at(anchor, head, tail, count, &moved_whole);
            const double wraps = moved_whole - whole;
            whole = moved_whole;
            if (rs != NULL && reset_prev < 0.5 && rs[f] >= 0.5) {
                since_reset = (rs[f] - 0.5) / (rs[f] - reset_prev);
                const double old_p = osc_wrap(moved.hi - since_reset * step_hi);
                const double u = phase0 + since_reset * step_hi;
                const double turns = floor(u);
                const double new_p = u - turns;
                amp_shape_breakpoints(ring, pos, &pending, wf, phase.hi, moved.hi, wraps, step_hi, since_reset, 2.0);
                if (wf != AMP_SHAPE_SQUARE && fabs(step_hi) < 1.0) {
                    const double jump = amp_shape_naive(wf, phase0, width) - amp_shape_naive(wf, old_p, width);
                    const double kink = (amp_shape_slope(wf, phase0) - amp_shape_slope(wf, old_p)) * step_hi;
                    amp_shape_schedule(ring, pos, &pending, since_reset, jump, kink);
                }
                amp_shape_breakpoints(ring, pos, &pending, wf, phase0, new_p, turns, step_hi, 0.0, since_reset);
                phase = (AmpPhase){new_p, 0.0};
                anchor = phase;
                count = 0.0;
                whole = 0.0;
            } else {
                amp_shape_breakpoints(ring, pos, &pending, wf, phase.hi, moved.hi, wraps, step_hi, 0.0, 2.0);
                phase = moved;
            }
        }
        if (rs != NULL) {
            reset_prev = rs[f];
        }
        if (wf == AMP_SHAPE_SINE) {
            /* The value waits for the pass below; adding -0.0 leaves any value as it is. */
            sine_hi[f - begin] = phase.hi;
            sine_lo[f - begin] = phase.lo;
            sine_residual[f - begin] = -0.0;
            if (pending > 0) {
                sine_residual[f - begin] = amp_shape_take(ring, &pos, &pending);
            }
            started = 1;
            step_hi = inc_hi;
            step_lo = inc_lo;
            continue;
        }
        double value;
        if (wf == AMP_SHAPE_SQUARE) {
            value = phase.hi < width ? 1.0 : -1.0;
            if (started && value != level && fabs(step_hi) < 1.0) {
                amp_shape_square_edge(ring, pos, &pending, value, level, phase.hi, width, step_hi, since_reset);
            }
            level = value;
        } else {
            value = amp_shape_line(wf, phase.hi, width, inc_hi);
        }
        if (pending > 0) {
            value += amp_shape_take(ring, &pos, &pending);
        }
        y[f] = am[f * am_stride] * value;
        started = 1;
        step_hi = inc_hi;
        step_lo = inc_lo;
    }
    if (wf == AMP_SHAPE_SINE) {
        /* Each phase depends on the one before, but not the sines: apart from that chain they
         * vectorize. */
        for (int32_t f = begin; f < end; ++f) {
            y[f] = am[f * am_stride] *
                   (amp_sin_cycles(sine_hi[f - begin], sine_lo[f - begin]) + sine_residual[f - begin]);
        }
    }
    row->phase = phase;
    row->anchor = anchor;
    row->anchor_inc_hi = anchor_inc_hi;
    row->anchor_inc_lo = anchor_inc_lo;
    row->anchor_head = head;
    row->anchor_tail = tail;
    row->count = count;
    row->whole = whole;
    row->inc_hi = step_hi;
    row->inc_lo = step_lo;
    row->reset_prev = reset_prev;
    row->level = level;
    row->started = started;
    row->pos = pos;
    row->pending = pending;
}

/* A steady oscillator. After the block's first two samples (which may change the increment, and
 * then go the general way) every phase is an independent product: one pass computes them and the
 * naive lines (it vectorizes), a second places the residuals in order, a third applies amp. The
 * first pass keeps only what the second scans for, a count q per sample that moves exactly when a
 * breakpoint is passed (whole cycles for the saw, half-cycles for the triangle, the level for the
 * square); the second computes again, one at a time, the phases of the few samples where q moves
 * (the same operations give the same bits) and adds the pending residuals. The result is the same,
 * bit for bit, as osc_run's. */
static inline __attribute__((always_inline)) void osc_run_steady(const OscillatorState *state, OscRow *row,
                                                                 const int wf, const double *fq,
                           const double *am, ptrdiff_t am_stride, const double *pw, double sr, double *restrict y,
                           int32_t frames)
{
    /* The first two samples go the general way when they may re-anchor: when the increment
     * differs from the last sample's or from the anchor's, or nothing has been written yet. */
    double inc_hi;
    double inc_lo;
    amp_phase_increment(fq[0], sr, &inc_hi, &inc_lo);
    const int same = row->started && inc_hi == row->inc_hi && inc_lo == row->inc_lo &&
                     inc_hi == row->anchor_inc_hi && inc_lo == row->anchor_inc_lo;
    const int32_t lead = same ? 0 : (frames < 2 ? frames : 2);
    if (lead > 0) {
        osc_run(state, row, wf, fq, 0, NULL, NULL, am, am_stride, pw, 0, sr, y, 0, lead);
    }
    const double width = pw[0] < 0.0 ? 0.0 : (pw[0] > 1.0 ? 1.0 : pw[0]);
    double *restrict qa = state->scratch;
    int32_t f = lead;
    while (f < frames) {
        if (row->count >= OSC_ANCHOR_SPAN) { /* one sample the general way: it re-anchors */
            osc_run(state, row, wf, fq, 0, NULL, NULL, am, am_stride, pw, 0, sr, y, f, f + 1);
            ++f;
            continue;
        }
        const double room = OSC_ANCHOR_SPAN - row->count;
        const int32_t n = (double)(frames - f) < room ? frames - f : (int32_t)room;
        const AmpPhase anchor = row->anchor;
        const double head = row->anchor_head;
        const double tail = row->anchor_tail;
        const double count = row->count;
        const double inc = row->inc_hi;
        double *restrict out = y + f;
        for (int32_t i = 0; i < n; ++i) {
            double w;
            const AmpPhase p = amp_phase_at(anchor, head, tail, count + 1.0 + (double)i, &w);
            if (wf == AMP_SHAPE_SINE) {
                out[i] = amp_sin_cycles(p.hi, p.lo);
            } else if (wf == AMP_SHAPE_SQUARE) {
                out[i] = p.hi < width ? 1.0 : -1.0;
                qa[i] = out[i];
            } else {
                out[i] = amp_shape_line(wf, p.hi, width, inc);
                qa[i] = wf == AMP_SHAPE_SAW ? w : 2.0 * w + (p.hi >= 0.25 ? 1.0 : 0.0) + (p.hi >= 0.75 ? 1.0 : 0.0);
            }
        }
        double *restrict ring = row->ring;
        double level = row->level;
        int32_t pos = row->pos;
        int32_t pending = row->pending;
        if (wf == AMP_SHAPE_SINE) {
            /* No breakpoints: only a reset's residuals, already pending, go in. */
            for (int32_t i = 0; i < n && pending > 0; ++i) {
                out[i] += amp_shape_take(ring, &pos, &pending);
            }
        } else {
            double q = wf == AMP_SHAPE_SQUARE ? level
                       : wf == AMP_SHAPE_SAW  ? row->whole
                                        : 2.0 * row->whole + (row->phase.hi >= 0.25 ? 1.0 : 0.0) +
                                             (row->phase.hi >= 0.75 ? 1.0 : 0.0);
            /* q moves exactly where a breakpoint is passed, so only there is anything to detect
             * (and a phase to compute); elsewhere pending residuals just go in. prev and
             * prev_whole are the phase and whole cycles of sample known - 1 (the last one written
             * before this chunk for known = 0). */
            double prev = row->phase.hi;
            double prev_whole = row->whole;
            int32_t known = 0;
            int32_t i = 0;
            while (i < n) {
                if (pending == 0) { /* nothing to place until q moves */
                    /* Eight at a time while all eight have q's bits (then they equal q; a
                     * sample whose bits differ goes to the loop below, which compares values):
                     * a loop that may leave after any sample does not vectorize, an OR of
                     * eight does. */
                    uint64_t q_bits;
                    memcpy(&q_bits, &q, sizeof q_bits);
                    while (i + 8 <= n) {
                        uint64_t moved = 0;
                        for (int32_t k = 0; k < 8; ++k) {
                            uint64_t bits;
                            memcpy(&bits, &qa[i + k], sizeof bits);
                            moved |= bits ^ q_bits;
                        }
                        if (moved != 0) {
                            break;
                        }
                        i += 8;
                    }
                    while (i < n && qa[i] == q) {
                        ++i;
                    }
                    if (i == n) {
                        break;
                    }
                }
                if (qa[i] != q) {
                    if (known != i) {
                        prev = amp_phase_at(anchor, head, tail, count + (double)i, &prev_whole).hi;
                    }
                    double whole;
                    const double p = amp_phase_at(anchor, head, tail, count + 1.0 + (double)i, &whole).hi;
                    if (wf == AMP_SHAPE_SQUARE) {
                        if (fabs(inc) < 1.0) {
                            amp_shape_square_edge(ring, pos, &pending, qa[i], level, p, width, inc, -1.0);
                        }
                        level = qa[i];
                    } else {
                        amp_shape_breakpoints(ring, pos, &pending, wf, prev, p, whole - prev_whole, inc, 0.0, 2.0);
                    }
                    q = qa[i];
                    prev = p;
                    prev_whole = whole;
                    known = i + 1;
                }
                if (pending > 0) {
                    out[i] += amp_shape_take(ring, &pos, &pending);
                }
                ++i;
            }
            if (wf == AMP_SHAPE_SQUARE) {
                level = qa[n - 1];
            }
        }
        if (am_stride == 0) {
            const double gain = am[0];
            for (int32_t i = 0; i < n; ++i) {
                out[i] *= gain;
            }
        } else {
            for (int32_t i = 0; i < n; ++i) {
                out[i] *= am[(f + i) * am_stride];
            }
        }
        double w;
        row->phase = amp_phase_at(anchor, head, tail, count + (double)n, &w);
        row->whole = w;
        row->count = count + (double)n;
        row->level = level;
        row->pos = pos;
        row->pending = pending;
        f += n;
    }
}

/* The steady loops, one per shape, compiled for wider vectors where the machine has them (no
 * contraction, no reassociation: see AMP_VECTOR_CLONES). */
#define OSC_CLONES AMP_VECTOR_CLONES

#define OSC_STEADY(name, shape)                                                                                   \
    OSC_CLONES static void name(const OscillatorState *state, OscRow *row, const double *fq, const double *am,  \
                                ptrdiff_t am_stride, const double *pw, double sr, double *y, int32_t frames)     \
    {                                                                                                            \
        osc_run_steady(state, row, shape, fq, am, am_stride, pw, sr, y, frames);                                 \
    }
OSC_STEADY(osc_steady_sine, AMP_SHAPE_SINE)
OSC_STEADY(osc_steady_saw, AMP_SHAPE_SAW)
OSC_STEADY(osc_steady_square, AMP_SHAPE_SQUARE)
OSC_STEADY(osc_steady_triangle, AMP_SHAPE_TRIANGLE)

static void osc_run_waveform(const OscillatorState *state, OscRow *row, int wf, const double *fq, ptrdiff_t fq_stride,
                             const double *fm, const double *rs, const double *am, ptrdiff_t am_stride,
                             const double *pw, ptrdiff_t pw_stride, double sr, double *y, int32_t frames)
{
    const int steady = fq_stride == 0 && fm == NULL && rs == NULL;
    switch (wf) {
    case AMP_SHAPE_SAW:
        if (steady) {
            osc_steady_saw(state, row, fq, am, am_stride, pw, sr, y, frames);
        } else {
            osc_run(state, row, AMP_SHAPE_SAW, fq, fq_stride, fm, rs, am, am_stride, pw, 0, sr, y, 0, frames);
        }
        break;
    case AMP_SHAPE_SQUARE:
        if (steady && pw_stride == 0) {
            osc_steady_square(state, row, fq, am, am_stride, pw, sr, y, frames);
        } else {
            osc_run(state, row, AMP_SHAPE_SQUARE, fq, fq_stride, fm, rs, am, am_stride, pw, pw_stride, sr, y, 0, frames);
        }
        break;
    case AMP_SHAPE_TRIANGLE:
        if (steady) {
            osc_steady_triangle(state, row, fq, am, am_stride, pw, sr, y, frames);
        } else {
            osc_run(state, row, AMP_SHAPE_TRIANGLE, fq, fq_stride, fm, rs, am, am_stride, pw, 0, sr, y, 0, frames);
        }
        break;
    default:
        if (steady) {
            osc_steady_sine(state, row, fq, am, am_stride, pw, sr, y, frames);
        } else {
            osc_run(state, row, AMP_SHAPE_SINE, fq, fq_stride, fm, rs, am, am_stride, pw, 0, sr, y, 0, frames);
        }
        break;
    }
}

static int osc_process(void *opaque, const AmpProcessArgs *args)
{
    OscillatorState *state = (OscillatorState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *freq = &args->params[OSC_PARAM_FREQ];
    const AmpParamView *amp = &args->params[OSC_PARAM_AMP];
    const AmpParamView *pw = &args->params[OSC_PARAM_PULSE_WIDTH];
    const AmpInputPort *fm = &args->inputs[OSC_INPUT_FM];
    const AmpInputPort *reset = &args->inputs[OSC_INPUT_RESET];
    for (int32_t b = 0; b < args->batch; ++b) {
        const double *fm_row = fm->count > 0 ? amp_signal_row(&fm->signals[0], b, 0) : NULL;
        const double *rs_row = reset->count > 0 ? amp_signal_row(&reset->signals[0], b, 0) : NULL;
        osc_run_waveform(state, &state->rows[b], state->waveform, amp_param_row(freq, b, 0), freq->stride_frame,
                         fm_row, rs_row, amp_param_row(amp, b, 0), amp->stride_frame, amp_param_row(pw, b, 0),
                         pw->stride_frame, args->sample_rate, amp_signal_row(out, b, 0), args->frames);
    }
    return AMP_NODE_OK;
}

static void osc_reset(void *opaque)
{
    osc_reset_rows((OscillatorState *)opaque);
}

static void osc_destroy(void *opaque)
{
    OscillatorState *state = (OscillatorState *)opaque;
    if (state != NULL) {
        free(state->rows);
        free(state->scratch);
        free(state);
    }
}

static const AmpPortSpec osc_inputs[] = {
    {"fm", "audio-rate frequency in Hz, added to freq", 0},
    {"reset", "restarts the phase at `phase` when it rises through 0.5 (hard sync)", 0},
};

static const AmpPortSpec osc_outputs[] = {
    {"out", "the waveform", 0},
};

static const AmpParamSpec osc_params[] = {
    {"freq", 440.0, -1.0e6, 1.0e6, "Hz", "frequency; negative runs the phase backwards", NULL, 0},
    {"amp", 1.0, -1.0e6, 1.0e6, "", "peak amplitude of the naive waveform", NULL, 0},
    {"phase", 0.0, 0.0, 1.0, "cycles", "phase of the first sample and after a reset, in cycles", NULL,
     AMP_PARAM_STATIC},
    {"waveform", 0.0, 0.0, 3.0, "", "wave shape: sine exact, the others band-limited", "sine|saw|square|triangle",
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"pulse_width", 0.5, 0.0, 1.0, "cycles", "square: the part of each cycle at +1 (clamped to [0, 1])", NULL, 0},
};

const AmpNodeSpec amp_node_oscillator = {
    "oscillator",
    "Periodic waveform from a double-double phase; sample n of a steady sine is "
    "amp * sin(2 pi (phase + n freq / sample_rate)). saw (2p - 1), square (+1 below pulse_width) and "
    "triangle (in phase with the sine) are band-limited by minimum-phase BLEP/BLAMP residuals: the naive "
    "shape through a fixed 0.44 sample_rate lowpass, about 2 samples late.",
    2, osc_inputs,
    1, osc_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    5, osc_params,
    {osc_create, osc_process, osc_reset, osc_destroy, NULL, NULL},
};
