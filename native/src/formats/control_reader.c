/* control_reader.c - validates the control blob without allocating. */
#include "control.h"

#include "../amp_error.h"
#include "blob_reader.h"

#include <math.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "amp_control_event reads events in place and assumes a little-endian host"
#endif

typedef struct ControlContext {
    double *t0;
    double *t1;
    int has_window;
    unsigned seen;
    AmpControlKeyVisitor visit;
    void *visit_context;
} ControlContext;

static int32_t read_keys(ControlContext *ctx, AmpCursor *c)
{
    int32_t status;
    uint32_t count = 0;
    if ((status = amp_cursor_count(c, "key count", 10, &count)) != AMP_OK) {
        return status;
    }
    for (uint32_t k = 0; k < count; ++k) {
        AmpControlKey key;
        memset(&key, 0, sizeof(key));
        const uint8_t *events = NULL;
        if ((status = amp_cursor_name(c, "key name", key.name, sizeof(key.name))) != AMP_OK ||
            (status = amp_cursor_u8(c, "interpolation", &key.interpolation)) != AMP_OK ||
            (status = amp_cursor_count(c, "event count", 16, &key.event_count)) != AMP_OK ||
            (status = amp_cursor_bytes(c, "events", (uint64_t)key.event_count * 16u, &events)) != AMP_OK) {
            return status;
        }
        key.events = events;
        if (key.interpolation > AMP_INTERP_LINEAR) {
            return amp_format_error(c, "key '%s' has interpolation %u; 0 is step, 1 is linear", key.name,
                                    key.interpolation);
        }
        double previous = -INFINITY;
        for (uint32_t i = 0; i < key.event_count; ++i) {
            double time = 0.0;
            double value = 0.0;
            amp_control_event(&key, i, &time, &value);
            if (!isfinite(time) || !isfinite(value)) {
                return amp_format_error(c, "key '%s' event %u has time %g and value %g; both must be finite",
                                        key.name, i, time, value);
            }
            if (fabs(time) > AMP_CONTROL_MAX_SECONDS) {
                return amp_format_error(c, "key '%s' event %u at %g s is beyond the +/-%g s a stream can span",
                                        key.name, i, time, AMP_CONTROL_MAX_SECONDS);
            }
            if (time < previous) {
                return amp_format_error(c, "key '%s' event %u at %.9g s comes before the previous one at %.9g s",
                                        key.name, i, time, previous);
            }
            previous = time;
        }
        if (ctx->visit != NULL && (status = ctx->visit(ctx->visit_context, &key)) != AMP_OK) {
            return status;
        }
    }
    return amp_cursor_expect_end(c);
}

static int32_t visit_section(void *opaque, const AmpSection *section, AmpCursor *c)
{
    ControlContext *ctx = (ControlContext *)opaque;
    int32_t status;
    if (section->id >= 1 && section->id <= AMP_CONTROL_SECTION_KEYS) {
        const unsigned bit = 1u << section->id;
        if (ctx->seen & bit) {
            c->where = "list";
            return amp_format_error(c, "section %u appears twice", section->id);
        }
        ctx->seen |= bit;
    }
    switch (section->id) {
    case AMP_CONTROL_SECTION_WINDOW:
        c->where = "WINDOW";
        if ((status = amp_cursor_f64(c, "window start", ctx->t0)) != AMP_OK ||
            (status = amp_cursor_f64(c, "window end", ctx->t1)) != AMP_OK) {
            return status;
        }
        if (!isfinite(*ctx->t0) || !isfinite(*ctx->t1) || *ctx->t1 < *ctx->t0 ||
            fabs(*ctx->t0) > AMP_CONTROL_MAX_SECONDS || fabs(*ctx->t1) > AMP_CONTROL_MAX_SECONDS) {
            return amp_format_error(c, "window [%g, %g] is not a finite, ordered interval within +/-%g s", *ctx->t0,
                                    *ctx->t1, AMP_CONTROL_MAX_SECONDS);
        }
        ctx->has_window = 1;
        return amp_cursor_expect_end(c);
    case AMP_CONTROL_SECTION_KEYS:
        c->where = "KEYS";
        if (!ctx->has_window) {
            return amp_format_error(c, "KEYS must follow the WINDOW section");
        }
        return read_keys(ctx, c);
    default:
        return AMP_OK;
    }
}

int32_t amp_control_parse(const uint8_t *blob, size_t size, double *t0, double *t1, AmpControlKeyVisitor visit,
                          void *context, AmpErrorInfo *error)
{
    ControlContext ctx = {t0, t1, 0, 0, visit, context};
    *t0 = 0.0;
    *t1 = 0.0;
    int32_t status = amp_blob_read_sections(blob, size, AMP_BLOB_CONTROL, AMP_CONTROL_VERSION_MAJOR, "control",
                                            visit_section, &ctx, error);
    if (status == AMP_OK && !ctx.has_window) {
        status = amp_error_set(error, AMP_ERR_FORMAT, "control", NULL, -1, "control blob has no WINDOW section");
    }
    return status;
}
