/* sampler - plays a buffer given with the graph (the node's data section in the descriptor).
 *
 * Data layout (little-endian; amp.sampler.sampler_data(array) writes it):
 *   0  4 bytes   magic "AMPS"
 *   4  uint16    layout version, 1
 *   6  uint16    channels C, 1..64 (must equal the `channels` parameter)
 *   8  uint64    frames N, >= 1
 *  16  float64   C * N samples, channel by channel (all of channel 0, then channel 1, ...)
 * and nothing after. A bad section fails the render with the reason.
 *
 * The read position starts at `start` (frames) and advances by `rate` frames per output sample;
 * a rise of the trigger input through 0.5 restarts it at `start`. Between frames the buffer is
 * read by 4-point cubic Hermite (Catmull-Rom) interpolation, which is exact on whole frames, so
 * rate 1 from a whole start plays the buffer sample for sample. With loop on the position wraps
 * modulo N (neighbours too); with loop off the buffer is 0 outside [0, N) and playback stops (0)
 * once the position leaves it, until the next trigger. */
#include "../amp_node.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SAMPLER_PARAM_RATE, SAMPLER_PARAM_START, SAMPLER_PARAM_LOOP, SAMPLER_PARAM_AMP, SAMPLER_PARAM_CHANNELS };

#define SAMPLER_HEADER 16

typedef struct SamplerRow {
    double pos;
    double trigger_prev;
    int32_t playing;
    int32_t started;
} SamplerRow;

typedef struct SamplerState {
    int32_t batch;
    int32_t channels;
    int64_t frames;
    double *samples; /* channels * frames, channel-major, aligned copy of the data section */
    SamplerRow *rows;
    char problem[160]; /* why the data section was refused, or "" */
} SamplerState;

static void sampler_reset_rows(SamplerState *state)
{
    for (int32_t b = 0; b < state->batch; ++b) {
        state->rows[b] = (SamplerRow){0.0, 0.0, 0, 0};
    }
}

static uint64_t sampler_read_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Checks the data section; on success copies the samples. Writes the reason into state->problem
 * otherwise (create cannot report one: process does). */
static int sampler_load(SamplerState *state, const AmpNodeSetup *setup, int32_t channels)
{
    const uint8_t *data = (const uint8_t *)setup->data;
    const size_t size = setup->data_size;
    if (data == NULL || size == 0) {
        snprintf(state->problem, sizeof(state->problem),
                 "no buffer: add the node with data=amp.sampler.sampler_data(array)");
        return AMP_NODE_OK;
    }
    if (size < SAMPLER_HEADER || memcmp(data, "AMPS", 4) != 0) {
        snprintf(state->problem, sizeof(state->problem),
                 "data section (%zu bytes) does not start with the 16-byte \"AMPS\" header; write it with "
                 "amp.sampler.sampler_data(array)", size);
        return AMP_NODE_OK;
    }
    const unsigned version = (unsigned)data[4] | ((unsigned)data[5] << 8);
    const unsigned data_channels = (unsigned)data[6] | ((unsigned)data[7] << 8);
    const uint64_t frames = sampler_read_u64(data + 8);
    if (version != 1) {
        snprintf(state->problem, sizeof(state->problem), "data layout version %u; this library reads version 1",
                 version);
        return AMP_NODE_OK;
    }
    if (data_channels != (unsigned)channels) {
        snprintf(state->problem, sizeof(state->problem),
                 "the buffer has %u channel(s) but the node's channels parameter is %d", data_channels, channels);
        return AMP_NODE_OK;
    }
    const uint64_t room = (uint64_t)(size - SAMPLER_HEADER) / 8u;
    if (frames == 0 || frames > room / (uint64_t)channels || (uint64_t)(size - SAMPLER_HEADER) !=
                                                                 frames * (uint64_t)channels * 8u) {
        snprintf(state->problem, sizeof(state->problem),
                 "header says %u channel(s) x %llu frames but %zu bytes of samples follow", data_channels,
                 (unsigned long long)frames, size - SAMPLER_HEADER);
        return AMP_NODE_OK;
    }
    state->frames = (int64_t)frames;
    state->samples = (double *)malloc((size_t)frames * (size_t)channels * sizeof(double));
    if (state->samples == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    /* The section sits at any alignment inside the descriptor: copy it out. */
    memcpy(state->samples, data + SAMPLER_HEADER, (size_t)frames * (size_t)channels * sizeof(double));
    return AMP_NODE_OK;
}

static int sampler_create(const AmpNodeSetup *setup, void **out_state)
{
    SamplerState *state = (SamplerState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->channels = setup->output_channels;
    state->rows = (SamplerRow *)amp_node_calloc((size_t)setup->batch, sizeof(SamplerRow));
    if (state->rows == NULL || sampler_load(state, setup, setup->output_channels) != AMP_NODE_OK) {
        free(state->rows);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    sampler_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

/* Frame i of a channel, 0 outside the buffer unless looping. */
static inline double sampler_frame(const double *x, int64_t n, int64_t i, int loop)
{
    if (i >= 0 && i < n) {
        return x[i];
    }
    if (!loop) {
        return 0.0;
    }
    i %= n;
    return x[i < 0 ? i + n : i];
}

static inline double sampler_read(const double *x, int64_t n, double pos, int loop)
{
    const double fl = floor(pos);
    const double t = pos - fl;
    const int64_t i = (int64_t)fl;
    const double x1 = sampler_frame(x, n, i, loop);
    if (t == 0.0) {
        return x1;
    }
    const double x0 = sampler_frame(x, n, i - 1, loop);
    const double x2 = sampler_frame(x, n, i + 1, loop);
    const double x3 = sampler_frame(x, n, i + 2, loop);
    const double c1 = 0.5 * (x2 - x0);
    const double c2 = x0 - 2.5 * x1 + 2.0 * x2 - 0.5 * x3;
    const double c3 = 0.5 * (x3 - x0) + 1.5 * (x1 - x2);
    return ((c3 * t + c2) * t + c1) * t + x1;
}

static int sampler_process(void *opaque, const AmpProcessArgs *args)
{
    SamplerState *state = (SamplerState *)opaque;
    if (state->problem[0] != '\0') {
        snprintf(args->message, args->message_size, "%s", state->problem);
        return AMP_NODE_ERROR;
    }
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *trigger = &args->inputs[0];
    const AmpParamView *rate = &args->params[SAMPLER_PARAM_RATE];
    const AmpParamView *start = &args->params[SAMPLER_PARAM_START];
    const AmpParamView *loop = &args->params[SAMPLER_PARAM_LOOP];
    const AmpParamView *amp = &args->params[SAMPLER_PARAM_AMP];
    const int64_t n = state->frames;
    /* Positions beyond this are clamped so that floor() stays exact and cast-safe. */
    const double limit = 4.0e15;
    for (int32_t b = 0; b < args->batch; ++b) {
        SamplerRow *row = &state->rows[b];
        const double *tr = trigger->count > 0 ? amp_signal_row(&trigger->signals[0], b, 0) : NULL;
        const double *rt = amp_param_row(rate, b, 0);
        const double *st = amp_param_row(start, b, 0);
        const double *lp = amp_param_row(loop, b, 0);
        const double *am = amp_param_row(amp, b, 0);
        for (int32_t f = 0; f < args->frames; ++f) {
            const double t = tr != NULL ? tr[f] : 0.0;
            const int restart = !row->started || (row->trigger_prev < 0.5 && t >= 0.5);
            row->trigger_prev = t;
            if (restart) {
                const double s = st[f * start->stride_frame];
                row->pos = isfinite(s) ? (s > limit ? limit : (s < -limit ? -limit : s)) : 0.0;
                row->playing = 1;
                row->started = 1;
            }
            const int looping = lp[f * loop->stride_frame] >= 0.5;
            if (row->playing && !looping && (row->pos >= (double)n || row->pos < 0.0)) {
                row->playing = 0;
            }
            const double g = am[f * amp->stride_frame];
            for (int32_t c = 0; c < out->channels; ++c) {
                amp_signal_row(out, b, c)[f] =
                    row->playing ? g * sampler_read(state->samples + (size_t)c * (size_t)n, n, row->pos, looping) : 0.0;
            }
            if (row->playing) {
                const double r = rt[f * rate->stride_frame];
                double pos = row->pos + (isfinite(r) ? r : 0.0);
                if (looping && (pos >= (double)n || pos < 0.0)) {
                    pos -= floor(pos / (double)n) * (double)n;
                    pos = pos < (double)n ? pos : 0.0;
                }
                row->pos = pos > limit ? limit : (pos < -limit ? -limit : pos);
            }
        }
    }
    return AMP_NODE_OK;
}

static void sampler_reset(void *opaque)
{
    sampler_reset_rows((SamplerState *)opaque);
}

static void sampler_destroy(void *opaque)
{
    SamplerState *state = (SamplerState *)opaque;
    if (state != NULL) {
        free(state->samples);
        free(state->rows);
        free(state);
    }
}

static const AmpPortSpec sampler_inputs[] = {
    {"trigger", "a rise through 0.5 restarts playback at start", 0},
};

static const AmpPortSpec sampler_outputs[] = {
    {"out", "the buffer's channels", 0},
};

static const AmpParamSpec sampler_params[] = {
    {"rate", 1.0, -64.0, 64.0, "", "buffer frames per output sample; negative plays backwards", NULL, 0},
    {"start", 0.0, -1.0e15, 1.0e15, "frames", "where playback starts, and restarts on a trigger", NULL, 0},
    {"loop", 0.0, 0.0, 1.0, "", "off: stop at the ends; on: wrap around the whole buffer", "off|on",
     AMP_PARAM_INTEGER},
    {"amp", 1.0, -1.0e6, 1.0e6, "", "gain", NULL, 0},
    {"channels", 1.0, 1.0, 64.0, "channels", "the buffer's channel count", NULL, AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
};

const AmpNodeSpec amp_node_sampler = {
    "sampler",
    "Plays the buffer in the node's data section (\"AMPS\" header, then float64 channel by channel; "
    "amp.sampler.sampler_data writes it) from `start`, `rate` frames per sample, cubic Hermite between "
    "frames (exact on whole frames), looping or stopping at the ends; trigger restarts.",
    1, sampler_inputs,
    1, sampler_outputs,
    AMP_CHANNELS_FROM_PARAM, SAMPLER_PARAM_CHANNELS,
    0,
    5, sampler_params,
    {sampler_create, sampler_process, sampler_reset, sampler_destroy, NULL, NULL, NULL},
};
