/* dc_block - the classic DC blocker y[n] = x[n] - x[n-1] + R * y[n-1], a zero at DC and a pole
 * just inside it at R = exp(-2 pi cutoff / sample_rate). */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

typedef struct DcBlockRow {
    double x1, y1;
    double r;
    double cutoff;  /* what `r` was made from; NAN before the first block */
} DcBlockRow;

typedef struct DcBlockState {
    int32_t rows;
    DcBlockRow *row;  /* batch * channels */
} DcBlockState;

static const double kTwoPi = 6.283185307179586476925286766559;

static void dc_block_clear(DcBlockState *state)
{
    for (int32_t r = 0; r < state->rows; ++r) {
        state->row[r].x1 = state->row[r].y1 = 0.0;
        state->row[r].cutoff = NAN;
    }
}

static int dc_block_create(const AmpNodeSetup *setup, void **out_state)
{
    DcBlockState *state = (DcBlockState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->rows = setup->batch * setup->output_channels;
    state->row = (DcBlockRow *)amp_node_calloc((size_t)state->rows, sizeof(DcBlockRow));
    if (state->row == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    dc_block_clear(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static int dc_block_process(void *opaque, const AmpProcessArgs *args)
{
    DcBlockState *state = (DcBlockState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *in = &args->inputs[0];
    const AmpParamView *pf = &args->params[0];
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            DcBlockRow *row = &state->row[b * out->channels + c];
            double *y = amp_signal_row(out, b, c);
            const double *x = NULL;
            if (in->count > 0) {
                const AmpSignal *src = &in->signals[0];
                x = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
            }
            const double *f = amp_param_row(pf, b, c);
            double x1 = row->x1;
            double y1 = row->y1;
            if (pf->stride_frame == 0) {
                if (f[0] != row->cutoff) {
                    row->cutoff = f[0];
                    row->r = exp(-kTwoPi * f[0] / args->sample_rate);
                }
                const double r = row->r;
                for (int32_t n = 0; n < args->frames; ++n) {
                    const double xn = x ? x[n] : 0.0;
                    y1 = xn - x1 + r * y1;
                    x1 = xn;
                    y[n] = y1;
                }
            } else {
                for (int32_t n = 0; n < args->frames; ++n) {
                    const double fn = f[n * pf->stride_frame];
                    if (fn != row->cutoff) {
                        row->cutoff = fn;
                        row->r = exp(-kTwoPi * fn / args->sample_rate);
                    }
                    const double xn = x ? x[n] : 0.0;
                    y1 = xn - x1 + row->r * y1;
                    x1 = xn;
                    y[n] = y1;
                }
            }
            row->x1 = x1;
            row->y1 = y1;
        }
    }
    return AMP_NODE_OK;
}

static void dc_block_reset(void *opaque)
{
    dc_block_clear((DcBlockState *)opaque);
}

static void dc_block_destroy(void *opaque)
{
    DcBlockState *state = (DcBlockState *)opaque;
    if (state != NULL) {
        free(state->row);
        free(state);
    }
}

static const AmpPortSpec dc_block_inputs[] = {
    {"in", "the signal to clean; a mono input feeds every channel", 0},
};

static const AmpPortSpec dc_block_outputs[] = {
    {"out", "the input without its DC component", 0},
};

static const AmpParamSpec dc_block_params[] = {
    {"cutoff", 10.0, 0.0, 1.0e5, "Hz", "where the highpass turns over: the pole is exp(-2 pi cutoff / sample rate)",
     NULL, 0},
};

const AmpNodeSpec amp_node_dc_block = {
    "dc_block",
    "DC blocker y[n] = x[n] - x[n-1] + R y[n-1], R = exp(-2 pi cutoff / sample rate).",
    1, dc_block_inputs,
    1, dc_block_outputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    1, dc_block_params,
    {dc_block_create, dc_block_process, dc_block_reset, dc_block_destroy, NULL, NULL, NULL},
};
