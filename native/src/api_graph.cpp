// api_graph.cpp - the C ABI entry points of a graph: create, destroy, render, reset, cancel,
// info and timings. Every one returns a status; no C++ exception crosses this boundary.
#include "api_internal.hpp"

using amp::api::g_links;
using amp::api::guarded;
using amp::api::Pass;
using amp::api::refuse_closed;

extern "C" {

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

}  // extern "C"
