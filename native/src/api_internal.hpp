// api_internal.hpp - what the C ABI's entry points share: the handles behind AmpGraph and
// AmpStreamer, the gate that keeps a handle alive while calls are inside it, and the wrapper that
// keeps C++ exceptions from crossing the boundary. Included only by api*.cpp.
#ifndef AMP_API_INTERNAL_HPP
#define AMP_API_INTERNAL_HPP

#include "amp_native.h"

#include "amp_error.h"
#include "amp_log.h"
#include "runtime/graph.hpp"
#include "runtime/streamer.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>

namespace amp::api {


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

inline int32_t refuse_closed(AmpErrorInfo *error, const char *stage, const char *what)
{
    return amp_error_set(error, AMP_ERR_STOPPED, stage, nullptr, -1, "the %s is being destroyed", what);
}

// Guards the links between graphs and their streamers, so that either may be destroyed first.
extern std::mutex g_links;

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

}  // namespace amp::api

struct AmpGraph {
    amp::Graph graph;
    AmpStreamer *streamer = nullptr;  // the streamer created on it, until one of them goes
    mutable amp::api::Gate gate;
    std::atomic<bool> cancel{false};  // amp_graph_cancel: stops the render in progress or the next
};

struct AmpStreamer {
    amp::Streamer streamer;
    AmpGraph *graph = nullptr;
    mutable amp::api::Gate gate;
};

#endif  // AMP_API_INTERNAL_HPP
