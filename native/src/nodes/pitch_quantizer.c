/* pitch_quantizer - snaps a frequency to a grid of cents around a root, with a constant-time glide.
 *
 * The frequency quantized is f = pitch + in (Hz; bind `pitch` to the control key "pitch" or feed
 * a signal to `in`). With c = 1200 log2(f / root), the target is
 *     root * 2^(grid * floor(c / grid + 1/2) / 1200)      (grid > 0; ties round up)
 *     f                                                    (grid = 0: no quantizing)
 * so grid = 100 with root = 440 is twelve-tone equal temperament at A440. When the target changes
 * and slew > 0, the output glides there linearly in cents over round(slew * sample_rate) samples,
 * reaching it exactly on the last one; a new target during a glide starts a new glide from where
 * the output is. f <= 0 (or not finite) gives 0 Hz at once, and the next note after it jumps
 * without a glide. */
#include "../amp_node.h"
#include "../dsp/rows.h"

#include <math.h>
#include <stdlib.h>

enum { PQ_PARAM_PITCH, PQ_PARAM_GRID, PQ_PARAM_ROOT, PQ_PARAM_SLEW };

typedef struct PqRow {
    double f;        /* the input the target was made for, with the grid and root */
    double grid;
    double root;
    double target;   /* cents above root; meaningless while silent */
    int32_t silent;  /* the output is 0 Hz */
    double cents;    /* the output, in cents above root */
    double out;      /* the output in Hz */
    double from;     /* glide start, cents */
    int64_t k;       /* glide samples done */
    int64_t length;  /* glide samples, 0 when not gliding */
} PqRow;

typedef struct PqState {
    int32_t batch;
    PqRow *rows;
    int32_t *leader; /* per row: the row whose block it copies (rows.h) */
} PqState;

static void pq_reset_rows(PqState *state)
{
    for (int32_t b = 0; b < state->batch; ++b) {
        state->rows[b] = (PqRow){NAN, NAN, NAN, 0.0, 1, 0.0, 0.0, 0.0, 0, 0};
    }
}

static int pq_create(const AmpNodeSetup *setup, void **out_state)
{
    PqState *state = (PqState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->rows = (PqRow *)amp_node_calloc((size_t)setup->batch, sizeof(PqRow));
    state->leader = (int32_t *)amp_node_calloc((size_t)setup->batch, sizeof(int32_t));
    if (state->rows == NULL || state->leader == NULL) {
        free(state->rows);
        free(state->leader);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    pq_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static inline double pq_hz(double root, double cents)
{
    return root * exp2(cents / 1200.0);
}

/* Takes a new input (already known to differ from the row's) and sets the target. */
static void pq_retarget(PqRow *row, double f, double grid, double root, double slew, double sample_rate)
{
    row->f = f;
    row->grid = grid;
    row->root = root;
    if (!(f > 0.0) || !isfinite(f) || !(root > 0.0) || !isfinite(root)) {
        row->silent = 1;
        row->length = 0;
        row->out = 0.0;
        return;
    }
    const double c = 1200.0 * log2(f / root);
    const double target = grid > 0.0 ? grid * floor(c / grid + 0.5) : c;
    if (target == row->target && !row->silent) {
        if (row->length == 0) { /* the same note, but the root (so the Hz) may have moved */
            row->out = grid > 0.0 ? pq_hz(root, target) : f;
        }
        return;
    }
    const double glide = slew * sample_rate;
    if (row->silent || !(glide >= 0.5) || !isfinite(glide)) {
        row->cents = target;
        row->length = 0;
        row->out = grid > 0.0 ? pq_hz(root, target) : f;
    } else {
        row->from = row->cents;
        row->k = 0;
        row->length = glide > 4.0e15 ? (int64_t)4.0e15 : (int64_t)llround(glide);
    }
    row->target = target;
    row->silent = 0;
}

static void pq_row(PqState *state, const AmpProcessArgs *args, int32_t b)
{
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pitch = &args->params[PQ_PARAM_PITCH];
    const AmpParamView *grid = &args->params[PQ_PARAM_GRID];
    const AmpParamView *root = &args->params[PQ_PARAM_ROOT];
    const AmpParamView *slew = &args->params[PQ_PARAM_SLEW];
    PqRow *row = &state->rows[b];
    double *y = amp_signal_row(out, b, 0);
    const double *x = in->count > 0 ? amp_signal_row(&in->signals[0], b, 0) : NULL;
    const double *pt = amp_param_row(pitch, b, 0);
    const double *gr = amp_param_row(grid, b, 0);
    const double *rt = amp_param_row(root, b, 0);
    const double *sl = amp_param_row(slew, b, 0);
    for (int32_t f = 0; f < args->frames; ++f) {
        const double freq = pt[f * pitch->stride_frame] + (x != NULL ? x[f] : 0.0);
        const double g = gr[f * grid->stride_frame];
        const double r = rt[f * root->stride_frame];
        if (freq != row->f || g != row->grid || r != row->root) {
            pq_retarget(row, freq, g, r, sl[f * slew->stride_frame], args->sample_rate);
        }
        if (!row->silent && row->length > 0) {
            ++row->k;
            if (row->k >= row->length) {
                row->cents = row->target;
                row->length = 0;
                row->out = row->grid > 0.0 ? pq_hz(row->root, row->target) : row->f;
            } else {
                row->cents = row->from + (row->target - row->from) * ((double)row->k / (double)row->length);
                row->out = pq_hz(row->root, row->cents);
            }
        }
        y[f] = row->out;
    }
}

static int pq_same_state(const PqRow *a, const PqRow *b)
{
    return AMP_ROWS_SAME(a->f, b->f) && AMP_ROWS_SAME(a->grid, b->grid) && AMP_ROWS_SAME(a->root, b->root) &&
           AMP_ROWS_SAME(a->target, b->target) && a->silent == b->silent && AMP_ROWS_SAME(a->cents, b->cents) &&
           AMP_ROWS_SAME(a->out, b->out) && AMP_ROWS_SAME(a->from, b->from) && a->k == b->k &&
           a->length == b->length;
}

typedef struct PqRows {
    const PqState *state;
    const AmpProcessArgs *args;
} PqRows;

static int pq_same_rows(const void *context, int32_t a, int32_t b)
{
    const PqRows *rows = (const PqRows *)context;
    const AmpProcessArgs *args = rows->args;
    const int32_t n = args->frames;
    return pq_same_state(&rows->state->rows[a], &rows->state->rows[b]) &&
           amp_rows_same_param(&args->params[PQ_PARAM_PITCH], a, b, 0, n) &&
           amp_rows_same_param(&args->params[PQ_PARAM_GRID], a, b, 0, n) &&
           amp_rows_same_param(&args->params[PQ_PARAM_ROOT], a, b, 0, n) &&
           amp_rows_same_param(&args->params[PQ_PARAM_SLEW], a, b, 0, n) &&
           amp_rows_same_input(&args->inputs[0], a, b, n);
}

/* Rows with the same state, parameters and input (rows.h) are computed once and copied. */
static int pq_process(void *opaque, const AmpProcessArgs *args)
{
    PqState *state = (PqState *)opaque;
    const PqRows context = {state, args};
    const int32_t leaders = args->batch > 1 ? amp_rows_group(args->batch, state->leader, pq_same_rows, &context)
                                            : args->batch;
    const AmpSignal *out = &args->outputs[0];
    for (int32_t b = 0; b < args->batch; ++b) {
        const int32_t l = leaders == args->batch ? b : state->leader[b];
        if (l == b) {
            pq_row(state, args, b);
        } else {
            state->rows[b] = state->rows[l];
            amp_rows_copy(amp_signal_row(out, b, 0), amp_signal_row(out, l, 0), args->frames);
        }
    }
    return AMP_NODE_OK;
}

static void pq_reset(void *opaque)
{
    pq_reset_rows((PqState *)opaque);
}

static void pq_destroy(void *opaque)
{
    PqState *state = (PqState *)opaque;
    if (state != NULL) {
        free(state->rows);
        free(state->leader);
        free(state);
    }
}

static const AmpPortSpec pq_inputs[] = {
    {"in", "frequency in Hz, added to pitch", 0},
};

static const AmpPortSpec pq_outputs[] = {
    {"out", "the quantized frequency in Hz", 0},
};

static const AmpParamSpec pq_params[] = {
    {"pitch", 440.0, -1.0e6, 1.0e6, "Hz", "frequency to quantize (plus the input); bind to the key \"pitch\"", NULL,
     0},
    {"grid", 100.0, 0.0, 2400.0, "cents", "grid step; 100 is the equal-tempered semitone, 0 no quantizing", NULL, 0},
    {"root", 440.0, 1.0e-3, 1.0e6, "Hz", "a frequency on the grid", NULL, 0},
    {"slew", 0.0, 0.0, 60.0, "s", "glide time to a new note, linear in cents; 0 jumps", NULL, 0},
};

const AmpNodeSpec amp_node_pitch_quantizer = {
    "pitch_quantizer",
    "Snaps pitch + in (Hz) to root * 2^(grid k / 1200), the nearest k (ties up), and glides to each new "
    "note in slew seconds, linearly in cents. Output in Hz.",
    1, pq_inputs,
    1, pq_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    4, pq_params,
    {pq_create, pq_process, pq_reset, pq_destroy, NULL, NULL, NULL},
};
