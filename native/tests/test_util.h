/* test_util.h - the few assertions the native tests need; a failed check reports and counts. */
#ifndef AMP_TEST_UTIL_H
#define AMP_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A test whose checks are all compiled out (the allocation test under a sanitizer) leaves the
 * counter unused. */
#if defined(__GNUC__)
static int amp_test_failures __attribute__((unused));
#else
static int amp_test_failures;
#endif

#define CHECK(condition)                                                          \
    do {                                                                          \
        if (!(condition)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            ++amp_test_failures;                                                  \
        }                                                                         \
    } while (0)

#define CHECK_EQ_INT(actual, expected)                                                             \
    do {                                                                                           \
        long long a_ = (long long)(actual);                                                        \
        long long e_ = (long long)(expected);                                                      \
        if (a_ != e_) {                                                                            \
            fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__, #actual, a_, e_); \
            ++amp_test_failures;                                                                   \
        }                                                                                          \
    } while (0)

/* xorshift64*, for tests that draw many cases: any well-spread sequence of bit patterns will do,
 * and a fixed seed makes a failure repeat. */
static inline uint64_t amp_test_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717u;
}

#define TEST_RESULT() (amp_test_failures == 0 ? (printf("ok\n"), 0) : (fprintf(stderr, "%d failures\n", amp_test_failures), 1))

#endif
