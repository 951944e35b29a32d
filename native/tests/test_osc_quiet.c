/* The blocks of a steady saw or triangle (dsp/osc_quiet.h) against the general kernel
 * (amp_osc_lane_run) on the same lane: whenever amp_osc_quiet or amp_osc_steady says a block
 * qualifies, the samples of amp_osc_quiet_run or amp_osc_steady_run, written or added into a sum,
 * and of amp_osc_saw_wrap_run where it takes a saw's block, and the lane they leave are the general
 * kernel's,
 * bit for bit, with and without the fused multiply-add, for random frequencies (both signs),
 * phases, amps (constant, 1, or per sample) and block sizes, through resets, retunings and blocks
 * at a varying frequency. */
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
    return amp_test_random(&rng_state);
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(next_random() >> 11) * (1.0 / 9007199254740992.0);
}

static long quiet_blocks = 0;
static long steady_blocks = 0;
static long other_blocks = 0;
static long wrap_blocks = 0;
static long mismatches = 0;

static void run_lane(int wf, double freq, double phase, int amp_kind, double sr)
{
    static double scratch[AMP_OSC_SCRATCH_ARRAYS * MAX_FRAMES];
    AmpOscScratch s;
    amp_osc_scratch_init(&s, scratch, MAX_FRAMES);
    const uint64_t phase0 = amp_osc_phase0(phase);
    AmpOscLane general;
    AmpOscLane fast;
    memset(&general, 0, sizeof general);
    amp_osc_lane_init(&general, phase0);
    memcpy(&fast, &general, sizeof fast);
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
        /* Now and then the lane is reset, retuned, or runs a block at a varying frequency: what
         * either kernel may decide after any of those is compared too. */
        const uint64_t change = next_random() % 32;
        if (change == 0) {
            amp_osc_lane_init(&general, phase0);
            memcpy(&fast, &general, sizeof fast);
        } else if (change == 1) {
            freq *= uniform(0.5, 1.5);
        } else if (change == 2) {
            double row[MAX_FRAMES];
            for (int32_t f = 0; f < frames; ++f) {
                row[f] = freq * (1.0 + uniform(-0.01, 0.01));
            }
            amp_osc_lane_run(&s, &general, wf, 1, 0, phase0, row, 1, NULL, NULL, am, am_stride, &pw, 0, sr, expected,
                             frames);
            amp_osc_lane_run(&s, &fast, wf, 1, 0, phase0, row, 1, NULL, NULL, am, am_stride, &pw, 0, sr, expected,
                             frames);
            ++other_blocks;
            continue;
        }
        amp_osc_lane_run(&s, &general, wf, 0, 0, phase0, &freq, 0, NULL, NULL, am, am_stride, &pw, 0, sr, expected,
                         frames);
        const int is_quiet = amp_osc_quiet(&fast, wf, freq, frames);
        if (!is_quiet && !amp_osc_steady(&fast, wf, freq, frames)) {
            double y[MAX_FRAMES];
            amp_osc_lane_run(&s, &fast, wf, 0, 0, phase0, &freq, 0, NULL, NULL, am, am_stride, &pw, 0, sr, y, frames);
            ++other_blocks;
            continue;
        }
        if (is_quiet) {
            ++quiet_blocks;
        } else {
            ++steady_blocks;
        }
        const int adds = (int)(next_random() & 1);
        const int fused = (int)(next_random() & 1);
        double sum[MAX_FRAMES];
        double before[MAX_FRAMES];
        double temp[MAX_FRAMES];
        for (int32_t f = 0; f < frames; ++f) {
            sum[f] = adds ? uniform(-3.0, 3.0) : 0.0;
            before[f] = sum[f];
        }
        if (is_quiet && adds) {
            amp_osc_quiet_run(&fast, wf, am, am_stride, sum, frames, 1, temp, fused);
        } else if (is_quiet) {
            amp_osc_quiet_run(&fast, wf, am, am_stride, sum, frames, 0, temp, fused);
        } else if (adds && wf == AMP_SHAPE_SAW && am_stride == 0 && (next_random() & 1) &&
                   amp_osc_saw_wrap_run(&fast, phase0, am[0], sum, frames, fused)) {
            ++wrap_blocks;
        } else if (adds) {
            amp_osc_steady_run(&fast, wf, phase0, am, am_stride, sum, frames, 1, temp, fused);
        } else {
            amp_osc_steady_run(&fast, wf, phase0, am, am_stride, sum, frames, 0, temp, fused);
        }
        int ok = memcmp(&fast, &general, sizeof fast) == 0;
        for (int32_t f = 0; f < frames; ++f) {
            const double want = adds ? before[f] + expected[f] : expected[f];
            ok = ok && memcmp(&sum[f], &want, sizeof want) == 0;
        }
        if (!ok && mismatches++ < 10) {
            fprintf(stderr, "wf %d freq %.17g phase %.17g amp kind %d block %d (%d frames, %s, adds %d, fused %d)\n",
                    wf, freq, phase, amp_kind, block, (int)frames, is_quiet ? "quiet" : "steady", adds, fused);
        }
        memcpy(&fast, &general, sizeof fast);
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
    fprintf(stderr, "%ld quiet blocks, %ld steady with breakpoints (%ld of them saw wraps), %ld others, %ld mismatches\n",
            quiet_blocks, steady_blocks, wrap_blocks, other_blocks, mismatches);
    CHECK(mismatches == 0);
    CHECK(quiet_blocks > 50000);  /* both kernels were compared, not skipped */
    CHECK(steady_blocks > 20000);
    CHECK(wrap_blocks > 2000);
    CHECK(other_blocks >= 600); /* at least each lane's first */
    return TEST_RESULT();
}
