/* The oscillator's increment computed with the product's error from a fused multiply-add (C's
 * fma(), correctly rounded by the standard) gives the same bits as Dekker's product: the cycles
 * part and the fixed-point increment, for frequencies across the whole double range (subnormal to
 * the clamp, both signs, NaN and infinities) and the usual sample rates. The kernels pick either
 * form by machine, so their output must not depend on which. And the clamp is the plain one. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "dsp/phase.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    return amp_test_random(&rng_state);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static long mismatches = 0;

/* The clamp as a plain nested select: out of range to the bound, NaN to 0. */
static double clamp_reference(double freq)
{
    if (freq > 1.0e9) {
        return 1.0e9;
    }
    if (freq < -1.0e9) {
        return -1.0e9;
    }
    return freq == freq ? freq : 0.0;
}

static void check_one(double freq, double sr)
{
    double hi_d;
    double lo_d;
    double hi_f;
    double lo_f;
    amp_phase_increment_with(freq, sr, 1.0 / sr, &hi_d, &lo_d, 0);
    amp_phase_increment_with(freq, sr, 1.0 / sr, &hi_f, &lo_f, 1);
    CHECK(same_bits(amp_phase_clamp(freq), clamp_reference(freq)));
    const int ok = same_bits(hi_d, hi_f) && amp_phase_fixed(hi_d, lo_d) == amp_phase_fixed(hi_f, lo_f);
    if (!ok && mismatches++ < 10) {
        fprintf(stderr, "freq %.17g at %.17g: %.17g %.17g vs %.17g %.17g\n", freq, sr, hi_d, lo_d, hi_f, lo_f);
    }
    CHECK(ok);
}

int main(void)
{
    const double rates[] = {1.0, 8000.0, 22050.0, 44100.0, 48000.0, 96000.0, 192000.0, 384000.0, 1.0e6};
    const double special[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1.0e9, -1.0e9, 1.0000000000000002e9,
                              5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 0x1p-900, -0x1p-900, 0x1p-901,
                              440.0, 24000.0, -24000.0, 48000.0, 1e-3, 0.1, 1.0 / 3.0};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; ++r) {
        const double sr = rates[r];
        for (size_t k = 0; k < sizeof special / sizeof special[0]; ++k) {
            check_one(special[k], sr);
            check_one(nextafter(special[k], 0.0), sr);
        }
        /* Random bit patterns (every exponent, NaNs included) and random audio frequencies. */
        for (int i = 0; i < 200000; ++i) {
            uint64_t bits = next_random();
            double x;
            memcpy(&x, &bits, sizeof x);
            check_one(x, sr);
            check_one((double)(next_random() >> 11) * 0x1p-53 * 40000.0 - 20000.0, sr);
            check_one(ldexp((double)(next_random() >> 11) * 0x1p-53, -(int)(next_random() % 1100)), sr);
        }
        /* Multiples of the sample rate and near them, where lo decides the rounding. */
        for (int m = -4; m <= 4; ++m) {
            const double f = m * sr / 2.0;
            check_one(f, sr);
            check_one(nextafter(f, INFINITY), sr);
            check_one(nextafter(f, -INFINITY), sr);
        }
    }
    return TEST_RESULT();
}
