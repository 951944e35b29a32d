/* constant - a steady value, per batch row and channel when overridden or modulated. */
#include "../amp_node.h"

#include <stdlib.h>

typedef struct ConstantState {
    int unused;
} ConstantState;

static int constant_create(const AmpNodeSetup *setup, void **out_state)
{
    (void)setup;
    ConstantState *state = (ConstantState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    *out_state = state;
    return AMP_NODE_OK;
}

static int constant_process(void *state, const AmpProcessArgs *args)
{
    (void)state;
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *value = &args->params[0];
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            double *y = amp_signal_row(out, b, c);
            const double *v = amp_param_row(value, b, c);
            if (value->stride_frame == 0) {
                const double k = v[0];
                for (int32_t f = 0; f < args->frames; ++f) {
                    y[f] = k;
                }
            } else {
                for (int32_t f = 0; f < args->frames; ++f) {
                    y[f] = v[f * value->stride_frame];
                }
            }
        }
    }
    return AMP_NODE_OK;
}

static void constant_reset(void *state)
{
    (void)state;
}

static void constant_destroy(void *state)
{
    free(state);
}

static const AmpPortSpec constant_outputs[] = {
    {"out", "the value, as a signal", 0},
};

static const AmpParamSpec constant_params[] = {
    {"value", 0.0, -1.0e12, 1.0e12, "", "the value the node outputs", NULL, 0},
    {"channels", 1.0, 1.0, 64.0, "channels", "how many channels the output has", NULL,
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
};

const AmpNodeSpec amp_node_constant = {
    "constant",
    "Outputs its value parameter as a signal.",
    0, NULL,
    1, constant_outputs,
    AMP_CHANNELS_FROM_PARAM, 1,
    0,
    2, constant_params,
    {constant_create, constant_process, constant_reset, constant_destroy, NULL, NULL, NULL},
};
