/* one_pole - a first-order lowpass (or its complement, a highpass) with an exponential pole.
 *
 * y[n] = y[n-1] + a * (x[n] - y[n-1]) with a = 1 - exp(-2 pi cutoff / sample_rate): the impulse
 * response of an RC lowpass sampled exactly. The highpass is the input minus that lowpass. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

typedef struct OnePoleRow {
    double y1;
    double a;
    double cutoff;  /* what `a` was made from; NAN before the first block */
} OnePoleRow;

typedef struct OnePoleState {
    int32_t rows;
    int32_t highpass;
    OnePoleRow *row;  /* batch * channels */
} OnePoleState;

static const double kTwoPi = 6.283185307179586476925286766559;

static void one_pole_clear(OnePoleState *state)
{
    for (int32_t r = 0; r < state->rows; ++r) {
        state->row[r].y1 = 0.0;
        state->row[r].cutoff = NAN;
    }
}

static int one_pole_create(const AmpNodeSetup *setup, void **out_state)
{
    OnePoleState *state = (OnePoleState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->highpass = (int32_t)setup->initial_params[0] == 1;
    state->rows = setup->batch * setup->output_channels;
    state->row = (OnePoleRow *)amp_node_calloc((size_t)state->rows, sizeof(OnePoleRow));
    if (state->row == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    one_pole_clear(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static inline void one_pole_design(OnePoleRow *row, double cutoff, double sample_rate)
{
    row->cutoff = cutoff;
    row->a = -expm1(-kTwoPi * cutoff / sample_rate);
}

static int one_pole_process(void *opaque, const AmpProcessArgs *args)
{
    OnePoleState *state = (OnePoleState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pf = &args->params[1];
    const double hp = state->highpass ? 1.0 : 0.0;
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            OnePoleRow *row = &state->row[b * out->channels + c];
            double *y = amp_signal_row(out, b, c);
            const double *x = NULL;
            if (in->count > 0) {
                const AmpSignal *src = &in->signals[0];
                x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
            }
            const double *f = amp_param_row(pf, b, c);
            double y1 = row->y1;
            if (pf->stride_frame == 0) {
                if (f[0] != row->cutoff) {
                    one_pole_design(row, f[0], args->sample_rate);
                }
                const double a = row->a;
                for (int32_t n = 0; n < args->frames; ++n) {
                    const double xn = x ? x[n] : 0.0;
                    y1 += a * (xn - y1);
                    y[n] = hp * xn - (2.0 * hp - 1.0) * y1;
                }
            } else {
                for (int32_t n = 0; n < args->frames; ++n) {
                    const double fn = f[n * pf->stride_frame];
                    if (fn != row->cutoff) {
                        one_pole_design(row, fn, args->sample_rate);
                    }
                    const double xn = x ? x[n] : 0.0;
                    y1 += row->a * (xn - y1);
                    y[n] = hp * xn - (2.0 * hp - 1.0) * y1;
                }
            }
            row->y1 = y1;
        }
    }
    return AMP_NODE_OK;
}

static void one_pole_reset(void *opaque)
{
    one_pole_clear((OnePoleState *)opaque);
}

static void one_pole_destroy(void *opaque)
{
    OnePoleState *state = (OnePoleState *)opaque;
    if (state != NULL) {
        free(state->row);
        free(state);
    }
}

static const AmpPortSpec one_pole_inputs[] = {
    {"in", "the signal to filter; a mono input feeds every channel", 0},
};

static const AmpPortSpec one_pole_outputs[] = {
    {"out", "the filtered signal", 0},
};

static const AmpParamSpec one_pole_params[] = {
    {"mode", 0.0, 0.0, 1.0, "", "lowpass, or highpass (the input minus the lowpass)", "lowpass|highpass",
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"cutoff", 1000.0, 0.0, 1.0e6, "Hz", "corner frequency: the pole is exp(-2 pi cutoff / sample rate)", NULL, 0},
};

const AmpNodeSpec amp_node_one_pole = {
    "one_pole",
    "First-order lowpass y += (1 - exp(-2 pi cutoff / sr)) * (x - y), or the highpass x minus it.",
    1, one_pole_inputs,
    1, one_pole_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    2, one_pole_params,
    {one_pole_create, one_pole_process, one_pole_reset, one_pole_destroy, NULL, NULL, NULL},
};
