/* blob_describe.c - any amp blob as JSON, after the same validation the runtime applies. */
#include "../amp_error.h"
#include "../amp_json.h"
#include "blob_reader.h"
#include "control.h"
#include "descriptor.h"
#include "plan.h"

#include <stdlib.h>

static void describe_header(AmpJson *json, const AmpBlobHeader *header)
{
    amp_json_key(json, "magic");
    amp_json_string(json, header->magic);
    amp_json_key(json, "version");
    amp_json_begin_array(json);
    amp_json_int(json, header->version_major);
    amp_json_int(json, header->version_minor);
    amp_json_end_array(json);
    amp_json_key(json, "payload_size");
    amp_json_int(json, (int64_t)header->payload_size);
    amp_json_key(json, "crc32");
    amp_json_int(json, header->crc32);
}

static void describe_descriptor(AmpJson *json, const AmpDescriptor *d)
{
    static const char *const modes[] = {"add", "mul"};
    amp_json_key(json, "nodes");
    amp_json_begin_array(json);
    for (uint32_t i = 0; i < d->node_count; ++i) {
        const AmpDescNode *node = &d->nodes[i];
        amp_json_begin_object(json);
        amp_json_key(json, "name");
        amp_json_string(json, node->name);
        amp_json_key(json, "type");
        amp_json_string(json, node->spec->type_name);
        amp_json_key(json, "params");
        amp_json_begin_object(json);
        for (int p = 0; p < node->spec->num_params; ++p) {
            amp_json_key(json, node->spec->params[p].name);
            amp_json_number(json, node->params[p]);
        }
        amp_json_end_object(json);
        amp_json_key(json, "data_size");
        amp_json_int(json, (int64_t)node->data_size);
        amp_json_end_object(json);
    }
    amp_json_end_array(json);
    amp_json_key(json, "edges");
    amp_json_begin_array(json);
    for (uint32_t i = 0; i < d->edge_count; ++i) {
        const AmpDescEdge *e = &d->edges[i];
        amp_json_begin_object(json);
        amp_json_key(json, "source");
        amp_json_string(json, d->nodes[e->src_node].name);
        amp_json_key(json, "output");
        amp_json_string(json, d->nodes[e->src_node].spec->outputs[e->src_output].name);
        amp_json_key(json, "target");
        amp_json_string(json, d->nodes[e->dst_node].name);
        amp_json_key(json, "input");
        amp_json_string(json, d->nodes[e->dst_node].spec->inputs[e->dst_input].name);
        amp_json_end_object(json);
    }
    amp_json_end_array(json);
    amp_json_key(json, "modulations");
    amp_json_begin_array(json);
    for (uint32_t i = 0; i < d->modulation_count; ++i) {
        const AmpDescModulation *m = &d->modulations[i];
        amp_json_begin_object(json);
        amp_json_key(json, "source");
        amp_json_string(json, d->nodes[m->src_node].name);
        amp_json_key(json, "output");
        amp_json_string(json, d->nodes[m->src_node].spec->outputs[m->src_output].name);
        amp_json_key(json, "channel");
        if (m->channel < 0) {
            amp_json_null(json);
        } else {
            amp_json_int(json, m->channel);
        }
        amp_json_key(json, "target");
        amp_json_string(json, d->nodes[m->dst_node].name);
        amp_json_key(json, "param");
        amp_json_string(json, d->nodes[m->dst_node].spec->params[m->param].name);
        amp_json_key(json, "mode");
        amp_json_string(json, modes[m->mode]);
        amp_json_key(json, "scale");
        amp_json_number(json, m->scale);
        amp_json_end_object(json);
    }
    amp_json_end_array(json);
    amp_json_key(json, "control_bindings");
    amp_json_begin_array(json);
    for (uint32_t i = 0; i < d->binding_count; ++i) {
        const AmpDescBinding *b = &d->bindings[i];
        amp_json_begin_object(json);
        amp_json_key(json, "node");
        amp_json_string(json, d->nodes[b->node].name);
        amp_json_key(json, "param");
        amp_json_string(json, d->nodes[b->node].spec->params[b->param].name);
        amp_json_key(json, "key");
        amp_json_string(json, b->key);
        amp_json_end_object(json);
    }
    amp_json_end_array(json);
    amp_json_key(json, "sink");
    amp_json_string(json, d->nodes[d->sink].name);
}

static void describe_u32s(AmpJson *json, const char *key, const uint32_t *items, uint32_t count)
{
    amp_json_key(json, key);
    amp_json_begin_array(json);
    for (uint32_t i = 0; i < count; ++i) {
        amp_json_int(json, items[i]);
    }
    amp_json_end_array(json);
}

static void describe_plan(AmpJson *json, const AmpPlan *p)
{
    describe_u32s(json, "order", p->order, p->order_count);
    amp_json_key(json, "buffer_count");
    amp_json_int(json, p->buffer_count);
    amp_json_key(json, "values");
    amp_json_begin_array(json);
    for (uint32_t i = 0; i < p->value_count; ++i) {
        amp_json_begin_object(json);
        amp_json_key(json, "node");
        amp_json_int(json, p->values[i].node);
        amp_json_key(json, "output");
        amp_json_int(json, p->values[i].output);
        amp_json_key(json, "channels");
        amp_json_int(json, p->values[i].channels);
        amp_json_key(json, "buffer");
        amp_json_int(json, p->values[i].buffer);
        amp_json_end_object(json);
    }
    amp_json_end_array(json);
    amp_json_key(json, "fusion_groups");
    amp_json_begin_array(json);
    for (uint32_t g = 0; g < p->group_count; ++g) {
        amp_json_begin_array(json);
        for (uint32_t i = p->group_offsets[g]; i < p->group_offsets[g + 1]; ++i) {
            amp_json_int(json, p->group_nodes[i]);
        }
        amp_json_end_array(json);
    }
    amp_json_end_array(json);
    describe_u32s(json, "routes", p->routes, p->route_count);
    amp_json_key(json, "optimisations");
    amp_json_begin_array(json);
    if (p->optimisations & AMP_OPT_CHAIN_FUSION) {
        amp_json_string(json, "chain_fusion");
    }
    if (p->optimisations & AMP_OPT_CONSTANT_FOLDING) {
        amp_json_string(json, "constant_folding");
    }
    if (p->optimisations & AMP_OPT_BUFFER_REUSE) {
        amp_json_string(json, "buffer_reuse");
    }
    if (p->optimisations & AMP_OPT_SUM_STAGES) {
        amp_json_string(json, "sum_stages");
    }
    if (p->optimisations & AMP_OPT_LANE_FUSION) {
        amp_json_string(json, "lane_fusion");
    }
    amp_json_end_array(json);
}

static int32_t describe_key(void *context, const AmpControlKey *key)
{
    AmpJson *json = (AmpJson *)context;
    amp_json_begin_object(json);
    amp_json_key(json, "key");
    amp_json_string(json, key->name);
    amp_json_key(json, "interpolation");
    amp_json_string(json, key->interpolation == AMP_INTERP_LINEAR ? "linear" : "step");
    amp_json_key(json, "events");
    amp_json_begin_array(json);
    for (uint32_t i = 0; i < key->event_count; ++i) {
        double time = 0.0;
        double value = 0.0;
        amp_control_event(key, i, &time, &value);
        amp_json_begin_array(json);
        amp_json_number(json, time);
        amp_json_number(json, value);
        amp_json_end_array(json);
    }
    amp_json_end_array(json);
    amp_json_end_object(json);
    return AMP_OK;
}

int32_t amp_native_describe_blob(const uint8_t *blob, size_t size, char *buffer, size_t capacity, size_t *required,
                                 AmpErrorInfo *error)
{
    amp_error_clear(error);
    AmpBlobHeader header;
    int32_t status = amp_blob_read_header(blob, size, &header, error);
    if (status != AMP_OK) {
        return status;
    }
    AmpJson json;
    amp_json_init(&json);
    amp_json_begin_object(&json);
    describe_header(&json, &header);
    if (header.kind == AMP_BLOB_DESCRIPTOR) {
        AmpDescriptor desc;
        status = amp_descriptor_parse(blob, size, &desc, error);
        if (status == AMP_OK) {
            amp_json_key(&json, "kind");
            amp_json_string(&json, "descriptor");
            describe_descriptor(&json, &desc);
            amp_descriptor_free(&desc);
        }
    } else if (header.kind == AMP_BLOB_PLAN) {
        AmpPlan plan;
        status = amp_plan_parse(blob, size, NULL, &plan, error);
        if (status == AMP_OK) {
            amp_json_key(&json, "kind");
            amp_json_string(&json, "plan");
            describe_plan(&json, &plan);
            amp_plan_free(&plan);
        }
    } else {
        double t0 = 0.0;
        double t1 = 0.0;
        amp_json_key(&json, "kind");
        amp_json_string(&json, "control");
        amp_json_key(&json, "keys");
        amp_json_begin_array(&json);
        status = amp_control_parse(blob, size, &t0, &t1, describe_key, &json, error);
        amp_json_end_array(&json);
        amp_json_key(&json, "window");
        amp_json_begin_array(&json);
        amp_json_number(&json, t0);
        amp_json_number(&json, t1);
        amp_json_end_array(&json);
    }
    amp_json_end_object(&json);
    if (status == AMP_OK) {
        status = amp_json_export(&json, buffer, capacity, required);
        if (status == AMP_ERR_OUT_OF_MEMORY) {
            amp_error_set(error, status, "describe", NULL, -1, "no memory for the JSON description");
        } else if (status == AMP_ERR_BUFFER_TOO_SMALL) {
            amp_error_set(error, status, "describe", NULL, -1, "the description needs %zu bytes",
                          required ? *required : 0);
        }
    }
    amp_json_free(&json);
    return status;
}
