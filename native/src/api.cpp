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
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>

#ifndef AMP_NATIVE_VERSION
#define AMP_NATIVE_VERSION "0.0.0"
#endif

namespace {

// The calls inside a handle. Destroy closes the gate (later calls are refused), stops what runs
// and waits for the calls inside to leave before it frees anything.
class Gate {
public:
    bool enter()
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closing_) {
            return false;
        }
        ++calls_;
        return true;
    }
    void leave()
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--calls_ == 0) {
            idle_.notify_all();
        }
    }
    // Returns false when another destroy already closed it.
    bool close()
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const bool first = !closing_;
        closing_ = true;
        return first;
    }
    void wait_idle()
    {
        std::unique_lock<std::mutex> lock(mutex_);
        idle_.wait(lock, [this] { return calls_ == 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable idle_;
    int64_t calls_ = 0;
    bool closing_ = false;
};

// One call inside a handle, from entry to return.
class Pass {
public:
    explicit Pass(Gate &gate) : gate_(gate), open_(gate.enter()) {}
    ~Pass()
    {
        if (open_) {
            gate_.leave();
        }
    }
    Pass(const Pass &) = delete;
    Pass &operator=(const Pass &) = delete;
    bool open() const { return open_; }

private:
    Gate &gate_;
    bool open_;
};

}  // namespace

struct AmpGraph {
    amp::Graph graph;
    AmpStreamer *streamer = nullptr;  // the streamer created on it, until one of them goes
    mutable Gate gate;
    std::atomic<bool> cancel{false};  // amp_graph_cancel: stops the render in progress or the next
};

struct AmpStreamer {
    amp::Streamer streamer;
    AmpGraph *graph = nullptr;
    mutable Gate gate;
};

namespace {

int32_t refuse_closed(AmpErrorInfo *error, const char *stage, const char *what)
{
    return amp_error_set(error, AMP_ERR_STOPPED, stage, nullptr, -1, "the %s is being destroyed", what);
}

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
    if (graph == nullptr) {
        return AMP_OK;
    }
    try {
        if (!graph->gate.close()) {
            return AMP_ERR_STOPPED;  // another thread is destroying it
        }
        graph->cancel.store(true, std::memory_order_seq_cst);
        graph->graph.wake_network();
        graph->gate.wait_idle();
        {
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
    Pass pass(graph->gate);
    if (!pass.open()) {
        return refuse_closed(out, "error", "graph");
    }
    *out = graph->graph.last_error();
    return AMP_OK;
}

int32_t amp_graph_info(const AmpGraph *graph, AmpGraphInfo *out)
{
    if (graph == nullptr || out == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    Pass pass(graph->gate);
    if (!pass.open()) {
        return AMP_ERR_STOPPED;
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
    Pass pass(graph->gate);
    if (!pass.open()) {
        return AMP_ERR_STOPPED;
    }
    return guarded(nullptr, "reset", [&]() { return graph->graph.reset(); });
}

namespace {

int32_t render_request(AmpGraph *graph, amp::RenderRequest &request, const char *entry)
{
    request.cancel = &graph->cancel;
    AmpErrorInfo scratch;
    amp_error_clear(&scratch);
    const int32_t status = guarded(&scratch, "render", [&]() { return graph->graph.render(request); });
    if (scratch.code != 0) {
        // an exception escaped the graph: report it where the caller reads failures
        if (request.error != nullptr) {
            *request.error = scratch;
        } else {
            graph->graph.record_error(scratch);
        }
    }
    if (status == AMP_ERR_STOPPED) {
        graph->cancel.store(false, std::memory_order_seq_cst);  // used up by the render it stopped
    }
    if (status != AMP_OK) {
        const AmpErrorInfo failure = request.error != nullptr ? *request.error : graph->graph.last_error();
        AMP_LOG_ERROR(entry, &failure);
        (void)failure;
        (void)entry;
    }
    return status;
}

}  // namespace

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
    Pass pass(graph->gate);
    if (!pass.open()) {
        return AMP_ERR_STOPPED;
    }
    amp::RenderRequest request;
    request.total_frames = total_frames;
    request.block_frames = block_frames;
    request.overrides = overrides;
    request.override_count = override_count;
    request.control_blob = control_blob;
    request.control_blob_size = control_blob_size;
    request.output = output;
    request.output_size = output_size;
    return render_request(graph, request, "amp_graph_render");
}

int32_t amp_graph_render_part(AmpGraph *graph, int64_t total_frames, int32_t block_frames,
                              const AmpParamOverride *overrides, uint32_t override_count, const uint8_t *control_blob,
                              size_t control_blob_size, double *output, size_t output_size, int32_t budget_ms,
                              int64_t *frames_done, AmpErrorInfo *error)
{
    amp_error_clear(error);
    if (graph == nullptr || frames_done == nullptr) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "render", nullptr, -1,
                             "graph and frames_done must be given");
    }
    AMP_LOG_API("amp_graph_render_part",
                "\"total_frames\":%lld,\"block_frames\":%d,\"overrides\":%u,\"control_bytes\":%zu,\"output\":%zu,"
                "\"budget_ms\":%d,\"frames_done\":%lld",
                static_cast<long long>(total_frames), block_frames, override_count, control_blob_size, output_size,
                budget_ms, static_cast<long long>(*frames_done));
    Pass pass(graph->gate);
    if (!pass.open()) {
        return refuse_closed(error, "render", "graph");
    }
    AmpErrorInfo local;
    amp_error_clear(&local);
    amp::RenderRequest request;
    request.total_frames = total_frames;
    request.block_frames = block_frames;
    request.overrides = overrides;
    request.override_count = override_count;
    request.control_blob = control_blob;
    request.control_blob_size = control_blob_size;
    request.output = output;
    request.output_size = output_size;
    request.error = error != nullptr ? error : &local;
    request.first_frame = *frames_done;
    request.budget_ns = budget_ms > 0 ? static_cast<int64_t>(budget_ms) * 1000000 : 0;
    request.frames_done = frames_done;
    return render_request(graph, request, "amp_graph_render_part");
}

int32_t amp_graph_cancel(AmpGraph *graph)
{
    if (graph == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    AMP_LOG_API("amp_graph_cancel", "\"graph\":\"%p\"", static_cast<void *>(graph));
    Pass pass(graph->gate);
    if (!pass.open()) {
        return AMP_OK;  // being destroyed: its render is being stopped already
    }
    graph->cancel.store(true, std::memory_order_seq_cst);
    graph->graph.wake_network();
    return AMP_OK;
}

int32_t amp_graph_set_timing(AmpGraph *graph, int32_t enabled)
{
    if (graph == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    AMP_LOG_API("amp_graph_set_timing", "\"enabled\":%d", enabled);
    Pass pass(graph->gate);
    if (!pass.open()) {
        return AMP_ERR_STOPPED;
    }
    graph->graph.set_timing(enabled != 0);
    return AMP_OK;
}

int32_t amp_graph_node_timings(const AmpGraph *graph, uint64_t *nanoseconds, uint64_t *calls, uint32_t capacity,
                               uint32_t *node_count)
{
    if (graph == nullptr || node_count == nullptr || (capacity > 0 && nanoseconds == nullptr && calls == nullptr)) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    Pass pass(graph->gate);
    if (!pass.open()) {
        return AMP_ERR_STOPPED;
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
    Pass pass(graph->gate);
    if (!pass.open()) {
        return refuse_closed(error, "stream", "graph");
    }
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

int32_t amp_streamer_read_ex(AmpStreamer *streamer, double *output, size_t output_size, int64_t frames,
                             int32_t timeout_ms, int64_t *frames_read, AmpErrorInfo *error)
{
    amp_error_clear(error);
    if (frames_read != nullptr) {
        *frames_read = 0;
    }
    if (streamer == nullptr) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "read", nullptr, -1, "streamer is NULL");
    }
    Pass pass(streamer->gate);
    if (!pass.open()) {
        return refuse_closed(error, "read", "streamer");
    }
    AmpErrorInfo local;
    amp_error_clear(&local);
    AmpErrorInfo *call = error != nullptr ? error : &local;
    return guarded(call, "read", [&]() {
        return streamer->streamer.read(output, output_size, frames, timeout_ms, frames_read, call);
    });
}

int32_t amp_streamer_read(AmpStreamer *streamer, double *output, size_t output_size, int64_t frames,
                          int32_t timeout_ms, int64_t *frames_read)
{
    if (streamer == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    Pass pass(streamer->gate);
    if (!pass.open()) {
        return AMP_ERR_STOPPED;
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
    Pass pass(streamer->gate);
    if (!pass.open()) {
        return AMP_ERR_STOPPED;
    }
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
    Pass pass(streamer->gate);
    if (!pass.open()) {
        return AMP_OK;  // being destroyed, which stops it
    }
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
        if (!streamer->gate.close()) {
            return AMP_ERR_STOPPED;  // another thread is destroying it
        }
        streamer->streamer.stop();  // wakes its readers, who then leave
        streamer->gate.wait_idle();
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
    Pass pass(streamer->gate);
    if (!pass.open()) {
        return AMP_ERR_STOPPED;
    }
    streamer->streamer.info(out);
    return AMP_OK;
}

int32_t amp_streamer_last_error(const AmpStreamer *streamer, AmpErrorInfo *out)
{
    if (streamer == nullptr || out == nullptr) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    Pass pass(streamer->gate);
    if (!pass.open()) {
        return refuse_closed(out, "error", "streamer");
    }
    *out = streamer->streamer.last_error();
    return AMP_OK;
}

}  // extern "C"
