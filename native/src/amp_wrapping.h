/* amp_wrapping.h - marks functions whose unsigned arithmetic wraps on purpose (hashes, random
 * number generators, ring positions and fixed-point oscillator phases taken modulo a power of
 * two). clang's -fsanitize=unsigned-integer-overflow and unsigned-shift-base, which the fuzzing build turns on
 * to catch unintended wrap-around in sizes and counts, would otherwise report them. */
#ifndef AMP_WRAPPING_H
#define AMP_WRAPPING_H

#if defined(__clang__)
#define AMP_WRAPPING __attribute__((no_sanitize("unsigned-integer-overflow", "unsigned-shift-base")))
#else
#define AMP_WRAPPING
#endif

#endif
