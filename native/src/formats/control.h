/* control.h - the control blob ("AMPC"): a window of timestamped control events, per key. */
#ifndef AMP_CONTROL_H
#define AMP_CONTROL_H

#include "amp_native.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AMP_CONTROL_VERSION_MAJOR 1
#define AMP_CONTROL_VERSION_MINOR 0

/* Times are limited so that time * sample_rate (sample_rate <= 1e7) stays far inside int64. */
#define AMP_CONTROL_MAX_SECONDS 1.0e9

enum { AMP_CONTROL_SECTION_WINDOW = 1, AMP_CONTROL_SECTION_KEYS = 2 };
enum { AMP_INTERP_STEP = 0, AMP_INTERP_LINEAR = 1 };

/* One key's events: `events` points into the blob at event_count (time, value) float64 pairs,
 * sorted by time. */
typedef struct AmpControlKey {
    char name[64];
    uint8_t interpolation;
    uint32_t event_count;
    const uint8_t *events;
} AmpControlKey;

static inline void amp_control_event(const AmpControlKey *key, uint32_t index, double *time, double *value)
{
    const uint8_t *p = key->events + (size_t)index * 16u;
    __builtin_memcpy(time, p, 8);
    __builtin_memcpy(value, p + 8, 8);
}

typedef int32_t (*AmpControlKeyVisitor)(void *context, const AmpControlKey *key);

/* Validates a control blob without allocating; reports the window and hands every key to visit. */
int32_t amp_control_parse(const uint8_t *blob, size_t size, double *t0, double *t1, AmpControlKeyVisitor visit,
                          void *context, AmpErrorInfo *error);

#ifdef __cplusplus
}
#endif

#endif
