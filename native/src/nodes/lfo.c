/* lfo - a low-frequency control signal: offset + depth * shape(p), shape in [-1, 1].
 *
 * Shapes over the phase p in [0, 1), the same as the oscillator's but not band-limited (an LFO
 * steers parameters; its corners are wanted): sine sin(2 pi p); triangle 4p, 2 - 4p, 4p - 4 on
 * [0, 1/4), [1/4, 3/4), [3/4, 1) (in phase with the sine); saw 2p - 1; square +1 on [0, 1/2),
 * else -1. p starts at `phase` and advances by freq / sample_rate each sample (a plain double sum:
 * its rounding grows by at most about 1e-16 cycles a sample, which an LFO never shows). */
/* Exact IEEE operations, uncontracted, so the sine is the same on every machine. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "../amp_node.h"
#include "../dsp/lanes4.h"
#include "../dsp/rows.h"
#include "../dsp/sine.h"

#include <math.h>
#include <stdlib.h>

enum { LFO_PARAM_FREQ, LFO_PARAM_DEPTH, LFO_PARAM_OFFSET, LFO_PARAM_WAVEFORM, LFO_PARAM_PHASE };
enum { LFO_SINE = 0, LFO_TRIANGLE = 1, LFO_SAW = 2, LFO_SQUARE = 3 };

typedef struct LfoState {
    int32_t batch;
    int32_t waveform;
    double initial_phase;
    double *phase;   /* per batch row, in [0, 1) */
    double *ph;      /* the block's phases, then their shape: four rows interleaved, 4 max_frames */
    double *next;    /* per row: its phase after the block */
    int32_t *leader; /* per row: the row whose shape it takes (rows.h) */
    int32_t *lane;   /* per leading row: where its shape is in ph (-1: not made yet) */
} LfoState;

static void lfo_reset_rows(LfoState *state)
{
    for (int32_t b = 0; b < state->batch; ++b) {
        state->phase[b] = state->initial_phase;
    }
}

static int lfo_create(const AmpNodeSetup *setup, void **out_state)
{
    LfoState *state = (LfoState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->waveform = (int32_t)setup->initial_params[LFO_PARAM_WAVEFORM];
    state->initial_phase = setup->initial_params[LFO_PARAM_PHASE];
    if (!(state->initial_phase >= 0.0 && state->initial_phase < 1.0)) {
        state->initial_phase = 0.0;
    }
    state->phase = (double *)amp_node_calloc((size_t)setup->batch, sizeof(double));
    state->ph = (double *)amp_node_calloc(4 * (size_t)setup->max_frames, sizeof(double));
    state->next = (double *)amp_node_calloc((size_t)setup->batch, sizeof(double));
    state->leader = (int32_t *)amp_node_calloc((size_t)setup->batch, sizeof(int32_t));
    state->lane = (int32_t *)amp_node_calloc((size_t)setup->batch, sizeof(int32_t));
    if (state->phase == NULL || state->ph == NULL || state->next == NULL || state->leader == NULL ||
        state->lane == NULL) {
        free(state->phase);
        free(state->ph);
        free(state->next);
        free(state->leader);
        free(state->lane);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    lfo_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static inline double lfo_shape(int waveform, double p)
{
    switch (waveform) {
    case LFO_TRIANGLE:
        return p < 0.25 ? 4.0 * p : (p < 0.75 ? 2.0 - 4.0 * p : 4.0 * p - 4.0);
    case LFO_SAW:
        return 2.0 * p - 1.0;
    case LFO_SQUARE:
        return p < 0.5 ? 1.0 : -1.0;
    default:
        return amp_sin_cycles(p, 0.0);
    }
}

/* The phase of every sample of the block into ph; returns the phase the next block starts at. */
static double lfo_phases(double p, const double *fq, ptrdiff_t stride, double inv_sr, double *ph, int32_t frames)
{
    for (int32_t f = 0; f < frames; ++f) {
        ph[f] = p;
        double inc = fq[f * stride] * inv_sr;
        inc = inc == inc ? inc : 0.0;
        p += inc;
        if (p >= 1.0 || p < 0.0) {
            p -= floor(p);
            p = p < 1.0 ? p : 0.0;
        }
    }
    return p;
}

/* The shape of each phase, in place: one loop per waveform, so that each vectorizes. */
AMP_VECTOR_CLONES static void lfo_shapes(int waveform, double *ph, int32_t frames)
{
    switch (waveform) {
    case LFO_TRIANGLE:
        for (int32_t f = 0; f < frames; ++f) {
            ph[f] = lfo_shape(LFO_TRIANGLE, ph[f]);
        }
        break;
    case LFO_SAW:
        for (int32_t f = 0; f < frames; ++f) {
            ph[f] = lfo_shape(LFO_SAW, ph[f]);
        }
        break;
    case LFO_SQUARE:
        for (int32_t f = 0; f < frames; ++f) {
            ph[f] = lfo_shape(LFO_SQUARE, ph[f]);
        }
        break;
    default:
        for (int32_t f = 0; f < frames; ++f) {
            ph[f] = lfo_shape(LFO_SINE, ph[f]);
        }
        break;
    }
}

#if AMP_LANES4
/* The phases of four rows side by side (dsp/lanes4.h), interleaved into ph (sample f of lane k
 * at 4 f + k): each lane makes exactly lfo_phases' operations, and a phase that wraps (a few
 * times a second) is wrapped lane by lane as there. phase: the lanes' phases before the block,
 * then after it. */
AMP_VECTOR_CLONES static void lfo_phases4(double phase[4], const double *const fq[4], ptrdiff_t stride,
                                          double inv_sr, double *ph, int32_t frames)
{
    AmpV4 p = amp_v4_load(phase);
    const AmpV4 zero = amp_v4(0.0);
    const AmpV4 one = amp_v4(1.0);
    const AmpV4 rate = amp_v4(inv_sr);
    AmpV4 inc = amp_v4_gather(fq, 0) * rate;
    inc = amp_v4_select(inc == inc, inc, zero);
    for (int32_t f = 0; f < frames; ++f) {
        amp_v4_store(ph + 4 * (size_t)f, p);
        if (stride != 0) {
            inc = amp_v4_gather(fq, f * stride) * rate;
            inc = amp_v4_select(inc == inc, inc, zero);
        }
        p += inc;
        const AmpM4 wrap = (p >= one) | (p < zero);
        if (wrap[0] | wrap[1] | wrap[2] | wrap[3]) {
            for (int k = 0; k < 4; ++k) {
                if (wrap[k]) {
                    double q = p[k] - floor(p[k]);
                    p[k] = q < 1.0 ? q : 0.0;
                }
            }
        }
    }
    amp_v4_store(phase, p);
}
#endif

AMP_VECTOR_CLONES static void lfo_scale(double *restrict y, const double *shape, ptrdiff_t shape_stride,
                                        const double *of, ptrdiff_t of_stride, const double *dp, ptrdiff_t dp_stride,
                                        int32_t frames)
{
    if (of_stride == 0 && dp_stride == 0) {
        const double o = of[0];
        const double d = dp[0];
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = o + d * shape[f * shape_stride];
        }
        return;
    }
    for (int32_t f = 0; f < frames; ++f) {
        y[f] = of[f * of_stride] + dp[f * dp_stride] * shape[f * shape_stride];
    }
}

typedef struct LfoRows {
    const LfoState *state;
    const AmpParamView *freq;
    int32_t frames;
} LfoRows;

static int lfo_same_rows(const void *context, int32_t a, int32_t b)
{
    const LfoRows *rows = (const LfoRows *)context;
    return AMP_ROWS_SAME(rows->state->phase[a], rows->state->phase[b]) &&
           amp_rows_same_param(rows->freq, a, b, 0, rows->frames);
}

/* Every row whose leader's shape is in ph at lane lane[leader] (of `lanes` interleaved): its output. */
static void lfo_write_rows(LfoState *state, const AmpProcessArgs *args, int32_t lanes)
{
    const AmpParamView *depth = &args->params[LFO_PARAM_DEPTH];
    const AmpParamView *offset = &args->params[LFO_PARAM_OFFSET];
    for (int32_t b = 0; b < args->batch; ++b) {
        const int32_t k = state->lane[state->leader[b]];
        if (k >= 0) {
            lfo_scale(amp_signal_row(&args->outputs[0], b, 0), state->ph + k, lanes, amp_param_row(offset, b, 0),
                      offset->stride_frame, amp_param_row(depth, b, 0), depth->stride_frame, args->frames);
        }
    }
}

/* Rows with the same phase and frequencies (rows.h) share one shape; depth and offset are each
 * row's own. The shapes of four rows at a time are made side by side. */
static int lfo_process(void *opaque, const AmpProcessArgs *args)
{
    LfoState *state = (LfoState *)opaque;
    const AmpParamView *freq = &args->params[LFO_PARAM_FREQ];
    const double inv_sr = 1.0 / args->sample_rate;
    const int32_t frames = args->frames;
    const int32_t batch = args->batch;
    const LfoRows context = {state, freq, frames};
    const int32_t leaders = batch > 1 ? amp_rows_group(batch, state->leader, lfo_same_rows, &context) : batch;
    for (int32_t b = 0; b < batch; ++b) {
        state->leader[b] = leaders == batch ? b : state->leader[b];
    }
    for (int32_t r = 0; r < batch; ++r) {
        state->lane[r] = -1;
    }
    int32_t b = 0;
    while (b < batch) {
        int32_t rows[4];
        int32_t n = 0;
        for (; b < batch && n < 4; ++b) {
            if (state->leader[b] == b) {
                rows[n++] = b;
            }
        }
#if AMP_LANES4
        if (n == 4) {
            const double *fq[4];
            double p[4];
            for (int k = 0; k < 4; ++k) {
                fq[k] = amp_param_row(freq, rows[k], 0);
                p[k] = state->phase[rows[k]];
                state->lane[rows[k]] = k;
            }
            lfo_phases4(p, fq, freq->stride_frame, inv_sr, state->ph, frames);
            for (int k = 0; k < 4; ++k) {
                state->next[rows[k]] = p[k];
            }
            lfo_shapes(state->waveform, state->ph, 4 * frames);
            lfo_write_rows(state, args, 4);
            for (int k = 0; k < 4; ++k) {
                state->lane[rows[k]] = -1;
            }
            continue;
        }
#endif
        for (int32_t k = 0; k < n; ++k) {
            const int32_t r = rows[k];
            state->next[r] = lfo_phases(state->phase[r], amp_param_row(freq, r, 0), freq->stride_frame, inv_sr,
                                        state->ph, frames);
            lfo_shapes(state->waveform, state->ph, frames);
            state->lane[r] = 0;
            lfo_write_rows(state, args, 1);
            state->lane[r] = -1;
        }
    }
    for (int32_t r = 0; r < batch; ++r) {
        state->phase[r] = state->next[state->leader[r]];
    }
    return AMP_NODE_OK;
}

static void lfo_reset(void *opaque)
{
    lfo_reset_rows((LfoState *)opaque);
}

static void lfo_destroy(void *opaque)
{
    LfoState *state = (LfoState *)opaque;
    if (state != NULL) {
        free(state->phase);
        free(state->ph);
        free(state->next);
        free(state->leader);
        free(state->lane);
        free(state);
    }
}

static const AmpPortSpec lfo_outputs[] = {
    {"out", "offset + depth * shape", 0},
};

static const AmpParamSpec lfo_params[] = {
    {"freq", 1.0, -1.0e4, 1.0e4, "Hz", "rate; negative runs the shape backwards", NULL, 0},
    {"depth", 1.0, -1.0e12, 1.0e12, "", "scale of the shape, whose range is [-1, 1]", NULL, 0},
    {"offset", 0.0, -1.0e12, 1.0e12, "", "added to the scaled shape", NULL, 0},
    {"waveform", 0.0, 0.0, 3.0, "", "shape", "sine|triangle|saw|square", AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"phase", 0.0, 0.0, 1.0, "cycles", "phase of the first sample, in cycles", NULL, AMP_PARAM_STATIC},
};

const AmpNodeSpec amp_node_lfo = {
    "lfo",
    "Low-frequency control signal offset + depth * shape(p), shape in [-1, 1]: sine, triangle (in phase "
    "with the sine), saw 2p - 1 or square; not band-limited.",
    0, NULL,
    1, lfo_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    5, lfo_params,
    {lfo_create, lfo_process, lfo_reset, lfo_destroy, NULL, NULL, NULL},
};
