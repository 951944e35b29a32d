/* plan_reader.c - parses the plan blob and checks it against the descriptor. */
#include "plan.h"

#include "../amp_error.h"
#include "blob_reader.h"

#include <stdlib.h>
#include <string.h>

void amp_plan_free(AmpPlan *plan)
{
    if (plan == NULL) {
        return;
    }
    free(plan->order);
    free(plan->values);
    free(plan->group_offsets);
    free(plan->group_nodes);
    free(plan->routes);
    free(plan->node_channels);
    free(plan->value_base);
    memset(plan, 0, sizeof(*plan));
}

typedef struct PlanContext {
    AmpPlan *plan;
    unsigned seen;
} PlanContext;

static int32_t no_memory(AmpCursor *c)
{
    return amp_error_set(c->error, AMP_ERR_OUT_OF_MEMORY, c->stage, NULL, -1, "no memory while reading %s", c->where);
}

static int32_t read_u32_list(AmpCursor *c, const char *field, uint32_t *count, uint32_t **items)
{
    int32_t status = amp_cursor_count(c, field, 4, count);
    if (status != AMP_OK) {
        return status;
    }
    *items = (uint32_t *)calloc((size_t)*count + 1, sizeof(uint32_t));
    if (*items == NULL) {
        return no_memory(c);
    }
    for (uint32_t i = 0; i < *count; ++i) {
        if ((status = amp_cursor_u32(c, field, &(*items)[i])) != AMP_OK) {
            return status;
        }
    }
    return AMP_OK;
}

static int32_t read_values(AmpPlan *plan, AmpCursor *c)
{
    int32_t status;
    if ((status = amp_cursor_u32(c, "buffer count", &plan->buffer_count)) != AMP_OK ||
        (status = amp_cursor_count(c, "value count", 16, &plan->value_count)) != AMP_OK) {
        return status;
    }
    plan->values = (AmpPlanValue *)calloc((size_t)plan->value_count + 1, sizeof(AmpPlanValue));
    if (plan->values == NULL) {
        return no_memory(c);
    }
    for (uint32_t i = 0; i < plan->value_count; ++i) {
        AmpPlanValue *v = &plan->values[i];
        if ((status = amp_cursor_u32(c, "value node", &v->node)) != AMP_OK ||
            (status = amp_cursor_u32(c, "value output", &v->output)) != AMP_OK ||
            (status = amp_cursor_u32(c, "value channels", &v->channels)) != AMP_OK ||
            (status = amp_cursor_u32(c, "value buffer", &v->buffer)) != AMP_OK) {
            return status;
        }
    }
    return AMP_OK;
}

static int32_t read_fusion(AmpPlan *plan, AmpCursor *c)
{
    int32_t status;
    if ((status = amp_cursor_count(c, "group count", 4, &plan->group_count)) != AMP_OK) {
        return status;
    }
    plan->group_offsets = (uint32_t *)calloc((size_t)plan->group_count + 1, sizeof(uint32_t));
    /* every group holds at least one node index, so the section size bounds the total */
    plan->group_nodes = (uint32_t *)calloc(c->size / 4 + 1, sizeof(uint32_t));
    if (plan->group_offsets == NULL || plan->group_nodes == NULL) {
        return no_memory(c);
    }
    uint32_t total = 0;
    for (uint32_t g = 0; g < plan->group_count; ++g) {
        uint32_t length = 0;
        if ((status = amp_cursor_count(c, "group length", 4, &length)) != AMP_OK) {
            return status;
        }
        if (length < 2) {
            return amp_format_error(c, "fusion group %u has %u nodes; a group fuses at least two", g, length);
        }
        plan->group_offsets[g] = total;
        for (uint32_t i = 0; i < length; ++i) {
            if ((status = amp_cursor_u32(c, "group node", &plan->group_nodes[total])) != AMP_OK) {
                return status;
            }
            ++total;
        }
    }
    plan->group_offsets[plan->group_count] = total;
    return AMP_OK;
}

static int32_t visit_section(void *opaque, const AmpSection *section, AmpCursor *c)
{
    PlanContext *ctx = (PlanContext *)opaque;
    AmpPlan *plan = ctx->plan;
    int32_t status = AMP_OK;
    if (section->id >= 1 && section->id <= AMP_PLAN_SECTION_OPTIONS) {
        const unsigned bit = 1u << section->id;
        if (ctx->seen & bit) {
            c->where = "list";
            return amp_format_error(c, "section %u appears twice", section->id);
        }
        ctx->seen |= bit;
    }
    switch (section->id) {
    case AMP_PLAN_SECTION_ORDER:
        c->where = "ORDER";
        status = read_u32_list(c, "order entry", &plan->order_count, &plan->order);
        break;
    case AMP_PLAN_SECTION_VALUES:
        c->where = "VALUES";
        status = read_values(plan, c);
        break;
    case AMP_PLAN_SECTION_FUSION:
        c->where = "FUSION";
        status = read_fusion(plan, c);
        break;
    case AMP_PLAN_SECTION_ROUTES:
        c->where = "ROUTES";
        status = read_u32_list(c, "route", &plan->route_count, &plan->routes);
        break;
    case AMP_PLAN_SECTION_OPTIONS:
        c->where = "OPTIONS";
        status = amp_cursor_u32(c, "optimisations", &plan->optimisations);
        break;
    default:
        return AMP_OK;
    }
    if (status != AMP_OK) {
        return status;
    }
    return amp_cursor_expect_end(c);
}

static int32_t plan_error(AmpErrorInfo *error, const char *node, const char *format, const char *a, const char *b,
                          unsigned x, unsigned y)
{
    return amp_error_set(error, AMP_ERR_FORMAT, "plan", node, -1, format, a, b, x, y);
}

/* The edges into each node, in edge order: node n's are edges[into[first[n] .. first[n + 1])]. */
typedef struct EdgesInto {
    uint32_t *first;
    uint32_t *into;
} EdgesInto;

static int edges_into(const AmpDescriptor *desc, EdgesInto *out)
{
    out->first = (uint32_t *)calloc((size_t)desc->node_count + 2, sizeof(uint32_t));
    out->into = (uint32_t *)calloc((size_t)desc->edge_count + 1, sizeof(uint32_t));
    if (out->first == NULL || out->into == NULL) {
        free(out->first);
        free(out->into);
        return 0;
    }
    for (uint32_t e = 0; e < desc->edge_count; ++e) {
        ++out->first[desc->edges[e].dst_node + 2];
    }
    for (uint32_t n = 0; n < desc->node_count; ++n) {
        out->first[n + 2] += out->first[n + 1];
    }
    /* first[n + 1] now counts the edges into nodes before n; filling advances it to first[n + 2]'s
     * old value, leaving first[n] .. first[n + 1] as node n's range */
    for (uint32_t e = 0; e < desc->edge_count; ++e) {
        out->into[out->first[desc->edges[e].dst_node + 1]++] = e;
    }
    return 1;
}

static int32_t node_channels(const AmpDescriptor *desc, const uint32_t *order, uint32_t *channels,
                             const EdgesInto *edges, AmpErrorInfo *error);

int32_t amp_plan_node_channels(const AmpDescriptor *desc, const uint32_t *order, uint32_t *channels,
                               AmpErrorInfo *error)
{
    /* Indexed once, so that a node taking its width from its inputs looks only at its own edges:
     * searching every edge per node made a large graph quadratic. */
    EdgesInto edges;
    if (!edges_into(desc, &edges)) {
        return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "plan", NULL, -1, "no memory");
    }
    const int32_t status = node_channels(desc, order, channels, &edges, error);
    free(edges.first);
    free(edges.into);
    return status;
}

static int32_t node_channels(const AmpDescriptor *desc, const uint32_t *order, uint32_t *channels,
                             const EdgesInto *edges, AmpErrorInfo *error)
{
    for (uint32_t k = 0; k < desc->node_count; ++k) {
        const uint32_t n = order[k];
        const AmpDescNode *node = &desc->nodes[n];
        const AmpNodeSpec *spec = node->spec;
        uint32_t count = 1;
        if (spec->channel_rule == AMP_CHANNELS_FIXED) {
            count = (uint32_t)spec->channel_value;
        } else if (spec->channel_rule == AMP_CHANNELS_FROM_PARAM) {
            count = (uint32_t)node->params[spec->channel_value];
        } else {
            count = 0;
            for (uint32_t i = edges->first[n]; i < edges->first[n + 1]; ++i) {
                const AmpDescEdge *edge = &desc->edges[edges->into[i]];
                if (edge->dst_input == (uint32_t)spec->channel_value) {
                    if (channels[edge->src_node] == 0) {
                        return amp_error_set(error, AMP_ERR_FORMAT, "plan", node->name, -1,
                                             "node '%s' takes its channel count from '%s', which runs after it",
                                             node->name, desc->nodes[edge->src_node].name);
                    }
                    if (channels[edge->src_node] > count) {
                        count = channels[edge->src_node];
                    }
                }
            }
            if (count == 0) {
                count = 1;
            }
        }
        if (count == 0 || count > 64) {
            return amp_error_set(error, AMP_ERR_FORMAT, "plan", node->name, -1, "node '%s' would have %u channels",
                                 node->name, count);
        }
        channels[n] = count;
    }
    return AMP_OK;
}

/* Values sharing a buffer must not be alive at once, and must have as many channels. The values are
 * sorted by buffer, then by birth (then index): within a buffer each must be born after the last
 * use of every value before it, which is a running maximum, so the check is a sort and a sweep
 * rather than a comparison of every pair. Every buffer must hold some value. */
typedef struct ValueLife {
    uint32_t buffer;
    uint32_t birth;
    uint32_t value;
} ValueLife;

static int compare_lives(const void *a, const void *b)
{
    const ValueLife *x = (const ValueLife *)a;
    const ValueLife *y = (const ValueLife *)b;
    if (x->buffer != y->buffer) {
        return x->buffer < y->buffer ? -1 : 1;
    }
    if (x->birth != y->birth) {
        return x->birth < y->birth ? -1 : 1;
    }
    return x->value < y->value ? -1 : (x->value > y->value);
}

static int32_t check_buffers(const AmpDescriptor *desc, const AmpPlan *plan, const uint32_t *birth,
                             const uint32_t *death, AmpErrorInfo *error)
{
    const uint32_t count = plan->value_count;
    ValueLife *lives = (ValueLife *)calloc((size_t)count + 1, sizeof(ValueLife));
    if (lives == NULL) {
        return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "plan", NULL, -1, "no memory");
    }
    for (uint32_t v = 0; v < count; ++v) {
        lives[v] = (ValueLife){plan->values[v].buffer, birth[v], v};
    }
    qsort(lives, count, sizeof(ValueLife), compare_lives);
    int32_t status = AMP_OK;
    uint32_t next_buffer = 0; /* every buffer below it holds a value */
    uint32_t alive_until = 0; /* the last use of the values before, in this buffer */
    uint32_t longest = 0;     /* the value that lives until then */
    for (uint32_t i = 0; i < count && status == AMP_OK; ++i) {
        const uint32_t b = lives[i].buffer;
        const uint32_t v = lives[i].value;
        if (i == 0 || b != lives[i - 1].buffer) {
            if (b != next_buffer) {
                break; /* buffer next_buffer holds nothing: reported below */
            }
            ++next_buffer;
            alive_until = death[v];
            longest = v;
            continue;
        }
        const AmpPlanValue *value = &plan->values[v];
        const AmpPlanValue *other = &plan->values[longest];
        if (birth[v] <= alive_until) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[value->node].name, -1,
                                   "buffer %u holds outputs of '%s' and '%s' while both are alive", b,
                                   desc->nodes[other->node].name, desc->nodes[value->node].name);
        } else if (plan->values[lives[i - 1].value].channels != value->channels) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[value->node].name, -1,
                                   "buffer %u is shared by values of %u and %u channels", b,
                                   plan->values[lives[i - 1].value].channels, value->channels);
        } else if (death[v] > alive_until) {
            alive_until = death[v];
            longest = v;
        }
    }
    if (status == AMP_OK && next_buffer < plan->buffer_count) {
        status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1, "buffer %u holds no value", next_buffer);
    }
    free(lives);
    return status;
}

static int32_t check_plan(const AmpDescriptor *desc, AmpPlan *plan, AmpErrorInfo *error)
{
    const uint32_t n = desc->node_count;
    if (plan->order == NULL || plan->values == NULL) {
        return amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1, "plan lacks its %s section",
                             plan->order == NULL ? "ORDER" : "VALUES");
    }
    if (plan->order_count != n) {
        return amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1,
                             "plan orders %u nodes but the descriptor has %u", plan->order_count, n);
    }
    uint32_t *position = (uint32_t *)calloc(n, sizeof(uint32_t));
    uint32_t *birth = NULL;
    uint32_t *death = NULL;
    int32_t status = AMP_OK;
    plan->node_channels = (uint32_t *)calloc(n, sizeof(uint32_t));
    plan->value_base = (uint32_t *)calloc((size_t)n + 1, sizeof(uint32_t));
    if (position == NULL || plan->node_channels == NULL || plan->value_base == NULL) {
        free(position);
        return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "plan", NULL, -1, "no memory");
    }
    for (uint32_t i = 0; i < n; ++i) {
        position[i] = UINT32_MAX;
    }
    for (uint32_t k = 0; k < n; ++k) {
        const uint32_t node = plan->order[k];
        if (node >= n) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1, "order entry %u names node %u of %u", k,
                                   node, n);
            goto done;
        }
        if (position[node] != UINT32_MAX) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[node].name, -1,
                                   "node '%s' appears twice in the order", desc->nodes[node].name);
            goto done;
        }
        position[node] = k;
    }
    for (uint32_t e = 0; e < desc->edge_count; ++e) {
        const AmpDescEdge *edge = &desc->edges[e];
        const int delayed = desc->nodes[edge->dst_node].spec->block_delay > 0;
        if (!delayed && position[edge->src_node] >= position[edge->dst_node]) {
            status = plan_error(error, desc->nodes[edge->dst_node].name,
                                "order runs '%s' before its input '%s' (positions %u, %u)",
                                desc->nodes[edge->dst_node].name, desc->nodes[edge->src_node].name,
                                position[edge->dst_node], position[edge->src_node]);
            goto done;
        }
    }
    for (uint32_t m = 0; m < desc->modulation_count; ++m) {
        const AmpDescModulation *mod = &desc->modulations[m];
        if (position[mod->src_node] >= position[mod->dst_node]) {
            status = plan_error(error, desc->nodes[mod->dst_node].name,
                                "order runs '%s' before its modulation source '%s' (positions %u, %u)",
                                desc->nodes[mod->dst_node].name, desc->nodes[mod->src_node].name,
                                position[mod->dst_node], position[mod->src_node]);
            goto done;
        }
    }
    if ((status = amp_plan_node_channels(desc, plan->order, plan->node_channels, error)) != AMP_OK) {
        goto done;
    }
    for (uint32_t m = 0; m < desc->modulation_count; ++m) {
        const AmpDescModulation *mod = &desc->modulations[m];
        const uint32_t src_channels = plan->node_channels[mod->src_node];
        const uint32_t dst_channels = plan->node_channels[mod->dst_node];
        if (mod->channel >= 0 && (uint32_t)mod->channel >= src_channels) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[mod->dst_node].name, -1,
                                   "modulation from '%s' selects channel %d but it has %u", 
                                   desc->nodes[mod->src_node].name, mod->channel, src_channels);
            goto done;
        }
        if (mod->channel < 0 && src_channels != 1 && src_channels != dst_channels) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[mod->dst_node].name, -1,
                                   "modulation from '%s' (%u channels) into '%s' (%u channels) needs a channel",
                                   desc->nodes[mod->src_node].name, src_channels, desc->nodes[mod->dst_node].name,
                                   dst_channels);
            goto done;
        }
    }
    /* one value per (node, output), in node-index order */
    uint32_t expected = 0;
    for (uint32_t i = 0; i < n; ++i) {
        plan->value_base[i] = expected;
        expected += (uint32_t)desc->nodes[i].spec->num_outputs;
    }
    plan->value_base[n] = expected;
    if (plan->value_count != expected) {
        status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1,
                               "plan lists %u values but the nodes have %u outputs", plan->value_count, expected);
        goto done;
    }
    if (plan->buffer_count == 0 || plan->buffer_count > expected) {
        status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1, "plan has %u buffers for %u values",
                               plan->buffer_count, expected);
        goto done;
    }
    birth = (uint32_t *)calloc((size_t)expected + 1, sizeof(uint32_t));
    death = (uint32_t *)calloc((size_t)expected + 1, sizeof(uint32_t));
    if (birth == NULL || death == NULL) {
        status = amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "plan", NULL, -1, "no memory");
        goto done;
    }
    for (uint32_t v = 0; v < expected; ++v) {
        const AmpPlanValue *value = &plan->values[v];
        if (value->node >= n || value->output >= (uint32_t)desc->nodes[value->node].spec->num_outputs ||
            plan->value_base[value->node] + value->output != v) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1,
                                   "value %u names node %u output %u, out of place", v, value->node, value->output);
            for (uint32_t i = 0; i < n; ++i) {
                if (v >= plan->value_base[i] && v < plan->value_base[i + 1]) {
                    amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[i].name, -1,
                                  "value %u should be output %u of node '%s' (values are listed in node order)", v,
                                  v - plan->value_base[i], desc->nodes[i].name);
                }
            }
            goto done;
        }
        if (value->channels != plan->node_channels[value->node]) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[value->node].name, -1,
                                   "plan gives node '%s' %u channels; its catalogue rule gives %u",
                                   desc->nodes[value->node].name, value->channels,
                                   plan->node_channels[value->node]);
            goto done;
        }
        if (value->buffer >= plan->buffer_count) {
            status = amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[value->node].name, -1,
                                   "value %u uses buffer %u of %u", v, value->buffer, plan->buffer_count);
            goto done;
        }
        birth[v] = position[value->node];
        death[v] = value->node == desc->sink ? n : birth[v];
    }
    for (uint32_t e = 0; e < desc->edge_count; ++e) {
        const AmpDescEdge *edge = &desc->edges[e];
        const uint32_t v = plan->value_base[edge->src_node] + edge->src_output;
        /* a block-delay node reads its input after the block, so the value lives to the end */
        const uint32_t use = desc->nodes[edge->dst_node].spec->block_delay > 0 ? n : position[edge->dst_node];
        if (use > death[v]) {
            death[v] = use;
        }
    }
    for (uint32_t m = 0; m < desc->modulation_count; ++m) {
        const AmpDescModulation *mod = &desc->modulations[m];
        const uint32_t v = plan->value_base[mod->src_node] + mod->src_output;
        if (position[mod->dst_node] > death[v]) {
            death[v] = position[mod->dst_node];
        }
    }
    if ((status = check_buffers(desc, plan, birth, death, error)) != AMP_OK) {
        goto done;
    }
    /* routes: a permutation of the descriptor's modulations */
    if (plan->route_count != desc->modulation_count) {
        status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1, "plan has %u routes for %u modulations",
                               plan->route_count, desc->modulation_count);
        goto done;
    }
    {
        /* one flag per modulation: a route seen twice is found without comparing every pair */
        uint8_t *routed = (uint8_t *)calloc((size_t)desc->modulation_count + 1, 1);
        if (routed == NULL) {
            status = amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "plan", NULL, -1, "no memory");
            goto done;
        }
        for (uint32_t r = 0; r < plan->route_count && status == AMP_OK; ++r) {
            if (plan->routes[r] >= desc->modulation_count) {
                status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1, "route %u names modulation %u of %u",
                                       r, plan->routes[r], desc->modulation_count);
            } else if (routed[plan->routes[r]]) {
                status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1, "modulation %u is routed twice",
                                       plan->routes[r]);
            } else {
                routed[plan->routes[r]] = 1;
            }
        }
        free(routed);
        if (status != AMP_OK) {
            goto done;
        }
    }
    /* fusion groups: disjoint runs of consecutive nodes in the order */
    {
        for (uint32_t k = 0; k < n; ++k) {
            position[plan->order[k]] = k;
        }
        uint8_t *grouped = (uint8_t *)calloc(n, 1);
        if (grouped == NULL) {
            status = amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "plan", NULL, -1, "no memory");
            goto done;
        }
        for (uint32_t g = 0; g < plan->group_count && status == AMP_OK; ++g) {
            for (uint32_t i = plan->group_offsets[g]; i < plan->group_offsets[g + 1]; ++i) {
                const uint32_t node = plan->group_nodes[i];
                if (node >= n || grouped[node]) {
                    status = amp_error_set(error, AMP_ERR_FORMAT, "plan", NULL, -1,
                                           "fusion group %u names node %u, which is unknown or already fused", g,
                                           node);
                    break;
                }
                grouped[node] = 1;
                if (i > plan->group_offsets[g] && position[node] != position[plan->group_nodes[i - 1]] + 1) {
                    status = amp_error_set(error, AMP_ERR_FORMAT, "plan", desc->nodes[node].name, -1,
                                           "fusion group %u is not a run of consecutive nodes in the order", g);
                    break;
                }
            }
        }
        free(grouped);
    }
done:
    free(position);
    free(birth);
    free(death);
    return status;
}

int32_t amp_plan_parse(const uint8_t *blob, size_t size, const AmpDescriptor *desc, AmpPlan *out,
                       AmpErrorInfo *error)
{
    memset(out, 0, sizeof(*out));
    PlanContext ctx = {out, 0};
    int32_t status = amp_blob_read_sections(blob, size, AMP_BLOB_PLAN, AMP_PLAN_VERSION_MAJOR, "plan",
                                            visit_section, &ctx, error);
    if (status == AMP_OK && desc != NULL) {
        status = check_plan(desc, out, error);
    }
    if (status != AMP_OK) {
        amp_plan_free(out);
    }
    return status;
}
