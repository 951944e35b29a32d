/* safety - the last node before the speakers: NaN/Inf guard, DC block, soft clip, per channel.
 *
 * 1. Guard: a NaN or infinite sample becomes 0; finite samples are clamped to +-1e9, so the
 *    filter state below always stays finite.
 * 2. DC block: the first-order highpass y = g (x - x1) + R y1, R = exp(-2 pi dc_cutoff /
 *    sample_rate), g = (1 + R) / 2 (unity gain at Nyquist, -3 dB near dc_cutoff); 0 Hz turns it off.
 * 3. Soft clip: with t = knee * ceiling, |v| <= t passes unchanged and above it
 *    sign(v) (t + (ceiling - t) tanh((|v| - t) / (ceiling - t))): slope 1 at the knee, never beyond
 *    the ceiling. knee = 1 is a hard clip at the ceiling. So |out| <= ceiling always. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

enum { SAFETY_PARAM_DC_CUTOFF, SAFETY_PARAM_CEILING, SAFETY_PARAM_KNEE };

#define SAFETY_LIMIT 1.0e9

typedef struct SafetyState {
    int32_t rows;    /* batch * channels */
    double *x1;
    double *y1;
    double cutoff;   /* the cutoff R and g were made for, and the rate */
    double sample_rate;
    double r;
    double g;
} SafetyState;

static void safety_reset_rows(SafetyState *state)
{
    for (int32_t i = 0; i < state->rows; ++i) {
        state->x1[i] = 0.0;
        state->y1[i] = 0.0;
    }
}

static int safety_create(const AmpNodeSetup *setup, void **out_state)
{
    SafetyState *state = (SafetyState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->rows = setup->batch * setup->output_channels;
    state->x1 = (double *)amp_node_calloc((size_t)state->rows, sizeof(double));
    state->y1 = (double *)amp_node_calloc((size_t)state->rows, sizeof(double));
    if (state->x1 == NULL || state->y1 == NULL) {
        free(state->x1);
        free(state->y1);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    state->cutoff = -1.0;
    safety_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static inline void safety_coefficients(SafetyState *state, double cutoff, double sample_rate)
{
    if (cutoff != state->cutoff || sample_rate != state->sample_rate) {
        state->cutoff = cutoff;
        state->sample_rate = sample_rate;
        const double kTwoPi = 6.283185307179586476925286766559;
        const double nyquist = 0.5 * sample_rate;
        const double fc = cutoff > nyquist ? nyquist : cutoff;
        state->r = fc > 0.0 ? exp(-kTwoPi * fc / sample_rate) : 1.0;
        state->g = 0.5 * (1.0 + state->r);
    }
}

static inline double safety_clip(double v, double ceiling, double knee)
{
    const double c = ceiling > 0.0 ? ceiling : 0.0;
    const double k = knee < 0.0 ? 0.0 : (knee > 1.0 ? 1.0 : knee);
    const double t = k * c;
    const double m = fabs(v);
    if (m <= t) {
        return v;
    }
    const double room = c - t;
    double shaped = room > 0.0 ? t + room * tanh((m - t) / room) : c;
    shaped = shaped < c ? shaped : c; /* t + room can round one ulp past c */
    return v < 0.0 ? -shaped : shaped;
}

static int safety_process(void *opaque, const AmpProcessArgs *args)
{
    SafetyState *state = (SafetyState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *cutoff = &args->params[SAFETY_PARAM_DC_CUTOFF];
    const AmpParamView *ceiling = &args->params[SAFETY_PARAM_CEILING];
    const AmpParamView *knee = &args->params[SAFETY_PARAM_KNEE];
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            double *y = amp_signal_row(out, b, c);
            const double *x = NULL;
            if (in->count > 0) {
                const AmpSignal *src = &in->signals[0];
                x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
            }
            const double *fc = amp_param_row(cutoff, b, c);
            const double *ce = amp_param_row(ceiling, b, c);
            const double *kn = amp_param_row(knee, b, c);
            const size_t row = (size_t)b * (size_t)out->channels + (size_t)c;
            double x1 = state->x1[row];
            double y1 = state->y1[row];
            for (int32_t f = 0; f < args->frames; ++f) {
                double v = x != NULL ? x[f] : 0.0;
                if (!isfinite(v)) {
                    v = 0.0;
                } else if (v > SAFETY_LIMIT) {
                    v = SAFETY_LIMIT;
                } else if (v < -SAFETY_LIMIT) {
                    v = -SAFETY_LIMIT;
                }
                safety_coefficients(state, fc[f * cutoff->stride_frame], args->sample_rate);
                double w = v;
                if (state->r < 1.0) {
                    w = state->g * (v - x1) + state->r * y1;
                }
                x1 = v;
                y1 = w;
                y[f] = safety_clip(w, ce[f * ceiling->stride_frame], kn[f * knee->stride_frame]);
            }
            state->x1[row] = x1;
            state->y1[row] = y1;
        }
    }
    return AMP_NODE_OK;
}

static void safety_reset(void *opaque)
{
    safety_reset_rows((SafetyState *)opaque);
}

static void safety_destroy(void *opaque)
{
    SafetyState *state = (SafetyState *)opaque;
    if (state != NULL) {
        free(state->x1);
        free(state->y1);
        free(state);
    }
}

static const AmpPortSpec safety_inputs[] = {
    {"in", "the signal to protect", 0},
};

static const AmpPortSpec safety_outputs[] = {
    {"out", "finite, DC-free, within +-ceiling", 0},
};

static const AmpParamSpec safety_params[] = {
    {"dc_cutoff", 10.0, 0.0, 1.0e5, "Hz", "DC blocker corner; 0 turns it off", NULL, 0},
    {"ceiling", 1.0, 0.0, 1.0e6, "", "the output never exceeds +-ceiling", NULL, 0},
    {"knee", 0.9, 0.0, 1.0, "", "fraction of the ceiling below which samples pass unchanged; 1 hard-clips", NULL,
     0},
};

const AmpNodeSpec amp_node_safety = {
    "safety",
    "Output guard: NaN/Inf become 0, a first-order DC blocker, then a soft clip (tanh above knee * ceiling) "
    "that never exceeds the ceiling.",
    1, safety_inputs,
    1, safety_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    3, safety_params,
    {safety_create, safety_process, safety_reset, safety_destroy, NULL, NULL},
};
