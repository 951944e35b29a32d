// api.cpp - the C ABI entry points. Every one returns a status; no C++ exception crosses this
// boundary, and failures are recorded in the handle or the caller's AmpErrorInfo.
#include "amp_native.h"

#include "amp_error.h"
#include "amp_json.h"
#include "amp_log.h"
#include "amp_node.h"
#include "runtime/graph.hpp"
#include "runtime/streamer.hpp"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>

#ifndef AMP_NATIVE_VERSION
#define AMP_NATIVE_VERSION "0.0.0"
#endif

struct AmpGraph {
    amp::Graph graph;
    AmpStreamer *streamer = nullptr;  // the streamer created on it, until one of them goes
};

struct AmpStreamer {
    amp::Streamer streamer;
    AmpGraph *graph = nullptr;
};

namespace {

// Guards the links between graphs and their streamers, so that either may be destroyed first.
std::mutex g_links;

template <typename Body>
int32_t guarded(AmpErrorInfo *error, const char *stage, Body body)
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, stage, nullptr, -1, "out of memory");
    } catch (const std::exception &e) {
        return amp_error_set(error, AMP_ERR_INTERNAL, stage, nullptr, -1, "internal error: %s", e.what());
    } catch (...) {
        return amp_error_set(error, AMP_ERR_INTERNAL, stage, nullptr, -1, "internal error");
    }
}

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

int32_t amp_graph_create(const uint8_t *descriptors, size_t descriptors_size, const uint8_t *plan, size_t plan_size,
                         const AmpGraphConfig *config, AmpGraph **out_graph, AmpErrorInfo *error)
{
    amp_error_clear(error);
    if (out_graph == nullptr || config == nullptr) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "create", nullptr, -1, "out_graph or config is NULL");
    }
    *out_graph = nullptr;
    AMP_LOG_API("amp_graph_create",
                "\"descriptor_bytes\":%zu,\"plan_bytes\":%zu,\"batch\":%d,\"max_block_frames\":%d,\"threads\":%d,\"channel_depth\":%d,"
                "\"sample_rate\":%.17g,\"disabled_optimisations\":%u",
                descriptors_size, plan_size, config->batch, config->max_block_frames, config->threads, config->channel_depth, config->sample_rate,
                config->disabled_optimisations);
    const int32_t result = guarded(error, "create", [&]() -> int32_t {
        AmpGraph *handle = new AmpGraph();
        const int32_t status = handle->graph.create(descriptors, descriptors_size, plan, plan_size, *config, error);
        if (status != AMP_OK) {
            delete handle;
            return status;
        }
        *out_graph = handle;
        return AMP_OK;
    });
    if (result != AMP_OK) {
        AMP_LOG_ERROR("amp_graph_create", error);
    }
    return result;
}

int32_t amp_graph_destroy(AmpGraph *graph)
{
    AMP_LOG_API("amp_graph_destroy", "\"graph\":\"%p\"", static_cast<void *>(graph));
    try {
        if (graph != nullptr) {
            std::lock_guard<std::mutex> lock(g_links);
            if (graph->streamer != nullptr) {
                graph->streamer->streamer.detach();
                graph->streamer->graph = nullptr;
                graph->streamer = nullptr;
            }
        }
        delete graph;
    } catch (...) {
        return AMP_ERR_INTERNAL;
    }
    return AMP_OK;
}

int32_t amp_graph_last_error(const AmpGraph *graph, AmpErrorInfo *out)
{
    if (graph == nullptr || out == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    *out = graph->graph.last_error();
    return AMP_OK;
}

int32_t amp_graph_info(const AmpGraph *graph, AmpGraphInfo *out)
{
    if (graph == nullptr || out == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    graph->graph.info(out);
    return AMP_OK;
}

int32_t amp_graph_reset(AmpGraph *graph)
{
    if (graph == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    AMP_LOG_API("amp_graph_reset", "\"graph\":\"%p\"", static_cast<void *>(graph));
    return guarded(nullptr, "reset", [&]() { return graph->graph.reset(); });
}

int32_t amp_graph_render(AmpGraph *graph, int64_t total_frames, int32_t block_frames,
                         const AmpParamOverride *overrides, uint32_t override_count, const uint8_t *control_blob,
                         size_t control_blob_size, double *output, size_t output_size)
{
    if (graph == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    AMP_LOG_API("amp_graph_render",
                "\"total_frames\":%lld,\"block_frames\":%d,\"overrides\":%u,\"control_bytes\":%zu,\"output\":%zu",
                static_cast<long long>(total_frames), block_frames, override_count, control_blob_size, output_size);
    amp::RenderRequest request;
    request.total_frames = total_frames;
    request.block_frames = block_frames;
    request.overrides = overrides;
    request.override_count = override_count;
    request.control_blob = control_blob;
    request.control_blob_size = control_blob_size;
    request.output = output;
    request.output_size = output_size;
    AmpErrorInfo scratch;
    amp_error_clear(&scratch);
    const int32_t status = guarded(&scratch, "render", [&]() { return graph->graph.render(request); });
    if (scratch.code != 0) {
        // an exception escaped the graph: keep its report in the handle
        graph->graph.record_error(scratch);
    }
    if (status != AMP_OK) {
        const AmpErrorInfo failure = graph->graph.last_error();
        AMP_LOG_ERROR("amp_graph_render", &failure);
        (void)failure;
    }
    return status;
}

int32_t amp_graph_set_timing(AmpGraph *graph, int32_t enabled)
{
    if (graph == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    AMP_LOG_API("amp_graph_set_timing", "\"enabled\":%d", enabled);
    graph->graph.set_timing(enabled != 0);
    return AMP_OK;
}

int32_t amp_graph_node_timings(const AmpGraph *graph, uint64_t *nanoseconds, uint64_t *calls, uint32_t capacity,
                               uint32_t *node_count)
{
    if (graph == nullptr || node_count == nullptr || (capacity > 0 && nanoseconds == nullptr && calls == nullptr)) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    *node_count = graph->graph.node_timings(nanoseconds, calls, capacity);
    return *node_count > capacity ? AMP_ERR_BUFFER_TOO_SMALL : AMP_OK;
}

int32_t amp_streamer_create(AmpGraph *graph, const AmpStreamerConfig *config, const AmpParamOverride *overrides,
                            uint32_t override_count, const uint8_t *control_blob, size_t control_blob_size,
                            AmpStreamer **out_streamer, AmpErrorInfo *error)
{
    amp_error_clear(error);
    if (graph == nullptr || config == nullptr || out_streamer == nullptr ||
        (override_count > 0 && overrides == nullptr)) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "stream", nullptr, -1,
                             "graph, config and out_streamer must be given, and overrides when override_count > 0");
    }
    *out_streamer = nullptr;
    AMP_LOG_API("amp_streamer_create", "\"block_frames\":%d,\"lead_frames\":%d,\"chunk_blocks\":%d,\"overrides\":%u,"
                "\"control_bytes\":%zu",
                config->block_frames, config->lead_frames, config->chunk_blocks, override_count, control_blob_size);
    const int32_t result = guarded(error, "stream", [&]() -> int32_t {
        std::lock_guard<std::mutex> lock(g_links);
        if (graph->streamer != nullptr) {
            if (graph->streamer->streamer.running()) {
                return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "stream", nullptr, -1,
                                     "the graph already has a running streamer; stop it first");
            }
            // A stopped streamer keeps answering its reader, but no longer needs the graph.
            graph->streamer->streamer.detach();
            graph->streamer->graph = nullptr;
            graph->streamer = nullptr;
        }
        AmpStreamer *handle = new AmpStreamer();
        const int32_t status = handle->streamer.start(&graph->graph, *config, overrides, override_count, control_blob,
                                                      control_blob_size, error);
        if (status != AMP_OK) {
            delete handle;
            return status;
        }
        handle->graph = graph;
        graph->streamer = handle;
        *out_streamer = handle;
        return AMP_OK;
    });
    if (result != AMP_OK) {
        AMP_LOG_ERROR("amp_streamer_create", error);
    }
    return result;
}

int32_t amp_streamer_read(AmpStreamer *streamer, double *output, size_t output_size, int64_t frames,
                          int32_t timeout_ms, int64_t *frames_read)
{
    if (streamer == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    AmpErrorInfo scratch;
    amp_error_clear(&scratch);
    return guarded(&scratch, "read", [&]() {
        return streamer->streamer.read(output, output_size, frames, timeout_ms, frames_read);
    });
}

int32_t amp_streamer_set_control(AmpStreamer *streamer, const uint8_t *control_blob, size_t control_blob_size)
{
    if (streamer == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    AMP_LOG_API("amp_streamer_set_control", "\"control_bytes\":%zu", control_blob_size);
    AmpErrorInfo scratch;
    amp_error_clear(&scratch);
    return guarded(&scratch, "control", [&]() { return streamer->streamer.set_control(control_blob, control_blob_size); });
}

int32_t amp_streamer_stop(AmpStreamer *streamer)
{
    if (streamer == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    AMP_LOG_API("amp_streamer_stop", "\"streamer\":\"%p\"", static_cast<void *>(streamer));
    try {
        return streamer->streamer.stop();
    } catch (...) {
        return AMP_ERR_INTERNAL;
    }
}

int32_t amp_streamer_destroy(AmpStreamer *streamer)
{
    AMP_LOG_API("amp_streamer_destroy", "\"streamer\":\"%p\"", static_cast<void *>(streamer));
    if (streamer == nullptr) {
        return AMP_OK;
    }
    try {
        std::lock_guard<std::mutex> lock(g_links);
        streamer->streamer.detach();
        if (streamer->graph != nullptr && streamer->graph->streamer == streamer) {
            streamer->graph->streamer = nullptr;
        }
        delete streamer;
    } catch (...) {
        return AMP_ERR_INTERNAL;
    }
    return AMP_OK;
}

int32_t amp_streamer_info(const AmpStreamer *streamer, AmpStreamerInfo *out)
{
    if (streamer == nullptr || out == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    streamer->streamer.info(out);
    return AMP_OK;
}

int32_t amp_streamer_last_error(const AmpStreamer *streamer, AmpErrorInfo *out)
{
    if (streamer == nullptr || out == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    *out = streamer->streamer.last_error();
    return AMP_OK;
}

}  // extern "C"
