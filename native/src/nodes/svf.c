/* svf - Andrew Simper's (Cytomic) trapezoidal state variable filter.
 *
 * The trapezoidal integrators make it the bilinear transform of the analog state variable filter
 * with the cutoff pre-warped, and keep it stable and well behaved while cutoff and resonance move
 * at audio rate. Coefficients are worked out again only when a row's cutoff or Q changes. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

enum { SVF_LOWPASS, SVF_HIGHPASS, SVF_BANDPASS, SVF_NOTCH };

typedef struct SvfRow {
    double ic1eq, ic2eq;   /* the two integrators' states */
    double k, a1, a2, a3;  /* k = 1 / Q */
    double cutoff, q;      /* what the coefficients were made from; NAN before the first block */
} SvfRow;

typedef struct SvfState {
    int32_t rows;
    int32_t mode;
    SvfRow *row;  /* batch * channels */
} SvfState;

static const double kPi = 3.14159265358979323846264338327950288;

static void svf_clear(SvfState *state)
{
    for (int32_t r = 0; r < state->rows; ++r) {
        state->row[r].ic1eq = state->row[r].ic2eq = 0.0;
        state->row[r].cutoff = state->row[r].q = NAN;
    }
}

static int svf_create(const AmpNodeSetup *setup, void **out_state)
{
    SvfState *state = (SvfState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->mode = (int32_t)setup->initial_params[0];
    state->rows = setup->batch * setup->output_channels;
    state->row = (SvfRow *)amp_node_calloc((size_t)state->rows, sizeof(SvfRow));
    if (state->row == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    svf_clear(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static void svf_design(SvfRow *row, double cutoff, double q, double sample_rate)
{
    row->cutoff = cutoff;
    row->q = q;
    const double guard = 0.499 * sample_rate;  /* tan() grows without bound at Nyquist */
    const double fc = cutoff < guard ? cutoff : guard;
    const double g = tan(kPi * fc / sample_rate);
    row->k = 1.0 / q;
    row->a1 = 1.0 / (1.0 + g * (g + row->k));
    row->a2 = g * row->a1;
    row->a3 = g * row->a2;
}

/* One step of the filter; the band output is scaled by k so that it peaks at 0 dB. */
static inline double svf_tick(SvfRow *row, int32_t mode, double v0)
{
    const double v3 = v0 - row->ic2eq;
    const double v1 = row->a1 * row->ic1eq + row->a2 * v3;
    const double v2 = row->ic2eq + row->a2 * row->ic1eq + row->a3 * v3;
    row->ic1eq = 2.0 * v1 - row->ic1eq;
    row->ic2eq = 2.0 * v2 - row->ic2eq;
    switch (mode) {
    case SVF_LOWPASS:
        return v2;
    case SVF_HIGHPASS:
        return v0 - row->k * v1 - v2;
    case SVF_BANDPASS:
        return row->k * v1;
    default:
        return v0 - row->k * v1;
    }
}

static int svf_process(void *opaque, const AmpProcessArgs *args)
{
    SvfState *state = (SvfState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pf = &args->params[1];
    const AmpParamView *pq = &args->params[2];
    const int constant = pf->stride_frame == 0 && pq->stride_frame == 0;
    const int32_t mode = state->mode;
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            SvfRow *row = &state->row[b * out->channels + c];
            double *y = amp_signal_row(out, b, c);
            const double *x = NULL;
            if (in->count > 0) {
                const AmpSignal *src = &in->signals[0];
                x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
            }
            const double *f = amp_param_row(pf, b, c);
            const double *q = amp_param_row(pq, b, c);
            /* The filter ticks a local copy of its row: through the pointer, every store to y
             * could change the state as far as the compiler knows, so it would store and reload
             * the state every sample. */
            SvfRow local = *row;
            if (constant) {
                if (f[0] != local.cutoff || q[0] != local.q) {
                    svf_design(&local, f[0], q[0], args->sample_rate);
                }
                for (int32_t n = 0; n < args->frames; ++n) {
                    y[n] = svf_tick(&local, mode, x ? x[n] : 0.0);
                }
            } else {
                for (int32_t n = 0; n < args->frames; ++n) {
                    const double fn = f[n * pf->stride_frame];
                    const double qn = q[n * pq->stride_frame];
                    if (fn != local.cutoff || qn != local.q) {
                        svf_design(&local, fn, qn, args->sample_rate);
                    }
                    y[n] = svf_tick(&local, mode, x ? x[n] : 0.0);
                }
            }
            *row = local;
        }
    }
    return AMP_NODE_OK;
}

static void svf_reset(void *opaque)
{
    svf_clear((SvfState *)opaque);
}

static void svf_destroy(void *opaque)
{
    SvfState *state = (SvfState *)opaque;
    if (state != NULL) {
        free(state->row);
        free(state);
    }
}

static const AmpPortSpec svf_inputs[] = {
    {"in", "the signal to filter; a mono input feeds every channel", 0},
};

static const AmpPortSpec svf_outputs[] = {
    {"out", "the filtered signal", 0},
};

static const AmpParamSpec svf_params[] = {
    {"mode", 0.0, 0.0, 3.0, "", "which response; bandpass peaks at 0 dB, notch is lowpass + highpass",
     "lowpass|highpass|bandpass|notch", AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"cutoff", 1000.0, 0.001, 1.0e6, "Hz", "cutoff (centre) frequency; held below 0.499 x sample rate", NULL, 0},
    {"q", 0.7071067811865476, 0.01, 1000.0, "", "resonance as a quality factor; 0.7071 is Butterworth", NULL, 0},
};

const AmpNodeSpec amp_node_svf = {
    "svf",
    "State variable filter (Simper's trapezoidal form): the bilinear transform of the analog SVF, with "
    "cutoff and resonance that may change every sample.",
    1, svf_inputs,
    1, svf_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    3, svf_params,
    {svf_create, svf_process, svf_reset, svf_destroy, NULL, NULL, NULL},
};
