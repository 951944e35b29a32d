/* delay - a fractional delay line with feedback, up to a maximum time fixed at creation.
 *
 * Each sample: the input is written into the line, the output is read `time` seconds back, then
 * feedback * output is added to the sample just written. A delay within 1e-9 samples of a whole
 * number is read without interpolation, so integer delays are exact copies of the input.
 * Fractional delays are interpolated linearly or with third-order Lagrange polynomials through
 * the four nearest samples (delays D-1, D, D+1, D+2 for D = floor(delay)). */
#include "../amp_node.h"
#include "../amp_wrapping.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DELAY_LINEAR, DELAY_LAGRANGE };

typedef struct DelayState {
    int32_t rows;
    int32_t interpolation;
    double max_time;
    size_t length;  /* ring length, a power of two */
    size_t mask;
    size_t write;   /* ring index of the next input sample; the same for every row */
    double *ring;   /* rows * length */
} DelayState;

static int delay_create(const AmpNodeSetup *setup, void **out_state)
{
    DelayState *state = (DelayState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->max_time = setup->initial_params[0];
    state->interpolation = (int32_t)setup->initial_params[1];
    state->rows = setup->batch * setup->output_channels;
    /* The oldest sample read is at delay floor(max) + 2 (the Lagrange tap beyond the point). */
    const double max_samples = ceil(state->max_time * setup->sample_rate) + 3.0;
    if (!(max_samples < 1.0e9)) {
        free(state);
        return AMP_NODE_ERROR;
    }
    size_t length = 4;
    while ((double)length < max_samples + 1.0) {
        length <<= 1;
    }
    state->length = length;
    state->mask = length - 1;
    state->ring = (double *)amp_node_calloc((size_t)state->rows * length, sizeof(double));
    if (state->ring == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    *out_state = state;
    return AMP_NODE_OK;
}

/* The delay in samples for a time in seconds: clamped to [minimum, max_time], then snapped to a
 * whole number when it is one up to rounding. Lagrange needs one sample newer than the point it
 * reads, hence its minimum of one sample. */
static inline double delay_samples(const DelayState *state, double time, double sample_rate)
{
    const double t = time < state->max_time ? time : state->max_time;
    double d = t * sample_rate;
    const double minimum = state->interpolation == DELAY_LAGRANGE ? 1.0 : 0.0;
    if (d < minimum) {
        d = minimum;
    }
    const double whole = floor(d + 0.5);
    return fabs(d - whole) < 1.0e-9 ? whole : d;
}

/* Ring positions count up modulo 2^64 and are masked to the ring: `now - D` wraps by design. */
static inline AMP_WRAPPING double delay_read(const DelayState *state, const double *ring, size_t now, double d)
{
    const size_t mask = state->mask;
    const double whole = floor(d);
    const size_t D = (size_t)whole;
    const double f = d - whole;
    if (f == 0.0) {
        return ring[(now - D) & mask];
    }
    const double s1 = ring[(now - D) & mask];
    const double s2 = ring[(now - D - 1) & mask];
    if (state->interpolation == DELAY_LINEAR) {
        return s1 + f * (s2 - s1);
    }
    const double s0 = ring[(now - D + 1) & mask];
    const double s3 = ring[(now - D - 2) & mask];
    const double fm1 = f - 1.0;
    const double fm2 = f - 2.0;
    const double fp1 = f + 1.0;
    return -f * fm1 * fm2 / 6.0 * s0 + fp1 * fm1 * fm2 / 2.0 * s1 - fp1 * f * fm2 / 2.0 * s2 +
           fp1 * f * fm1 / 6.0 * s3;
}

/* AMP_WRAPPING: ring positions, as in delay_read. */
static AMP_WRAPPING int delay_process(void *opaque, const AmpProcessArgs *args)
{
    DelayState *state = (DelayState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pt = &args->params[2];
    const AmpParamView *pfb = &args->params[3];
    const double sr = args->sample_rate;
    const size_t mask = state->mask;
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            double *ring = state->ring + (size_t)(b * out->channels + c) * state->length;
            double *y = amp_signal_row(out, b, c);
            const double *x = NULL;
            if (in->count > 0) {
                const AmpSignal *src = &in->signals[0];
                x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
            }
            const double *t = amp_param_row(pt, b, c);
            const double *fb = amp_param_row(pfb, b, c);
            size_t w = state->write;
            if (pt->stride_frame == 0 && pfb->stride_frame == 0) {
                const double d = delay_samples(state, t[0], sr);
                const double g = fb[0];
                if (d == floor(d)) {
                    const size_t D = (size_t)d;
                    for (int32_t n = 0; n < args->frames; ++n, ++w) {
                        ring[w & mask] = x ? x[n] : 0.0;
                        const double v = ring[(w - D) & mask];
                        ring[w & mask] += g * v;
                        y[n] = v;
                    }
                } else {
                    for (int32_t n = 0; n < args->frames; ++n, ++w) {
                        ring[w & mask] = x ? x[n] : 0.0;
                        const double v = delay_read(state, ring, w, d);
                        ring[w & mask] += g * v;
                        y[n] = v;
                    }
                }
            } else {
                for (int32_t n = 0; n < args->frames; ++n, ++w) {
                    const double d = delay_samples(state, t[n * pt->stride_frame], sr);
                    ring[w & mask] = x ? x[n] : 0.0;
                    const double v = delay_read(state, ring, w, d);
                    ring[w & mask] += fb[n * pfb->stride_frame] * v;
                    y[n] = v;
                }
            }
        }
    }
    state->write += (size_t)args->frames;
    return AMP_NODE_OK;
}

static void delay_reset(void *opaque)
{
    DelayState *state = (DelayState *)opaque;
    memset(state->ring, 0, (size_t)state->rows * state->length * sizeof(double));
    state->write = 0;
}

static void delay_destroy(void *opaque)
{
    DelayState *state = (DelayState *)opaque;
    if (state != NULL) {
        free(state->ring);
        free(state);
    }
}

static const AmpPortSpec delay_inputs[] = {
    {"in", "the signal to delay; a mono input feeds every channel", 0},
};

static const AmpPortSpec delay_outputs[] = {
    {"out", "the input `time` seconds ago (zeros at first), with the feedback it carries", 0},
};

static const AmpParamSpec delay_params[] = {
    {"max_time", 1.0, 0.0, 60.0, "s", "longest delay the line holds", NULL, AMP_PARAM_STATIC},
    {"interpolation", 1.0, 0.0, 1.0, "",
     "how fractional delays are read: linear, or third-order Lagrange through four samples", "linear|lagrange",
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"time", 0.25, 0.0, 60.0, "s",
     "the delay; clamped to [0, max_time] (lagrange: at least one sample); whole samples are exact", NULL, 0},
    {"feedback", 0.0, -1.0, 1.0, "", "share of the output written back into the line", NULL, 0},
};

const AmpNodeSpec amp_node_delay = {
    "delay",
    "Fractional delay line with feedback: output = input `time` seconds ago, interpolated linearly or by "
    "third-order Lagrange; integer delays are exact.",
    1, delay_inputs,
    1, delay_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    4, delay_params,
    {delay_create, delay_process, delay_reset, delay_destroy, NULL, NULL, NULL},
};
