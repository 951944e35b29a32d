/* oscillator_bank - N oscillators of one waveform summed, written as one node: lane k is the
 * oscillator at freq * ratio[k] (the ratios being the node's data section, N little-endian
 * float64), all starting at `phase`. Each lane runs the oscillator's own kernel (dsp/osc_lane.h),
 * and the lanes are summed in order and then scaled by amp exactly as N oscillator nodes feeding a
 * mix with gain amp are, so the bank gives the same bits as that patch. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "../amp_node.h"
#include "../dsp/osc_lane.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANK_MAX_LANES 65536

enum { BANK_PARAM_FREQ, BANK_PARAM_AMP, BANK_PARAM_PHASE, BANK_PARAM_WAVEFORM };

typedef struct BankState {
    int32_t batch;
    int32_t lanes;
    int32_t waveform;
    int32_t max_frames;
    uint64_t phase0;
    double *ratio;
    AmpOscLane *lane;  /* batch * lanes */
    double *memory;    /* scratch arrays, then a lane's output, then a lane's frequency curve */
    AmpOscScratch work;
} BankState;

static void bank_reset(void *opaque)
{
    BankState *state = (BankState *)opaque;
    for (size_t i = 0; i < (size_t)state->batch * (size_t)state->lanes; ++i) {
        amp_osc_lane_init(&state->lane[i], state->phase0);
    }
}

static void bank_destroy(void *opaque)
{
    BankState *state = (BankState *)opaque;
    if (state != NULL) {
        free(state->ratio);
        free(state->lane);
        free(state->memory);
        free(state);
    }
}

static int bank_create(const AmpNodeSetup *setup, void **out_state)
{
    if (setup->data == NULL || setup->data_size == 0 || setup->data_size % sizeof(double) != 0 ||
        setup->data_size / sizeof(double) > BANK_MAX_LANES) {
        snprintf(setup->message, setup->message_size,
                 "the data section must hold 1 to %d float64 frequency ratios, one per lane; it has %zu bytes",
                 BANK_MAX_LANES, setup->data_size);
        return AMP_NODE_ERROR;
    }
    const int32_t lanes = (int32_t)(setup->data_size / sizeof(double));
    const unsigned char *bytes = (const unsigned char *)setup->data;
    for (int32_t k = 0; k < lanes; ++k) {
        double ratio = 0.0;
        memcpy(&ratio, bytes + (size_t)k * sizeof(double), sizeof(double));
        if (!isfinite(ratio) || fabs(ratio) > 1.0e6) {
            snprintf(setup->message, setup->message_size,
                     "lane %d has frequency ratio %g; ratios must be finite and at most 1e6 in size", (int)k, ratio);
            return AMP_NODE_ERROR;
        }
    }
    BankState *state = (BankState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->lanes = lanes;
    state->max_frames = setup->max_frames;
    state->waveform = (int32_t)setup->initial_params[BANK_PARAM_WAVEFORM];
    state->phase0 = amp_osc_phase0(setup->initial_params[BANK_PARAM_PHASE]);
    state->ratio = (double *)amp_node_calloc((size_t)lanes, sizeof(double));
    state->lane = (AmpOscLane *)amp_node_calloc((size_t)setup->batch * (size_t)lanes, sizeof(AmpOscLane));
    state->memory =
        (double *)amp_node_calloc((AMP_OSC_SCRATCH_ARRAYS + 2) * (size_t)setup->max_frames, sizeof(double));
    if (state->ratio == NULL || state->lane == NULL || state->memory == NULL) {
        bank_destroy(state);
        return AMP_NODE_NO_MEMORY;
    }
    memcpy(state->ratio, bytes, (size_t)lanes * sizeof(double));
    amp_osc_scratch_init(&state->work, state->memory, setup->max_frames);
    bank_reset(state);
    *out_state = state;
    return AMP_NODE_OK;
}

#define BANK_KERNEL(name, shape, varying)                                                                        \
    AMP_FMA_VECTOR_CLONES static void name(const BankState *state, AmpOscLane *lane, const double *fq,              \
                                       ptrdiff_t fq_stride, double sr, double *y, int32_t frames)               \
    {                                                                                                            \
        static const double one = 1.0;                                                                           \
        static const double half = 0.5;                                                                          \
        amp_osc_lane_run(&state->work, lane, shape, varying, 0, state->phase0, fq, fq_stride, NULL, NULL, &one,  \
                         0, &half, 0, sr, y, frames);                                                            \
    }
BANK_KERNEL(bank_steady_sine, AMP_SHAPE_SINE, 0)
BANK_KERNEL(bank_varying_sine, AMP_SHAPE_SINE, 1)
BANK_KERNEL(bank_steady_saw, AMP_SHAPE_SAW, 0)
BANK_KERNEL(bank_varying_saw, AMP_SHAPE_SAW, 1)
BANK_KERNEL(bank_steady_square, AMP_SHAPE_SQUARE, 0)
BANK_KERNEL(bank_varying_square, AMP_SHAPE_SQUARE, 1)
BANK_KERNEL(bank_steady_triangle, AMP_SHAPE_TRIANGLE, 0)
BANK_KERNEL(bank_varying_triangle, AMP_SHAPE_TRIANGLE, 1)

typedef void (*BankKernel)(const BankState *, AmpOscLane *, const double *, ptrdiff_t, double, double *, int32_t);

static const BankKernel bank_kernels[4][2] = {
    {bank_steady_sine, bank_varying_sine},
    {bank_steady_saw, bank_varying_saw},
    {bank_steady_square, bank_varying_square},
    {bank_steady_triangle, bank_varying_triangle},
};

static int bank_process(void *opaque, const AmpProcessArgs *args)
{
    BankState *state = (BankState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *freq = &args->params[BANK_PARAM_FREQ];
    const AmpParamView *amp = &args->params[BANK_PARAM_AMP];
    const int32_t frames = args->frames;
    const int wf = state->waveform >= 0 && state->waveform < 4 ? state->waveform : 0;
    double *lane_out = state->memory + AMP_OSC_SCRATCH_ARRAYS * (size_t)state->max_frames;
    double *lane_freq = lane_out + state->max_frames;
    const int varying = freq->stride_frame != 0;
    for (int32_t b = 0; b < args->batch; ++b) {
        double *y = amp_signal_row(out, b, 0);
        const double *fq = amp_param_row(freq, b, 0);
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = 0.0;
        }
        for (int32_t k = 0; k < state->lanes; ++k) {
            /* The lane's frequency as an oscillator node given freq * ratio would have it. */
            if (varying) {
                for (int32_t f = 0; f < frames; ++f) {
                    lane_freq[f] = fq[f * freq->stride_frame] * state->ratio[k];
                }
            } else {
                lane_freq[0] = fq[0] * state->ratio[k];
            }
            bank_kernels[wf][varying](state, &state->lane[(size_t)b * (size_t)state->lanes + (size_t)k], lane_freq,
                                      varying ? 1 : 0, args->sample_rate, lane_out, frames);
            for (int32_t f = 0; f < frames; ++f) {
                y[f] += lane_out[f];
            }
        }
        /* The mix's gain: skipped where it is a constant 1, as the mix skips it. */
        const double *am = amp_param_row(amp, b, 0);
        if (amp->stride_frame == 0) {
            if (am[0] != 1.0) {
                for (int32_t f = 0; f < frames; ++f) {
                    y[f] *= am[0];
                }
            }
        } else {
            for (int32_t f = 0; f < frames; ++f) {
                y[f] *= am[f * amp->stride_frame];
            }
        }
    }
    return AMP_NODE_OK;
}

static const AmpPortSpec bank_outputs[] = {
    {"out", "the sum of every lane, times amp", 0},
};

static const AmpParamSpec bank_params[] = {
    {"freq", 1.0, -1.0e6, 1.0e6, "Hz", "frequency of a lane whose ratio is 1; lane k runs at freq x ratio[k]", NULL, 0},
    {"amp", 1.0, -1.0e6, 1.0e6, "", "factor applied to the sum of the lanes", NULL, 0},
    {"phase", 0.0, 0.0, 1.0, "cycles", "every lane's phase at the first sample, in cycles", NULL, AMP_PARAM_STATIC},
    {"waveform", 1.0, 0.0, 3.0, "", "wave shape of every lane, as the oscillator's", "sine|saw|square|triangle",
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
};

const AmpNodeSpec amp_node_oscillator_bank = {
    "oscillator_bank",
    "N oscillators summed: lane k is an oscillator at freq x ratio[k] (the ratios being the node's data, "
    "N float64, 1 <= N <= 65536), all at one phase and waveform. The same bits as N oscillator nodes "
    "feeding a mix whose gain is amp.",
    0, NULL,
    1, bank_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    4, bank_params,
    {bank_create, bank_process, bank_reset, bank_destroy, NULL, NULL, NULL},
};
