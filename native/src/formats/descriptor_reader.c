/* descriptor_reader.c - parses and validates the descriptor blob. */
#include "descriptor.h"

#include "../amp_error.h"
#include "../amp_wrapping.h"
#include "blob_reader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int amp_spec_param_index(const AmpNodeSpec *spec, const char *name)
{
    for (int i = 0; i < spec->num_params; ++i) {
        if (strcmp(spec->params[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

void amp_descriptor_free(AmpDescriptor *desc)
{
    if (desc == NULL) {
        return;
    }
    if (desc->nodes != NULL) {
        for (uint32_t i = 0; i < desc->node_count; ++i) {
            free(desc->nodes[i].params);
        }
    }
    free(desc->nodes);
    free(desc->edges);
    free(desc->modulations);
    free(desc->bindings);
    memset(desc, 0, sizeof(*desc));
}

typedef struct DescriptorContext {
    AmpDescriptor *desc;
    unsigned seen;
} DescriptorContext;

static int choice_count(const char *choices)
{
    int count = 1;
    for (const char *p = choices; *p; ++p) {
        count += (*p == '|');
    }
    return count;
}

/* Checks one parameter value against its catalogue entry. */
static int32_t check_param_value(AmpCursor *c, const AmpDescNode *node, const AmpParamSpec *spec, double value)
{
    if (!isfinite(value)) {
        return amp_format_error(c, "node '%s' parameter '%s' is %g; parameters must be finite", node->name,
                                spec->name, value);
    }
    if (value < spec->min_value || value > spec->max_value) {
        return amp_format_error(c, "node '%s' parameter '%s' = %g is outside [%g, %g]", node->name, spec->name,
                                value, spec->min_value, spec->max_value);
    }
    if ((spec->flags & AMP_PARAM_INTEGER) && value != floor(value)) {
        return amp_format_error(c, "node '%s' parameter '%s' = %g must be a whole number", node->name,
                                spec->name, value);
    }
    if (spec->choices != NULL && (value < 0 || value >= choice_count(spec->choices))) {
        return amp_format_error(c, "node '%s' parameter '%s' = %g is not a choice index of %s", node->name,
                                spec->name, value, spec->choices);
    }
    return AMP_OK;
}

/* Node names seen so far, in an open-addressed table of node index + 1 (0: empty) at most half
 * full, so that a duplicate is found in constant time rather than by comparing with every node
 * before it: a descriptor of many nodes must not take quadratic time to refuse or accept. */
typedef struct NameTable {
    uint32_t *slots;
    size_t mask;
} NameTable;

/* FNV-1a multiplies modulo 2^64 by design. */
static AMP_WRAPPING uint64_t name_hash(const char *name)
{
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = name; *p; ++p) {
        hash ^= (uint8_t)*p;
        hash *= 1099511628211ull;
    }
    return hash;
}

/* The index of the node already named `name`, or UINT32_MAX after adding node `index` under it. */
static uint32_t name_table_insert(NameTable *table, const AmpDescNode *nodes, uint32_t index)
{
    const char *name = nodes[index].name;
    for (size_t slot = (size_t)name_hash(name) & table->mask;; slot = (slot + 1) & table->mask) {
        const uint32_t held = table->slots[slot];
        if (held == 0) {
            table->slots[slot] = index + 1;
            return UINT32_MAX;
        }
        if (strcmp(nodes[held - 1].name, name) == 0) {
            return held - 1;
        }
    }
}

static int32_t read_node_entries(AmpDescriptor *desc, AmpCursor *c, NameTable *names);

static int32_t read_nodes(AmpDescriptor *desc, AmpCursor *c)
{
    int32_t status;
    uint32_t count = 0;
    c->where = "NODES";
    /* a node takes at least two names of one byte and a parameter count */
    if ((status = amp_cursor_count(c, "node count", 14, &count)) != AMP_OK) {
        return status;
    }
    if (count == 0) {
        return amp_format_error(c, "a graph needs at least one node");
    }
    desc->nodes = (AmpDescNode *)calloc(count, sizeof(AmpDescNode));
    if (desc->nodes == NULL) {
        return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, NULL, -1, "no memory for %u nodes", count);
    }
    desc->node_count = count;
    /* The count is already checked against the bytes the section holds (14 per node), so the
     * table, at 2 to 4 slots of 4 bytes per node, is bounded by the blob's own size. */
    size_t capacity = 16;
    while (capacity < 2 * (size_t)count) {
        capacity *= 2;
    }
    NameTable names = {(uint32_t *)calloc(capacity, sizeof(uint32_t)), capacity - 1};
    if (names.slots == NULL) {
        return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, NULL, -1, "no memory for %u node names",
                             count);
    }
    status = read_node_entries(desc, c, &names);
    free(names.slots);
    return status;
}

static int32_t read_node_entries(AmpDescriptor *desc, AmpCursor *c, NameTable *names)
{
    int32_t status;
    const uint32_t count = desc->node_count;
    for (uint32_t i = 0; i < count; ++i) {
        AmpDescNode *node = &desc->nodes[i];
        char type_name[64];
        if ((status = amp_cursor_name(c, "node name", node->name, sizeof(node->name))) != AMP_OK ||
            (status = amp_cursor_name(c, "node type", type_name, sizeof(type_name))) != AMP_OK) {
            return status;
        }
        const uint32_t earlier = name_table_insert(names, desc->nodes, i);
        if (earlier != UINT32_MAX) {
            return amp_format_error(c, "node name '%s' is used twice (nodes %u and %u)", node->name, earlier, i);
        }
        node->spec = amp_catalogue_find(type_name, strlen(type_name));
        if (node->spec == NULL) {
            return amp_format_error(c, "node '%s' has unknown type '%s'", node->name, type_name);
        }
        node->params = (double *)calloc((size_t)node->spec->num_params + 1, sizeof(double));
        if (node->params == NULL) {
            return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, node->name, -1, "no memory");
        }
        for (int p = 0; p < node->spec->num_params; ++p) {
            node->params[p] = node->spec->params[p].default_value;
        }
        uint32_t param_count = 0;
        if ((status = amp_cursor_count(c, "parameter count", 13, &param_count)) != AMP_OK) {
            return status;
        }
        uint64_t set_mask = 0;
        for (uint32_t p = 0; p < param_count; ++p) {
            char param_name[64];
            double value = 0.0;
            if ((status = amp_cursor_name(c, "parameter name", param_name, sizeof(param_name))) != AMP_OK ||
                (status = amp_cursor_f64(c, "parameter value", &value)) != AMP_OK) {
                return status;
            }
            const int index = amp_spec_param_index(node->spec, param_name);
            if (index < 0) {
                return amp_format_error(c, "node '%s' (%s) has no parameter '%s'", node->name,
                                        node->spec->type_name, param_name);
            }
            if (set_mask & (1ull << index)) {
                return amp_format_error(c, "node '%s' sets parameter '%s' twice", node->name, param_name);
            }
            set_mask |= 1ull << index;
            if ((status = check_param_value(c, node, &node->spec->params[index], value)) != AMP_OK) {
                return status;
            }
            node->params[index] = value;
        }
    }
    return amp_cursor_expect_end(c);
}

static int32_t check_node_index(AmpCursor *c, const AmpDescriptor *desc, const char *field, uint32_t index)
{
    if (desc->nodes == NULL) {
        return amp_format_error(c, "%s appears before the NODES section", field);
    }
    if (index >= desc->node_count) {
        return amp_format_error(c, "%s %u is not a node (there are %u)", field, index, desc->node_count);
    }
    return AMP_OK;
}

static int32_t read_edge_entries(AmpDescriptor *desc, AmpCursor *c, const uint32_t *port_base, uint8_t *connected);

static int32_t read_edges(AmpDescriptor *desc, AmpCursor *c)
{
    int32_t status;
    uint32_t count = 0;
    c->where = "EDGES";
    if ((status = amp_cursor_count(c, "edge count", 16, &count)) != AMP_OK) {
        return status;
    }
    desc->edges = (AmpDescEdge *)calloc((size_t)count + 1, sizeof(AmpDescEdge));
    if (desc->edges == NULL) {
        return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, NULL, -1, "no memory for %u edges", count);
    }
    desc->edge_count = count;
    if (count == 0) {
        return amp_cursor_expect_end(c);
    }
    if (desc->nodes == NULL) {
        return read_edge_entries(desc, c, NULL, NULL); /* refuses the first edge, naming the order */
    }
    /* One flag per input port of every node, found at port_base[node] + input: an input that takes
     * one connection is checked against it in constant time instead of against every edge before
     * it. The nodes are in memory already (14 blob bytes each), each with a few inputs, so these
     * are bounded by the blob's size too. */
    uint32_t *port_base = (uint32_t *)calloc((size_t)desc->node_count + 1, sizeof(uint32_t));
    size_t ports = 0;
    for (uint32_t n = 0; port_base != NULL && n < desc->node_count; ++n) {
        port_base[n] = (uint32_t)ports;
        ports += (size_t)desc->nodes[n].spec->num_inputs;
    }
    uint8_t *connected = port_base == NULL || ports > UINT32_MAX ? NULL : (uint8_t *)calloc(ports + 1, 1);
    if (connected == NULL) {
        free(port_base);
        return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, NULL, -1, "no memory for %u edges", count);
    }
    status = read_edge_entries(desc, c, port_base, connected);
    free(port_base);
    free(connected);
    return status;
}

static int32_t read_edge_entries(AmpDescriptor *desc, AmpCursor *c, const uint32_t *port_base, uint8_t *connected)
{
    int32_t status;
    const uint32_t count = desc->edge_count;
    for (uint32_t i = 0; i < count; ++i) {
        AmpDescEdge *e = &desc->edges[i];
        if ((status = amp_cursor_u32(c, "edge source", &e->src_node)) != AMP_OK ||
            (status = amp_cursor_u32(c, "edge source output", &e->src_output)) != AMP_OK ||
            (status = amp_cursor_u32(c, "edge destination", &e->dst_node)) != AMP_OK ||
            (status = amp_cursor_u32(c, "edge destination input", &e->dst_input)) != AMP_OK ||
            (status = check_node_index(c, desc, "edge source", e->src_node)) != AMP_OK ||
            (status = check_node_index(c, desc, "edge destination", e->dst_node)) != AMP_OK) {
            return status;
        }
        const AmpDescNode *src = &desc->nodes[e->src_node];
        const AmpDescNode *dst = &desc->nodes[e->dst_node];
        if (e->src_output >= (uint32_t)src->spec->num_outputs) {
            return amp_format_error(c, "edge %u: node '%s' (%s) has no output %u", i, src->name,
                                    src->spec->type_name, e->src_output);
        }
        if (e->dst_input >= (uint32_t)dst->spec->num_inputs) {
            return amp_format_error(c, "edge %u: node '%s' (%s) has no input %u", i, dst->name,
                                    dst->spec->type_name, e->dst_input);
        }
        if (!(dst->spec->inputs[e->dst_input].flags & AMP_PORT_MULTI)) {
            uint8_t *flag = &connected[port_base[e->dst_node] + e->dst_input];
            if (*flag) {
                return amp_format_error(c, "edge %u: input '%s' of node '%s' is already connected", i,
                                        dst->spec->inputs[e->dst_input].name, dst->name);
            }
            *flag = 1;
        }
    }
    return amp_cursor_expect_end(c);
}

static int32_t check_param_target(AmpCursor *c, const AmpDescriptor *desc, uint32_t node_index,
                                  const char *param_name, uint32_t *out_index, const char *what)
{
    const AmpDescNode *node = &desc->nodes[node_index];
    const int index = amp_spec_param_index(node->spec, param_name);
    if (index < 0) {
        return amp_format_error(c, "%s: node '%s' (%s) has no parameter '%s'", what, node->name,
                                node->spec->type_name, param_name);
    }
    if (node->spec->params[index].flags & AMP_PARAM_STATIC) {
        return amp_format_error(c, "%s: parameter '%s' of node '%s' is fixed at creation and cannot vary", what,
                                param_name, node->name);
    }
    *out_index = (uint32_t)index;
    return AMP_OK;
}

static int32_t read_modulations(AmpDescriptor *desc, AmpCursor *c)
{
    int32_t status;
    uint32_t count = 0;
    c->where = "MODULATIONS";
    if ((status = amp_cursor_count(c, "modulation count", 30, &count)) != AMP_OK) {
        return status;
    }
    desc->modulations = (AmpDescModulation *)calloc((size_t)count + 1, sizeof(AmpDescModulation));
    if (desc->modulations == NULL) {
        return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, NULL, -1, "no memory");
    }
    desc->modulation_count = count;
    for (uint32_t i = 0; i < count; ++i) {
        AmpDescModulation *m = &desc->modulations[i];
        char param_name[64];
        if ((status = amp_cursor_u32(c, "modulation source", &m->src_node)) != AMP_OK ||
            (status = amp_cursor_u32(c, "modulation source output", &m->src_output)) != AMP_OK ||
            (status = amp_cursor_i32(c, "modulation channel", &m->channel)) != AMP_OK ||
            (status = amp_cursor_u32(c, "modulation destination", &m->dst_node)) != AMP_OK ||
            (status = amp_cursor_name(c, "modulation parameter", param_name, sizeof(param_name))) != AMP_OK ||
            (status = amp_cursor_u8(c, "modulation mode", &m->mode)) != AMP_OK ||
            (status = amp_cursor_f64(c, "modulation scale", &m->scale)) != AMP_OK ||
            (status = check_node_index(c, desc, "modulation source", m->src_node)) != AMP_OK ||
            (status = check_node_index(c, desc, "modulation destination", m->dst_node)) != AMP_OK ||
            (status = check_param_target(c, desc, m->dst_node, param_name, &m->param, "modulation")) != AMP_OK) {
            return status;
        }
        const AmpDescNode *src = &desc->nodes[m->src_node];
        if (m->src_output >= (uint32_t)src->spec->num_outputs) {
            return amp_format_error(c, "modulation %u: node '%s' has no output %u", i, src->name, m->src_output);
        }
        if (m->mode > AMP_MOD_MUL) {
            return amp_format_error(c, "modulation %u: mode %u is neither add (0) nor mul (1)", i, m->mode);
        }
        if (m->channel < -1) {
            return amp_format_error(c, "modulation %u: channel %d is negative", i, m->channel);
        }
        if (!isfinite(m->scale)) {
            return amp_format_error(c, "modulation %u: scale is not finite", i);
        }
    }
    return amp_cursor_expect_end(c);
}

static int32_t read_binding_entries(AmpDescriptor *desc, AmpCursor *c, uint64_t *bound);

static int32_t read_bindings(AmpDescriptor *desc, AmpCursor *c)
{
    int32_t status;
    uint32_t count = 0;
    c->where = "CONTROL_BINDINGS";
    if ((status = amp_cursor_count(c, "binding count", 14, &count)) != AMP_OK) {
        return status;
    }
    desc->bindings = (AmpDescBinding *)calloc((size_t)count + 1, sizeof(AmpDescBinding));
    if (desc->bindings == NULL) {
        return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, NULL, -1, "no memory");
    }
    desc->binding_count = count;
    if (count == 0) {
        return amp_cursor_expect_end(c);
    }
    if (desc->nodes == NULL) {
        return read_binding_entries(desc, c, NULL); /* refuses the first binding, naming the order */
    }
    /* the parameters of each node bound so far, as a mask (a node has fewer than 64 parameters) */
    uint64_t *bound = (uint64_t *)calloc(desc->node_count, sizeof(uint64_t));
    if (bound == NULL) {
        return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, NULL, -1, "no memory");
    }
    status = read_binding_entries(desc, c, bound);
    free(bound);
    return status;
}

static int32_t read_binding_entries(AmpDescriptor *desc, AmpCursor *c, uint64_t *bound)
{
    int32_t status;
    const uint32_t count = desc->binding_count;
    for (uint32_t i = 0; i < count; ++i) {
        AmpDescBinding *b = &desc->bindings[i];
        char param_name[64];
        if ((status = amp_cursor_u32(c, "binding node", &b->node)) != AMP_OK ||
            (status = amp_cursor_name(c, "binding parameter", param_name, sizeof(param_name))) != AMP_OK ||
            (status = amp_cursor_name(c, "binding key", b->key, sizeof(b->key))) != AMP_OK ||
            (status = check_node_index(c, desc, "binding node", b->node)) != AMP_OK ||
            (status = check_param_target(c, desc, b->node, param_name, &b->param, "binding")) != AMP_OK) {
            return status;
        }
        if (bound[b->node] & (1ull << b->param)) {
            return amp_format_error(c, "parameter '%s' of node '%s' is bound to a control key twice",
                                    param_name, desc->nodes[b->node].name);
        }
        bound[b->node] |= 1ull << b->param;
    }
    return amp_cursor_expect_end(c);
}

static int32_t read_sink(AmpDescriptor *desc, AmpCursor *c)
{
    int32_t status;
    c->where = "SINK";
    if ((status = amp_cursor_u32(c, "sink node", &desc->sink)) != AMP_OK ||
        (status = check_node_index(c, desc, "sink node", desc->sink)) != AMP_OK) {
        return status;
    }
    desc->has_sink = 1;
    return amp_cursor_expect_end(c);
}

static int32_t read_node_data(AmpDescriptor *desc, AmpCursor *c)
{
    int32_t status;
    uint32_t count = 0;
    c->where = "NODE_DATA";
    if ((status = amp_cursor_count(c, "data count", 12, &count)) != AMP_OK) {
        return status;
    }
    for (uint32_t i = 0; i < count; ++i) {
        uint32_t node = 0;
        uint64_t size = 0;
        const uint8_t *bytes = NULL;
        if ((status = amp_cursor_u32(c, "data node", &node)) != AMP_OK ||
            (status = check_node_index(c, desc, "data node", node)) != AMP_OK ||
            (status = amp_cursor_u64(c, "data size", &size)) != AMP_OK ||
            (status = amp_cursor_bytes(c, "data bytes", size, &bytes)) != AMP_OK) {
            return status;
        }
        if (desc->nodes[node].data != NULL) {
            return amp_format_error(c, "node '%s' has two data entries", desc->nodes[node].name);
        }
        desc->nodes[node].data = bytes;
        desc->nodes[node].data_size = size;
    }
    return amp_cursor_expect_end(c);
}

static int32_t visit_section(void *opaque, const AmpSection *section, AmpCursor *cursor)
{
    DescriptorContext *ctx = (DescriptorContext *)opaque;
    if (section->id >= 1 && section->id <= AMP_DESC_SECTION_NODE_DATA) {
        const unsigned bit = 1u << section->id;
        if (ctx->seen & bit) {
            cursor->where = "list";
            return amp_format_error(cursor, "section %u appears twice", section->id);
        }
        ctx->seen |= bit;
    }
    switch (section->id) {
    case AMP_DESC_SECTION_NODES:
        return read_nodes(ctx->desc, cursor);
    case AMP_DESC_SECTION_EDGES:
        return read_edges(ctx->desc, cursor);
    case AMP_DESC_SECTION_MODULATIONS:
        return read_modulations(ctx->desc, cursor);
    case AMP_DESC_SECTION_CONTROL_BINDINGS:
        return read_bindings(ctx->desc, cursor);
    case AMP_DESC_SECTION_SINK:
        return read_sink(ctx->desc, cursor);
    case AMP_DESC_SECTION_NODE_DATA:
        return read_node_data(ctx->desc, cursor);
    default:
        return AMP_OK; /* a section from a later minor version */
    }
}

int32_t amp_descriptor_parse(const uint8_t *blob, size_t size, AmpDescriptor *out, AmpErrorInfo *error)
{
    memset(out, 0, sizeof(*out));
    DescriptorContext ctx = {out, 0};
    int32_t status = amp_blob_read_sections(blob, size, AMP_BLOB_DESCRIPTOR, AMP_DESCRIPTOR_VERSION_MAJOR,
                                            "descriptor", visit_section, &ctx, error);
    if (status == AMP_OK) {
        out->version_minor = (uint16_t)(blob[6] | (blob[7] << 8));
        if (out->nodes == NULL) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "descriptor", NULL, -1,
                                   "descriptor has no NODES section");
        } else if (!out->has_sink) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "descriptor", NULL, -1,
                                   "descriptor has no SINK section: it must name the sink node");
        }
    }
    if (status != AMP_OK) {
        amp_descriptor_free(out);
    }
    return status;
}
