// api.cpp - the C ABI entry points of the library as a whole (its version, its catalogue).
// Every entry point returns a status; no C++ exception crosses this boundary, and failures are
// recorded in the handle or the caller's AmpErrorInfo. The graph's entry points are in
// api_graph.cpp, the streamer's in api_streamer.cpp.
#include "api_internal.hpp"

#include "amp_json.h"
#include "amp_node.h"

#include <cstdio>
#include <cstring>

#ifndef AMP_NATIVE_VERSION
#define AMP_NATIVE_VERSION "0.0.0"
#endif

namespace amp::api {

std::mutex g_links;

}  // namespace amp::api

namespace {

void write_catalogue(AmpJson *json)
{
    static const char *const rules[] = {"fixed", "param", "input"};
    amp_json_begin_array(json);
    for (int i = 0; i < amp_catalogue_size(); ++i) {
        const AmpNodeSpec *spec = amp_catalogue_entry(i);
        amp_json_begin_object(json);
        amp_json_key(json, "type");
        amp_json_string(json, spec->type_name);
        amp_json_key(json, "doc");
        amp_json_string(json, spec->doc);
        for (int side = 0; side < 2; ++side) {
            const AmpPortSpec *ports = side == 0 ? spec->inputs : spec->outputs;
            const int count = side == 0 ? spec->num_inputs : spec->num_outputs;
            amp_json_key(json, side == 0 ? "inputs" : "outputs");
            amp_json_begin_array(json);
            for (int p = 0; p < count; ++p) {
                amp_json_begin_object(json);
                amp_json_key(json, "name");
                amp_json_string(json, ports[p].name);
                amp_json_key(json, "doc");
                amp_json_string(json, ports[p].doc);
                amp_json_key(json, "multi");
                amp_json_bool(json, (ports[p].flags & AMP_PORT_MULTI) != 0);
                amp_json_end_object(json);
            }
            amp_json_end_array(json);
        }
        amp_json_key(json, "channels");
        amp_json_begin_object(json);
        amp_json_key(json, "rule");
        amp_json_string(json, rules[spec->channel_rule]);
        amp_json_key(json, "value");
        if (spec->channel_rule == AMP_CHANNELS_FROM_PARAM) {
            amp_json_string(json, spec->params[spec->channel_value].name);
        } else if (spec->channel_rule == AMP_CHANNELS_FROM_INPUT) {
            amp_json_string(json, spec->inputs[spec->channel_value].name);
        } else {
            amp_json_int(json, spec->channel_value);
        }
        amp_json_end_object(json);
        amp_json_key(json, "block_delay");
        amp_json_int(json, spec->block_delay);
        amp_json_key(json, "params");
        amp_json_begin_array(json);
        for (int p = 0; p < spec->num_params; ++p) {
            const AmpParamSpec &param = spec->params[p];
            amp_json_begin_object(json);
            amp_json_key(json, "name");
            amp_json_string(json, param.name);
            amp_json_key(json, "default");
            amp_json_number(json, param.default_value);
            amp_json_key(json, "min");
            amp_json_number(json, param.min_value);
            amp_json_key(json, "max");
            amp_json_number(json, param.max_value);
            amp_json_key(json, "unit");
            amp_json_string(json, param.unit);
            amp_json_key(json, "doc");
            amp_json_string(json, param.doc);
            amp_json_key(json, "choices");
            if (param.choices == nullptr) {
                amp_json_null(json);
            } else {
                amp_json_begin_array(json);
                const char *start = param.choices;
                for (const char *p2 = param.choices;; ++p2) {
                    if (*p2 == '|' || *p2 == '\0') {
                        amp_json_string_n(json, start, static_cast<size_t>(p2 - start));
                        start = p2 + 1;
                        if (*p2 == '\0') {
                            break;
                        }
                    }
                }
                amp_json_end_array(json);
            }
            amp_json_key(json, "static");
            amp_json_bool(json, (param.flags & AMP_PARAM_STATIC) != 0);
            amp_json_key(json, "integer");
            amp_json_bool(json, (param.flags & AMP_PARAM_INTEGER) != 0);
            amp_json_end_object(json);
        }
        amp_json_end_array(json);
        amp_json_end_object(json);
    }
    amp_json_end_array(json);
}

}  // namespace

extern "C" {

int32_t amp_native_library_info(AmpLibraryInfo *out)
{
    if (out == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    std::memset(out, 0, sizeof(*out));
    out->abi_version = AMP_ABI_VERSION;
#ifdef AMP_NATIVE_ENABLE_LOGGING
    out->logging_compiled = 1;
    out->logging_enabled = amp_log_enabled();
#endif
    out->catalogue_size = amp_catalogue_size();
    std::snprintf(out->version, sizeof(out->version), "%s", AMP_NATIVE_VERSION);
    return AMP_OK;
}

int32_t amp_native_catalogue_json(char *buffer, size_t capacity, size_t *required)
{
    AMP_LOG_API("amp_native_catalogue_json", "\"capacity\":%zu", capacity);
    try {
        AmpJson json;
        amp_json_init(&json);
        write_catalogue(&json);
        const int32_t status = amp_json_export(&json, buffer, capacity, required);
        amp_json_free(&json);
        return status;
    } catch (...) {
        return AMP_ERR_INTERNAL;
    }
}

}  // extern "C"
