/* block_delay - a delay of exactly `frames` samples that may close a feedback loop.
 *
 * Because its output for a block depends only on input from earlier blocks, the runtime calls
 * process() before the block's producers have run and absorb() after them. That works only while
 * every block is at most `frames` long: a longer block would need samples of its own input. */
#include "../amp_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct BlockDelayState {
    int32_t batch;
    int32_t channels;
    int32_t length;   /* the delay in samples, also the ring length */
    int32_t head;     /* ring index of the oldest sample; the same for every row */
    double *ring;     /* batch * channels rings of `length` samples */
} BlockDelayState;

static int block_delay_create(const AmpNodeSetup *setup, void **out_state)
{
    BlockDelayState *state = (BlockDelayState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->channels = setup->output_channels;
    state->length = (int32_t)setup->initial_params[0];
    if (state->length < 1) {
        free(state);
        return AMP_NODE_ERROR;
    }
    const size_t count = (size_t)state->batch * (size_t)state->channels * (size_t)state->length;
    state->ring = (double *)amp_node_calloc(count, sizeof(double));
    if (state->ring == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    *out_state = state;
    return AMP_NODE_OK;
}

static int block_delay_check(const BlockDelayState *state, const AmpProcessArgs *args)
{
    if (args->frames > state->length) {
        snprintf(args->message, args->message_size,
                 "a block of %d frames is longer than the delay of %d frames; render with blocks of at most %d",
                 (int)args->frames, (int)state->length, (int)state->length);
        return AMP_NODE_ERROR;
    }
    return AMP_NODE_OK;
}

/* Emits the `frames` oldest samples of the ring, which are the input of `length` samples ago. */
static int block_delay_process(void *opaque, const AmpProcessArgs *args)
{
    BlockDelayState *state = (BlockDelayState *)opaque;
    if (block_delay_check(state, args) != AMP_NODE_OK) {
        return AMP_NODE_ERROR;
    }
    const AmpSignal *out = &args->outputs[0];
    const int32_t length = state->length;
    const int32_t first = length - state->head < args->frames ? length - state->head : args->frames;
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            const double *ring = state->ring + ((size_t)b * (size_t)state->channels + (size_t)c) * (size_t)length;
            double *y = amp_signal_row(out, b, c);
            memcpy(y, ring + state->head, (size_t)first * sizeof(double));
            memcpy(y + first, ring, (size_t)(args->frames - first) * sizeof(double));
        }
    }
    return AMP_NODE_OK;
}

/* Overwrites the samples just emitted with this block's input (summed over connections; a mono
 * connection feeds every channel), then moves the head past them. */
static int block_delay_absorb(void *opaque, const AmpProcessArgs *args)
{
    BlockDelayState *state = (BlockDelayState *)opaque;
    if (block_delay_check(state, args) != AMP_NODE_OK) {
        return AMP_NODE_ERROR;
    }
    const AmpInputPort *in = &args->inputs[0];
    const int32_t length = state->length;
    const int32_t frames = args->frames;
    const int32_t first = length - state->head < frames ? length - state->head : frames;
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < state->channels; ++c) {
            double *ring = state->ring + ((size_t)b * (size_t)state->channels + (size_t)c) * (size_t)length;
            double *a = ring + state->head;
            for (int32_t f = 0; f < first; ++f) {
                a[f] = 0.0;
            }
            for (int32_t f = first; f < frames; ++f) {
                ring[f - first] = 0.0;
            }
            for (int32_t i = 0; i < in->count; ++i) {
                const AmpSignal *src = &in->signals[i];
                if (src->channels != 1 && c >= src->channels) {
                    continue;
                }
                const double *x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
                for (int32_t f = 0; f < first; ++f) {
                    a[f] += x[f];
                }
                for (int32_t f = first; f < frames; ++f) {
                    ring[f - first] += x[f];
                }
            }
        }
    }
    state->head = (state->head + frames) % length;
    return AMP_NODE_OK;
}

static void block_delay_reset(void *opaque)
{
    BlockDelayState *state = (BlockDelayState *)opaque;
    const size_t count = (size_t)state->batch * (size_t)state->channels * (size_t)state->length;
    memset(state->ring, 0, count * sizeof(double));
    state->head = 0;
}

static void block_delay_destroy(void *opaque)
{
    BlockDelayState *state = (BlockDelayState *)opaque;
    if (state != NULL) {
        free(state->ring);
        free(state);
    }
}

static const AmpPortSpec block_delay_inputs[] = {
    {"in", "the signal to delay; connections are summed, channel c from channel c (a mono one feeds every channel)",
     AMP_PORT_MULTI},
};

static const AmpPortSpec block_delay_outputs[] = {
    {"out", "the input of `frames` samples ago (zeros at first)", 0},
};

static const AmpParamSpec block_delay_params[] = {
    {"frames", 64.0, 1.0, 1048576.0, "samples", "the delay; blocks may be at most this long", NULL,
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"channels", 1.0, 1.0, 64.0, "channels", "how many channels it carries", NULL,
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
};

const AmpNodeSpec amp_node_block_delay = {
    "block_delay",
    "Delays its input by exactly `frames` samples; the node that closes a feedback loop. Every block "
    "must be at most `frames` long.",
    1, block_delay_inputs,
    1, block_delay_outputs,
    AMP_CHANNELS_FROM_PARAM, 1,
    1,
    2, block_delay_params,
    {block_delay_create, block_delay_process, block_delay_reset, block_delay_destroy, block_delay_absorb, NULL, NULL},
};
