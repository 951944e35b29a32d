/* amp_error.h - filling an AmpErrorInfo. */
#ifndef AMP_ERROR_H
#define AMP_ERROR_H

#include "amp_native.h"

#ifdef __cplusplus
extern "C" {
#endif

void amp_error_clear(AmpErrorInfo *error);

/* Records a failure; `error` may be NULL. Returns `code` so callers can `return amp_error_set(...)`. */
int32_t amp_error_set(AmpErrorInfo *error, int32_t code, const char *stage, const char *node,
                      int64_t block_index, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
