// api_streamer.cpp - the C ABI entry points of a streamer: create, read, control, stop, destroy
// and info. Every one returns a status; no C++ exception crosses this boundary.
#include "api_internal.hpp"

using amp::api::g_links;
using amp::api::guarded;
using amp::api::Pass;
using amp::api::refuse_closed;

extern "C" {

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
