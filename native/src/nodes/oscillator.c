/* oscillator - sine, saw, square and triangle from a fixed-point phase (dsp/phase.h): sample n of a
 * steady tone is at phase + n freq / sample_rate, to 2^-64 cycle per sample. The sine is exact; the
 * others are band-limited by BLEP/BLAMP residuals of a linear-phase lowpass, silent at and above
 * Nyquist and never louder than the lowpass's overshoot makes them. The kernel is one lane of dsp/osc_lane.h,
 * the same code every oscillator in the catalogue runs.
 *
 * Naive shapes over the phase p in [0, 1): saw 2p - 1 (the step from +1 to -1 at p = 0); square
 * +1 for p < pulse_width, else -1; triangle 4p on [0, 1/4), 2 - 4p on [1/4, 3/4), 4p - 4 after
 * (in phase with the sine). */
/* Every product and sum is rounded on its own (no contraction into fused multiply-adds, whatever
 * the target); selects of FP values may compute both sides so that the loops vectorize (nothing
 * here reads the FP exception flags). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "../amp_node.h"
#include "../dsp/osc_lane.h"
#include "../dsp/osc_quiet.h"
#include "../dsp/rows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OSC_PARAM_FREQ, OSC_PARAM_AMP, OSC_PARAM_PHASE, OSC_PARAM_WAVEFORM, OSC_PARAM_PULSE_WIDTH };
enum { OSC_INPUT_FM, OSC_INPUT_RESET };
enum { OSC_PIECE = 256 };

typedef struct OscillatorState {
    /* What every block reads first, then the lane of a one-row render, so that they share lines. */
    int32_t batch;
    int32_t waveform;
    int32_t fused;     /* amp_fma_clones_fused(): the running copy of the kernels has FMA */
    int32_t unused;
    AmpOscLane *rows;  /* one per batch row: &row0 for one row */
    uint64_t phase0;
    AmpOscLane row0;
    int32_t *leader;   /* per row: the row whose waveform it takes this block (rows.h) */
    int32_t *followed; /* per row: whether another row takes its waveform */
    double *scratch;   /* AMP_OSC_SCRATCH_ARRAYS * max_frames */
    AmpOscScratch work;
} OscillatorState;

static void osc_reset_rows(OscillatorState *state, int32_t batch)
{
    for (int32_t b = 0; b < batch; ++b) {
        amp_osc_lane_init(&state->rows[b], state->phase0);
    }
}

static int osc_create(const AmpNodeSetup *setup, void **out_state)
{
    OscillatorState *state = (OscillatorState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->phase0 = amp_osc_phase0(setup->initial_params[OSC_PARAM_PHASE]);
    state->waveform = (int32_t)setup->initial_params[OSC_PARAM_WAVEFORM];
    state->rows = setup->batch == 1 ? &state->row0 : (AmpOscLane *)amp_node_calloc((size_t)setup->batch, sizeof(AmpOscLane));
    state->scratch = (double *)amp_node_calloc(AMP_OSC_SCRATCH_ARRAYS * (size_t)setup->max_frames, sizeof(double));
    state->leader = (int32_t *)amp_node_calloc((size_t)setup->batch, sizeof(int32_t));
    state->followed = (int32_t *)amp_node_calloc((size_t)setup->batch, sizeof(int32_t));
    if (state->rows == NULL || state->scratch == NULL || state->leader == NULL || state->followed == NULL) {
        if (state->rows != &state->row0) {
            free(state->rows);
        }
        free(state->scratch);
        free(state->leader);
        free(state->followed);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    amp_osc_scratch_init(&state->work, state->scratch, setup->max_frames);
    state->fused = state->work.fused;
    state->batch = setup->batch;
    osc_reset_rows(state, setup->batch);
    *out_state = state;
    return AMP_NODE_OK;
}

/* One kernel per shape and kind of frequency (steady, varying, with resets), compiled for wider
 * vectors where the machine has them (no contraction, no reassociation: see AMP_VECTOR_CLONES).
 * The wide copies have FMA, which only the increment uses, where it gives the same bits
 * (dsp/phase.h). */
#define OSC_KERNEL(name, shape, varying, resets)                                                                  \
    AMP_FMA_VECTOR_CLONES static void name(const OscillatorState *state, AmpOscLane *lane, const double *fq,         \
                                       ptrdiff_t fq_stride, const double *fm, const double *rs, const double *am, \
                                       ptrdiff_t am_stride, const double *pw, ptrdiff_t pw_stride, double sr,     \
                                       double *y, int32_t frames)                                                 \
    {                                                                                                            \
        amp_osc_lane_run(&state->work, lane, shape, varying, resets, state->phase0, fq, fq_stride, fm, rs, am,   \
                         am_stride, pw, pw_stride, sr, y, frames);                                               \
    }
#define OSC_KERNELS(shape, suffix)                                                                               \
    OSC_KERNEL(osc_steady_##suffix, shape, 0, 0)                                                                  \
    OSC_KERNEL(osc_varying_##suffix, shape, 1, 0)                                                                 \
    OSC_KERNEL(osc_general_##suffix, shape, 1, 1)
OSC_KERNELS(AMP_SHAPE_SINE, sine)
OSC_KERNELS(AMP_SHAPE_SAW, saw)
OSC_KERNELS(AMP_SHAPE_SQUARE, square)
OSC_KERNELS(AMP_SHAPE_TRIANGLE, triangle)

typedef void (*OscKernel)(const OscillatorState *, AmpOscLane *, const double *, ptrdiff_t, const double *,
                          const double *, const double *, ptrdiff_t, const double *, ptrdiff_t, double, double *,
                          int32_t);

static const OscKernel osc_kernels[4][3] = {
    {osc_steady_sine, osc_varying_sine, osc_general_sine},
    {osc_steady_saw, osc_varying_saw, osc_general_saw},
    {osc_steady_square, osc_varying_square, osc_general_square},
    {osc_steady_triangle, osc_varying_triangle, osc_general_triangle},
};

/* What decides a row's waveform before amp (osc_lane.h applies amp last, to the finished waveform). */
typedef struct OscRows {
    const OscillatorState *state;
    const AmpProcessArgs *args;
} OscRows;

static int osc_same_rows(const void *context, int32_t a, int32_t b)
{
    const OscRows *rows = (const OscRows *)context;
    const AmpProcessArgs *args = rows->args;
    return amp_osc_lane_same(&rows->state->rows[a], &rows->state->rows[b]) &&
           amp_rows_same_param(&args->params[OSC_PARAM_FREQ], a, b, 0, args->frames) &&
           (rows->state->waveform != AMP_SHAPE_SQUARE ||
            amp_rows_same_param(&args->params[OSC_PARAM_PULSE_WIDTH], a, b, 0, args->frames)) &&
           amp_rows_same_input(&args->inputs[OSC_INPUT_FM], a, b, args->frames) &&
           amp_rows_same_input(&args->inputs[OSC_INPUT_RESET], a, b, args->frames);
}

/* y = x * amp, as the lane's last step does it (x * 1 is x, bit for bit, so a constant 1 copies). */
static void osc_scale(double *y, const double *x, const double *am, ptrdiff_t am_stride, int32_t frames)
{
    if (am_stride == 0) {
        const double gain = am[0];
        if (gain != 1.0) {
            for (int32_t f = 0; f < frames; ++f) {
                y[f] = x[f] * gain;
            }
        } else if (y != x) {
            memcpy(y, x, (size_t)frames * sizeof(double));
        }
    } else {
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = x[f] * am[f * am_stride];
        }
    }
}

/* The quiet blocks of steady saws and triangles (dsp/osc_quiet.h), most blocks of a steady tone,
 * written (osc_add adds its own into the sum). */
typedef void (*OscQuietKernel)(AmpOscLane *lane, const double *am, ptrdiff_t am_stride, double *y, int32_t frames,
                               int fused);

#define OSC_QUIET_KERNEL(name, shape)                                                                         \
    AMP_FMA_VECTOR_CLONES static void name(AmpOscLane *lane, const double *am, ptrdiff_t am_stride, double *y, \
                                           int32_t frames, int fused)                                         \
    {                                                                                                         \
        if (fused) {                                                                                          \
            amp_osc_quiet_run(lane, shape, am, am_stride, y, frames, 0, NULL, 1);                             \
        } else {                                                                                              \
            amp_osc_quiet_run(lane, shape, am, am_stride, y, frames, 0, NULL, 0);                             \
        }                                                                                                     \
    }
OSC_QUIET_KERNEL(osc_quiet_saw, AMP_SHAPE_SAW)
OSC_QUIET_KERNEL(osc_quiet_triangle, AMP_SHAPE_TRIANGLE)

static const OscQuietKernel osc_quiet_kernels[4] = {NULL, osc_quiet_saw, NULL, osc_quiet_triangle};

/* sum + x, sample by sample: what a stage of the sum does with this oscillator's block. */
AMP_VECTOR_CLONES static void osc_add_block(double *restrict sum, const double *restrict x, int32_t frames)
{
    for (int32_t f = 0; f < frames; ++f) {
        sum[f] = sum[f] + x[f];
    }
}

/* The row's pointers are read once, before the kernel runs: after a call through a pointer the
 * compiler would have to read them again from args for every piece. Inlined, so that a render of
 * one row (b = 0) computes no row offsets. */
static inline __attribute__((always_inline)) void osc_run_row(OscillatorState *state, const AmpProcessArgs *args, int32_t b, int unit_amp,
                                                             const int adds)
{
    static const double one = 1.0;
    const AmpParamView *freq = &args->params[OSC_PARAM_FREQ];
    const AmpParamView *amp = &args->params[OSC_PARAM_AMP];
    const AmpParamView *pw = &args->params[OSC_PARAM_PULSE_WIDTH];
    const AmpInputPort *fm = &args->inputs[OSC_INPUT_FM];
    const AmpInputPort *reset = &args->inputs[OSC_INPUT_RESET];
    const int wf = state->waveform >= 0 && state->waveform < 4 ? state->waveform : 0;
    const double *fm_row = fm->count > 0 ? amp_signal_row(&fm->signals[0], b, 0) : NULL;
    const double *rs_row = reset->count > 0 ? amp_signal_row(&reset->signals[0], b, 0) : NULL;
    const ptrdiff_t fq_stride = freq->stride_frame;
    const int kind = rs_row != NULL ? 2 : (fm_row != NULL || fq_stride != 0 ? 1 : 0);
    const ptrdiff_t am_stride = unit_amp ? 0 : amp->stride_frame;
    const ptrdiff_t pw_stride = pw->stride_frame;
    const double *fq = amp_param_row(freq, b, 0);
    const double *am = unit_amp ? &one : amp_param_row(amp, b, 0);
    const double *pwr = amp_param_row(pw, b, 0);
    double *out = amp_signal_row(&args->outputs[0], b, 0);
    /* Added into a sum, the block is made in the call's work space first, except where it is quiet. */
    double *y = adds ? args->scratch : out;
    AmpOscLane *lane = &state->rows[b];
    const OscKernel kernel = osc_kernels[wf][kind];
    const int32_t frames = args->frames;
    const double sr = args->sample_rate;
    if (kind == 0) {
        if (!adds && amp_osc_quiet(lane, wf, fq[0], frames)) { /* osc_add has its own */
            osc_quiet_kernels[wf](lane, am, am_stride, out, frames, state->fused);
            return;
        }
        kernel(state, lane, fq, fq_stride, NULL, NULL, am, am_stride, pwr, pw_stride, sr, y, frames);
    } else {
        /* A varying lane works through per-sample arrays: in pieces that keep them in the L1
         * cache (a lane's samples do not depend on how its block is cut). */
        for (int32_t f = 0; f < frames; f += OSC_PIECE) {
            const int32_t n = frames - f < OSC_PIECE ? frames - f : OSC_PIECE;
            kernel(state, lane, fq + f * fq_stride, fq_stride, fm_row != NULL ? fm_row + f : NULL,
                   rs_row != NULL ? rs_row + f : NULL, am + f * am_stride, am_stride, pwr + f * pw_stride, pw_stride,
                   sr, y + f, n);
        }
    }
    if (adds) {
        osc_add_block(out, y, frames);
    }
}

static __attribute__((noinline)) void osc_process_rows(OscillatorState *state, const AmpProcessArgs *args);

/* One row, the common case, is kept apart from the batch's grouping: its call saves and sets up
 * only what one kernel call needs. */
static int osc_process(void *opaque, const AmpProcessArgs *args)
{
    OscillatorState *state = (OscillatorState *)opaque;
    if (args->frames <= 0) {
        return AMP_NODE_OK;
    }
    if (args->batch == 1) {
        osc_run_row(state, args, 0, 0, 0);
    } else {
        osc_process_rows(state, args);
    }
    return AMP_NODE_OK;
}

/* Rows whose waveform is the same (rows.h) run it once, at amp 1, and each scales it by its own
 * amp: the bits a row computed alone would have. */
static void osc_process_rows(OscillatorState *state, const AmpProcessArgs *args)
{
    const OscRows context = {state, args};
    const int32_t leaders = args->batch > 1 ? amp_rows_group(args->batch, state->leader, osc_same_rows, &context)
                                            : args->batch;
    if (leaders == args->batch) {
        for (int32_t b = 0; b < args->batch; ++b) {
            osc_run_row(state, args, b, 0, 0);
        }
        return;
    }
    for (int32_t b = 0; b < args->batch; ++b) {
        state->followed[b] = 0;
    }
    for (int32_t b = 0; b < args->batch; ++b) {
        state->followed[state->leader[b]] |= state->leader[b] != b;
    }
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *amp = &args->params[OSC_PARAM_AMP];
    for (int32_t b = 0; b < args->batch; ++b) {
        if (state->leader[b] == b) {
            osc_run_row(state, args, b, state->followed[b], 0);
        }
    }
    for (int32_t b = 0; b < args->batch; ++b) {
        const int32_t l = state->leader[b];
        if (l != b) {
            state->rows[b] = state->rows[l];
            osc_scale(amp_signal_row(out, b, 0), amp_signal_row(out, l, 0), amp_param_row(amp, b, 0),
                      amp->stride_frame, args->frames);
        }
    }
    for (int32_t b = 0; b < args->batch; ++b) {
        if (state->followed[b]) {
            osc_scale(amp_signal_row(out, b, 0), amp_signal_row(out, b, 0), amp_param_row(amp, b, 0),
                      amp->stride_frame, args->frames);
        }
    }
}

/* A member's own inputs and parameters in the call's arguments, for the kernels that read them
 * there. */
static inline AmpProcessArgs osc_member_args(const AmpAddMember *member, const AmpProcessArgs *args)
{
    AmpProcessArgs own = *args;
    own.inputs = member->inputs;
    own.params = member->params;
    return own;
}

/* The blocks that are not steady, apart, so that the quiet ones' loop stays small. */
static __attribute__((noinline)) void osc_add_block_general(const AmpAddMember *member, const AmpProcessArgs *args)
{
    const AmpProcessArgs own = osc_member_args(member, args);
    osc_run_row((OscillatorState *)member->state, &own, 0, 0, 1);
}

/* A steady block with a breakpoint in it, apart for the same reason (a function with target
 * clones is called, never inlined). */
AMP_FMA_VECTOR_CLONES static void osc_add_steady(OscillatorState *state, const AmpParamView *amp,
                                                 const AmpProcessArgs *args)
{
    AmpOscLane *lane = &state->rows[0];
    double *sum = args->outputs[0].data;
    if (state->waveform == AMP_SHAPE_SAW) {
        if (state->fused) {
            amp_osc_steady_run(lane, AMP_SHAPE_SAW, state->phase0, amp->data, amp->stride_frame, sum, args->frames, 1,
                               args->scratch, 1);
        } else {
            amp_osc_steady_run(lane, AMP_SHAPE_SAW, state->phase0, amp->data, amp->stride_frame, sum, args->frames, 1,
                               args->scratch, 0);
        }
    } else {
        amp_osc_steady_run(lane, AMP_SHAPE_TRIANGLE, state->phase0, amp->data, amp->stride_frame, sum, args->frames, 1,
                           args->scratch, 0);
    }
}

/* A steady saw's block with one wrap, added at a constant amp: 0 where amp_osc_saw_wrap_run does not
 * apply. */
AMP_FMA_VECTOR_CLONES static int osc_add_wrap(OscillatorState *state, double gain, double *sum, int32_t frames)
{
    if (state->fused) {
        return amp_osc_saw_wrap_run(&state->rows[0], state->phase0, gain, sum, frames, 1);
    }
    return amp_osc_saw_wrap_run(&state->rows[0], state->phase0, gain, sum, frames, 0);
}

/* Lane fusion's form of process() (AmpNodeOps.add): one row of each member in turn, its block
 * added into outputs[0] (the running sum of the mix they feed) instead of written. A quiet block,
 * most of a steady tone's, runs in this call itself, compiled with it for the machine's vectors;
 * while one member runs, the next one's state and views are fetched. */
AMP_FMA_VECTOR_CLONES static int osc_add(const AmpAddMember *members, int32_t count, const AmpProcessArgs *args,
                                         int32_t *failed)
{
    if (args->batch != 1 || args->scratch == NULL) {
        snprintf(args->message, args->message_size, "the adding form runs one row with work space, not %d rows%s",
                 (int)args->batch, args->scratch == NULL ? " without" : "");
        *failed = 0;
        return AMP_NODE_ERROR;
    }
    const int32_t frames = args->frames;
    if (frames <= 0) {
        return AMP_NODE_OK;
    }
    double *sum = args->outputs[0].data;
    for (int32_t i = 0; i < count; ++i) {
        if (i + 1 < count) {
            const char *next = (const char *)members[i + 1].state;
            __builtin_prefetch(next);
            __builtin_prefetch(next + 64);
            __builtin_prefetch(next + 128);
            __builtin_prefetch(members[i + 1].params);
        }
        OscillatorState *state = (OscillatorState *)members[i].state;
        const AmpParamView *freq = &members[i].params[OSC_PARAM_FREQ];
        const AmpParamView *amp = &members[i].params[OSC_PARAM_AMP];
        const AmpInputPort *inputs = members[i].inputs;
        AmpOscLane *lane = &state->rows[0];
        const int wf = state->waveform;
        const int constant = freq->stride_frame == 0 && inputs[OSC_INPUT_FM].count == 0 &&
                             inputs[OSC_INPUT_RESET].count == 0;
        if (constant && amp_osc_quiet(lane, wf, freq->data[0], frames)) {
            if (wf == AMP_SHAPE_SAW) {
                if (state->fused) {
                    amp_osc_quiet_run(lane, AMP_SHAPE_SAW, amp->data, amp->stride_frame, sum, frames, 1, args->scratch, 1);
                } else {
                    amp_osc_quiet_run(lane, AMP_SHAPE_SAW, amp->data, amp->stride_frame, sum, frames, 1, args->scratch, 0);
                }
            } else {
                amp_osc_quiet_run(lane, AMP_SHAPE_TRIANGLE, amp->data, amp->stride_frame, sum, frames, 1, args->scratch,
                                  0);
            }
        } else if (constant && amp_osc_steady(lane, wf, freq->data[0], frames)) {
            if (wf != AMP_SHAPE_SAW || amp->stride_frame != 0 || !osc_add_wrap(state, amp->data[0], sum, frames)) {
                osc_add_steady(state, amp, args);
            }
        } else {
            osc_add_block_general(&members[i], args);
        }
    }
    return AMP_NODE_OK;
}

static void osc_reset(void *opaque)
{
    OscillatorState *state = (OscillatorState *)opaque;
    osc_reset_rows(state, state->batch);
}

static void osc_destroy(void *opaque)
{
    OscillatorState *state = (OscillatorState *)opaque;
    if (state != NULL) {
        if (state->rows != &state->row0) {
            free(state->rows);
        }
        free(state->scratch);
        free(state->leader);
        free(state->followed);
        free(state);
    }
}

static const AmpPortSpec osc_inputs[] = {
    {"fm", "audio-rate frequency in Hz, added to freq", 0},
    {"reset", "restarts the phase at `phase` when it rises through 0.5 (hard sync)", 0},
};

static const AmpPortSpec osc_outputs[] = {
    {"out", "the waveform", 0},
};

static const AmpParamSpec osc_params[] = {
    {"freq", 440.0, -1.0e6, 1.0e6, "Hz", "frequency; negative runs the phase backwards", NULL, 0},
    {"amp", 1.0, -1.0e6, 1.0e6, "", "peak amplitude of the naive waveform", NULL, 0},
    {"phase", 0.0, 0.0, 1.0, "cycles", "phase of the first sample and after a reset, in cycles", NULL,
     AMP_PARAM_STATIC},
    {"waveform", 0.0, 0.0, 3.0, "", "wave shape: sine exact, the others band-limited", "sine|saw|square|triangle",
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"pulse_width", 0.5, 0.0, 1.0, "cycles", "square: the part of each cycle at +1 (clamped to [0, 1])", NULL, 0},
};

const AmpNodeSpec amp_node_oscillator = {
    "oscillator",
    "Periodic waveform from a 64-bit fixed-point phase; sample n of a steady sine is "
    "amp * sin(2 pi (phase + n freq / sample_rate)). saw (2p - 1), square (+1 below pulse_width) and "
    "triangle (in phase with the sine) are band-limited by BLEP/BLAMP residuals: the naive shape "
    "through a fixed linear-phase 0.44 sample_rate lowpass, 12 samples late, as if it had always run at "
    "its first frequency; silent at and above Nyquist.",
    2, osc_inputs,
    1, osc_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    5, osc_params,
    {osc_create, osc_process, osc_reset, osc_destroy, NULL, NULL, osc_add},
};
