/* fuzz_plan_writer.c - a valid plan for any descriptor the reader accepts, so that the descriptor
 * harness's mutations go on past the plan check into graph building and rendering. The plan is the
 * simplest the format allows: a topological order, one buffer per value, routes in their order. */
#include "fuzz_common.h"

#include "formats/blob_reader.h"
#include "formats/plan.h"

#include <stdlib.h>
#include <string.h>

typedef struct Writer {
    uint8_t *bytes;
    size_t size;
    size_t capacity;
} Writer;

static void put(Writer *w, const void *data, size_t n)
{
    if (w->size + n > w->capacity) {
        w->capacity = (w->size + n) * 2;
        w->bytes = (uint8_t *)realloc(w->bytes, w->capacity);
    }
    memcpy(w->bytes + w->size, data, n);
    w->size += n;
}

static void put_u32(Writer *w, uint32_t value)
{
    const uint8_t b[4] = {(uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16), (uint8_t)(value >> 24)};
    put(w, b, 4);
}

static void put_u64(Writer *w, uint64_t value)
{
    put_u32(w, (uint32_t)value);
    put_u32(w, (uint32_t)(value >> 32));
}

/* A section header whose length is patched by end_section. */
static size_t begin_section(Writer *w, uint32_t id)
{
    put_u32(w, id);
    put_u32(w, 0);
    put_u64(w, 0);
    return w->size;
}

static void end_section(Writer *w, size_t body)
{
    const uint64_t length = w->size - body;
    for (int i = 0; i < 8; ++i) {
        w->bytes[body - 8 + i] = (uint8_t)(length >> (8 * i));
    }
}

/* Kahn's algorithm over edges (those into a block-delay node do not count: they close loops) and
 * modulations; returns 0 on a cycle. */
static int topological_order(const AmpDescriptor *desc, uint32_t *order)
{
    const uint32_t n = desc->node_count;
    uint32_t *pending = (uint32_t *)calloc(n, sizeof(uint32_t));
    uint8_t *placed = (uint8_t *)calloc(n, 1);
    for (uint32_t e = 0; e < desc->edge_count; ++e) {
        if (desc->nodes[desc->edges[e].dst_node].spec->block_delay <= 0) {
            ++pending[desc->edges[e].dst_node];
        }
    }
    for (uint32_t m = 0; m < desc->modulation_count; ++m) {
        ++pending[desc->modulations[m].dst_node];
    }
    uint32_t count = 0;
    for (int progress = 1; progress && count < n;) {
        progress = 0;
        for (uint32_t i = 0; i < n; ++i) {
            if (placed[i] || pending[i] != 0) {
                continue;
            }
            placed[i] = 1;
            order[count++] = i;
            progress = 1;
            for (uint32_t e = 0; e < desc->edge_count; ++e) {
                if (desc->edges[e].src_node == i && desc->nodes[desc->edges[e].dst_node].spec->block_delay <= 0) {
                    --pending[desc->edges[e].dst_node];
                }
            }
            for (uint32_t m = 0; m < desc->modulation_count; ++m) {
                if (desc->modulations[m].src_node == i) {
                    --pending[desc->modulations[m].dst_node];
                }
            }
        }
    }
    free(pending);
    free(placed);
    return count == n;
}

uint8_t *amp_fuzz_plan_for(const AmpDescriptor *desc, uint8_t flags, size_t *size)
{
    const uint32_t n = desc->node_count;
    uint32_t *order = (uint32_t *)calloc(n, sizeof(uint32_t));
    uint32_t *channels = (uint32_t *)calloc(n, sizeof(uint32_t));
    AmpErrorInfo error;
    if (!topological_order(desc, order) || amp_plan_node_channels(desc, order, channels, &error) != AMP_OK) {
        free(order);
        free(channels);
        return NULL;
    }
    Writer w = {NULL, 0, 0};
    const uint8_t header[AMP_BLOB_HEADER_SIZE] = {'A', 'M', 'P', 'P', 1, 0, 0, 0, AMP_BLOB_HEADER_SIZE};
    put(&w, header, sizeof(header));

    size_t body = begin_section(&w, AMP_PLAN_SECTION_ORDER);
    put_u32(&w, n);
    for (uint32_t k = 0; k < n; ++k) {
        put_u32(&w, order[k]);
    }
    end_section(&w, body);

    uint32_t values = 0;
    for (uint32_t i = 0; i < n; ++i) {
        values += (uint32_t)desc->nodes[i].spec->num_outputs;
    }
    body = begin_section(&w, AMP_PLAN_SECTION_VALUES);
    put_u32(&w, values);
    put_u32(&w, values);
    for (uint32_t i = 0, v = 0; i < n; ++i) {
        for (int32_t o = 0; o < desc->nodes[i].spec->num_outputs; ++o, ++v) {
            put_u32(&w, i);
            put_u32(&w, (uint32_t)o);
            put_u32(&w, channels[i]);
            put_u32(&w, v);
        }
    }
    end_section(&w, body);

    if ((flags & 1) && n >= 2) {
        body = begin_section(&w, AMP_PLAN_SECTION_FUSION);
        put_u32(&w, 1);
        put_u32(&w, 2);
        put_u32(&w, order[0]);
        put_u32(&w, order[1]);
        end_section(&w, body);
    }

    body = begin_section(&w, AMP_PLAN_SECTION_ROUTES);
    put_u32(&w, desc->modulation_count);
    for (uint32_t m = 0; m < desc->modulation_count; ++m) {
        put_u32(&w, m);
    }
    end_section(&w, body);

    body = begin_section(&w, AMP_PLAN_SECTION_OPTIONS);
    put_u32(&w, (uint32_t)(flags >> 1) & 7u);
    end_section(&w, body);

    amp_fuzz_reseal(w.bytes, w.size);
    free(order);
    free(channels);
    *size = w.size;
    return w.bytes;
}
