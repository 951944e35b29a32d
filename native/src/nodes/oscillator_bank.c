/* oscillator_bank - many oscillators of one waveform side by side (the lanes), summed into one
 * signal. It is the horizontally fused form of N oscillator nodes feeding a mix: the lanes run
 * in vector registers, so one kernel call does the work of N node calls and N buffers never exist.
 *
 * Lane k runs at freq * ratio[k]; the ratios are the node's data section (N little-endian
 * float64). The saw is the naive ramp 2p - 1 plus a two-sample polynomial band-limited step
 * (PolyBLEP) at the wrap, p the lane's phase in cycles.
 *
 * The result does not depend on the machine. Lanes are grouped by eight whatever the vector
 * width; lane j of the partial sum adds lane j of every group in order, and the eight partial sums
 * meet in one fixed tree. The kernel is compiled once per instruction set (AVX-512, AVX2, and
 * SSE2, which every x86-64 has), each doing the same operations in the same order, with
 * contraction into fused multiply-adds switched off, so every kernel rounds alike. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
/* Vectors only travel between always-inlined code of one instruction set. */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#include "../amp_node.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define BANK_X86 1
#include <immintrin.h>
#endif

#define BANK_GROUP 8
#define BANK_MAX_LANES 65536

/* Per batch row, each array holds `padded` lanes, 64-byte aligned. A lane always runs its phase
 * forwards; a lane whose frequency is negative runs the mirror image 1 - p and negates its output
 * (the saw, BLEP included, is odd about the wrap), so the kernel never wraps downwards. Padding
 * lanes sit at phase 1/2, where the ramp is 0, with step 0: they add exactly zero. */
typedef struct BankRow {
    double *phase;    /* in [0, 1) */
    double *inc;      /* |step| reduced into [0, 1); step = freq * ratio / sample_rate */
    double *low;      /* |step|: a phase below it has just wrapped */
    double *high;     /* 1 - |step|: a phase above it wraps at the next sample */
    double *inv;      /* 1 / |step| (0 for a still lane, which is never near a wrap) */
    double *flip;     /* -0.0 for a mirrored lane (its sign bit flips the output), else +0.0 */
    double freq;      /* the freq the steps were made from; NAN before the first block */
} BankRow;

enum { BANK_ROW_ARRAYS = 6 };

typedef void (*BankKernel)(BankRow *row, int32_t groups, int32_t frames, const double *amp, ptrdiff_t amp_stride,
                           double *y);

typedef struct BankState {
    int32_t batch;
    int32_t lanes;
    int32_t padded;
    double initial_phase;
    double *ratio;    /* padded */
    double *memory;
    BankRow *row;
    BankKernel kernel;
} BankState;

/* The kernel body for vectors of W doubles (V, with mask type M); NEAR(p, low, high) is nonzero when
 * a lane of p is below low or above high. A group of eight lanes is 8 / W vectors. Per lane and sample the saw is s = 2p - 1,
 * plus, within one step of the wrap, PolyBLEP's residual copysign((1 - |u|)^2, u), where u is the
 * signed distance from p to the wrap in steps. Only about two samples per period are that close,
 * so a group computes the residuals only when one of its lanes is, and adds each lane's only where
 * that lane is close. */
#define BANK_KERNEL_BODY(W, V, M, NEAR)                                                              \
    {                                                                                               \
        enum { PER_GROUP = BANK_GROUP / (W) };                                                      \
        V one, zero, half;                                                                          \
        for (int i = 0; i < (W); ++i) {                                                             \
            one[i] = 1.0;                                                                           \
            zero[i] = 0.0;                                                                          \
            half[i] = 0.5;                                                                          \
        }                                                                                           \
        const M sign_bit = (M)(zero * -one);                                                        \
        V *phase = (V *)row->phase;                                                                 \
        const V *inc = (const V *)row->inc;                                                         \
        const V *low = (const V *)row->low;                                                         \
        const V *high = (const V *)row->high;                                                       \
        const V *inv = (const V *)row->inv;                                                         \
        const V *flip = (const V *)row->flip;                                                       \
        const int32_t vectors = groups * PER_GROUP;                                                 \
        for (int32_t f = 0; f < frames; ++f) {                                                      \
            V acc[PER_GROUP];                                                                       \
            for (int h = 0; h < PER_GROUP; ++h) {                                                   \
                acc[h] = zero;                                                                      \
            }                                                                                       \
            for (int32_t g = 0; g < vectors; g += PER_GROUP) {                                      \
                int blep = 0;                                                                       \
                for (int h = 0; h < PER_GROUP; ++h) {                                               \
                    blep |= NEAR(phase[g + h], low[g + h], high[g + h]);                            \
                }                                                                                   \
                for (int h = 0; h < PER_GROUP; ++h) {                                               \
                    V p = phase[g + h];                                                             \
                    V s = p + p - one;                                                              \
                    if (__builtin_expect(blep, 0)) {                                                \
                        const V q = p - (V)((M)(p >= half) & (M)one);                               \
                        const V u = q * inv[g + h];                                                 \
                        const V reach = (V)((M)u & ~sign_bit);                                      \
                        const V t = (V)((M)(reach < one) & (M)(one - reach));                       \
                        const M near = (M)(p < low[g + h]) | (M)(p > high[g + h]);                  \
                        s = s + (V)(near & ((M)(t * t) | ((M)u & sign_bit)));                       \
                    }                                                                               \
                    acc[h] = acc[h] + (V)((M)s ^ (M)flip[g + h]);                                   \
                    p = p + inc[g + h];                                                             \
                    phase[g + h] = p - (V)((M)(p >= one) & (M)one);                                 \
                }                                                                                   \
            }                                                                                       \
            double lane[BANK_GROUP];                                                                \
            for (int h = 0; h < PER_GROUP; ++h) {                                                   \
                for (int i = 0; i < (W); ++i) {                                                     \
                    lane[h * (W) + i] = acc[h][i];                                                  \
                }                                                                                   \
            }                                                                                       \
            y[f] = amp[f * amp_stride] *                                                            \
                   (((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]))); \
        }                                                                                           \
    }

typedef double BankV2 __attribute__((vector_size(2 * sizeof(double))));
typedef long long BankM2 __attribute__((vector_size(2 * sizeof(double))));
#ifdef BANK_X86
#define BANK_NEAR2(p, low, high) _mm_movemask_pd((__m128d)((BankM2)((p) < (low)) | (BankM2)((p) > (high))))
#else
#define BANK_NEAR2(p, low, high) ((int)((((BankM2)((p) < (low)) | (BankM2)((p) > (high)))[0] | \
                                         (((BankM2)((p) < (low)) | (BankM2)((p) > (high)))[1]) != 0))
#endif

static void bank_kernel_sse2(BankRow *row, int32_t groups, int32_t frames, const double *amp, ptrdiff_t amp_stride,
                             double *y)
BANK_KERNEL_BODY(2, BankV2, BankM2, BANK_NEAR2)

#ifdef BANK_X86
typedef double BankV4 __attribute__((vector_size(4 * sizeof(double))));
typedef long long BankM4 __attribute__((vector_size(4 * sizeof(double))));
typedef double BankV8 __attribute__((vector_size(8 * sizeof(double))));
typedef long long BankM8 __attribute__((vector_size(8 * sizeof(double))));
#define BANK_NEAR4(p, low, high) _mm256_movemask_pd((__m256d)((BankM4)((p) < (low)) | (BankM4)((p) > (high))))
#define BANK_NEAR8(p, low, high) \
    ((int)(_mm512_cmp_pd_mask((__m512d)(p), (__m512d)(low), _CMP_LT_OQ) | \
           _mm512_cmp_pd_mask((__m512d)(p), (__m512d)(high), _CMP_GT_OQ)))

__attribute__((target("avx2")))
static void bank_kernel_avx2(BankRow *row, int32_t groups, int32_t frames, const double *amp, ptrdiff_t amp_stride,
                             double *y)
BANK_KERNEL_BODY(4, BankV4, BankM4, BANK_NEAR4)

__attribute__((target("avx512f")))
static void bank_kernel_avx512(BankRow *row, int32_t groups, int32_t frames, const double *amp,
                               ptrdiff_t amp_stride, double *y)
BANK_KERNEL_BODY(8, BankV8, BankM8, BANK_NEAR8)
#endif

/* The widest kernel this machine runs, capped by amp_oscillator_bank_cap_isa (tests use the cap to
 * check that every kernel gives the same bits). */
static atomic_int bank_isa_cap = 2;

int amp_oscillator_bank_cap_isa(int level)
{
    const int previous = atomic_load(&bank_isa_cap);
    atomic_store(&bank_isa_cap, level < 0 ? 0 : level > 2 ? 2 : level);
    return previous;
}

static BankKernel bank_pick_kernel(void)
{
    const int cap = atomic_load(&bank_isa_cap);
#ifdef BANK_X86
    __builtin_cpu_init();
    if (cap >= 2 && __builtin_cpu_supports("avx512f")) {
        return bank_kernel_avx512;
    }
    if (cap >= 1 && __builtin_cpu_supports("avx2")) {
        return bank_kernel_avx2;
    }
#endif
    (void)cap;
    return bank_kernel_sse2;
}

static void bank_reset_rows(BankState *state)
{
    const double start = state->initial_phase - floor(state->initial_phase);
    for (int32_t b = 0; b < state->batch; ++b) {
        BankRow *row = &state->row[b];
        for (int32_t k = 0; k < state->padded; ++k) {
            row->phase[k] = k < state->lanes ? start : 0.5;
            row->inc[k] = 0.0;
            row->low[k] = 0.0;
            row->high[k] = 1.0;
            row->inv[k] = 0.0;
            row->flip[k] = 0.0;
        }
        row->freq = NAN;
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
    const int32_t padded = (lanes + BANK_GROUP - 1) / BANK_GROUP * BANK_GROUP;
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
    state->padded = padded;
    state->initial_phase = setup->initial_params[2];
    state->kernel = bank_pick_kernel();
    state->row = (BankRow *)amp_node_calloc((size_t)setup->batch, sizeof(BankRow));
    void *memory = NULL;
    const size_t per_row = (size_t)padded * BANK_ROW_ARRAYS;
    const size_t count = (size_t)padded + per_row * (size_t)setup->batch;
    if (state->row == NULL || posix_memalign(&memory, 64, count * sizeof(double)) != 0) {
        free(state->row);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    state->memory = (double *)memory;
    state->ratio = state->memory;
    for (int32_t k = 0; k < padded; ++k) {
        state->ratio[k] = 0.0;
        if (k < lanes) {
            memcpy(&state->ratio[k], bytes + (size_t)k * sizeof(double), sizeof(double));
        }
    }
    for (int32_t b = 0; b < setup->batch; ++b) {
        double *base = state->memory + (size_t)padded + per_row * (size_t)b;
        BankRow *row = &state->row[b];
        row->phase = base;
        row->inc = base + padded;
        row->low = base + 2 * (size_t)padded;
        row->high = base + 3 * (size_t)padded;
        row->inv = base + 4 * (size_t)padded;
        row->flip = base + 5 * (size_t)padded;
    }
    bank_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static void bank_set_freq(const BankState *state, BankRow *row, double freq, double sample_rate)
{
    for (int32_t k = 0; k < state->lanes; ++k) {
        const double step = freq * state->ratio[k] / sample_rate;
        const double width = fabs(step);
        const double flip = step < 0.0 ? -0.0 : 0.0;
        if (signbit(flip) != signbit(row->flip[k])) {
            /* The direction turns: the lane now runs the mirror image of its phase. */
            const double mirrored = 1.0 - row->phase[k];
            row->phase[k] = mirrored >= 1.0 ? 0.0 : mirrored;
            row->flip[k] = flip;
        }
        row->inc[k] = width - trunc(width);
        row->low[k] = width;
        row->high[k] = 1.0 - width;
        row->inv[k] = width > 0.0 ? 1.0 / width : 0.0;
    }
    row->freq = freq;
}

static int bank_process(void *opaque, const AmpProcessArgs *args)
{
    BankState *state = (BankState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *freq = &args->params[0];
    const AmpParamView *amp = &args->params[1];
    const int32_t groups = state->padded / BANK_GROUP;
    for (int32_t b = 0; b < args->batch; ++b) {
        BankRow *row = &state->row[b];
        double *y = amp_signal_row(out, b, 0);
        const double *fq = amp_param_row(freq, b, 0);
        const double *am = amp_param_row(amp, b, 0);
        if (freq->stride_frame == 0) {
            if (fq[0] != row->freq) {
                bank_set_freq(state, row, fq[0], args->sample_rate);
            }
            state->kernel(row, groups, args->frames, am, amp->stride_frame, y);
            continue;
        }
        /* Audio-rate frequency: the steps change from frame to frame. */
        for (int32_t f = 0; f < args->frames; ++f) {
            const double value = fq[f * freq->stride_frame];
            if (value != row->freq) {
                bank_set_freq(state, row, value, args->sample_rate);
            }
            state->kernel(row, groups, 1, am + f * amp->stride_frame, 0, y + f);
        }
    }
    return AMP_NODE_OK;
}

static void bank_reset(void *opaque)
{
    bank_reset_rows((BankState *)opaque);
}

static void bank_destroy(void *opaque)
{
    BankState *state = (BankState *)opaque;
    if (state != NULL) {
        free(state->memory);
        free(state->row);
        free(state);
    }
}

static const AmpPortSpec bank_outputs[] = {
    {"out", "the sum of every lane, times amp", 0},
};

static const AmpParamSpec bank_params[] = {
    {"freq", 1.0, -1.0e6, 1.0e6, "Hz", "frequency of a lane whose ratio is 1; lane k runs at freq x ratio[k]", NULL, 0},
    {"amp", 1.0, -1.0e6, 1.0e6, "", "factor applied to the sum of the lanes", NULL, 0},
    {"phase", 0.0, 0.0, 1.0, "cycles", "every lane's phase at the first sample, in cycles", NULL, AMP_PARAM_STATIC},
    {"waveform", 0.0, 0.0, 0.0, "", "wave shape of every lane", "saw", AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
};

const AmpNodeSpec amp_node_oscillator_bank = {
    "oscillator_bank",
    "N oscillators summed: lane k runs at freq x ratio[k], the ratios being the node's data (N float64, "
    "1 <= N <= 65536). The saw is 2p - 1 plus a PolyBLEP step, p the phase in cycles. The lanes run in "
    "vector registers: one bank is much faster than N oscillator nodes and a mix.",
    0, NULL,
    1, bank_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    4, bank_params,
    {bank_create, bank_process, bank_reset, bank_destroy, NULL, NULL},
};
