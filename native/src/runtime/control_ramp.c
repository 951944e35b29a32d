/* control_ramp.c - a linear control key's ramp, in C so that it can be compiled for wider vectors
 * where the machine has them (a division per sample: eight at a time with AVX-512 against two
 * with the baseline's SSE2) without letting the compiler contract the product and the sum. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "control_ramp.h"

#include "../amp_node.h"

/* Static: a cloned function with external linkage is exported whatever the visibility preset. */
AMP_VECTOR_CLONES static void ramp(double *curve, int32_t count, double start, double span, double from_value,
                                   double rise)
{
    for (int32_t k = 0; k < count; ++k) {
        const double t = (start + (double)k) / span;
        curve[k] = from_value + rise * t;
    }
}

void amp_control_ramp(double *curve, int32_t count, double start, double span, double from_value, double rise)
{
    ramp(curve, count, start, span, from_value, rise);
}
