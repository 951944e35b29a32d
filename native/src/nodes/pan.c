/* pan - equal-power panning of a mono signal into two channels.
 *
 * With theta = (pan + 1) pi / 4: left = cos(theta) x, right = sin(theta) x, so left^2 + right^2 =
 * x^2 at every position; the centre is -3 dB (x / sqrt 2) on each side. pan is clamped to [-1, 1].
 * A multichannel input is averaged to mono first. */
/* Uncontracted products, so the vector copies (AMP_VECTOR_CLONES) give the plain code's bits. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "../amp_node.h"
#include "../dsp/rows.h"

#include <math.h>
#include <stdlib.h>

typedef struct PanState {
    double pan;  /* the position the gains were made for */
    double left;
    double right;
    double *gains; /* the block's left and right gains, max_frames each */
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
    PanState *state = (PanState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->gains = (double *)amp_node_calloc(2 * (size_t)setup->max_frames, sizeof(double));
    if (state->gains == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    state->pan = 0.0;
    pan_gains(0.0, &state->left, &state->right);
    *out_state = state;
    return AMP_NODE_OK;
}

/* The gains are a function of the position alone, so a row whose positions are the same bits as
 * the last row's takes the gains already made. */
static void pan_fill_gains(PanState *state, const double *p, ptrdiff_t stride, int32_t frames, double *gl,
                           double *gr)
{
    for (int32_t f = 0; f < frames; ++f) {
        const double position = p[f * stride];
        if (position != state->pan) {
            state->pan = position;
            pan_gains(position, &state->left, &state->right);
        }
        gl[f] = state->left;
        gr[f] = state->right;
    }
}

AMP_VECTOR_CLONES static void pan_apply(const double *gl, const double *gr, ptrdiff_t gain_stride,
                                        const AmpSignal *src, int32_t b, double *restrict yl, double *restrict yr,
                                        int32_t frames)
{
    const double *x0 = amp_signal_row(src, b, 0);
    if (src->channels == 1) {
        /* x * (1 / 1) is x: the average of one channel is the channel. */
        for (int32_t f = 0; f < frames; ++f) {
            yl[f] = gl[f * gain_stride] * x0[f];
            yr[f] = gr[f * gain_stride] * x0[f];
        }
        return;
    }
    const double scale = 1.0 / (double)src->channels;
    for (int32_t f = 0; f < frames; ++f) {
        double x = x0[f];
        for (int32_t c = 1; c < src->channels; ++c) {
            x += amp_signal_row(src, b, c)[f];
        }
        x *= scale;
        yl[f] = gl[f * gain_stride] * x;
        yr[f] = gr[f * gain_stride] * x;
    }
}

static int pan_process(void *opaque, const AmpProcessArgs *args)
{
    PanState *state = (PanState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pan = &args->params[0];
    const int32_t frames = args->frames;
    double *gl = state->gains;
    double *gr = state->gains + frames;
    int32_t made = -1; /* the row whose positions the gains were made from */
    for (int32_t b = 0; b < args->batch; ++b) {
        double *yl = amp_signal_row(out, b, 0);
        double *yr = amp_signal_row(out, b, 1);
        if (in->count == 0) {
            for (int32_t f = 0; f < frames; ++f) {
                yl[f] = 0.0;
                yr[f] = 0.0;
            }
            continue;
        }
        const double *p = amp_param_row(pan, b, 0);
        if (pan->stride_frame == 0) {
            if (p[0] != state->pan) {
                state->pan = p[0];
                pan_gains(p[0], &state->left, &state->right);
            }
            pan_apply(&state->left, &state->right, 0, &in->signals[0], b, yl, yr, frames);
            continue;
        }
        if (made < 0 || !amp_rows_same_param(pan, made, b, 0, frames)) {
            pan_fill_gains(state, p, pan->stride_frame, frames, gl, gr);
            made = b;
        }
        pan_apply(gl, gr, 1, &in->signals[0], b, yl, yr, frames);
    }
    return AMP_NODE_OK;
}

static void pan_reset(void *opaque)
{
    (void)opaque;
}

static void pan_destroy(void *opaque)
{
    PanState *state = (PanState *)opaque;
    if (state != NULL) {
        free(state->gains);
        free(state);
    }
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
    {pan_create, pan_process, pan_reset, pan_destroy, NULL, NULL, NULL},
};
