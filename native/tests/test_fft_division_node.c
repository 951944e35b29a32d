/* test_fft_division_node.c - the fft_division kernel driven directly: dividing by a unit impulse
 * returns the numerator, deconvolving an FIR's output by the FIR recovers its input, each batch row
 * keeps its own divisor, and the block size does not change a sample. */
#include "amp_node.h"
#include "test_util.h"

#include <math.h>
#include <string.h>

enum { HOP = 32, N = 4 * HOP, LATENCY = N, FRAMES = 3000, BATCH = 2 };

static double lcg_noise(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*state >> 11) / 9007199254740992.0 - 0.5;
}

/* Runs the kernel over FRAMES samples in blocks of `block`; a and b are [BATCH][FRAMES]. */
static int run(const AmpNodeSpec *spec, int32_t block, const double *a, const double *b, double *out)
{
    const int32_t input_channels[2] = {1, 1};
    const double params[2] = {HOP, 1.0e-12};
    AmpNodeSetup setup;
    memset(&setup, 0, sizeof(setup));
    setup.batch = BATCH;
    setup.max_frames = block;
    setup.sample_rate = 48000.0;
    setup.output_channels = 1;
    setup.input_channels = input_channels;
    setup.initial_params = params;
    void *state = NULL;
    if (spec->ops.create(&setup, &state) != AMP_NODE_OK) {
        return 1;
    }
    static double in_a[BATCH * FRAMES], in_b[BATCH * FRAMES], y[BATCH * FRAMES];
    char message[256];
    int status = 0;
    for (int32_t offset = 0; offset < FRAMES && status == 0; offset += block) {
        const int32_t frames = FRAMES - offset < block ? FRAMES - offset : block;
        for (int32_t r = 0; r < BATCH; ++r) {
            memcpy(in_a + r * block, a + r * FRAMES + offset, (size_t)frames * sizeof(double));
            memcpy(in_b + r * block, b + r * FRAMES + offset, (size_t)frames * sizeof(double));
        }
        const AmpSignal sa = {in_a, 1, block};
        const AmpSignal sb = {in_b, 1, block};
        const AmpSignal so = {y, 1, block};
        const AmpInputPort ports[2] = {{&sa, 1}, {&sb, 1}};
        AmpProcessArgs args;
        memset(&args, 0, sizeof(args));
        args.batch = BATCH;
        args.frames = frames;
        args.sample_rate = 48000.0;
        args.inputs = ports;
        args.outputs = &so;
        args.message = message;
        args.message_size = sizeof(message);
        status = spec->ops.process(state, &args);
        for (int32_t r = 0; r < BATCH; ++r) {
            memcpy(out + r * FRAMES + offset, y + r * block, (size_t)frames * sizeof(double));
        }
    }
    spec->ops.destroy(state);
    return status;
}

static double max_error_after_latency(const double *y, const double *x)
{
    double worst = 0.0;
    for (int32_t n = LATENCY; n < FRAMES; ++n) {
        worst = fmax(worst, fabs(y[n] - x[n - LATENCY]));
    }
    return worst;
}

int main(void)
{
    const AmpNodeSpec *spec = amp_catalogue_find("fft_division", strlen("fft_division"));
    CHECK(spec != NULL);
    if (spec == NULL) {
        return TEST_RESULT();
    }
    static double x[BATCH * FRAMES], a[BATCH * FRAMES], b[BATCH * FRAMES], y[BATCH * FRAMES], z[BATCH * FRAMES];
    uint64_t seed = 12345;
    for (int32_t i = 0; i < BATCH * FRAMES; ++i) {
        x[i] = lcg_noise(&seed);
    }
    /* Row 0: a = x, b = unit impulse. Row 1: a = x1 * h, b = h (a minimum-phase FIR). */
    const double h[3] = {1.0, -0.5, 0.25};
    memset(b, 0, sizeof(b));
    b[0] = 1.0;
    for (int32_t k = 0; k < 3; ++k) {
        b[FRAMES + k] = h[k];
    }
    for (int32_t n = 0; n < FRAMES; ++n) {
        a[n] = x[n];
        double acc = 0.0;
        for (int32_t k = 0; k < 3 && k <= n; ++k) {
            acc += h[k] * x[FRAMES + n - k];
        }
        a[FRAMES + n] = acc;
    }

    CHECK_EQ_INT(run(spec, 256, a, b, y), AMP_NODE_OK);
    const double impulse_error = max_error_after_latency(y, x);
    const double fir_error = max_error_after_latency(y + FRAMES, x + FRAMES);
    printf("divide by impulse: max error %.3g; deconvolve FIR: max error %.3g\n", impulse_error, fir_error);
    CHECK(impulse_error < 1e-9);
    CHECK(fir_error < 1e-9);
    for (int32_t n = 0; n < LATENCY; ++n) {
        CHECK(fabs(y[n]) < 1e-12);
    }

    const int32_t blocks[3] = {1, 13, 1000};
    for (int i = 0; i < 3; ++i) {
        CHECK_EQ_INT(run(spec, blocks[i], a, b, z), AMP_NODE_OK);
        CHECK(memcmp(y, z, sizeof(y)) == 0);
    }
    return TEST_RESULT();
}
