/* safety - the last node before the speakers: NaN/Inf guard, DC block, soft clip, per channel.
 *
 * 1. Guard: a NaN or infinite sample becomes 0; finite samples are clamped to +-1e9, so the
 *    filter state below always stays finite.
 * 2. DC block: the first-order highpass y = g (x - x1) + R y1, R = exp(-2 pi dc_cutoff /
 *    sample_rate), g = (1 + R) / 2 (unity gain at Nyquist, -3 dB near dc_cutoff); 0 Hz turns it off.
 * 3. Soft clip: with t = knee * ceiling, |v| <= t passes unchanged and above it
 *    sign(v) (t + (ceiling - t) tanh((|v| - t) / (ceiling - t))): slope 1 at the knee, never beyond
 *    the ceiling. knee = 1 is a hard clip at the ceiling. So |out| <= ceiling always.
 * The DC blocker is a recursion a CPU runs one sample at a time, waiting on each result, so rows
 * (batch row and channel) with the same settings run four or eight side by side in vectors, each
 * lane performing exactly the operations of the row alone, and the clip follows in a pass of its
 * own. */
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

enum { SAFETY_PARAM_DC_CUTOFF, SAFETY_PARAM_CEILING, SAFETY_PARAM_KNEE };

#define SAFETY_LIMIT 1.0e9

typedef struct SafetyState {
    int32_t rows;    /* batch * channels */
    double *x1;
    double *y1;
    double cutoff;   /* the cutoff R and g were made for, and the rate */
    double sample_rate;
    double r;
    double g;
} SafetyState;

static void safety_reset_rows(SafetyState *state)
{
    for (int32_t i = 0; i < state->rows; ++i) {
        state->x1[i] = 0.0;
        state->y1[i] = 0.0;
    }
}

static int safety_create(const AmpNodeSetup *setup, void **out_state)
{
    SafetyState *state = (SafetyState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->rows = setup->batch * setup->output_channels;
    state->x1 = (double *)amp_node_calloc((size_t)state->rows, sizeof(double));
    state->y1 = (double *)amp_node_calloc((size_t)state->rows, sizeof(double));
    if (state->x1 == NULL || state->y1 == NULL) {
        free(state->x1);
        free(state->y1);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    state->cutoff = -1.0;
    safety_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static inline void safety_coefficients(SafetyState *state, double cutoff, double sample_rate)
{
    if (cutoff != state->cutoff || sample_rate != state->sample_rate) {
        state->cutoff = cutoff;
        state->sample_rate = sample_rate;
        const double kTwoPi = 6.283185307179586476925286766559;
        const double nyquist = 0.5 * sample_rate;
        const double fc = cutoff > nyquist ? nyquist : cutoff;
        state->r = fc > 0.0 ? exp(-kTwoPi * fc / sample_rate) : 1.0;
        state->g = 0.5 * (1.0 + state->r);
    }
}

static inline double safety_clip(double v, double ceiling, double knee)
{
    const double c = ceiling > 0.0 ? ceiling : 0.0;
    const double k = knee < 0.0 ? 0.0 : (knee > 1.0 ? 1.0 : knee);
    const double t = k * c;
    const double m = fabs(v);
    if (m <= t) {
        return v;
    }
    const double room = c - t;
    double shaped = room > 0.0 ? t + room * tanh((m - t) / room) : c;
    shaped = shaped < c ? shaped : c; /* t + room can round one ulp past c */
    return v < 0.0 ? -shaped : shaped;
}

static void safety_row(SafetyState *state, const AmpProcessArgs *args, int32_t row)
{
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *cutoff = &args->params[SAFETY_PARAM_DC_CUTOFF];
    const AmpParamView *ceiling = &args->params[SAFETY_PARAM_CEILING];
    const AmpParamView *knee = &args->params[SAFETY_PARAM_KNEE];
    const int32_t b = row / out->channels;
    const int32_t c = row % out->channels;
    double *y = amp_signal_row(out, b, c);
    const double *x = NULL;
    if (in->count > 0) {
        const AmpSignal *src = &in->signals[0];
        x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
    }
    const double *fc = amp_param_row(cutoff, b, c);
    const double *ce = amp_param_row(ceiling, b, c);
    const double *kn = amp_param_row(knee, b, c);
    double x1 = state->x1[row];
    double y1 = state->y1[row];
    for (int32_t f = 0; f < args->frames; ++f) {
        double v = x != NULL ? x[f] : 0.0;
        if (!isfinite(v)) {
            v = 0.0;
        } else if (v > SAFETY_LIMIT) {
            v = SAFETY_LIMIT;
        } else if (v < -SAFETY_LIMIT) {
            v = -SAFETY_LIMIT;
        }
        safety_coefficients(state, fc[f * cutoff->stride_frame], args->sample_rate);
        double w = v;
        if (state->r < 1.0) {
            w = state->g * (v - x1) + state->r * y1;
        }
        x1 = v;
        y1 = w;
        y[f] = safety_clip(w, ce[f * ceiling->stride_frame], kn[f * knee->stride_frame]);
    }
    state->x1[row] = x1;
    state->y1[row] = y1;
}

#if AMP_LANES4
/* Whether rows r .. r + n - 1 have the same settings, constant over the block. */
static int safety_shared_settings(const AmpProcessArgs *args, int32_t r, int32_t n)
{
    const int32_t channels = args->outputs[0].channels;
    for (int i = 0; i < 3; ++i) {
        const AmpParamView *p = &args->params[i];
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

/* Four rows side by side (dsp/lanes4.h): lane k is row r + k, every operation safety_row makes. */
typedef struct SafetyLanes {
    AmpV4 x1, y1;
    const double *x[4];
    double *y[4];
} SafetyLanes;

static void safety_lanes_load(const SafetyState *state, const AmpProcessArgs *args, int32_t r, SafetyLanes *L)
{
    const AmpSignal *out = &args->outputs[0];
    const AmpSignal *src = &args->inputs[0].signals[0];
    for (int k = 0; k < 4; ++k) {
        const int32_t b = (r + k) / out->channels;
        const int32_t c = (r + k) % out->channels;
        L->x1[k] = state->x1[r + k];
        L->y1[k] = state->y1[r + k];
        L->x[k] = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
        L->y[k] = amp_signal_row(out, b, c);
    }
}

static void safety_lanes_store(SafetyState *state, int32_t r, const SafetyLanes *L)
{
    for (int k = 0; k < 4; ++k) {
        state->x1[r + k] = L->x1[k];
        state->y1[r + k] = L->y1[k];
    }
}

/* One sample of four rows through the guard and the DC blocker (dc: whether it is on), unclipped. */
static inline __attribute__((always_inline)) AmpV4 safety_lanes_step(SafetyLanes *L, AmpV4 g, AmpV4 r, int dc,
                                                                     AmpV4 x)
{
    const AmpV4 limit = amp_v4(SAFETY_LIMIT);
    AmpV4 v = amp_v4_select(amp_v4_finite(x), x, amp_v4(0.0));
    v = amp_v4_select(v > limit, limit, v);
    v = amp_v4_select(v < -limit, -limit, v);
    AmpV4 w = v;
    if (dc) {
        w = g * (v - L->x1) + r * L->y1;
    }
    L->x1 = v;
    L->y1 = w;
    return w;
}

/* Rows r .. r + 4 * groups - 1 (groups 1 or 2: two chains in flight at once), then their clip. */
AMP_VECTOR_CLONES static void safety_lanes(SafetyState *state, const AmpProcessArgs *args, int32_t r, int groups)
{
    const AmpSignal *out = &args->outputs[0];
    const int32_t b = r / out->channels;
    const int32_t c = r % out->channels;
    safety_coefficients(state, amp_param_row(&args->params[SAFETY_PARAM_DC_CUTOFF], b, c)[0], args->sample_rate);
    const AmpV4 g = amp_v4(state->g);
    const AmpV4 rv = amp_v4(state->r);
    const int dc = state->r < 1.0;
    SafetyLanes lanes[2];
    for (int k = 0; k < groups; ++k) {
        safety_lanes_load(state, args, r + 4 * k, &lanes[k]);
    }
    int32_t f = 0;
    for (; f + 4 <= args->frames; f += 4) {
        AmpV4 t[2][4];
        for (int k = 0; k < groups; ++k) {
            amp_v4_load_tile(lanes[k].x, f, t[k]);
        }
        for (int j = 0; j < 4; ++j) {
            for (int k = 0; k < groups; ++k) {
                t[k][j] = safety_lanes_step(&lanes[k], g, rv, dc, t[k][j]);
            }
        }
        for (int k = 0; k < groups; ++k) {
            amp_v4_store_tile(lanes[k].y, f, t[k]);
        }
    }
    for (; f < args->frames; ++f) {
        for (int k = 0; k < groups; ++k) {
            const AmpV4 w = safety_lanes_step(&lanes[k], g, rv, dc, amp_v4_gather(lanes[k].x, f));
            for (int j = 0; j < 4; ++j) {
                lanes[k].y[j][f] = w[j];
            }
        }
    }
    for (int k = 0; k < groups; ++k) {
        safety_lanes_store(state, r + 4 * k, &lanes[k]);
    }
    const double ce = amp_param_row(&args->params[SAFETY_PARAM_CEILING], b, c)[0];
    const double kn = amp_param_row(&args->params[SAFETY_PARAM_KNEE], b, c)[0];
    /* safety_clip passes |v| <= t unchanged: only rows with a sample above t need it. */
    const double top = ce > 0.0 ? ce : 0.0;
    const double t = (kn < 0.0 ? 0.0 : (kn > 1.0 ? 1.0 : kn)) * top;
    for (int32_t k = 0; k < 4 * groups; ++k) {
        double *y = amp_signal_row(out, (r + k) / out->channels, (r + k) % out->channels);
        int64_t over = 0;
        for (int32_t i = 0; i < args->frames; ++i) {
            over |= fabs(y[i]) <= t ? 0 : 1;
        }
        if (over) {
            for (int32_t i = 0; i < args->frames; ++i) {
                y[i] = safety_clip(y[i], ce, kn);
            }
        }
    }
}
#endif

static int safety_process(void *opaque, const AmpProcessArgs *args)
{
    SafetyState *state = (SafetyState *)opaque;
    const int32_t rows = args->batch * args->outputs[0].channels;
    int32_t r = 0;
#if AMP_LANES4
    if (args->inputs[0].count > 0) {
        while (r + 4 <= rows) {
            if (r + 8 <= rows && safety_shared_settings(args, r, 8)) {
                safety_lanes(state, args, r, 2);
                r += 8;
            } else if (safety_shared_settings(args, r, 4)) {
                safety_lanes(state, args, r, 1);
                r += 4;
            } else {
                safety_row(state, args, r);
                ++r;
            }
        }
    }
#endif
    for (; r < rows; ++r) {
        safety_row(state, args, r);
    }
    return AMP_NODE_OK;
}

static void safety_reset(void *opaque)
{
    safety_reset_rows((SafetyState *)opaque);
}

static void safety_destroy(void *opaque)
{
    SafetyState *state = (SafetyState *)opaque;
    if (state != NULL) {
        free(state->x1);
        free(state->y1);
        free(state);
    }
}

static const AmpPortSpec safety_inputs[] = {
    {"in", "the signal to protect", 0},
};

static const AmpPortSpec safety_outputs[] = {
    {"out", "finite, DC-free, within +-ceiling", 0},
};

static const AmpParamSpec safety_params[] = {
    {"dc_cutoff", 10.0, 0.0, 1.0e5, "Hz", "DC blocker corner; 0 turns it off", NULL, 0},
    {"ceiling", 1.0, 0.0, 1.0e6, "", "the output never exceeds +-ceiling", NULL, 0},
    {"knee", 0.9, 0.0, 1.0, "", "fraction of the ceiling below which samples pass unchanged; 1 hard-clips", NULL,
     0},
};

const AmpNodeSpec amp_node_safety = {
    "safety",
    "Output guard: NaN/Inf become 0, a first-order DC blocker, then a soft clip (tanh above knee * ceiling) "
    "that never exceeds the ceiling.",
    1, safety_inputs,
    1, safety_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    3, safety_params,
    {safety_create, safety_process, safety_reset, safety_destroy, NULL, NULL, NULL},
};
