// streamer.cpp - the render-ahead thread, the ring and its readers.
#include "streamer.hpp"

#include "../amp_error.h"
#include "../formats/control.h"

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace amp {

namespace {

int32_t ignore_key(void *, const AmpControlKey *)
{
    return AMP_OK;
}

}  // namespace

Streamer::~Streamer()
{
    stop();
}

int32_t Streamer::fail(int32_t code, const char *stage, const char *format, ...)
{
    char message[sizeof(error_.message)];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    std::lock_guard<std::mutex> lock(error_mutex_);
    return amp_error_set(&error_, code, stage, nullptr, -1, "%s", message);
}

AmpErrorInfo Streamer::last_error() const
{
    std::lock_guard<std::mutex> lock(error_mutex_);
    return error_;
}

int32_t Streamer::start(Graph *graph, const AmpStreamerConfig &config, const AmpParamOverride *overrides,
                        uint32_t override_count, const uint8_t *control_blob, size_t control_blob_size,
                        AmpErrorInfo *error)
{
    if (config.block_frames < 1 || config.block_frames > graph->max_block_frames()) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "stream", nullptr, -1,
                             "block_frames must be in [1, %d] (the graph's max_block_frames), got %d",
                             graph->max_block_frames(), config.block_frames);
    }
    if (config.lead_frames < 1 || config.lead_frames > (1 << 26) || config.chunk_blocks < 0) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "stream", nullptr, -1,
                             "lead_frames must be in [1, %d] and chunk_blocks >= 0; got %d and %d", 1 << 26,
                             config.lead_frames, config.chunk_blocks);
    }
    for (uint32_t i = 0; i < override_count && overrides != nullptr; ++i) {
        if (overrides[i].frames != 1) {
            return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "stream", nullptr, -1,
                                 "override %u has %lld frames; a stream has no end, so overrides hold one value per "
                                 "row and channel (frames = 1)",
                                 i, static_cast<long long>(overrides[i].frames));
        }
    }
    if (control_blob != nullptr) {
        double t0 = 0.0;
        double t1 = 0.0;
        const int32_t status = amp_control_parse(control_blob, control_blob_size, &t0, &t1, ignore_key, nullptr, error);
        if (status != AMP_OK) {
            return status;
        }
    }
    AmpErrorInfo refusal;
    amp_error_clear(&refusal);
    if (!graph->claim("stream", &refusal)) {
        if (error != nullptr) {
            *error = refusal;
        }
        return refusal.code;
    }
    graph_ = graph;
    claimed_ = true;
    // Overrides are checked with the graph's own rules, then copied: the caller's arrays need not
    // outlive this call.
    amp_error_clear(&refusal);
    int32_t status = graph->validate_overrides(overrides, override_count, 1, &refusal);
    if (status != AMP_OK) {
        if (error != nullptr) {
            *error = refusal;
        }
        graph->release();
        claimed_ = false;
        return status;
    }
    size_t values = 0;
    for (uint32_t i = 0; i < override_count; ++i) {
        values += static_cast<size_t>(overrides[i].batch) * static_cast<size_t>(overrides[i].channels);
    }
    override_data_.resize(values);
    overrides_.assign(overrides, overrides + override_count);
    size_t cursor = 0;
    for (AmpParamOverride &o : overrides_) {
        const size_t count = static_cast<size_t>(o.batch) * static_cast<size_t>(o.channels);
        std::copy(o.data, o.data + count, override_data_.begin() + static_cast<ptrdiff_t>(cursor));
        o.data = override_data_.data() + cursor;
        cursor += count;
    }
    batch_ = graph->batch();
    channels_ = graph->output_channels();
    block_frames_ = config.block_frames;
    ring_blocks_ = (static_cast<int64_t>(config.lead_frames) + block_frames_ - 1) / block_frames_;
    ring_frames_ = ring_blocks_ * block_frames_;
    // A reader sees a run's frames when the whole run is done, so runs stay short: a quarter of
    // the ring, and at most 4096 frames, unless the caller says otherwise.
    const int64_t automatic = std::min<int64_t>(ring_blocks_ / 4, std::max<int64_t>(1, 4096 / block_frames_));
    chunk_blocks_ = config.chunk_blocks > 0 ? std::min<int64_t>(config.chunk_blocks, ring_blocks_)
                                            : std::max<int64_t>(1, automatic);
    size_t rows = 0;
    size_t ring_size = 0;
    if (__builtin_mul_overflow(static_cast<size_t>(batch_), static_cast<size_t>(channels_), &rows) ||
        __builtin_mul_overflow(rows, static_cast<size_t>(ring_frames_), &ring_size)) {
        graph->release();
        claimed_ = false;
        return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "stream", nullptr, -1, "the ring does not fit in memory");
    }
    ring_.assign(ring_size, 0.0);
    if (control_blob != nullptr) {
        control_pending_.assign(control_blob, control_blob + control_blob_size);
        control_present_ = true;
    }
    // The first run always loads the control state: the blob given, or none.
    control_changed_ = true;
    finished_.store(false, std::memory_order_release);
    try {
        thread_ = std::thread(&Streamer::render_loop, this);
    } catch (const std::exception &) {
        finished_.store(true, std::memory_order_release);
        graph->release();
        claimed_ = false;
        return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "stream", nullptr, -1, "could not start the render thread");
    }
    return AMP_OK;
}

void Streamer::render_loop()
{
    int64_t next_block = 0;
    for (;;) {
        int64_t blocks = 0;
        bool load_control = false;
        bool have_blob = false;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            room_ready_.wait(lock, [this] {
                return stop_.load(std::memory_order_relaxed) ||
                       ring_frames_ - (written_.load(std::memory_order_relaxed) -
                                       read_.load(std::memory_order_relaxed)) >= block_frames_;
            });
            if (stop_.load(std::memory_order_relaxed)) {
                break;
            }
            const int64_t room = ring_frames_ - (written_.load(std::memory_order_relaxed) -
                                                 read_.load(std::memory_order_relaxed));
            blocks = std::min(room / block_frames_, chunk_blocks_);
            if (control_changed_) {
                std::swap(control_active_, control_pending_);
                have_blob = control_present_;
                control_changed_ = false;
                load_control = true;
            }
        }
        RenderRequest request;
        request.total_frames = blocks * block_frames_;
        request.block_frames = block_frames_;
        request.overrides = overrides_.empty() ? nullptr : overrides_.data();
        request.override_count = static_cast<uint32_t>(overrides_.size());
        request.keep_control = !load_control;
        request.control_blob = load_control && have_blob ? control_active_.data() : nullptr;
        request.control_blob_size = load_control && have_blob ? control_active_.size() : 0;
        request.output = ring_.data();
        request.output_size = ring_.size();
        request.ring_blocks = ring_blocks_;
        request.ring_first = next_block % ring_blocks_;
        request.cancel = &stop_;
        AmpErrorInfo failure;
        amp_error_clear(&failure);
        request.error = &failure;
        const int32_t status = graph_->render_claimed(request);
        if (status == AMP_ERR_STOPPED) {
            break;
        }
        if (status != AMP_OK) {
            {
                std::lock_guard<std::mutex> lock(error_mutex_);
                error_ = failure;
            }
            std::lock_guard<std::mutex> lock(mutex_);
            failed_.store(true, std::memory_order_release);
            break;
        }
        next_block += blocks;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            written_.fetch_add(blocks * block_frames_, std::memory_order_release);
        }
        data_ready_.notify_all();
    }
    graph_->release();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_.store(true, std::memory_order_release);
    }
    data_ready_.notify_all();
}

int32_t Streamer::report(AmpErrorInfo *call, int32_t code, const char *stage, const char *format, ...)
{
    char message[sizeof(error_.message)];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    if (call != nullptr) {
        return amp_error_set(call, code, stage, nullptr, -1, "%s", message);
    }
    std::lock_guard<std::mutex> lock(error_mutex_);
    return amp_error_set(&error_, code, stage, nullptr, -1, "%s", message);
}

int32_t Streamer::read(double *output, size_t output_size, int64_t frames, int32_t timeout_ms, int64_t *frames_read,
                       AmpErrorInfo *call)
{
    if (frames_read != nullptr) {
        *frames_read = 0;
    }
    size_t rows = 0;
    size_t needed = 0;
    const bool fits = frames >= 0 &&
                      !__builtin_mul_overflow(static_cast<size_t>(batch_), static_cast<size_t>(channels_), &rows) &&
                      !__builtin_mul_overflow(rows, static_cast<size_t>(frames), &needed);
    if (!fits || frames_read == nullptr || (frames > 0 && (output == nullptr || output_size < needed))) {
        return report(call, AMP_ERR_INVALID_ARGUMENT, "read",
                      "read wants frames >= 0, a frames_read pointer and an output of (B=%d, C=%d, %lld) samples%s",
                      batch_, channels_, static_cast<long long>(frames),
                      fits ? "" : ", which is more than a buffer can hold");
    }
    std::lock_guard<std::mutex> reader(read_mutex_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
    int64_t copied = 0;
    while (copied < frames) {
        int64_t available = 0;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            auto ready = [this] {
                return written_.load(std::memory_order_relaxed) > read_.load(std::memory_order_relaxed) ||
                       stop_.load(std::memory_order_relaxed) || finished_.load(std::memory_order_relaxed);
            };
            if (timeout_ms < 0) {
                data_ready_.wait(lock, ready);
            } else if (!data_ready_.wait_until(lock, deadline, ready)) {
                break;
            }
            if (failed_.load(std::memory_order_acquire)) {
                *frames_read = copied;
                const AmpErrorInfo failure = last_error();
                if (call != nullptr) {
                    *call = failure;
                }
                return failure.code != AMP_OK ? failure.code : AMP_ERR_RUNTIME;
            }
            if (stop_.load(std::memory_order_relaxed) || finished_.load(std::memory_order_relaxed)) {
                *frames_read = copied;
                return report(call, AMP_ERR_STOPPED, "read", "the streamer is stopped");
            }
            available = written_.load(std::memory_order_acquire) - read_.load(std::memory_order_relaxed);
        }
        // Frames between read_ and written_ belong to the reader: the render thread writes only
        // into the room beyond written_.
        const int64_t take = std::min(available, frames - copied);
        int64_t from = read_.load(std::memory_order_relaxed) % ring_frames_;
        int64_t done = 0;
        while (done < take) {
            const int64_t run = std::min(take - done, ring_frames_ - from);
            for (int64_t row = 0; row < static_cast<int64_t>(batch_) * channels_; ++row) {
                std::memcpy(output + row * frames + copied + done, ring_.data() + row * ring_frames_ + from,
                            static_cast<size_t>(run) * sizeof(double));
            }
            done += run;
            from = (from + run) % ring_frames_;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            read_.fetch_add(take, std::memory_order_release);
        }
        room_ready_.notify_one();
        copied += take;
        if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline) {
            break;  // what had arrived by the deadline: not what keeps arriving after it
        }
    }
    *frames_read = copied;
    return AMP_OK;
}

int32_t Streamer::set_control(const uint8_t *blob, size_t size)
{
    if (blob != nullptr) {
        double t0 = 0.0;
        double t1 = 0.0;
        AmpErrorInfo parse_error;
        amp_error_clear(&parse_error);
        const int32_t status = amp_control_parse(blob, size, &t0, &t1, ignore_key, nullptr, &parse_error);
        if (status != AMP_OK) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            error_ = parse_error;
            return status;
        }
    }
    if (stop_.load(std::memory_order_acquire) || finished_.load(std::memory_order_acquire)) {
        return fail(AMP_ERR_STOPPED, "control", "the streamer is stopped");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (blob != nullptr) {
        control_pending_.assign(blob, blob + size);
    } else {
        control_pending_.clear();
    }
    control_present_ = blob != nullptr;
    control_changed_ = true;
    return AMP_OK;
}

int32_t Streamer::stop()
{
    std::lock_guard<std::mutex> stopping(stop_mutex_);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true, std::memory_order_seq_cst);
    }
    if (graph_ != nullptr && thread_.joinable()) {
        graph_->wake_network();
    }
    room_ready_.notify_all();
    data_ready_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
    return AMP_OK;
}

void Streamer::detach()
{
    stop();
    std::lock_guard<std::mutex> stopping(stop_mutex_);
    graph_ = nullptr;
}

void Streamer::info(AmpStreamerInfo *out) const
{
    out->block_frames = block_frames_;
    out->lead_frames = ring_frames_;
    out->chunk_blocks = static_cast<int32_t>(chunk_blocks_);
    out->running = running() && !stop_.load(std::memory_order_acquire) ? 1 : 0;
    out->failed = failed_.load(std::memory_order_acquire) ? 1 : 0;
    out->frames_rendered = written_.load(std::memory_order_acquire);
    out->frames_read = read_.load(std::memory_order_acquire);
}

}  // namespace amp
