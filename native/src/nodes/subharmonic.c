/* subharmonic - an octave divider: adds square waves one and two octaves below the input's pitch.
 *
 * Per channel:
 *   band      the input through a 2nd-order Butterworth highpass at band_low and lowpass at
 *             band_high (RBJ biquads), leaving mostly the fundamental;
 *   follower  e: the rectified band through a one-pole lag of time constant `follow`, times pi / 2,
 *             so that a steady sine of amplitude A in the band gives e = A (a mean, not a peak:
 *             the same rise and fall keep it unbiased);
 *   trigger   a Schmitt trigger on the band with thresholds +-hysteresis * e (two crossings per
 *             period, noise ignored);
 *   flip-flops q2 toggles on each rise of the trigger (half the input frequency), q4 on each rise
 *             of q2 (a quarter); both start at -1 and are +-1 squares;
 *   mix       out = dry * in + HP(e * (div2 * q2 + div4 * q4)), HP a 2nd-order Butterworth
 *             highpass at `highpass` Hz that keeps the squares' steps and the follower free of DC.
 * With a sine of frequency f inside the band, q2 has fundamental f / 2 and q4 f / 4.
 *
 * Each row (batch row and channel) is a chain of recursions that a CPU runs one sample at a time,
 * waiting on each result; rows that share the filter settings therefore run side by side, four or
 * eight at once in vectors, each lane performing exactly the operations of the row alone. */
/* Every product and sum rounded on its own: the vector lanes and the plain code agree bit for bit. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "../amp_node.h"
#include "../dsp/lanes4.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    SUB_PARAM_BAND_LOW,
    SUB_PARAM_BAND_HIGH,
    SUB_PARAM_DIV2,
    SUB_PARAM_DIV4,
    SUB_PARAM_DRY,
    SUB_PARAM_HYSTERESIS,
    SUB_PARAM_FOLLOW,
    SUB_PARAM_HIGHPASS
};

typedef struct SubBiquad {
    double b0, b1, b2, a1, a2;
} SubBiquad;

typedef struct SubChannel {
    double hp_s1, hp_s2;   /* band highpass, transposed direct form II */
    double lp_s1, lp_s2;   /* band lowpass */
    double out_s1, out_s2; /* output highpass */
    double env;
    double schmitt;        /* +1 or -1 */
    double q2;
    double q4;
} SubChannel;

typedef struct SubState {
    int32_t rows; /* batch * channels */
    SubChannel *channels;
    double low, high, highpass, follow, sample_rate; /* what the coefficients were made for */
    SubBiquad band_hp, band_lp, out_hp;
    double follow_coef;
} SubState;

static const double kPi = 3.14159265358979323846;

static void sub_reset_channels(SubState *state)
{
    for (int32_t i = 0; i < state->rows; ++i) {
        state->channels[i] = (SubChannel){0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0};
    }
}

static int sub_create(const AmpNodeSetup *setup, void **out_state)
{
    SubState *state = (SubState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->rows = setup->batch * setup->output_channels;
    state->channels = (SubChannel *)amp_node_calloc((size_t)state->rows, sizeof(SubChannel));
    if (state->channels == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    state->low = state->high = state->highpass = state->follow = -1.0;
    sub_reset_channels(state);
    *out_state = state;
    return AMP_NODE_OK;
}

/* RBJ cookbook lowpass (highpass = 0) or highpass (1) with Q = 1/sqrt(2); the corner is kept
 * inside (0, 0.49 sample_rate). */
static SubBiquad sub_design(int highpass, double freq, double sample_rate)
{
    const double top = 0.49 * sample_rate;
    freq = freq > top ? top : (freq > 1.0e-3 ? freq : 1.0e-3);
    const double w0 = 2.0 * kPi * freq / sample_rate;
    const double cw = cos(w0);
    const double alpha = sin(w0) * 0.70710678118654752; /* sin(w0) / (2 Q) */
    const double a0 = 1.0 + alpha;
    const double k = highpass ? (1.0 + cw) / 2.0 : (1.0 - cw) / 2.0;
    SubBiquad q;
    q.b0 = k / a0;
    q.b1 = (highpass ? -2.0 * k : 2.0 * k) / a0;
    q.b2 = k / a0;
    q.a1 = -2.0 * cw / a0;
    q.a2 = (1.0 - alpha) / a0;
    return q;
}

static inline double sub_biquad(const SubBiquad *q, double x, double *s1, double *s2)
{
    const double y = q->b0 * x + *s1;
    *s1 = q->b1 * x - q->a1 * y + *s2;
    *s2 = q->b2 * x - q->a2 * y;
    return y;
}

static void sub_coefficients(SubState *state, double low, double high, double highpass, double follow,
                             double sample_rate)
{
    if (low != state->low || high != state->high || sample_rate != state->sample_rate) {
        state->band_hp = sub_design(1, low, sample_rate);
        state->band_lp = sub_design(0, high, sample_rate);
    }
    if (highpass != state->highpass || sample_rate != state->sample_rate) {
        state->out_hp = sub_design(1, highpass, sample_rate);
    }
    if (follow != state->follow || sample_rate != state->sample_rate) {
        state->follow_coef = follow > 0.0 ? 1.0 - exp(-1.0 / (follow * sample_rate)) : 1.0;
    }
    state->low = low;
    state->high = high;
    state->highpass = highpass;
    state->follow = follow;
    state->sample_rate = sample_rate;
}

static void sub_row(SubState *state, const AmpProcessArgs *args, int32_t r)
{
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pv = args->params;
    const int32_t b = r / out->channels;
    const int32_t c = r % out->channels;
    double *y = amp_signal_row(out, b, c);
    const double *x = NULL;
    if (in->count > 0) {
        const AmpSignal *src = &in->signals[0];
        x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
    }
    const double *low = amp_param_row(&pv[SUB_PARAM_BAND_LOW], b, c);
    const double *high = amp_param_row(&pv[SUB_PARAM_BAND_HIGH], b, c);
    const double *div2 = amp_param_row(&pv[SUB_PARAM_DIV2], b, c);
    const double *div4 = amp_param_row(&pv[SUB_PARAM_DIV4], b, c);
    const double *dry = amp_param_row(&pv[SUB_PARAM_DRY], b, c);
    const double *hyst = amp_param_row(&pv[SUB_PARAM_HYSTERESIS], b, c);
    const double *fol = amp_param_row(&pv[SUB_PARAM_FOLLOW], b, c);
    const double *hpf = amp_param_row(&pv[SUB_PARAM_HIGHPASS], b, c);
    SubChannel *ch = &state->channels[r];
    for (int32_t f = 0; f < args->frames; ++f) {
        sub_coefficients(state, low[f * pv[SUB_PARAM_BAND_LOW].stride_frame],
                         high[f * pv[SUB_PARAM_BAND_HIGH].stride_frame], hpf[f * pv[SUB_PARAM_HIGHPASS].stride_frame],
                         fol[f * pv[SUB_PARAM_FOLLOW].stride_frame], args->sample_rate);
        double v = x != NULL ? x[f] : 0.0;
        v = isfinite(v) ? v : 0.0;
        double band = sub_biquad(&state->band_hp, v, &ch->hp_s1, &ch->hp_s2);
        band = sub_biquad(&state->band_lp, band, &ch->lp_s1, &ch->lp_s2);
        const double rect = fabs(band) * (0.5 * kPi);
        ch->env += state->follow_coef * (rect - ch->env);
        const double threshold = hyst[f * pv[SUB_PARAM_HYSTERESIS].stride_frame] * ch->env;
        if (ch->schmitt < 0.0 && band > threshold && band > 0.0) {
            ch->schmitt = 1.0;
            ch->q2 = -ch->q2;
            if (ch->q2 > 0.0) {
                ch->q4 = -ch->q4;
            }
        } else if (ch->schmitt > 0.0 && band < -threshold && band < 0.0) {
            ch->schmitt = -1.0;
        }
        const double sub = ch->env * (div2[f * pv[SUB_PARAM_DIV2].stride_frame] * ch->q2 +
                                      div4[f * pv[SUB_PARAM_DIV4].stride_frame] * ch->q4);
        const double shaped = sub_biquad(&state->out_hp, sub, &ch->out_s1, &ch->out_s2);
        y[f] = dry[f * pv[SUB_PARAM_DRY].stride_frame] * v + shaped;
    }
}

#if AMP_LANES4
/* Whether rows r .. r + n - 1 have the same filter settings, constant over the block. */
static int sub_shared_settings(const AmpProcessArgs *args, int32_t r, int32_t n)
{
    static const int kSettings[] = {SUB_PARAM_BAND_LOW, SUB_PARAM_BAND_HIGH, SUB_PARAM_FOLLOW, SUB_PARAM_HIGHPASS};
    const int32_t channels = args->outputs[0].channels;
    for (int i = 0; i < 4; ++i) {
        const AmpParamView *p = &args->params[kSettings[i]];
        if (p->stride_frame != 0) {
            return 0;
        }
        const double *first = amp_param_row(p, r / channels, r % channels);
        for (int32_t k = 1; k < n; ++k) {
            if (memcmp(first, amp_param_row(p, (r + k) / channels, (r + k) % channels), sizeof(double)) != 0) {
                return 0;
            }
        }
    }
    return 1;
}

/* Four rows side by side (dsp/lanes4.h): lane k is row r + k, every operation the one sub_row makes. */
typedef struct SubLanes {
    AmpV4 hp1, hp2, lp1, lp2, out1, out2, env, schmitt, q2, q4;
    const double *x[4];
    double *y[4];
    const double *hyst[4], *div2[4], *div4[4], *dry[4];
} SubLanes;

/* The per-sample parameters of four rows at one sample. */
typedef struct SubMix {
    AmpV4 hyst, div2, div4, dry;
} SubMix;

static void sub_lanes_load(SubState *state, const AmpProcessArgs *args, int32_t r, SubLanes *L)
{
    const AmpSignal *out = &args->outputs[0];
    const AmpSignal *src = &args->inputs[0].signals[0];
    const AmpParamView *pv = args->params;
    for (int k = 0; k < 4; ++k) {
        const int32_t b = (r + k) / out->channels;
        const int32_t c = (r + k) % out->channels;
        const SubChannel *ch = &state->channels[r + k];
        L->hp1[k] = ch->hp_s1;
        L->hp2[k] = ch->hp_s2;
        L->lp1[k] = ch->lp_s1;
        L->lp2[k] = ch->lp_s2;
        L->out1[k] = ch->out_s1;
        L->out2[k] = ch->out_s2;
        L->env[k] = ch->env;
        L->schmitt[k] = ch->schmitt;
        L->q2[k] = ch->q2;
        L->q4[k] = ch->q4;
        L->x[k] = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
        L->y[k] = amp_signal_row(out, b, c);
        L->hyst[k] = amp_param_row(&pv[SUB_PARAM_HYSTERESIS], b, c);
        L->div2[k] = amp_param_row(&pv[SUB_PARAM_DIV2], b, c);
        L->div4[k] = amp_param_row(&pv[SUB_PARAM_DIV4], b, c);
        L->dry[k] = amp_param_row(&pv[SUB_PARAM_DRY], b, c);
    }
}

static void sub_lanes_store(SubState *state, int32_t r, const SubLanes *L)
{
    for (int k = 0; k < 4; ++k) {
        SubChannel *ch = &state->channels[r + k];
        ch->hp_s1 = L->hp1[k];
        ch->hp_s2 = L->hp2[k];
        ch->lp_s1 = L->lp1[k];
        ch->lp_s2 = L->lp2[k];
        ch->out_s1 = L->out1[k];
        ch->out_s2 = L->out2[k];
        ch->env = L->env[k];
        ch->schmitt = L->schmitt[k];
        ch->q2 = L->q2[k];
        ch->q4 = L->q4[k];
    }
}

static inline __attribute__((always_inline)) SubMix sub_mix_at(const SubLanes *L, const AmpProcessArgs *args,
                                                               int32_t f)
{
    const AmpParamView *pv = args->params;
    return (SubMix){amp_v4_gather(L->hyst, f * pv[SUB_PARAM_HYSTERESIS].stride_frame),
                    amp_v4_gather(L->div2, f * pv[SUB_PARAM_DIV2].stride_frame),
                    amp_v4_gather(L->div4, f * pv[SUB_PARAM_DIV4].stride_frame),
                    amp_v4_gather(L->dry, f * pv[SUB_PARAM_DRY].stride_frame)};
}

static inline __attribute__((always_inline)) AmpV4 sub_biquad_v(const SubBiquad *q, AmpV4 x, AmpV4 *s1, AmpV4 *s2)
{
    const AmpV4 y = amp_v4(q->b0) * x + *s1;
    *s1 = amp_v4(q->b1) * x - amp_v4(q->a1) * y + *s2;
    *s2 = amp_v4(q->b2) * x - amp_v4(q->a2) * y;
    return y;
}

/* One sample of four rows: input x, output returned. */
static inline __attribute__((always_inline)) AmpV4 sub_lanes_step(const SubState *state, SubLanes *L,
                                                                  const SubMix *m, AmpV4 x)
{
    const AmpV4 zero = amp_v4(0.0);
    const AmpV4 one = amp_v4(1.0);
    const AmpV4 v = amp_v4_select(amp_v4_finite(x), x, zero);
    AmpV4 band = sub_biquad_v(&state->band_hp, v, &L->hp1, &L->hp2);
    band = sub_biquad_v(&state->band_lp, band, &L->lp1, &L->lp2);
    const AmpV4 rect = amp_v4_abs(band) * amp_v4(0.5 * kPi);
    L->env += amp_v4(state->follow_coef) * (rect - L->env);
    const AmpV4 threshold = m->hyst * L->env;
    const AmpM4 up = (L->schmitt < zero) & (band > threshold) & (band > zero);
    const AmpM4 down = ~up & (L->schmitt > zero) & (band < -threshold) & (band < zero);
    L->schmitt = amp_v4_select(up, one, amp_v4_select(down, -one, L->schmitt));
    L->q2 = amp_v4_select(up, -L->q2, L->q2);
    L->q4 = amp_v4_select(up & (L->q2 > zero), -L->q4, L->q4);
    const AmpV4 sub = L->env * (m->div2 * L->q2 + m->div4 * L->q4);
    const AmpV4 shaped = sub_biquad_v(&state->out_hp, sub, &L->out1, &L->out2);
    return m->dry * v + shaped;
}

/* Four samples of the rows of `lanes` (one or two groups of four) from frame f, parameters m: the
 * groups' steps alternate, so that their chains are in flight together. */
static inline __attribute__((always_inline)) void sub_lanes_tile(const SubState *state, SubLanes *lanes, int groups,
                                                                 const SubMix *m, int32_t f)
{
    AmpV4 t[2][4];
    for (int g = 0; g < groups; ++g) {
        amp_v4_load_tile(lanes[g].x, f, t[g]);
    }
    for (int j = 0; j < 4; ++j) {
        for (int g = 0; g < groups; ++g) {
            t[g][j] = sub_lanes_step(state, &lanes[g], &m[g], t[g][j]);
        }
    }
    for (int g = 0; g < groups; ++g) {
        amp_v4_store_tile(lanes[g].y, f, t[g]);
    }
}

/* Rows r .. r + 4 * groups - 1 (groups 1 or 2: two chains in flight at once). */
AMP_VECTOR_CLONES static void sub_lanes(SubState *state, const AmpProcessArgs *args, int32_t r, int groups)
{
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *pv = args->params;
    const int32_t b = r / out->channels;
    const int32_t c = r % out->channels;
    sub_coefficients(state, amp_param_row(&pv[SUB_PARAM_BAND_LOW], b, c)[0],
                     amp_param_row(&pv[SUB_PARAM_BAND_HIGH], b, c)[0], amp_param_row(&pv[SUB_PARAM_HIGHPASS], b, c)[0],
                     amp_param_row(&pv[SUB_PARAM_FOLLOW], b, c)[0], args->sample_rate);
    SubLanes lanes[2];
    for (int g = 0; g < groups; ++g) {
        sub_lanes_load(state, args, r + 4 * g, &lanes[g]);
    }
    const int steady = pv[SUB_PARAM_HYSTERESIS].stride_frame == 0 && pv[SUB_PARAM_DIV2].stride_frame == 0 &&
                       pv[SUB_PARAM_DIV4].stride_frame == 0 && pv[SUB_PARAM_DRY].stride_frame == 0;
    int32_t f = 0;
    if (steady) {
        SubMix m[2];
        for (int g = 0; g < groups; ++g) {
            m[g] = sub_mix_at(&lanes[g], args, 0);
        }
        if (groups == 2) {
            for (; f + 4 <= args->frames; f += 4) {
                sub_lanes_tile(state, lanes, 2, m, f);
            }
        } else {
            for (; f + 4 <= args->frames; f += 4) {
                sub_lanes_tile(state, lanes, 1, m, f);
            }
        }
    }
    for (; f < args->frames; ++f) {
        for (int g = 0; g < groups; ++g) {
            const SubMix m = sub_mix_at(&lanes[g], args, f);
            const AmpV4 y = sub_lanes_step(state, &lanes[g], &m, amp_v4_gather(lanes[g].x, f));
            for (int k = 0; k < 4; ++k) {
                lanes[g].y[k][f] = y[k];
            }
        }
    }
    for (int g = 0; g < groups; ++g) {
        sub_lanes_store(state, r + 4 * g, &lanes[g]);
    }
}
#endif

static int sub_process(void *opaque, const AmpProcessArgs *args)
{
    SubState *state = (SubState *)opaque;
    const int32_t rows = args->batch * args->outputs[0].channels;
    int32_t r = 0;
#if AMP_LANES4
    if (args->inputs[0].count > 0) {
        while (r + 4 <= rows) {
            if (r + 8 <= rows && sub_shared_settings(args, r, 8)) {
                sub_lanes(state, args, r, 2);
                r += 8;
            } else if (sub_shared_settings(args, r, 4)) {
                sub_lanes(state, args, r, 1);
                r += 4;
            } else {
                sub_row(state, args, r);
                ++r;
            }
        }
    }
#endif
    for (; r < rows; ++r) {
        sub_row(state, args, r);
    }
    return AMP_NODE_OK;
}

static void sub_reset(void *opaque)
{
    sub_reset_channels((SubState *)opaque);
}

static void sub_destroy(void *opaque)
{
    SubState *state = (SubState *)opaque;
    if (state != NULL) {
        free(state->channels);
        free(state);
    }
}

static const AmpPortSpec sub_inputs[] = {
    {"in", "the signal whose pitch is divided", 0},
};

static const AmpPortSpec sub_outputs[] = {
    {"out", "dry * in plus the subharmonic squares", 0},
};

static const AmpParamSpec sub_params[] = {
    {"band_low", 40.0, 1.0, 1.0e5, "Hz", "band filter highpass corner", NULL, 0},
    {"band_high", 400.0, 1.0, 1.0e5, "Hz", "band filter lowpass corner", NULL, 0},
    {"div2", 0.5, -1.0e3, 1.0e3, "", "level of the square one octave down", NULL, 0},
    {"div4", 0.25, -1.0e3, 1.0e3, "", "level of the square two octaves down", NULL, 0},
    {"dry", 1.0, -1.0e3, 1.0e3, "", "level of the input passed through", NULL, 0},
    {"hysteresis", 0.1, 0.0, 1.0, "", "Schmitt thresholds as a fraction of the followed level", NULL, 0},
    {"follow", 0.02, 0.0, 10.0, "s", "envelope follower time constant (rise and fall)", NULL, 0},
    {"highpass", 20.0, 1.0, 1.0e5, "Hz", "2nd-order highpass on the subharmonic path", NULL, 0},
};

const AmpNodeSpec amp_node_subharmonic = {
    "subharmonic",
    "Octave divider: band filter, Schmitt trigger, divide-by-2 and divide-by-4 flip-flops shaped by an "
    "envelope follower, high-passed and mixed with the dry input.",
    1, sub_inputs,
    1, sub_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    8, sub_params,
    {sub_create, sub_process, sub_reset, sub_destroy, NULL, NULL, NULL},
};
