/* rows.h - finding the batch rows of a block that a node can compute once.
 *
 * The rows of a batch are independent renders, but in a dataset many of them share most of their
 * parameters: every item plays the same note, so the oscillators' frequencies, the pan position
 * and the LFOs that nobody varies are the same in every row. A row whose parameters and inputs for
 * the block, and whose state, are the same bits as an earlier row's gives the same bits out, so a
 * node may compute the earlier row and copy it. Bits, not values: 0.0 and -0.0 are equal values
 * but may not give equal results, and two NaNs with the same bits behave alike. State is compared
 * field by field (a struct's padding is not part of its state).
 *
 * Each row is compared with the few most recent distinct rows only, so a batch whose rows all
 * differ costs a bounded number of comparisons per row, most of which end at the first value. */
#ifndef AMP_DSP_ROWS_H
#define AMP_DSP_ROWS_H

#include "../amp_node.h"

#include <stdint.h>
#include <string.h>

enum { AMP_ROWS_PROBES = 4 };

/* Whether two values (or arrays, or struct fields) hold the same bits. */
#define AMP_ROWS_SAME(a, b) (memcmp(&(a), &(b), sizeof(a)) == 0)

/* Whether rows a and b (channel c) of a parameter hold the same bits over `frames` frames. */
static inline int amp_rows_same_param(const AmpParamView *p, int32_t a, int32_t b, int32_t c, int32_t frames)
{
    if (p->stride_batch == 0 || a == b) {
        return 1;
    }
    const double *x = amp_param_row(p, a, c);
    const double *y = amp_param_row(p, b, c);
    if (p->stride_frame == 0) {
        return memcmp(x, y, sizeof(double)) == 0;
    }
    if (p->stride_frame == 1) {
        return memcmp(x, y, (size_t)frames * sizeof(double)) == 0;
    }
    for (int32_t f = 0; f < frames; ++f) {
        if (memcmp(x + f * p->stride_frame, y + f * p->stride_frame, sizeof(double)) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Whether rows a and b of every connection to an input port hold the same bits (every channel). */
static inline int amp_rows_same_input(const AmpInputPort *port, int32_t a, int32_t b, int32_t frames)
{
    for (int32_t i = 0; i < port->count; ++i) {
        const AmpSignal *s = &port->signals[i];
        for (int32_t c = 0; c < s->channels; ++c) {
            if (memcmp(amp_signal_row(s, a, c), amp_signal_row(s, b, c), (size_t)frames * sizeof(double)) != 0) {
                return 0;
            }
        }
    }
    return 1;
}

/* Sets leader[b] for every row: the earliest row found the same as b by same(context, leader, b)
 * (b itself when none), and returns how many rows lead. Leaders come before their followers. */
static inline int32_t amp_rows_group(int32_t batch, int32_t *leader, int (*same)(const void *, int32_t, int32_t),
                                     const void *context)
{
    int32_t recent[AMP_ROWS_PROBES];
    int32_t known = 0;
    int32_t leaders = 0;
    for (int32_t b = 0; b < batch; ++b) {
        leader[b] = b;
        for (int32_t k = 0; k < known; ++k) {
            const int32_t r = recent[(leaders - 1 - k) % AMP_ROWS_PROBES];
            if (same(context, r, b)) {
                leader[b] = r;
                break;
            }
        }
        if (leader[b] == b) {
            recent[leaders % AMP_ROWS_PROBES] = b;
            ++leaders;
            known = known < AMP_ROWS_PROBES ? known + 1 : known;
        }
    }
    return leaders;
}

/* Row b's output of `frames` doubles copied from its leader's. */
static inline void amp_rows_copy(double *to, const double *from, int32_t frames)
{
    memcpy(to, from, (size_t)frames * sizeof(double));
}

#endif
