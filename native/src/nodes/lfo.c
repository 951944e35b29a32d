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
#include "../dsp/sine.h"

#include <math.h>
#include <stdlib.h>

enum { LFO_PARAM_FREQ, LFO_PARAM_DEPTH, LFO_PARAM_OFFSET, LFO_PARAM_WAVEFORM, LFO_PARAM_PHASE };
enum { LFO_SINE = 0, LFO_TRIANGLE = 1, LFO_SAW = 2, LFO_SQUARE = 3 };

typedef struct LfoState {
    int32_t batch;
    int32_t waveform;
    double initial_phase;
    double *phase; /* per batch row, in [0, 1) */
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
    if (state->phase == NULL) {
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

static int lfo_process(void *opaque, const AmpProcessArgs *args)
{
    LfoState *state = (LfoState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *freq = &args->params[LFO_PARAM_FREQ];
    const AmpParamView *depth = &args->params[LFO_PARAM_DEPTH];
    const AmpParamView *offset = &args->params[LFO_PARAM_OFFSET];
    const double inv_sr = 1.0 / args->sample_rate;
    const int waveform = state->waveform;
    for (int32_t b = 0; b < args->batch; ++b) {
        double p = state->phase[b];
        double *y = amp_signal_row(out, b, 0);
        const double *fq = amp_param_row(freq, b, 0);
        const double *dp = amp_param_row(depth, b, 0);
        const double *of = amp_param_row(offset, b, 0);
        for (int32_t f = 0; f < args->frames; ++f) {
            y[f] = of[f * offset->stride_frame] + dp[f * depth->stride_frame] * lfo_shape(waveform, p);
            double inc = fq[f * freq->stride_frame] * inv_sr;
            inc = inc == inc ? inc : 0.0;
            p += inc;
            if (p >= 1.0 || p < 0.0) {
                p -= floor(p);
                p = p < 1.0 ? p : 0.0;
            }
        }
        state->phase[b] = p;
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
    {lfo_create, lfo_process, lfo_reset, lfo_destroy, NULL, NULL},
};
