/* lanes4.h - four batch rows side by side in one vector, for nodes whose rows are recursions.
 *
 * A filter's row is a chain of results each waiting on the last, so a CPU runs it at the speed of
 * its latency, whatever its width. Four independent rows in the lanes of one vector run in the
 * same time as one. Each lane performs exactly the IEEE operations the row's plain code performs
 * (the including file must not let the compiler contract products and sums), so a row's bits do
 * not depend on whether, or beside which rows, it ran in a vector.
 *
 * Samples move between rows and lanes four at a time: four loads of four consecutive samples, one
 * per row, then a 4x4 transpose in registers gives four vectors of one sample each.
 *
 * Every helper is always inlined: no vector crosses a call, whose ABI would depend on AVX (GCC's
 * -Wpsabi notes it; silenced here for the including file). clang refuses even an inlined call that
 * passes a 32-byte vector in code built without AVX, so there AMP_LANES4 is 0 and nodes run their
 * rows one at a time, which gives the same bits. */
#ifndef AMP_DSP_LANES4_H
#define AMP_DSP_LANES4_H

#if defined(__GNUC__) && !defined(__clang__)
#define AMP_LANES4 1
#else
#define AMP_LANES4 0
#endif

#if AMP_LANES4

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wpsabi"

typedef double AmpV4 __attribute__((vector_size(32)));
typedef int64_t AmpM4 __attribute__((vector_size(32)));

#define AMP_V4_INLINE static inline __attribute__((always_inline))

AMP_V4_INLINE AmpV4 amp_v4(double x)
{
    return (AmpV4){x, x, x, x};
}

/* a where mask is set, else b, bit for bit. */
AMP_V4_INLINE AmpV4 amp_v4_select(AmpM4 mask, AmpV4 a, AmpV4 b)
{
    return (AmpV4)(((AmpM4)a & mask) | ((AmpM4)b & ~mask));
}

/* fabs: the sign bit cleared. */
AMP_V4_INLINE AmpV4 amp_v4_abs(AmpV4 v)
{
    return (AmpV4)((AmpM4)v & (AmpM4){INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX});
}

/* Lanes that hold a finite value (v - v is 0 only then; NaN otherwise). */
AMP_V4_INLINE AmpM4 amp_v4_finite(AmpV4 v)
{
    return (v - v) == amp_v4(0.0);
}

AMP_V4_INLINE AmpV4 amp_v4_load(const double *p)
{
    AmpV4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

AMP_V4_INLINE void amp_v4_store(double *p, AmpV4 v)
{
    memcpy(p, &v, sizeof v);
}

/* Lane k from rows[k][at]. */
AMP_V4_INLINE AmpV4 amp_v4_gather(const double *const *rows, ptrdiff_t at)
{
    return (AmpV4){rows[0][at], rows[1][at], rows[2][at], rows[3][at]};
}

#define AMP_V4_SHUFFLE(a, b, i, j, k, l) __builtin_shuffle((a), (b), (AmpM4){i, j, k, l})

/* The 4x4 transpose: on entry v[k] holds four samples of row k, on return v[j] holds sample j of
 * the four rows (and the other way round: it is its own inverse). */
AMP_V4_INLINE void amp_v4_transpose(AmpV4 v[4])
{
    const AmpV4 t0 = AMP_V4_SHUFFLE(v[0], v[1], 0, 4, 2, 6);
    const AmpV4 t1 = AMP_V4_SHUFFLE(v[0], v[1], 1, 5, 3, 7);
    const AmpV4 t2 = AMP_V4_SHUFFLE(v[2], v[3], 0, 4, 2, 6);
    const AmpV4 t3 = AMP_V4_SHUFFLE(v[2], v[3], 1, 5, 3, 7);
    v[0] = AMP_V4_SHUFFLE(t0, t2, 0, 1, 4, 5);
    v[1] = AMP_V4_SHUFFLE(t1, t3, 0, 1, 4, 5);
    v[2] = AMP_V4_SHUFFLE(t0, t2, 2, 3, 6, 7);
    v[3] = AMP_V4_SHUFFLE(t1, t3, 2, 3, 6, 7);
}

/* Samples f .. f + 3 of four rows, one vector per sample. */
AMP_V4_INLINE void amp_v4_load_tile(const double *const *rows, int32_t f, AmpV4 v[4])
{
    for (int k = 0; k < 4; ++k) {
        v[k] = amp_v4_load(rows[k] + f);
    }
    amp_v4_transpose(v);
}

/* The other way: v[j] is sample f + j of the four rows (v is left transposed). */
AMP_V4_INLINE void amp_v4_store_tile(double *const *rows, int32_t f, AmpV4 v[4])
{
    amp_v4_transpose(v);
    for (int k = 0; k < 4; ++k) {
        amp_v4_store(rows[k] + f, v[k]);
    }
}

#endif /* AMP_LANES4 */

#endif
