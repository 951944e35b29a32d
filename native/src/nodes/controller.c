/* controller - a control-history key as a signal.
 *
 * Bind its `value` to a key (AudioGraph.bind_control("ctl", "value", "gate"), or
 * amp.app.add_controller) and the output follows that key's curve: an event at time t takes effect
 * at sample round(t * sample_rate), held (step) or ramped (linear) as the key's interpolation says;
 * before the first event the output is the descriptor's value. `smoothing` adds a one-pole lag
 * against zipper noise: y += (1 - exp(-1 / (smoothing * sample_rate))) * (value - y), starting
 * from the first sample's value; 0 passes the curve through unchanged. */
#include "../amp_node.h"

#include <math.h>
#include <stdlib.h>

enum { CONTROLLER_PARAM_VALUE, CONTROLLER_PARAM_SMOOTHING };

typedef struct ControllerState {
    int32_t batch;
    int32_t *started; /* per row: whether y holds a value yet */
    double *y;
    double smoothing; /* the time constant the coefficient was made for */
    double coefficient;
} ControllerState;

static void controller_reset_rows(ControllerState *state)
{
    for (int32_t b = 0; b < state->batch; ++b) {
        state->started[b] = 0;
        state->y[b] = 0.0;
    }
}

static int controller_create(const AmpNodeSetup *setup, void **out_state)
{
    ControllerState *state = (ControllerState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->started = (int32_t *)amp_node_calloc((size_t)setup->batch, sizeof(int32_t));
    state->y = (double *)amp_node_calloc((size_t)setup->batch, sizeof(double));
    if (state->started == NULL || state->y == NULL) {
        free(state->started);
        free(state->y);
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    state->smoothing = -1.0;
    controller_reset_rows(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static inline double controller_coefficient(ControllerState *state, double smoothing, double sample_rate)
{
    if (smoothing != state->smoothing) {
        state->smoothing = smoothing;
        state->coefficient = smoothing > 0.0 ? 1.0 - exp(-1.0 / (smoothing * sample_rate)) : 1.0;
    }
    return state->coefficient;
}

static int controller_process(void *opaque, const AmpProcessArgs *args)
{
    ControllerState *state = (ControllerState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *value = &args->params[CONTROLLER_PARAM_VALUE];
    const AmpParamView *smoothing = &args->params[CONTROLLER_PARAM_SMOOTHING];
    for (int32_t b = 0; b < args->batch; ++b) {
        double *y = amp_signal_row(out, b, 0);
        const double *v = amp_param_row(value, b, 0);
        const double *sm = amp_param_row(smoothing, b, 0);
        const ptrdiff_t vs = value->stride_frame;
        if (smoothing->stride_frame == 0 && !(sm[0] > 0.0)) {
            for (int32_t f = 0; f < args->frames; ++f) {
                y[f] = v[f * vs];
            }
            if (args->frames > 0) {
                state->y[b] = y[args->frames - 1];
                state->started[b] = 1;
            }
            continue;
        }
        double level = state->y[b];
        for (int32_t f = 0; f < args->frames; ++f) {
            const double target = v[f * vs];
            if (!state->started[b]) {
                level = target;
                state->started[b] = 1;
            }
            level += controller_coefficient(state, sm[f * smoothing->stride_frame], args->sample_rate) *
                     (target - level);
            y[f] = level;
        }
        state->y[b] = level;
    }
    return AMP_NODE_OK;
}

static void controller_reset(void *opaque)
{
    controller_reset_rows((ControllerState *)opaque);
}

static void controller_destroy(void *opaque)
{
    ControllerState *state = (ControllerState *)opaque;
    if (state != NULL) {
        free(state->started);
        free(state->y);
        free(state);
    }
}

static const AmpPortSpec controller_outputs[] = {
    {"out", "the value's curve, smoothed", 0},
};

static const AmpParamSpec controller_params[] = {
    {"value", 0.0, -1.0e12, 1.0e12, "", "bind to a control key; the value before its first event", NULL, 0},
    {"smoothing", 0.0, 0.0, 60.0, "s", "one-pole lag time constant; 0 passes the curve through", NULL, 0},
};

const AmpNodeSpec amp_node_controller = {
    "controller",
    "A control key as a signal: bind `value` to the key (AudioGraph.bind_control) and the output follows "
    "its curve, optionally smoothed by a one-pole lag.",
    0, NULL,
    1, controller_outputs,
    AMP_CHANNELS_FIXED, 1,
    0,
    2, controller_params,
    {controller_create, controller_process, controller_reset, controller_destroy, NULL, NULL, NULL},
};
