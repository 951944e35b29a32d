/* mix - sums every connected input into N channels. */
#include "../amp_node.h"

#include <stdlib.h>

typedef struct MixState {
    int unused;
} MixState;

static int mix_create(const AmpNodeSetup *setup, void **out_state)
{
    (void)setup;
    MixState *state = (MixState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    *out_state = state;
    return AMP_NODE_OK;
}

/* Adds the next inputs into row b of the output: up to eight at a time, in one pass over the
 * output instead of one pass each, when they are as wide as each other and no wider than the
 * output. Each sample then gets ((((y + a) + b) + c) + d) ..., the very additions one input at a
 * time makes in the same order, because every input adds to each output channel at most once.
 * Returns how many inputs it took. */
static inline __attribute__((always_inline)) int32_t add_inputs(const AmpSignal *out, const AmpSignal *src, int32_t available, int32_t b, int32_t frames)
{
    int32_t group = 1;
    if (src->channels <= out->channels) {
        while (group < 8 && group < available && src[group].channels == src->channels) {
            ++group;
        }
    }
    group = group >= 8 ? 8 : group >= 4 ? 4 : group >= 2 ? 2 : 1;
    for (int32_t c = 0; c < src->channels; ++c) {
        double *y = amp_signal_row(out, b, c % out->channels);
        const double *x0 = amp_signal_row(&src[0], b, c);
        if (group == 8) {
            const double *x1 = amp_signal_row(&src[1], b, c);
            const double *x2 = amp_signal_row(&src[2], b, c);
            const double *x3 = amp_signal_row(&src[3], b, c);
            const double *x4 = amp_signal_row(&src[4], b, c);
            const double *x5 = amp_signal_row(&src[5], b, c);
            const double *x6 = amp_signal_row(&src[6], b, c);
            const double *x7 = amp_signal_row(&src[7], b, c);
            for (int32_t f = 0; f < frames; ++f) {
                y[f] = y[f] + x0[f] + x1[f] + x2[f] + x3[f] + x4[f] + x5[f] + x6[f] + x7[f];
            }
        } else if (group == 4) {
            const double *x1 = amp_signal_row(&src[1], b, c);
            const double *x2 = amp_signal_row(&src[2], b, c);
            const double *x3 = amp_signal_row(&src[3], b, c);
            for (int32_t f = 0; f < frames; ++f) {
                y[f] = y[f] + x0[f] + x1[f] + x2[f] + x3[f];
            }
        } else if (group == 2) {
            const double *x1 = amp_signal_row(&src[1], b, c);
            for (int32_t f = 0; f < frames; ++f) {
                y[f] = y[f] + x0[f] + x1[f];
            }
        } else {
            for (int32_t f = 0; f < frames; ++f) {
                y[f] += x0[f];
            }
        }
    }
    return group;
}

/* Input channel c lands on output channel c mod N, so a mono input feeds channel 0 and an
 * N-channel input maps one to one. Inputs are summed in connection order: the result does not
 * depend on the schedule, nor on how many stages the runtime splits a wide sum into (each stage
 * adds its run of connections to the running sum in the output, in the same order). */
AMP_VECTOR_CLONES static int mix_accumulate(void *state, const AmpProcessArgs *args, int32_t stage)
{
    (void)state;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    for (int32_t b = 0; b < args->batch; ++b) {
        if (stage & AMP_STAGE_FIRST) {
            for (int32_t c = 0; c < out->channels; ++c) {
                double *y = amp_signal_row(out, b, c);
                for (int32_t f = 0; f < args->frames; ++f) {
                    y[f] = 0.0;
                }
            }
        }
        for (int32_t i = 0; i < in->count;) {
            const int32_t taken = add_inputs(out, &in->signals[i], in->count - i, b, args->frames);
            i += taken;
        }
        if (!(stage & AMP_STAGE_LAST)) {
            continue;
        }
        const AmpParamView *gain = &args->params[1];
        for (int32_t c = 0; c < out->channels; ++c) {
            double *y = amp_signal_row(out, b, c);
            const double *g = amp_param_row(gain, b, c);
            if (gain->stride_frame == 0) {
                const double k = g[0];
                if (k != 1.0) {
                    for (int32_t f = 0; f < args->frames; ++f) {
                        y[f] *= k;
                    }
                }
            } else {
                for (int32_t f = 0; f < args->frames; ++f) {
                    y[f] *= g[f * gain->stride_frame];
                }
            }
        }
    }
    return AMP_NODE_OK;
}

static int mix_process(void *state, const AmpProcessArgs *args)
{
    return mix_accumulate(state, args, AMP_STAGE_FIRST | AMP_STAGE_LAST);
}

static void mix_reset(void *state)
{
    (void)state;
}

static void mix_destroy(void *state)
{
    free(state);
}

static const AmpPortSpec mix_inputs[] = {
    {"in", "any number of signals; channel c lands on output channel c mod channels", AMP_PORT_MULTI},
};

static const AmpPortSpec mix_outputs[] = {
    {"out", "the sum, times gain", 0},
};

static const AmpParamSpec mix_params[] = {
    {"channels", 1.0, 1.0, 64.0, "channels", "how many channels the sum has", NULL,
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"gain", 1.0, -1.0e6, 1.0e6, "", "linear factor applied to the sum", NULL, 0},
};

const AmpNodeSpec amp_node_mix = {
    "mix",
    "Sums every connected input into `channels` channels, then scales by gain.",
    1, mix_inputs,
    1, mix_outputs,
    AMP_CHANNELS_FROM_PARAM, 0,
    0,
    2, mix_params,
    {mix_create, mix_process, mix_reset, mix_destroy, NULL, mix_accumulate, NULL},
};
