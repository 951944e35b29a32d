/* pan - equal-power panning of a mono signal into two channels.
 *
 * With theta = (pan + 1) pi / 4: left = cos(theta) x, right = sin(theta) x, so left^2 + right^2 =
 * x^2 at every position; the centre is -3 dB (x / sqrt 2) on each side. pan is clamped to [-1, 1].
 * A multichannel input is averaged to mono first. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

typedef struct PanState {
    double pan;  /* the position the gains were made for */
    double left;
    double right;
} PanState;

static const double kQuarterPi = 0.78539816339744830962;

static inline void pan_gains(double pan, double *left, double *right)
{
    pan = pan < -1.0 ? -1.0 : (pan > 1.0 ? 1.0 : (pan == pan ? pan : 0.0));
    const double theta = (pan + 1.0) * kQuarterPi;
    *left = cos(theta);
    *right = sin(theta);
}

static int pan_create(const AmpNodeSetup *setup, void **out_state)
{
    (void)setup;
    PanState *state = (PanState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->pan = 0.0;
    pan_gains(0.0, &state->left, &state->right);
    *out_state = state;
    return AMP_NODE_OK;
}

static int pan_process(void *opaque, const AmpProcessArgs *args)
{
    PanState *state = (PanState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pan = &args->params[0];
    for (int32_t b = 0; b < args->batch; ++b) {
        double *yl = amp_signal_row(out, b, 0);
        double *yr = amp_signal_row(out, b, 1);
        if (in->count == 0) {
            for (int32_t f = 0; f < args->frames; ++f) {
                yl[f] = 0.0;
                yr[f] = 0.0;
            }
            continue;
        }
        const AmpSignal *src = &in->signals[0];
        const double *x0 = amp_signal_row(src, b, 0);
        const double scale = 1.0 / (double)src->channels;
        const double *p = amp_param_row(pan, b, 0);
        for (int32_t f = 0; f < args->frames; ++f) {
            double x = x0[f];
            for (int32_t c = 1; c < src->channels; ++c) {
                x += amp_signal_row(src, b, c)[f];
            }
            x *= scale;
            const double position = p[f * pan->stride_frame];
            if (position != state->pan) {
                state->pan = position;
                pan_gains(position, &state->left, &state->right);
            }
            yl[f] = state->left * x;
            yr[f] = state->right * x;
        }
    }
    return AMP_NODE_OK;
}

static void pan_reset(void *opaque)
{
    (void)opaque;
}

static void pan_destroy(void *opaque)
{
    free(opaque);
}

static const AmpPortSpec pan_inputs[] = {
    {"in", "the signal to place (several channels are averaged to mono)", 0},
};

static const AmpPortSpec pan_outputs[] = {
    {"out", "left, right", 0},
};

static const AmpParamSpec pan_params[] = {
    {"pan", 0.0, -1.0, 1.0, "", "position: -1 left, 0 centre, +1 right (clamped when modulated past)", NULL, 0},
};

const AmpNodeSpec amp_node_pan = {
    "pan",
    "Equal-power pan, mono in, stereo out: left = cos(theta) x, right = sin(theta) x, theta = (pan + 1) pi / 4.",
    1, pan_inputs,
    1, pan_outputs,
    AMP_CHANNELS_FIXED, 2,
    0,
    1, pan_params,
    {pan_create, pan_process, pan_reset, pan_destroy, NULL, NULL},
};
