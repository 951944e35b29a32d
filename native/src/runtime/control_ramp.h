/* control_ramp.h - the samples of a linear control key between two events, for fill_curve. */
#ifndef AMP_RUNTIME_CONTROL_RAMP_H
#define AMP_RUNTIME_CONTROL_RAMP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* curve[k] = from_value + rise * ((start + k) / span) for k in [0, count): each a division, a
 * product and a sum rounded on its own, so the same bits as one sample at a time. */
void amp_control_ramp(double *curve, int32_t count, double start, double span, double from_value, double rise);

#ifdef __cplusplus
}
#endif

#endif
