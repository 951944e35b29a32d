// network.cpp - Kahn counters, the ready queue and the worker pool.
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

inline uint64_t make_task(uint32_t generation, uint32_t process)
{
    return (static_cast<uint64_t>(generation) << 32) | process;
}

}  // namespace

void ReadyQueue::init(size_t capacity)
{
    size_t size = 2;
    while (size < capacity) {
        size <<= 1;
    }
    cells_.reset(new Cell[size]);
    for (size_t i = 0; i < size; ++i) {
        cells_[i].sequence.store(i, std::memory_order_relaxed);
    }
    mask_ = size - 1;
    head_.store(0, std::memory_order_relaxed);
    tail_.store(0, std::memory_order_relaxed);
}

bool ReadyQueue::push(uint64_t item)
{
    size_t position = tail_.load(std::memory_order_relaxed);
    for (;;) {
        Cell &cell = cells_[position & mask_];
        const size_t sequence = cell.sequence.load(std::memory_order_acquire);
        const intptr_t difference = static_cast<intptr_t>(sequence) - static_cast<intptr_t>(position);
        if (difference == 0) {
            if (tail_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
                cell.item = item;
                cell.sequence.store(position + 1, std::memory_order_release);
                return true;
            }
        } else if (difference < 0) {
            return false;  // full
        } else {
            position = tail_.load(std::memory_order_relaxed);
        }
    }
}

bool ReadyQueue::pop(uint64_t *item)
{
    size_t position = head_.load(std::memory_order_relaxed);
    for (;;) {
        Cell &cell = cells_[position & mask_];
        const size_t sequence = cell.sequence.load(std::memory_order_acquire);
        const intptr_t difference = static_cast<intptr_t>(sequence) - static_cast<intptr_t>(position + 1);
        if (difference == 0) {
            if (head_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
                *item = cell.item;
                cell.sequence.store(position + mask_ + 1, std::memory_order_release);
                return true;
            }
        } else if (difference < 0) {
            return false;  // empty
        } else {
            position = head_.load(std::memory_order_relaxed);
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
    // Counters for blocks n .. n + window - 1 are enough: a firing of block n + window needs this
    // process's block n + window - max_lag - ... >= n done first, whichever dependency signals it.
    window_ = max_lag + 1;
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
    queue_.init(2 * static_cast<size_t>(count) + 2);
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
    for (int i = 0; i < kSpins; ++i) {
        if (ready_to_go()) {
            return;
        }
        cpu_relax();
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
        uint64_t task = 0;
        if (queue_.pop(&task)) {
            queued_.fetch_sub(1, std::memory_order_seq_cst);
            execute(task);
            continue;
        }
        idle([this] {
            return queued_.load(std::memory_order_seq_cst) > 0 || shutdown_.load(std::memory_order_seq_cst);
        });
    }
}

// Fires `task`, then keeps firing on this thread whichever process the firing made ready first,
// queueing the others, until a firing makes nothing ready.
void Network::execute(uint64_t task)
{
    running_.fetch_add(1, std::memory_order_seq_cst);
    const uint32_t generation = static_cast<uint32_t>(task >> 32);
    uint32_t process = static_cast<uint32_t>(task);
    for (;;) {
        // A task left over from a stopped run carries an old generation and is dropped.
        if (abort_.load(std::memory_order_seq_cst) || generation_.load(std::memory_order_seq_cst) != generation) {
            break;
        }
        const std::atomic<bool> *cancel = cancel_.load(std::memory_order_acquire);
        if (cancel != nullptr && cancel->load(std::memory_order_seq_cst)) {
            abort_.store(true, std::memory_order_seq_cst);
            notify(true);
            break;
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
            break;
        }
        next_block_[process] = block + 1;
        std::atomic<int32_t> *own = counters(process);
        // The slot of this block now counts for block + window; nothing can signal that block
        // before this firing's own signals below have been acted on.
        own[block % window_].store(full_[process], std::memory_order_relaxed);
        uint32_t keep = kNone;
        int32_t pushed = 0;
        for (uint32_t e = edge_begin_[process]; e < edge_begin_[process + 1]; ++e) {
            const Dependency &edge = edges_[e];
            const int64_t target = block + edge.lag;
            if (target >= blocks_) {
                continue;
            }
            if (counters(edge.process)[target % window_].fetch_sub(1, std::memory_order_acq_rel) != 1) {
                continue;
            }
            if (keep == kNone) {
                keep = edge.process;
            } else if (queue_.push(make_task(generation, edge.process))) {
                queued_.fetch_add(1, std::memory_order_seq_cst);
                ++pushed;
            } else {
                bool expected = false;
                if (failed_.compare_exchange_strong(expected, true, std::memory_order_seq_cst)) {
                    failure_ = Failure{edge.process, target, AMP_ERR_INTERNAL};
                }
                abort_.store(true, std::memory_order_seq_cst);
            }
        }
        if (pushed > 0) {
            notify(pushed > 1);
        }
        if (block + 1 == blocks_ && remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            notify(true);
        }
        if (keep == kNone) {
            break;
        }
        process = keep;
    }
    running_.fetch_sub(1, std::memory_order_seq_cst);
    if (abort_.load(std::memory_order_seq_cst)) {
        notify(true);
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

    uint32_t first = kNone;
    int32_t pushed = 0;
    for (uint32_t p = 0; p < process_count_; ++p) {
        if (initial_[static_cast<size_t>(p) * static_cast<size_t>(window_)] != 0) {
            continue;
        }
        if (first == kNone) {
            first = p;
        } else if (queue_.push(make_task(generation, p))) {
            queued_.fetch_add(1, std::memory_order_seq_cst);
            ++pushed;
        }
    }
    if (pushed > 0) {
        notify(pushed > 1);
    }
    if (first != kNone) {
        execute(make_task(generation, first));
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
        uint64_t task = 0;
        if (queue_.pop(&task)) {
            queued_.fetch_sub(1, std::memory_order_seq_cst);
            execute(task);
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
        uint64_t task = 0;
        while (queue_.pop(&task)) {
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
