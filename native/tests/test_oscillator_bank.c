/* oscillator_bank: every instruction-set kernel this machine can run gives the same bits, for
 * steady and audio-rate frequencies, lane counts that are and are not a multiple of eight, and
 * several batch rows. */
#include "amp_node.h"
#include "test_util.h"

#include <math.h>
#include <string.h>

int amp_oscillator_bank_cap_isa(int level);

enum { FRAMES = 700, BLOCK = 128, BATCH = 2 };

/* Renders FRAMES frames in blocks of BLOCK; freq_ramp != 0 makes the frequency audio-rate. */
static int render(const AmpNodeSpec *spec, const double *ratios, int lanes, int freq_ramp, double *out)
{
    double initial[4] = {110.0, 0.5, 0.25, 0.0};
    AmpNodeSetup setup;
    memset(&setup, 0, sizeof(setup));
    setup.batch = BATCH;
    setup.max_frames = BLOCK;
    setup.sample_rate = 48000.0;
    setup.output_channels = 1;
    setup.initial_params = initial;
    setup.data = ratios;
    setup.data_size = (size_t)lanes * sizeof(double);
    void *state = NULL;
    if (spec->ops.create(&setup, &state) != AMP_NODE_OK) {
        return 1;
    }
    static double block[BATCH * BLOCK];
    static double freq[BATCH * BLOCK];
    const double amp = 0.5;
    char message[128];
    for (int start = 0; start < FRAMES; start += BLOCK) {
        const int frames = FRAMES - start < BLOCK ? FRAMES - start : BLOCK;
        for (int b = 0; b < BATCH; ++b) {
            for (int f = 0; f < frames; ++f) {
                freq[b * BLOCK + f] = 110.0 * (b + 1) + freq_ramp * 3.0 * (start + f);
            }
        }
        AmpSignal signal = {block, 1, BLOCK};
        AmpParamView params[4] = {
            {freq, BLOCK, 0, freq_ramp ? 1 : 0},
            {&amp, 0, 0, 0},
            {&initial[2], 0, 0, 0},
            {&initial[3], 0, 0, 0},
        };
        AmpProcessArgs args;
        memset(&args, 0, sizeof(args));
        args.batch = BATCH;
        args.frames = frames;
        args.sample_rate = setup.sample_rate;
        args.outputs = &signal;
        args.params = params;
        args.message = message;
        args.message_size = sizeof(message);
        if (spec->ops.process(state, &args) != AMP_NODE_OK) {
            spec->ops.destroy(state);
            return 1;
        }
        for (int b = 0; b < BATCH; ++b) {
            memcpy(out + (size_t)b * FRAMES + start, block + (size_t)b * BLOCK, (size_t)frames * sizeof(double));
        }
    }
    spec->ops.destroy(state);
    return 0;
}

int main(void)
{
    const AmpNodeSpec *spec = amp_catalogue_find("oscillator_bank", strlen("oscillator_bank"));
    CHECK(spec != NULL);
    if (spec == NULL) {
        return TEST_RESULT();
    }
    static double ratios[21];
    for (int k = 0; k < 21; ++k) {
        ratios[k] = 1.0 + 0.37 * sin(k) - (k == 5 ? 2.0 : 0.0);  /* lane 5 runs backwards */
    }
    static double widest[BATCH * FRAMES];
    static double other[BATCH * FRAMES];
    const int lane_counts[] = {1, 8, 21};
    for (int ramp = 0; ramp <= 1; ++ramp) {
        for (int i = 0; i < 3; ++i) {
            const int lanes = lane_counts[i];
            amp_oscillator_bank_cap_isa(2);
            CHECK_EQ_INT(render(spec, ratios, lanes, ramp, widest), 0);
            double energy = 0.0;
            for (int n = 0; n < BATCH * FRAMES; ++n) {
                energy += widest[n] * widest[n];
            }
            CHECK(energy > 1.0 && isfinite(energy));
            for (int level = 0; level < 2; ++level) {
                amp_oscillator_bank_cap_isa(level);
                CHECK_EQ_INT(render(spec, ratios, lanes, ramp, other), 0);
                if (memcmp(widest, other, sizeof(widest)) != 0) {
                    fprintf(stderr, "kernel %d differs from the widest (lanes %d, ramp %d)\n", level, lanes, ramp);
                    ++amp_test_failures;
                }
            }
        }
    }
    amp_oscillator_bank_cap_isa(2);
    return TEST_RESULT();
}
