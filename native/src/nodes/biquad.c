/* biquad - the RBJ Audio EQ Cookbook filters (Robert Bristow-Johnson) in transposed direct form II.
 *
 * Coefficients are kept per batch row and channel and worked out again only when that row's
 * frequency, Q or gain differs from the values they were made from. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

enum {
    BQ_LOWPASS,
    BQ_HIGHPASS,
    BQ_BANDPASS,
    BQ_NOTCH,
    BQ_PEAK,
    BQ_LOWSHELF,
    BQ_HIGHSHELF,
    BQ_ALLPASS
};

typedef struct BiquadRow {
    double z1, z2;
    double b0, b1, b2, a1, a2;
    double freq, q, gain_db;  /* what the coefficients were made from; NAN before the first block */
} BiquadRow;

typedef struct BiquadState {
    int32_t rows;
    int32_t mode;
    BiquadRow *row;  /* batch * channels */
} BiquadState;

static const double kPi = 3.14159265358979323846264338327950288;

static void biquad_clear(BiquadState *state)
{
    for (int32_t r = 0; r < state->rows; ++r) {
        BiquadRow *row = &state->row[r];
        row->z1 = row->z2 = 0.0;
        row->freq = row->q = row->gain_db = NAN;
    }
}

static int biquad_create(const AmpNodeSetup *setup, void **out_state)
{
    BiquadState *state = (BiquadState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->mode = (int32_t)setup->initial_params[0];
    state->rows = setup->batch * setup->output_channels;
    state->row = (BiquadRow *)amp_node_calloc((size_t)state->rows, sizeof(BiquadRow));
    if (state->row == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    biquad_clear(state);
    *out_state = state;
    return AMP_NODE_OK;
}

/* The cookbook's formulas, normalised by a0. The frequency is held just below Nyquist, where the
 * formulas degenerate. */
static void biquad_design(BiquadRow *row, int32_t mode, double freq, double q, double gain_db, double sample_rate)
{
    row->freq = freq;
    row->q = q;
    row->gain_db = gain_db;
    const double nyquist_guard = 0.499 * sample_rate;
    const double f0 = freq < nyquist_guard ? freq : nyquist_guard;
    const double w0 = 2.0 * kPi * f0 / sample_rate;
    const double cw = cos(w0);
    const double alpha = sin(w0) / (2.0 * q);
    const double A = pow(10.0, gain_db / 40.0);
    const double root = 2.0 * sqrt(A) * alpha;
    double b0, b1, b2, a0, a1, a2;
    switch (mode) {
    case BQ_LOWPASS:
        b0 = (1.0 - cw) / 2.0; b1 = 1.0 - cw; b2 = b0;
        a0 = 1.0 + alpha; a1 = -2.0 * cw; a2 = 1.0 - alpha;
        break;
    case BQ_HIGHPASS:
        b0 = (1.0 + cw) / 2.0; b1 = -(1.0 + cw); b2 = b0;
        a0 = 1.0 + alpha; a1 = -2.0 * cw; a2 = 1.0 - alpha;
        break;
    case BQ_BANDPASS:  /* constant 0 dB peak gain */
        b0 = alpha; b1 = 0.0; b2 = -alpha;
        a0 = 1.0 + alpha; a1 = -2.0 * cw; a2 = 1.0 - alpha;
        break;
    case BQ_NOTCH:
        b0 = 1.0; b1 = -2.0 * cw; b2 = 1.0;
        a0 = 1.0 + alpha; a1 = -2.0 * cw; a2 = 1.0 - alpha;
        break;
    case BQ_PEAK:
        b0 = 1.0 + alpha * A; b1 = -2.0 * cw; b2 = 1.0 - alpha * A;
        a0 = 1.0 + alpha / A; a1 = -2.0 * cw; a2 = 1.0 - alpha / A;
        break;
    case BQ_LOWSHELF:
        b0 = A * ((A + 1.0) - (A - 1.0) * cw + root);
        b1 = 2.0 * A * ((A - 1.0) - (A + 1.0) * cw);
        b2 = A * ((A + 1.0) - (A - 1.0) * cw - root);
        a0 = (A + 1.0) + (A - 1.0) * cw + root;
        a1 = -2.0 * ((A - 1.0) + (A + 1.0) * cw);
        a2 = (A + 1.0) + (A - 1.0) * cw - root;
        break;
    case BQ_HIGHSHELF:
        b0 = A * ((A + 1.0) + (A - 1.0) * cw + root);
        b1 = -2.0 * A * ((A - 1.0) + (A + 1.0) * cw);
        b2 = A * ((A + 1.0) + (A - 1.0) * cw - root);
        a0 = (A + 1.0) - (A - 1.0) * cw + root;
        a1 = 2.0 * ((A - 1.0) - (A + 1.0) * cw);
        a2 = (A + 1.0) - (A - 1.0) * cw - root;
        break;
    default:  /* BQ_ALLPASS */
        b0 = 1.0 - alpha; b1 = -2.0 * cw; b2 = 1.0 + alpha;
        a0 = 1.0 + alpha; a1 = -2.0 * cw; a2 = 1.0 - alpha;
        break;
    }
    row->b0 = b0 / a0;
    row->b1 = b1 / a0;
    row->b2 = b2 / a0;
    row->a1 = a1 / a0;
    row->a2 = a2 / a0;
}

static inline double biquad_tick(BiquadRow *row, double x)
{
    const double y = row->b0 * x + row->z1;
    row->z1 = row->b1 * x - row->a1 * y + row->z2;
    row->z2 = row->b2 * x - row->a2 * y;
    return y;
}

static int biquad_process(void *opaque, const AmpProcessArgs *args)
{
    BiquadState *state = (BiquadState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pf = &args->params[1];
    const AmpParamView *pq = &args->params[2];
    const AmpParamView *pg = &args->params[3];
    const int constant = pf->stride_frame == 0 && pq->stride_frame == 0 && pg->stride_frame == 0;
    const int32_t frames = args->frames;
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            BiquadRow *row = &state->row[b * out->channels + c];
            double *y = amp_signal_row(out, b, c);
            const double *x = NULL;
            if (in->count > 0) {
                const AmpSignal *src = &in->signals[0];
                x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
            }
            const double *f = amp_param_row(pf, b, c);
            const double *q = amp_param_row(pq, b, c);
            const double *g = amp_param_row(pg, b, c);
            /* A local copy: y could alias the state, so ticking the state in place would store
             * and reload it every sample (about three times slower). */
            BiquadRow local = *row;
            if (constant) {
                if (f[0] != local.freq || q[0] != local.q || g[0] != local.gain_db) {
                    biquad_design(&local, state->mode, f[0], q[0], g[0], args->sample_rate);
                }
                for (int32_t n = 0; n < frames; ++n) {
                    y[n] = biquad_tick(&local, x ? x[n] : 0.0);
                }
            } else {
                for (int32_t n = 0; n < frames; ++n) {
                    const double fn = f[n * pf->stride_frame];
                    const double qn = q[n * pq->stride_frame];
                    const double gn = g[n * pg->stride_frame];
                    if (fn != local.freq || qn != local.q || gn != local.gain_db) {
                        biquad_design(&local, state->mode, fn, qn, gn, args->sample_rate);
                    }
                    y[n] = biquad_tick(&local, x ? x[n] : 0.0);
                }
            }
            *row = local;
        }
    }
    return AMP_NODE_OK;
}

static void biquad_reset(void *opaque)
{
    biquad_clear((BiquadState *)opaque);
}

static void biquad_destroy(void *opaque)
{
    BiquadState *state = (BiquadState *)opaque;
    if (state != NULL) {
        free(state->row);
        free(state);
    }
}

static const AmpPortSpec biquad_inputs[] = {
    {"in", "the signal to filter; a mono input feeds every channel", 0},
};

static const AmpPortSpec biquad_outputs[] = {
    {"out", "the filtered signal", 0},
};

static const AmpParamSpec biquad_params[] = {
    {"mode", 0.0, 0.0, 7.0, "", "the cookbook response; bandpass has a 0 dB peak",
     "lowpass|highpass|bandpass|notch|peak|lowshelf|highshelf|allpass", AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"freq", 1000.0, 0.001, 1.0e6, "Hz", "cutoff, centre or shelf midpoint frequency; held below 0.499 x sample rate",
     NULL, 0},
    {"q", 0.7071067811865476, 0.01, 1000.0, "", "quality factor (also sets the shelves' slope)", NULL, 0},
    {"gain_db", 0.0, -120.0, 120.0, "dB", "gain of peak and shelf modes; the others ignore it", NULL, 0},
};

const AmpNodeSpec amp_node_biquad = {
    "biquad",
    "Second-order filter from the RBJ Audio EQ Cookbook (transposed direct form II); frequency, Q and "
    "gain may change every sample.",
    1, biquad_inputs,
    1, biquad_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    4, biquad_params,
    {biquad_create, biquad_process, biquad_reset, biquad_destroy, NULL, NULL, NULL},
};
