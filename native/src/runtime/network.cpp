// network.cpp - Kahn counters, the ready stack and the worker pool.
#include "network.hpp"

#include "amp_native.h"

#include <algorithm>
#include <system_error>

namespace amp {

namespace {

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// How long a thread that finds nothing to do polls before it sleeps: a few tens of microseconds,
// long enough to catch the next block of a busy render, short enough not to burn a shared core.
constexpr int kSpins = 1500;
constexpr uint32_t kNone = UINT32_MAX;

}  // namespace

void ReadyStack::init(uint32_t processes)
{
    next_.reset(new std::atomic<uint32_t>[processes == 0 ? 1 : processes]);
    for (uint32_t p = 0; p < processes; ++p) {
        next_[p].store(0, std::memory_order_relaxed);
    }
    head_.store(0, std::memory_order_relaxed);
}

void ReadyStack::push(uint32_t process)
{
    uint64_t head = head_.load(std::memory_order_relaxed);
    uint64_t fresh = 0;
    do {
        next_[process].store(static_cast<uint32_t>(head), std::memory_order_relaxed);
        fresh = (((head >> 32) + 1) << 32) | (static_cast<uint64_t>(process) + 1);
    } while (!head_.compare_exchange_weak(head, fresh, std::memory_order_release, std::memory_order_relaxed));
}

bool ReadyStack::pop(uint32_t *process)
{
    uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
        const uint32_t top = static_cast<uint32_t>(head);
        if (top == 0) {
            return false;
        }
        const uint64_t next = next_[top - 1].load(std::memory_order_relaxed);
        const uint64_t fresh = (((head >> 32) + 1) << 32) | next;
        if (head_.compare_exchange_weak(head, fresh, std::memory_order_acquire, std::memory_order_acquire)) {
            *process = top - 1;
            return true;
        }
    }
}

Network::~Network()
{
    shutdown_.store(true, std::memory_order_seq_cst);
    {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
        epoch_.fetch_add(1, std::memory_order_relaxed);
    }
    wake_.notify_all();
    for (std::thread &worker : workers_) {
        worker.join();
    }
}

void Network::build(const std::vector<std::vector<Dependency>> &waits_for, int32_t threads)
{
    const uint32_t count = static_cast<uint32_t>(waits_for.size());
    process_count_ = count;
    threads_ = threads < 1 ? 1 : threads;
    // More threads than cores: a spinning thread would keep a preempted one (which may hold the
    // block everybody waits for) off the core, so poll only briefly before sleeping.
    const unsigned cores = std::thread::hardware_concurrency();
    spins_ = cores != 0 && static_cast<unsigned>(threads_) > cores ? kSpins / 16 : kSpins;
    // Merge duplicates, keeping the smallest lag (waiting for block n also covers n - 2), and add
    // the lag-1 self dependency that keeps each process sequential.
    std::vector<std::vector<Dependency>> deps(count);
    int32_t max_lag = 1;
    for (uint32_t p = 0; p < count; ++p) {
        deps[p].push_back(Dependency{p, 1});
        for (const Dependency &d : waits_for[p]) {
            const int32_t lag = d.process == p ? 1 : (d.lag < 0 ? 0 : d.lag);
            bool merged = false;
            for (Dependency &existing : deps[p]) {
                if (existing.process == d.process) {
                    existing.lag = std::min(existing.lag, lag);
                    merged = true;
                }
            }
            if (!merged) {
                deps[p].push_back(Dependency{d.process, lag});
            }
            max_lag = std::max(max_lag, lag);
        }
    }
    // Every dependency at lag L > 0 comes with one at lag 0 the other way (a reader and the room
    // in its channel, or a delay node's two halves), so while a process has fired blocks up to
    // n - 1 nothing can signal it for a block beyond n + max_lag - 1: counters for `window`
    // consecutive blocks, reused round robin, are enough.
    // (A power of two, so that a block's counter is block & mask.)
    window_ = 2;
    while (window_ < max_lag + 1) {
        window_ *= 2;
    }
    mask_ = window_ - 1;
    stride_ = (static_cast<size_t>(window_) + 15) / 16 * 16;
    counters_.reset(new std::atomic<int32_t>[static_cast<size_t>(count) * stride_]);
    initial_.assign(static_cast<size_t>(count) * static_cast<size_t>(window_), 0);
    full_.assign(count, 0);
    std::vector<uint32_t> out_degree(count, 0);
    for (uint32_t p = 0; p < count; ++p) {
        full_[p] = static_cast<int32_t>(deps[p].size());
        for (const Dependency &d : deps[p]) {
            ++out_degree[d.process];
            for (int32_t n = d.lag; n < window_; ++n) {
                ++initial_[static_cast<size_t>(p) * static_cast<size_t>(window_) + static_cast<size_t>(n)];
            }
        }
    }
    edge_begin_.assign(static_cast<size_t>(count) + 1, 0);
    for (uint32_t p = 0; p < count; ++p) {
        edge_begin_[p + 1] = edge_begin_[p] + out_degree[p];
    }
    edges_.assign(edge_begin_[count], Dependency{0, 0});
    std::vector<uint32_t> cursor(edge_begin_.begin(), edge_begin_.end() - 1);
    for (uint32_t p = 0; p < count; ++p) {
        for (const Dependency &d : deps[p]) {
            edges_[cursor[d.process]++] = Dependency{p, d.lag};
        }
    }
    // Consumers first: the thread that produced a block goes on with the process that reads it,
    // while the block is still in its cache; the process's own next block comes last.
    for (uint32_t q = 0; q < count; ++q) {
        std::stable_sort(edges_.begin() + edge_begin_[q], edges_.begin() + edge_begin_[q + 1],
                         [q](const Dependency &a, const Dependency &b) {
                             const int ka = a.process == q ? 2 : (a.lag == 0 ? 0 : 1);
                             const int kb = b.process == q ? 2 : (b.lag == 0 ? 0 : 1);
                             return ka < kb;
                         });
    }
    next_block_.assign(count, 0);
    ready_.init(count);
}

int32_t Network::start_workers()
{
    workers_started_ = true;
    try {
        workers_.reserve(static_cast<size_t>(threads_ - 1));
        for (int32_t i = 1; i < threads_; ++i) {
            workers_.emplace_back(&Network::worker_loop, this);
        }
    } catch (const std::exception &) {
        // Fewer threads than asked for would still render correctly, but silently; say so instead.
        shutdown_.store(true, std::memory_order_seq_cst);
        notify(true);
        for (std::thread &worker : workers_) {
            worker.join();
        }
        workers_.clear();
        shutdown_.store(false, std::memory_order_seq_cst);
        workers_started_ = false;
        return AMP_ERR_OUT_OF_MEMORY;
    }
    return AMP_OK;
}

bool Network::stopping() const
{
    if (abort_.load(std::memory_order_seq_cst)) {
        return true;
    }
    const std::atomic<bool> *cancel = cancel_.load(std::memory_order_acquire);
    return cancel != nullptr && cancel->load(std::memory_order_seq_cst);
}

void Network::notify(bool everyone)
{
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) == 0) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
        epoch_.fetch_add(1, std::memory_order_relaxed);
    }
    if (everyone) {
        wake_.notify_all();
    } else {
        wake_.notify_one();
    }
}

void Network::wake_all()
{
    notify(true);
}

// Polls, then sleeps until someone notifies. A notifier changes the condition first and then
// looks for sleepers; a sleeper announces itself first and then re-checks the condition, so one
// of the two always sees the other (both steps are sequentially consistent).
template <typename Predicate>
void Network::idle(Predicate ready_to_go)
{
    for (int i = 0; i < spins_; ++i) {
        if (ready_to_go()) {
            return;
        }
        // Yield now and then: on a busy machine the thread we wait for may be queued on this core.
        if ((i & 63) == 63) {
            std::this_thread::yield();
        } else {
            cpu_relax();
        }
    }
    const uint64_t epoch = epoch_.load(std::memory_order_acquire);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (!ready_to_go()) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        while (epoch_.load(std::memory_order_relaxed) == epoch && !shutdown_.load(std::memory_order_relaxed)) {
            wake_.wait(lock);
        }
    }
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
}

void Network::worker_loop()
{
    while (!shutdown_.load(std::memory_order_acquire)) {
        if (run_one()) {
            continue;
        }
        idle([this] {
            return queued_.load(std::memory_order_seq_cst) > 0 || shutdown_.load(std::memory_order_seq_cst);
        });
    }
}

// Takes one ready process and fires it. A thread counts itself running before it looks at
// abort_ and pops: a stopping run sets abort_, waits until nobody runs, and only then drains what
// is left, so no thread can hold a process popped from a stopped run while the next one begins.
bool Network::run_one()
{
    if (ready_.empty()) {
        return false;
    }
    running_.fetch_add(1, std::memory_order_seq_cst);
    if (abort_.load(std::memory_order_seq_cst)) {
        running_.fetch_sub(1, std::memory_order_seq_cst);
        notify(true);
        return false;
    }
    const uint32_t generation = generation_.load(std::memory_order_seq_cst);
    uint32_t process = 0;
    const bool popped = ready_.pop(&process);
    if (popped) {
        queued_.fetch_sub(1, std::memory_order_seq_cst);
        execute(process, generation);
    }
    running_.fetch_sub(1, std::memory_order_seq_cst);
    if (abort_.load(std::memory_order_seq_cst)) {
        notify(true);
    }
    return popped;
}

// Fires `process`, then keeps firing on this thread whichever process the firing made ready
// first, pushing the others, until a firing makes nothing ready. The caller counts itself in
// running_.
void Network::execute(uint32_t process, uint32_t generation)
{
    for (;;) {
        if (abort_.load(std::memory_order_seq_cst) || generation_.load(std::memory_order_seq_cst) != generation) {
            return;
        }
        const std::atomic<bool> *cancel = cancel_.load(std::memory_order_acquire);
        if (cancel != nullptr && cancel->load(std::memory_order_seq_cst)) {
            abort_.store(true, std::memory_order_seq_cst);
            notify(true);
            return;
        }
        const int64_t block = next_block_[process];
        const int32_t status = firer_->fire(process, block);
        if (status != AMP_OK) {
            bool expected = false;
            if (failed_.compare_exchange_strong(expected, true, std::memory_order_seq_cst)) {
                failure_ = Failure{process, block, status};
            }
            abort_.store(true, std::memory_order_seq_cst);
            notify(true);
            return;
        }
        next_block_[process] = block + 1;
        // This block's counter now counts for block + window, which nothing can signal before
        // the signals below have been acted on.
        counters(process)[block & mask_].store(full_[process], std::memory_order_relaxed);
        uint32_t keep = kNone;
        int32_t pushed = 0;
        for (uint32_t e = edge_begin_[process]; e < edge_begin_[process + 1]; ++e) {
            const Dependency &edge = edges_[e];
            const int64_t target = block + edge.lag;
            if (target >= blocks_) {
                continue;
            }
            std::atomic<int32_t> &counter = counters(edge.process)[target & mask_];
            // Alone, a thread needs no locked instruction: nobody else touches the counters.
            const int32_t left = alone_ ? counter.load(std::memory_order_relaxed) - 1
                                        : counter.fetch_sub(1, std::memory_order_acq_rel) - 1;
            if (alone_) {
                counter.store(left, std::memory_order_relaxed);
            }
            if (left != 0) {
                continue;
            }
            if (keep == kNone) {
                keep = edge.process;
            } else {
                ready_.push(edge.process);
                queued_.fetch_add(1, std::memory_order_seq_cst);
                ++pushed;
            }
        }
        if (pushed > 0) {
            notify(pushed > 1);
        }
        if (block + 1 == blocks_ && remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            notify(true);
        }
        if (keep == kNone) {
            return;
        }
        process = keep;
    }
}

int32_t Network::run(Firer &firer, int64_t blocks, const std::atomic<bool> *cancel)
{
    if (blocks <= 0 || process_count_ == 0) {
        return AMP_OK;
    }
    if (cancel != nullptr && cancel->load(std::memory_order_seq_cst)) {
        return AMP_ERR_STOPPED;
    }
    if (threads_ > 1 && process_count_ > 1 && !workers_started_) {
        const int32_t status = start_workers();
        if (status != AMP_OK) {
            return status;
        }
    }
    firer_ = &firer;
    blocks_ = blocks;
    alone_ = threads_ == 1 || process_count_ == 1;
    cancel_.store(cancel, std::memory_order_release);
    failed_.store(false, std::memory_order_relaxed);
    failure_ = Failure{};
    for (uint32_t p = 0; p < process_count_; ++p) {
        std::atomic<int32_t> *slots = counters(p);
        for (int32_t n = 0; n < window_; ++n) {
            slots[n].store(initial_[static_cast<size_t>(p) * static_cast<size_t>(window_) + static_cast<size_t>(n)],
                           std::memory_order_relaxed);
        }
        next_block_[p] = 0;
    }
    remaining_.store(static_cast<int32_t>(process_count_), std::memory_order_relaxed);
    const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
    generation_.store(generation, std::memory_order_seq_cst);
    abort_.store(false, std::memory_order_seq_cst);

    // Every process that waits for nothing at block 0 is ready; this thread takes the first.
    uint32_t first = kNone;
    int32_t pushed = 0;
    for (uint32_t p = 0; p < process_count_; ++p) {
        if (initial_[static_cast<size_t>(p) * static_cast<size_t>(window_)] != 0) {
            continue;
        }
        if (first == kNone) {
            first = p;
        } else {
            ready_.push(p);
            queued_.fetch_add(1, std::memory_order_seq_cst);
            ++pushed;
        }
    }
    if (pushed > 0) {
        notify(pushed > 1);
    }
    if (first != kNone) {
        running_.fetch_add(1, std::memory_order_seq_cst);
        execute(first, generation);
        running_.fetch_sub(1, std::memory_order_seq_cst);
    }
    for (;;) {
        if (remaining_.load(std::memory_order_acquire) == 0) {
            break;
        }
        if (stopping()) {
            abort_.store(true, std::memory_order_seq_cst);
            if (running_.load(std::memory_order_seq_cst) == 0) {
                break;
            }
        }
        if (run_one()) {
            continue;
        }
        idle([this] {
            return queued_.load(std::memory_order_seq_cst) > 0 || remaining_.load(std::memory_order_seq_cst) == 0 ||
                   (stopping() && running_.load(std::memory_order_seq_cst) == 0);
        });
    }
    // Nothing of this run may still be executing when the caller gets its graph back.
    while (running_.load(std::memory_order_seq_cst) != 0) {
        std::this_thread::yield();
    }
    const bool stopped = remaining_.load(std::memory_order_acquire) != 0;
    if (stopped) {
        uint32_t process = 0;
        while (ready_.pop(&process)) {
            queued_.fetch_sub(1, std::memory_order_seq_cst);
        }
    }
    cancel_.store(nullptr, std::memory_order_release);
    if (failed_.load(std::memory_order_seq_cst)) {
        return failure_.status;
    }
    return stopped ? AMP_ERR_STOPPED : AMP_OK;
}

}  // namespace amp
