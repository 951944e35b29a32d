// network.cpp - firing order, home threads, sweeps and the worker threads.
#include "network.hpp"

#include "amp_native.h"

#include <algorithm>

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

}  // namespace

Network::~Network()
{
    shutdown_.store(true, std::memory_order_seq_cst);
    notify(parked_);
    notify(working_);
    for (std::thread &worker : workers_) {
        worker.join();
    }
}

namespace {

// Without self dependencies or duplicates, keeping the smallest lag of each (waiting for block n
// also covers n - 2) where the process waited for first appears: the firing order takes a
// process's dependencies in the order they were given. A process waits for itself by firing its
// blocks in order.
std::vector<std::vector<Dependency>> merged(const std::vector<std::vector<Dependency>> &waits_for)
{
    const uint32_t count = static_cast<uint32_t>(waits_for.size());
    std::vector<std::vector<Dependency>> deps(count);
    std::vector<uint32_t> at(count, UINT32_MAX);  // where each process waited for sits in the list
    for (uint32_t p = 0; p < count; ++p) {
        std::vector<Dependency> &list = deps[p];
        for (const Dependency &d : waits_for[p]) {
            if (d.process == p || d.process >= count) {
                continue;
            }
            const int32_t lag = d.lag < 0 ? 0 : d.lag;
            uint32_t &place = at[d.process];
            if (place != UINT32_MAX) {
                list[place].lag = std::min(list[place].lag, lag);
                continue;
            }
            place = static_cast<uint32_t>(list.size());
            list.push_back(Dependency{d.process, lag});
        }
        for (const Dependency &d : list) {
            at[d.process] = UINT32_MAX;
        }
    }
    return deps;
}

}  // namespace

void Network::flatten(const std::vector<std::vector<Dependency>> &deps)
{
    dep_begin_.assign(deps.size() + 1, 0);
    deps_.clear();
    for (size_t p = 0; p < deps.size(); ++p) {
        deps_.insert(deps_.end(), deps[p].begin(), deps[p].end());
        dep_begin_[p + 1] = static_cast<uint32_t>(deps_.size());
    }
}

bool Network::arrange(const std::vector<std::vector<Dependency>> &data_waits, const std::vector<uint32_t> &weights,
                      int32_t threads)
{
    const uint32_t count = static_cast<uint32_t>(data_waits.size());
    process_count_ = count;
    threads_ = threads < 1 ? 1 : threads;
    const unsigned cores = std::thread::hardware_concurrency();
    const std::vector<std::vector<Dependency>> deps = merged(data_waits);
    if (!firing_order(deps, &order_)) {
        return false;
    }
    flatten(deps);
    find_pieces();
    // No more homes than cores: a thread that the OS has to take off the core would hold up
    // every process waiting for its own. The other threads stay out of the runs.
    const int32_t homes = cores == 0 ? threads_ : std::min<int32_t>(threads_, static_cast<int32_t>(cores));
    std::vector<uint64_t> at_least_one(count, 1);
    for (uint32_t p = 0; p < count && p < weights.size(); ++p) {
        at_least_one[p] = std::max<uint32_t>(weights[p], 1);
    }
    balance(at_least_one, homes);
    one_home_ = std::all_of(home_.begin(), home_.end(), [this](int32_t h) { return h == home_.front(); });
    return true;
}

void Network::build(const std::vector<std::vector<Dependency>> &waits_for)
{
    const uint32_t count = process_count_;
    flatten(merged(waits_for));
    const size_t max_slots = static_cast<size_t>(count) + static_cast<size_t>(threads_) * kPerLine;
    slot_begin_.assign(static_cast<size_t>(threads_) + 1, 0);
    slot_end_.assign(static_cast<size_t>(threads_), 0);
    check_begin_.assign(max_slots + 1, 0);
    checks_.assign(deps_.size(), Check{0, 0});
    state_lines_.reset(new Line[max_slots / kPerLine + 1]);
    cursor_lines_.reset(new Cursors[max_slots / kPerLine + 1]);
    lay_out();
}

// Producers before their readers, and each reader soon after what it reads: the order in which a
// depth-first walk from the last process (usually the sink) towards its producers, taking a
// process's inputs in order, finishes them. A process reached again while its own walk is still
// open closes a cycle of lag-0 dependencies.
bool Network::firing_order(const std::vector<std::vector<Dependency>> &deps, std::vector<uint32_t> *order) const
{
    const uint32_t count = process_count_;
    enum : uint8_t { kNew, kOpen, kDone };
    std::vector<uint8_t> state(count, kNew);
    std::vector<std::pair<uint32_t, uint32_t>> stack;  // (process, next dependency to look at)
    order->clear();
    order->reserve(count);
    for (uint32_t remaining = count; remaining > 0; --remaining) {
        const uint32_t root = remaining - 1;
        if (state[root] != kNew) {
            continue;
        }
        state[root] = kOpen;
        stack.emplace_back(root, 0);
        while (!stack.empty()) {
            const uint32_t p = stack.back().first;
            uint32_t &next = stack.back().second;
            if (next < deps[p].size()) {
                const Dependency d = deps[p][next++];
                if (d.lag != 0) {
                    continue;
                }
                if (state[d.process] == kOpen) {
                    return false;
                }
                if (state[d.process] == kNew) {
                    state[d.process] = kOpen;
                    stack.emplace_back(d.process, 0);
                }
                continue;
            }
            state[p] = kDone;
            order->push_back(p);
            stack.pop_back();
        }
    }
    return true;
}

int32_t Network::start_workers()
{
    workers_started_ = true;
    const uint64_t generation = generation_.load(std::memory_order_relaxed);
    try {
        workers_.reserve(static_cast<size_t>(threads_ - 1));
        for (int32_t i = 1; i < threads_; ++i) {
            workers_.emplace_back(&Network::worker_loop, this, i, generation);
        }
    } catch (const std::exception &) {
        // Fewer threads than asked for would leave their processes unfired; say so instead.
        shutdown_.store(true, std::memory_order_seq_cst);
        notify(parked_);
        notify(working_);
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
    if (abort_.load(std::memory_order_relaxed)) {
        return true;
    }
    const std::atomic<bool> *cancel = cancel_.load(std::memory_order_relaxed);
    return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

void Network::stop(uint32_t process, int64_t block, int32_t status)
{
    if (status != AMP_OK) {
        bool expected = false;
        if (failed_.compare_exchange_strong(expected, true, std::memory_order_seq_cst)) {
            failure_ = Failure{process, block, status};
        }
    }
    abort_.store(true, std::memory_order_seq_cst);
    notify(working_);
}

void Network::notify(Waiters &waiters)
{
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (waiters.sleepers.load(std::memory_order_relaxed) == 0) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
        waiters.epoch.fetch_add(1, std::memory_order_relaxed);
    }
    waiters.wake.notify_all();
}

void Network::wake_all()
{
    notify(working_);
}

template <typename Predicate>
void Network::idle(Waiters &waiters, Predicate ready_to_go)
{
    for (int i = 0; i < kSpins; ++i) {
        if (ready_to_go()) {
            return;
        }
        // Look rarely (each look pulls in lines that working threads write) and yield now and
        // then: on a busy machine the thread we wait for may be queued on this core.
        if ((i & 15) == 15) {
            std::this_thread::yield();
        } else {
            for (int k = 0; k < 8; ++k) {
                cpu_relax();
            }
        }
    }
    sleep(waiters, ready_to_go);
}

template <typename Predicate>
void Network::sleep(Waiters &waiters, Predicate ready_to_go)
{
    const uint64_t epoch = waiters.epoch.load(std::memory_order_acquire);
    waiters.sleepers.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!ready_to_go()) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        while (waiters.epoch.load(std::memory_order_relaxed) == epoch && !shutdown_.load(std::memory_order_relaxed)) {
            waiters.wake.wait(lock);
        }
    }
    waiters.sleepers.fetch_sub(1, std::memory_order_seq_cst);
}

void Network::worker_loop(int32_t self, uint64_t seen)
{
    // A thread given no process (more threads than cores) stays out of the runs and sleeps.
    const bool has_work = slot_begin_[static_cast<size_t>(self)] != slot_end_[static_cast<size_t>(self)];
    for (;;) {
        auto started = [this, seen] {
            return generation_.load(std::memory_order_acquire) != seen || shutdown_.load(std::memory_order_acquire);
        };
        if (has_work) {
            idle(parked_, started);
        } else {
            sleep(parked_, started);
        }
        if (shutdown_.load(std::memory_order_acquire)) {
            return;
        }
        const uint64_t generation = generation_.load(std::memory_order_acquire);
        if (generation == seen) {
            continue;
        }
        seen = generation;
        if (!has_work) {
            continue;
        }
        sweep(self);
        if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            notify(working_);
        }
    }
}

// Whether the slot's process may fire block n: every process it waits for has fired far enough.
// Checks from *from on are looked at; when one fails, *from says where the next look starts
// (checks that held once hold for good: counters only grow).
bool Network::ready(uint32_t slot, int64_t n, uint32_t *from)
{
    const uint32_t begin = check_begin_[slot];
    const uint32_t end = check_begin_[slot + 1];
    for (uint32_t k = begin + *from; k < end; ++k) {
        const Check &check = checks_[k];
        // It waits for block n - lag, i.e. n - lag + 1 blocks fired.
        const int64_t needed = n - check.lag + 1;
        if (needed > 0 && (state(check.slot).load(std::memory_order_acquire) >> 1) < needed) {
            *from = k - begin;
            return false;
        }
    }
    *from = end - begin;
    return true;
}

bool Network::anything_ready()
{
    const uint32_t slots = slot_begin_[static_cast<size_t>(threads_)];
    for (uint32_t s = 0; s < slots; ++s) {
        const int64_t word = state(s).load(std::memory_order_acquire);
        uint32_t from = 0;
        if (process_of_[s] != UINT32_MAX && (word & 1) == 0 && (word >> 1) < blocks_ && ready(s, word >> 1, &from)) {
            return true;
        }
    }
    return false;
}

// Fires the slot's next block if it is ready and no other thread is firing it: kFired, kNothing,
// or kStopped when the run stops (a failed firing, or `cancel`). `own`: the caller is the slot's
// home thread, which keeps where its last look at the checks stopped.
Network::Attempt Network::try_fire(uint32_t slot, bool own)
{
    std::atomic<int64_t> &word = state(slot);
    int64_t seen = word.load(std::memory_order_acquire);
    const int64_t n = seen >> 1;
    if ((seen & 1) != 0 || n >= blocks_) {
        return kNothing;
    }
    uint32_t from = 0;
    uint32_t *cursor = &from;
    if (own) {
        if (cursor_block(slot) != n) {
            cursor_block(slot) = n;
            this->cursor(slot) = 0;
        }
        cursor = &this->cursor(slot);
    }
    if (!ready(slot, n, cursor) || !word.compare_exchange_strong(seen, seen | 1, std::memory_order_acq_rel)) {
        return kNothing;
    }
    if (stopping()) {
        stop(0, -1, AMP_OK);
        return kStopped;
    }
    const int32_t status = firer_->fire(process_of_[slot], n);
    if (status != AMP_OK) {
        stop(process_of_[slot], n, status);
        return kStopped;
    }
    word.store(2 * (n + 1), std::memory_order_release);
    if (n + 1 == blocks_ && remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        notify(working_);
    }
    return kFired;
}

// Fires until every process has fired every block, or the run stops. Each pass fires, in firing
// order, every process of this thread whose dependencies hold, at most one block each. A thread
// that has found nothing of its own for a while takes a ready process from another thread (the
// other end of its list, which its home reaches last): on a shared machine one core can run
// slower than the other for seconds, and no fixed placement keeps both busy then.
void Network::sweep(int32_t self)
{
    const uint32_t first = slot_begin_[static_cast<size_t>(self)];
    const uint32_t last = slot_end_[static_cast<size_t>(self)];
    int32_t idle_rounds = 0;
    while (remaining_.load(std::memory_order_acquire) > 0) {
        bool progress = false;
        for (uint32_t s = first; s < last; ++s) {
            const Attempt attempt = try_fire(s, true);
            if (attempt == kStopped) {
                return;
            }
            progress = progress || attempt == kFired;
        }
        if (!progress && idle_rounds >= kStealAfter) {
            for (int32_t k = 1; k < threads_ && !progress; ++k) {
                const int32_t other = (self + k) % threads_;
                for (uint32_t end = slot_end_[static_cast<size_t>(other)]; end > slot_begin_[static_cast<size_t>(other)];
                     --end) {
                    const uint32_t s = end - 1;
                    const Attempt attempt = try_fire(s, false);
                    if (attempt == kStopped) {
                        return;
                    }
                    if (attempt == kFired) {
                        progress = true;
                        break;
                    }
                }
            }
        }
        if (progress) {
            // A thread that ran out of patience sleeps; what this pass fired may be what it waits for.
            notify(working_);
            idle_rounds = 0;
            continue;
        }
        if (stopping()) {
            stop(0, -1, AMP_OK);
            return;
        }
        // Short polls (a remote counter changes within a few hundred cycles of the firing that
        // bumps it), yielding now and then in case the thread we wait for is queued on this core.
        if (++idle_rounds < 8 * kSpins) {
            if ((idle_rounds & 127) == 127) {
                std::this_thread::yield();
            } else {
                cpu_relax();
            }
            continue;
        }
        idle_rounds = 0;
        sleep(working_, [this] {
            return anything_ready() || stopping() || remaining_.load(std::memory_order_acquire) == 0;
        });
    }
}

// The calling thread fires every process: block after block, every process once in firing
// order, which meets every dependency (lag-0 ones by the order, the others by the blocks before),
// wherever the processes have their homes.
void Network::run_alone(int64_t first_block, int64_t end_block)
{
    const uint32_t *first = order_.data();
    const uint32_t *last = order_.data() + order_.size();
    for (int64_t n = first_block; n < end_block; ++n) {
        for (const uint32_t *p = first; p != last; ++p) {
            if (stopping()) {
                abort_.store(true, std::memory_order_relaxed);
                return;
            }
            const int32_t status = firer_->fire(*p, n);
            if (status != AMP_OK) {
                failed_.store(true, std::memory_order_relaxed);
                failure_ = Failure{*p, n, status};
                abort_.store(true, std::memory_order_relaxed);
                return;
            }
        }
    }
}

// Blocks [first_block, end_block) on the threads; every earlier block has been fired.
void Network::run_threads(int64_t first_block, int64_t end_block)
{
    blocks_ = end_block;
    const uint32_t slots = slot_begin_[static_cast<size_t>(threads_)];
    for (uint32_t s = 0; s < slots; ++s) {
        state(s).store(2 * first_block, std::memory_order_relaxed);
        cursor_block(s) = -1;
    }
    remaining_.store(static_cast<int32_t>(process_count_), std::memory_order_relaxed);
    active_.store(busy_threads_ - (slot_begin_[0] != slot_end_[0] ? 1 : 0), std::memory_order_relaxed);
    // Publishes everything above to the workers, which start on seeing the new generation.
    generation_.fetch_add(1, std::memory_order_seq_cst);
    notify(parked_);
    sweep(0);
    // Nothing of this chunk may still be executing when the caller gets its graph back.
    while (active_.load(std::memory_order_acquire) != 0) {
        idle(working_, [this] { return active_.load(std::memory_order_acquire) == 0; });
    }
}

}  // namespace amp
