/* oscillator - a sine oscillator whose phase is kept in double-double precision, so that ten
 * seconds of a steady tone stay within 1e-15 cycles of the exact phase. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

typedef struct OscPhase {
    double hi;  /* in [0, 1) */
    double lo;  /* |lo| <= ulp(hi) / 2 */
} OscPhase;

typedef struct OscillatorState {
    int32_t batch;
    double initial_phase;
    OscPhase *phase;  /* one per batch row */
} OscillatorState;

static const double kTwoPi = 6.283185307179586476925286766559;

static void osc_reset_phases(OscillatorState *state)
{
    for (int32_t b = 0; b < state->batch; ++b) {
        state->phase[b].hi = state->initial_phase;
        state->phase[b].lo = 0.0;
    }
}

static int osc_create(const AmpNodeSetup *setup, void **out_state)
{
    OscillatorState *state = (OscillatorState *)calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->initial_phase = setup->initial_params[2];
    state->phase = (OscPhase *)calloc((size_t)setup->batch, sizeof(OscPhase));
    if (state->phase == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    osc_reset_phases(state);
    *out_state = state;
    return AMP_NODE_OK;
}

/* The increment freq / sample_rate split into a rounded part and its exact remainder. */
static inline void osc_increment(double freq, double sample_rate, double *hi, double *lo)
{
    *hi = freq / sample_rate;
    *lo = fma(-*hi, sample_rate, freq) / sample_rate;
}

static inline void osc_advance(OscPhase *p, double inc_hi, double inc_lo)
{
    const double sum = p->hi + inc_hi;
    const double bv = sum - p->hi;
    const double err = (p->hi - (sum - bv)) + (inc_hi - bv);
    double hi = sum;
    double lo = p->lo + err + inc_lo;
    hi -= floor(hi);
    const double t = hi + lo;
    lo = lo - (t - hi);
    hi = t;
    if (hi >= 1.0) {
        hi -= 1.0;
    } else if (hi < 0.0) {
        hi += 1.0;
    }
    p->hi = hi;
    p->lo = lo;
}

static int osc_process(void *opaque, const AmpProcessArgs *args)
{
    OscillatorState *state = (OscillatorState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *freq = &args->params[0];
    const AmpParamView *amp = &args->params[1];
    const double sr = args->sample_rate;
    for (int32_t b = 0; b < args->batch; ++b) {
        OscPhase phase = state->phase[b];
        double *y = amp_signal_row(out, b, 0);
        const double *fq = amp_param_row(freq, b, 0);
        const double *am = amp_param_row(amp, b, 0);
        double inc_hi = 0.0;
        double inc_lo = 0.0;
        osc_increment(fq[0], sr, &inc_hi, &inc_lo);
        for (int32_t f = 0; f < args->frames; ++f) {
            if (freq->stride_frame != 0) {
                osc_increment(fq[f * freq->stride_frame], sr, &inc_hi, &inc_lo);
            }
            y[f] = am[f * amp->stride_frame] * sin(kTwoPi * phase.hi + kTwoPi * phase.lo);
            osc_advance(&phase, inc_hi, inc_lo);
        }
        state->phase[b] = phase;
    }
    return AMP_NODE_OK;
}

static void osc_reset(void *opaque)
{
    osc_reset_phases((OscillatorState *)opaque);
}

static void osc_destroy(void *opaque)
{
    OscillatorState *state = (OscillatorState *)opaque;
    if (state != NULL) {
        free(state->phase);
        free(state);
    }
}

static const AmpPortSpec osc_outputs[] = {
    {"out", "the waveform", 0},
};

static const AmpParamSpec osc_params[] = {
    {"freq", 440.0, -1.0e6, 1.0e6, "Hz", "frequency; negative runs the phase backwards", NULL, 0},
    {"amp", 1.0, -1.0e6, 1.0e6, "", "peak amplitude", NULL, 0},
    {"phase", 0.0, 0.0, 1.0, "cycles", "phase of the first sample, in cycles", NULL, AMP_PARAM_STATIC},
    {"waveform", 0.0, 0.0, 0.0, "", "wave shape", "sine", AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
};

const AmpNodeSpec amp_node_oscillator = {
    "oscillator",
    "Periodic waveform; sample n of a steady tone is amp * sin(2 pi (phase + n freq / sample_rate)).",
    0, NULL,
    1, osc_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    4, osc_params,
    {osc_create, osc_process, osc_reset, osc_destroy, NULL},
};
