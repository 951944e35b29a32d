/* gain - multiplies its input by a gain parameter. */
#include "../amp_node.h"

#include <stdlib.h>

typedef struct GainState {
    int unused;
} GainState;

static int gain_create(const AmpNodeSetup *setup, void **out_state)
{
    (void)setup;
    GainState *state = (GainState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    *out_state = state;
    return AMP_NODE_OK;
}

AMP_VECTOR_CLONES static int gain_process(void *state, const AmpProcessArgs *args)
{
    (void)state;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *gain = &args->params[0];
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            double *y = amp_signal_row(out, b, c);
            if (in->count == 0) {
                for (int32_t f = 0; f < args->frames; ++f) {
                    y[f] = 0.0;
                }
                continue;
            }
            const AmpSignal *src = &in->signals[0];
            const double *x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
            const double *g = amp_param_row(gain, b, c);
            if (gain->stride_frame == 0) {
                const double k = g[0];
                for (int32_t f = 0; f < args->frames; ++f) {
                    y[f] = x[f] * k;
                }
            } else {
                for (int32_t f = 0; f < args->frames; ++f) {
                    y[f] = x[f] * g[f * gain->stride_frame];
                }
            }
        }
    }
    return AMP_NODE_OK;
}

static void gain_reset(void *state)
{
    (void)state;
}

static void gain_destroy(void *state)
{
    free(state);
}

static const AmpPortSpec gain_inputs[] = {
    {"in", "the signal to scale", 0},
};

static const AmpPortSpec gain_outputs[] = {
    {"out", "in times gain", 0},
};

static const AmpParamSpec gain_params[] = {
    {"gain", 1.0, -1.0e6, 1.0e6, "", "linear factor applied to every sample", NULL, 0},
};

const AmpNodeSpec amp_node_gain = {
    "gain",
    "Multiplies its input by gain, sample by sample.",
    1, gain_inputs,
    1, gain_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    1, gain_params,
    {gain_create, gain_process, gain_reset, gain_destroy, NULL, NULL, NULL},
};
