/* The quiet block of a steady saw or triangle (dsp/osc_quiet.h) against the general kernel
 * (amp_osc_lane_run) on the same lane: whenever amp_osc_quiet says a block qualifies, the quiet
 * kernel's samples, written or added into a sum, and the lane it leaves are the general kernel's,
 * bit for bit, with and without the fused multiply-add, for random frequencies (both signs),
 * phases, amps (constant, 1, or per sample) and block sizes. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "dsp/osc_quiet.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FRAMES = 256 };

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(next_random() >> 11) * (1.0 / 9007199254740992.0);
}

static long quiet_blocks = 0;
static long other_blocks = 0;
static long mismatches = 0;

static void run_lane(int wf, double freq, double phase, int amp_kind, double sr)
{
    static double scratch[AMP_OSC_SCRATCH_ARRAYS * MAX_FRAMES];
    AmpOscScratch s;
    amp_osc_scratch_init(&s, scratch, MAX_FRAMES);
    const uint64_t phase0 = amp_osc_phase0(phase);
    AmpOscLane general;
    AmpOscLane quiet;
    memset(&general, 0, sizeof general);
    amp_osc_lane_init(&general, phase0);
    memcpy(&quiet, &general, sizeof quiet);
    double am[MAX_FRAMES];
    const double gain = amp_kind == 0 ? 1.0 : uniform(-2.0, 2.0);
    const double pw = 0.5;
    for (int block = 0; block < 400; ++block) {
        const int32_t frames = 1 + (int32_t)(next_random() % MAX_FRAMES);
        const ptrdiff_t am_stride = amp_kind == 2 ? 1 : 0;
        for (int32_t f = 0; f < frames; ++f) {
            am[f] = amp_kind == 2 ? uniform(-1.0, 1.0) : gain;
        }
        double expected[MAX_FRAMES];
        amp_osc_lane_run(&s, &general, wf, 0, 0, phase0, &freq, 0, NULL, NULL, am, am_stride, &pw, 0, sr, expected,
                         frames);
        if (!amp_osc_quiet(&quiet, wf, freq, frames)) {
            double y[MAX_FRAMES];
            amp_osc_lane_run(&s, &quiet, wf, 0, 0, phase0, &freq, 0, NULL, NULL, am, am_stride, &pw, 0, sr, y, frames);
            ++other_blocks;
            continue;
        }
        ++quiet_blocks;
        const int adds = (int)(next_random() & 1);
        const int fused = (int)(next_random() & 1);
        double sum[MAX_FRAMES];
        double before[MAX_FRAMES];
        double temp[MAX_FRAMES];
        for (int32_t f = 0; f < frames; ++f) {
            sum[f] = adds ? uniform(-3.0, 3.0) : 0.0;
            before[f] = sum[f];
        }
        if (adds) {
            amp_osc_quiet_run(&quiet, wf, am, am_stride, sum, frames, 1, temp, fused);
        } else {
            amp_osc_quiet_run(&quiet, wf, am, am_stride, sum, frames, 0, temp, fused);
        }
        int ok = memcmp(&quiet, &general, sizeof quiet) == 0;
        for (int32_t f = 0; f < frames; ++f) {
            const double want = adds ? before[f] + expected[f] : expected[f];
            ok = ok && memcmp(&sum[f], &want, sizeof want) == 0;
        }
        if (!ok && mismatches++ < 10) {
            fprintf(stderr, "wf %d freq %.17g phase %.17g amp kind %d block %d (%d frames, adds %d, fused %d)\n", wf,
                    freq, phase, amp_kind, block, (int)frames, adds, fused);
        }
        memcpy(&quiet, &general, sizeof quiet);
    }
}

int main(void)
{
    const double rates[] = {48000.0, 44100.0, 96000.0};
    for (int i = 0; i < 600; ++i) {
        const int wf = (i & 1) ? AMP_SHAPE_SAW : AMP_SHAPE_TRIANGLE;
        const double sign = (i & 2) ? -1.0 : 1.0;
        /* Mostly audible tones, some near Nyquist where every block has a breakpoint. */
        const double freq = sign * ((i % 7 == 0) ? uniform(5000.0, 24000.0) : exp(uniform(log(5.0), log(3000.0))));
        run_lane(wf, freq, uniform(0.0, 1.0), i % 3, rates[i % 3]);
    }
    fprintf(stderr, "%ld quiet blocks, %ld others, %ld mismatches\n", quiet_blocks, other_blocks, mismatches);
    CHECK(mismatches == 0);
    CHECK(quiet_blocks > 50000);  /* the quiet kernel was compared, not skipped */
    CHECK(other_blocks > 10000);
    return TEST_RESULT();
}
