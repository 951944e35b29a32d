/* amp_error.c - filling an AmpErrorInfo. */
#include "amp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void copy_text(char *dst, size_t capacity, const char *src)
{
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    size_t n = strlen(src);
    if (n >= capacity) {
        n = capacity - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void amp_error_clear(AmpErrorInfo *error)
{
    if (error == NULL) {
        return;
    }
    memset(error, 0, sizeof(*error));
    error->block_index = -1;
}

int32_t amp_error_set(AmpErrorInfo *error, int32_t code, const char *stage, const char *node,
                      int64_t block_index, const char *format, ...)
{
    if (error == NULL) {
        return code;
    }
    error->code = code;
    error->block_index = block_index;
    copy_text(error->stage, sizeof(error->stage), stage);
    copy_text(error->node, sizeof(error->node), node);
    va_list args;
    va_start(args, format);
    vsnprintf(error->message, sizeof(error->message), format, args);
    va_end(args);
    return code;
}
