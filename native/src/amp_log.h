/* amp_log.h - logging hooks, compiled in only when AMP_NATIVE_ENABLE_LOGGING is defined.
 *
 * In the plain build every hook expands to nothing, so the render path carries no test, no
 * timer and no string. In the logging build the hooks cost one relaxed atomic load until logging
 * is switched on at run time. Records are JSON lines appended to <log dir>/amp_native.jsonl. */
#ifndef AMP_LOG_H
#define AMP_LOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef AMP_NATIVE_ENABLE_LOGGING

int amp_log_enabled(void);
uint64_t amp_log_now_ns(void);
void amp_log_api(const char *function, const char *detail_format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void amp_log_node_timing(const char *node, int64_t block_index, int32_t frames, uint64_t nanoseconds);
void amp_log_allocation(const char *what, size_t bytes);
/* Any other record: "event":event, "node":node (escaped; omitted when NULL), then the detail. */
void amp_log_event(const char *event, const char *node, const char *detail_format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A failed call, with the error's code, stage, node, block and message. */
void amp_log_error(const char *function, const void *error_info);

#define AMP_LOG_ENABLED() amp_log_enabled()
#define AMP_LOG_NOW_NS() (amp_log_enabled() ? amp_log_now_ns() : 0u)
#define AMP_LOG_API(...)              \
    do {                              \
        if (amp_log_enabled()) {      \
            amp_log_api(__VA_ARGS__); \
        }                             \
    } while (0)
#define AMP_LOG_NODE_TIMING(node, block, frames, start_ns)                                          \
    do {                                                                                            \
        if (amp_log_enabled()) {                                                                    \
            amp_log_node_timing((node), (block), (frames), amp_log_now_ns() - (uint64_t)(start_ns)); \
        }                                                                                           \
    } while (0)
#define AMP_LOG_ALLOCATION(what, bytes)        \
    do {                                       \
        if (amp_log_enabled()) {               \
            amp_log_allocation((what), (bytes)); \
        }                                      \
    } while (0)
#define AMP_LOG_EVENT(...)              \
    do {                                \
        if (amp_log_enabled()) {        \
            amp_log_event(__VA_ARGS__); \
        }                               \
    } while (0)
#define AMP_LOG_ERROR(function, error_info)             \
    do {                                                \
        if (amp_log_enabled()) {                        \
            amp_log_error((function), (error_info));    \
        }                                               \
    } while (0)

#else

#define AMP_LOG_ENABLED() 0
#define AMP_LOG_NOW_NS() 0u
#define AMP_LOG_API(...) ((void)0)
#define AMP_LOG_NODE_TIMING(node, block, frames, start_ns) ((void)(start_ns))
#define AMP_LOG_ALLOCATION(what, bytes) ((void)0)
#define AMP_LOG_EVENT(...) ((void)0)
#define AMP_LOG_ERROR(function, error_info) ((void)0)

#endif

#ifdef __cplusplus
}
#endif

#endif
