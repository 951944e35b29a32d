/* envelope - an AHDSR envelope driven by trigger, gate and velocity signals.
 *
 * A note starts on the sample where trigger or gate rises through 0.5 (from below 0.5 to >= 0.5).
 * Its peak is the velocity input on that sample (1 when velocity is not connected). From that
 * sample on, with lengths in whole samples N = round(time * sample_rate) read when each stage
 * begins:
 *   attack   N_a samples, linear from the level before the note to the peak;
 *   hold     N_h samples at the peak;
 *   decay    N_d samples from the peak to sustain * peak;
 *   sustain  sustain * peak (following the parameter) while the gate is >= 0.5;
 *   release  N_r samples from the level where it starts to 0; then 0 until the next note.
 * Sample k (0-based) of a stage of N samples going from s to e is s + (e - s) shape((k + 1) / N),
 * so every stage ends exactly on its target on its last sample and the next stage starts on the
 * following one. shape(u) = u for the attack, and for decay and release when curve = 0, else
 * (1 - exp(-curve u)) / (1 - exp(-curve)) (fast first, like an RC discharge). A stage of 0
 * samples is skipped.
 * The gate falling below 0.5 during attack, hold, decay or sustain starts the release on that
 * sample. When decay ends with the gate low (or not connected: a trigger alone plays attack, hold,
 * decay, then release) the release follows at once.
 * Retrigger: a note starting while another sounds restarts the attack from the current level
 * (no jump to 0), taking the full attack time, with the new velocity as peak.
 * Outputs: level, and reset, which is 1 on each sample where a note starts and 0 elsewhere. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

enum { ENV_PARAM_ATTACK, ENV_PARAM_HOLD, ENV_PARAM_DECAY, ENV_PARAM_SUSTAIN, ENV_PARAM_RELEASE, ENV_PARAM_CURVE };
enum { ENV_INPUT_TRIGGER, ENV_INPUT_GATE, ENV_INPUT_VELOCITY };
enum { ENV_IDLE, ENV_ATTACK, ENV_HOLD, ENV_DECAY, ENV_SUSTAIN, ENV_RELEASE };

typedef struct EnvRow {
    int32_t stage;
    int64_t k;      /* samples of the stage done */
    int64_t length; /* samples in the stage */
    double start;
    double target;
    double curve;   /* shape of the stage: 0 linear */
    double norm;    /* 1 - exp(-curve), the shape's denominator, made once per stage */
    double peak;
    double level;   /* the last sample's level */
    double trigger_prev;
    double gate_prev;
} EnvRow;

typedef struct EnvState {
    int32_t batch;
    EnvRow *rows;
} EnvState;

static void env_reset_rows(EnvState *state)
{
    for (int32_t b = 0; b < state->batch; ++b) {
        state->rows[b] = (EnvRow){ENV_IDLE, 0, 0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0};
    }
}

static int env_create(const AmpNodeSetup *setup, void **out_state)
{
    EnvState *state = (EnvState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->rows = (EnvRow *)amp_node_calloc((size_t)setup->batch, sizeof(EnvRow));
    if (state->rows == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    env_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static inline int64_t env_samples(double seconds, double sample_rate)
{
    const double n = seconds * sample_rate;
    if (!(n > 0.0)) {
        return 0;
    }
    return n > 4.0e15 ? (int64_t)4.0e15 : (int64_t)llround(n);
}

static void env_enter(EnvRow *row, int32_t stage, int64_t length, double target, double curve)
{
    row->stage = stage;
    row->k = 0;
    row->length = length;
    row->start = row->level;
    row->target = target;
    row->curve = curve > 0.0 ? curve : 0.0;
    row->norm = row->curve > 0.0 ? 1.0 - exp(-row->curve) : 0.0;
}

/* The parameters at the current sample, read when a stage begins. */
typedef struct EnvParams {
    double attack, hold, decay, sustain, release, curve, sample_rate;
} EnvParams;

static void env_next_stage(EnvRow *row, const EnvParams *p, int held)
{
    switch (row->stage) {
    case ENV_ATTACK:
        env_enter(row, ENV_HOLD, env_samples(p->hold, p->sample_rate), row->peak, 0.0);
        break;
    case ENV_HOLD:
        env_enter(row, ENV_DECAY, env_samples(p->decay, p->sample_rate), p->sustain * row->peak, p->curve);
        break;
    case ENV_DECAY:
        if (held) {
            env_enter(row, ENV_SUSTAIN, 0, p->sustain * row->peak, 0.0);
        } else {
            env_enter(row, ENV_RELEASE, env_samples(p->release, p->sample_rate), 0.0, p->curve);
        }
        break;
    default:
        env_enter(row, ENV_IDLE, 0, 0.0, 0.0);
        break;
    }
}

static inline double env_shape(double u, double curve, double norm)
{
    if (curve <= 0.0) {
        return u;
    }
    return (1.0 - exp(-curve * u)) / norm;
}

/* The next n samples of a timed stage, none of them its last: the state machine's values, each
 * sample on its own (so the CPU overlaps their exp and divisions). */
static void env_stage_run(EnvRow *row, double *restrict y, double *restrict pulse, int32_t n)
{
    const double start = row->start;
    const double span = row->target - row->start;
    const double length = (double)row->length;
    const int64_t k = row->k;
    if (row->curve <= 0.0) {
        for (int32_t i = 0; i < n; ++i) {
            y[i] = start + span * ((double)(k + 1 + i) / length);
            pulse[i] = 0.0;
        }
    } else {
        const double curve = row->curve;
        const double norm = row->norm;
        for (int32_t i = 0; i < n; ++i) {
            y[i] = start + span * env_shape((double)(k + 1 + i) / length, curve, norm);
            pulse[i] = 0.0;
        }
    }
    row->k = k + n;
    row->level = y[n - 1];
}

/* Whether a sample with inputs (t, g) after one with (tp, gp) starts a note or moves the gate. */
static inline int env_moves(double tp, double gp, double t, double g)
{
    return (tp < 0.5 && t >= 0.5) | (gp < 0.5 && g >= 0.5) | (gp >= 0.5 && !(g >= 0.5));
}

/* The first sample from f on where a note starts or the gate is released, or `frames`: before it,
 * an idle or sustaining row changes nothing but its inputs' previous values. With both inputs
 * connected, eight samples are tested at a time (a loop that may leave after any sample does not
 * vectorize, an OR of eight does). */
static int32_t env_quiet_until(const EnvRow *row, const double *tr, const double *gt, int32_t f, int32_t frames)
{
    double tp = row->trigger_prev;
    double gp = row->gate_prev;
    if (tr != NULL && gt != NULL && f < frames) {
        if (env_moves(tp, gp, tr[f], gt[f])) {
            return f;
        }
        for (++f; f + 8 <= frames; f += 8) {
            int any = 0;
            for (int32_t k = 0; k < 8; ++k) {
                any |= env_moves(tr[f + k - 1], gt[f + k - 1], tr[f + k], gt[f + k]);
            }
            if (any) {
                break;
            }
        }
        for (; f < frames; ++f) {
            if (env_moves(tr[f - 1], gt[f - 1], tr[f], gt[f])) {
                return f;
            }
        }
        return frames;
    }
    for (; f < frames; ++f) {
        const double t = tr != NULL ? tr[f] : 0.0;
        const double g = gt != NULL ? gt[f] : 0.0;
        if (env_moves(tp, gp, t, g)) {
            return f;
        }
        tp = t;
        gp = g;
    }
    return frames;
}

static int env_process(void *opaque, const AmpProcessArgs *args)
{
    EnvState *state = (EnvState *)opaque;
    const AmpSignal *level_out = &args->outputs[0];
    const AmpSignal *reset_out = &args->outputs[1];
    const AmpInputPort *trigger = &args->inputs[ENV_INPUT_TRIGGER];
    const AmpInputPort *gate = &args->inputs[ENV_INPUT_GATE];
    const AmpInputPort *velocity = &args->inputs[ENV_INPUT_VELOCITY];
    const AmpParamView *pv = args->params;
    for (int32_t b = 0; b < args->batch; ++b) {
        EnvRow *row = &state->rows[b];
        double *y = amp_signal_row(level_out, b, 0);
        double *pulse = amp_signal_row(reset_out, b, 0);
        const double *tr = trigger->count > 0 ? amp_signal_row(&trigger->signals[0], b, 0) : NULL;
        const double *gt = gate->count > 0 ? amp_signal_row(&gate->signals[0], b, 0) : NULL;
        const double *vl = velocity->count > 0 ? amp_signal_row(&velocity->signals[0], b, 0) : NULL;
        const double *attack = amp_param_row(&pv[ENV_PARAM_ATTACK], b, 0);
        const double *hold = amp_param_row(&pv[ENV_PARAM_HOLD], b, 0);
        const double *decay = amp_param_row(&pv[ENV_PARAM_DECAY], b, 0);
        const double *sustain = amp_param_row(&pv[ENV_PARAM_SUSTAIN], b, 0);
        const double *release = amp_param_row(&pv[ENV_PARAM_RELEASE], b, 0);
        const double *curve = amp_param_row(&pv[ENV_PARAM_CURVE], b, 0);
        int32_t f = 0;
        while (f < args->frames) {
            /* Idle or sustaining until the trigger or the gate crosses 0.5: the same values as
             * the state machine below gives sample by sample, without it. */
            if (row->stage == ENV_IDLE || row->stage == ENV_SUSTAIN) {
                const int32_t end = env_quiet_until(row, tr, gt, f, args->frames);
                if (end > f) {
                    const ptrdiff_t ss = pv[ENV_PARAM_SUSTAIN].stride_frame;
                    for (int32_t i = f; i < end; ++i) {
                        y[i] = row->stage == ENV_IDLE ? 0.0 : sustain[i * ss] * row->peak;
                        pulse[i] = 0.0;
                    }
                    row->level = y[end - 1];
                    row->trigger_prev = tr != NULL ? tr[end - 1] : 0.0;
                    row->gate_prev = gt != NULL ? gt[end - 1] : 0.0;
                    f = end;
                    continue;
                }
            }
            if (row->stage != ENV_IDLE && row->stage != ENV_SUSTAIN && row->k + 1 < row->length) {
                /* Inside a stage, before its last sample, until the trigger or the gate crosses
                 * 0.5: only the level moves, along the stage's shape. */
                const int32_t end = env_quiet_until(row, tr, gt, f, args->frames);
                const int64_t left = row->length - 1 - row->k;
                const int32_t n = (int64_t)(end - f) < left ? end - f : (int32_t)left;
                if (n > 0) {
                    env_stage_run(row, y + f, pulse + f, n);
                    row->trigger_prev = tr != NULL ? tr[f + n - 1] : 0.0;
                    row->gate_prev = gt != NULL ? gt[f + n - 1] : 0.0;
                    f += n;
                    continue;
                }
            }
            const EnvParams p = {
                attack[f * pv[ENV_PARAM_ATTACK].stride_frame], hold[f * pv[ENV_PARAM_HOLD].stride_frame],
                decay[f * pv[ENV_PARAM_DECAY].stride_frame],   sustain[f * pv[ENV_PARAM_SUSTAIN].stride_frame],
                release[f * pv[ENV_PARAM_RELEASE].stride_frame], curve[f * pv[ENV_PARAM_CURVE].stride_frame],
                args->sample_rate};
            const double t = tr != NULL ? tr[f] : 0.0;
            const double g = gt != NULL ? gt[f] : 0.0;
            const int held = g >= 0.5;
            const int started = (row->trigger_prev < 0.5 && t >= 0.5) || (row->gate_prev < 0.5 && held);
            const int released = row->gate_prev >= 0.5 && !held;
            row->trigger_prev = t;
            row->gate_prev = g;
            pulse[f] = started ? 1.0 : 0.0;
            if (started) {
                double v = vl != NULL ? vl[f] : 1.0;
                row->peak = isfinite(v) ? v : 0.0;
                env_enter(row, ENV_ATTACK, env_samples(p.attack, p.sample_rate), row->peak, 0.0);
            } else if (released && row->stage != ENV_IDLE && row->stage != ENV_RELEASE) {
                env_enter(row, ENV_RELEASE, env_samples(p.release, p.sample_rate), 0.0, p.curve);
            }
            while (row->stage != ENV_IDLE && row->stage != ENV_SUSTAIN && row->k >= row->length) {
                /* A finished (or empty) stage: its target is where the next one starts. */
                row->level = row->target;
                env_next_stage(row, &p, held);
            }
            if (row->stage == ENV_IDLE) {
                row->level = 0.0;
            } else if (row->stage == ENV_SUSTAIN) {
                row->level = p.sustain * row->peak;
            } else {
                const double u = (double)(row->k + 1) / (double)row->length;
                row->level = row->k + 1 == row->length ? row->target
                                                         : row->start + (row->target - row->start) *
                                                                            env_shape(u, row->curve, row->norm);
                ++row->k;
            }
            y[f] = row->level;
            ++f;
        }
    }
    return AMP_NODE_OK;
}

static void env_reset(void *opaque)
{
    env_reset_rows((EnvState *)opaque);
}

static void env_destroy(void *opaque)
{
    EnvState *state = (EnvState *)opaque;
    if (state != NULL) {
        free(state->rows);
        free(state);
    }
}

static const AmpPortSpec env_inputs[] = {
    {"trigger", "a rise through 0.5 starts a note (attack, hold, decay, then release unless the gate holds)", 0},
    {"gate", "a rise through 0.5 starts a note; the note sustains while >= 0.5 and releases when it falls", 0},
    {"velocity", "the note's peak level, read on the sample it starts (1 when not connected)", 0},
};

static const AmpPortSpec env_outputs[] = {
    {"level", "the envelope", 0},
    {"reset", "1 on each sample where a note starts, else 0", 0},
};

static const AmpParamSpec env_params[] = {
    {"attack", 0.01, 0.0, 3600.0, "s", "rise from the current level to the peak (linear)", NULL, 0},
    {"hold", 0.0, 0.0, 3600.0, "s", "time at the peak", NULL, 0},
    {"decay", 0.1, 0.0, 3600.0, "s", "fall from the peak to sustain * peak", NULL, 0},
    {"sustain", 0.7, 0.0, 1.0, "", "level while the gate is held, as a fraction of the peak", NULL, 0},
    {"release", 0.2, 0.0, 3600.0, "s", "fall to 0 once the gate is released", NULL, 0},
    {"curve", 0.0, 0.0, 50.0, "", "decay and release shape: 0 linear, > 0 exponential (fast first)", NULL, 0},
};

const AmpNodeSpec amp_node_envelope = {
    "envelope",
    "AHDSR envelope: a rise of trigger or gate through 0.5 starts a note at the velocity's level; stages "
    "last round(time * sample_rate) samples and end exactly on their targets; retrigger restarts the attack "
    "from the current level. Outputs the level and a reset pulse.",
    3, env_inputs,
    2, env_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    6, env_params,
    {env_create, env_process, env_reset, env_destroy, NULL, NULL, NULL},
};
