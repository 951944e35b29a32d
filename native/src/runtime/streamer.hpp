// streamer.hpp - a graph rendering ahead of its reader into a bounded ring, on a thread of its own.
//
// The render thread holds the graph (Graph::claim) from start until it ends; it renders whole
// blocks into the ring whenever one block of room is free, up to chunk_blocks per network run,
// and never allocates. A reader takes any number of frames. stop() sets the flag that every
// firing checks, wakes whoever sleeps and joins the thread, so it returns within one firing of
// the slowest node. A failure in the network ends the thread; the next read reports it.
#ifndef AMP_RUNTIME_STREAMER_HPP
#define AMP_RUNTIME_STREAMER_HPP

#include "amp_native.h"
#include "graph.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace amp {

class Streamer {
public:
    Streamer() = default;
    ~Streamer();
    Streamer(const Streamer &) = delete;
    Streamer &operator=(const Streamer &) = delete;

    int32_t start(Graph *graph, const AmpStreamerConfig &config, const AmpParamOverride *overrides,
                  uint32_t override_count, const uint8_t *control_blob, size_t control_blob_size,
                  AmpErrorInfo *error);
    // A refusal or failure goes to `call` when given, else to the streamer's last error.
    int32_t read(double *output, size_t output_size, int64_t frames, int32_t timeout_ms, int64_t *frames_read,
                 AmpErrorInfo *call = nullptr);
    int32_t set_control(const uint8_t *blob, size_t size);
    int32_t stop();
    // The graph is going away: stop, and never touch it again.
    void detach();
    bool running() const { return !finished_.load(std::memory_order_acquire); }
    void info(AmpStreamerInfo *out) const;
    AmpErrorInfo last_error() const;

private:
    void render_loop();
    int32_t fail(int32_t code, const char *stage, const char *format, ...);
    int32_t report(AmpErrorInfo *call, int32_t code, const char *stage, const char *format, ...);

    Graph *graph_ = nullptr;
    bool claimed_ = false;
    int32_t batch_ = 1;
    int32_t channels_ = 1;
    int32_t block_frames_ = 0;
    int64_t ring_blocks_ = 0;
    int64_t ring_frames_ = 0;
    int64_t chunk_blocks_ = 1;
    std::vector<double> ring_;             // (B, C, ring_frames)
    std::vector<AmpParamOverride> overrides_;
    std::vector<double> override_data_;

    // Guarded by mutex_: the frame counters' changes, and the hand-over of control blobs. The
    // render thread swaps pending into active and never frees one: the old active becomes the
    // next pending, which the setter's thread overwrites.
    mutable std::mutex mutex_;
    std::condition_variable data_ready_;   // readers wait for frames
    std::condition_variable room_ready_;   // the render thread waits for room
    std::atomic<int64_t> written_{0};      // frames rendered into the ring since start
    std::atomic<int64_t> read_{0};         // frames taken by readers
    std::vector<uint8_t> control_active_;
    std::vector<uint8_t> control_pending_;
    bool control_changed_ = false;
    bool control_present_ = false;         // pending holds a blob (false: no events)

    std::atomic<bool> stop_{false};
    std::atomic<bool> failed_{false};
    std::atomic<bool> finished_{true};
    std::mutex stop_mutex_;                // one stop (and join) at a time
    std::mutex read_mutex_;                // one reader at a time
    std::thread thread_;
    mutable std::mutex error_mutex_;
    AmpErrorInfo error_{};
};

}  // namespace amp

#endif
