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
 * With a sine of frequency f inside the band, q2 has fundamental f / 2 and q4 f / 4. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

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

static int sub_process(void *opaque, const AmpProcessArgs *args)
{
    SubState *state = (SubState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pv = args->params;
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
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
            SubChannel *ch = &state->channels[(size_t)b * (size_t)out->channels + (size_t)c];
            for (int32_t f = 0; f < args->frames; ++f) {
                sub_coefficients(state, low[f * pv[SUB_PARAM_BAND_LOW].stride_frame],
                                 high[f * pv[SUB_PARAM_BAND_HIGH].stride_frame],
                                 hpf[f * pv[SUB_PARAM_HIGHPASS].stride_frame],
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
    {sub_create, sub_process, sub_reset, sub_destroy, NULL, NULL},
};
