// network.cpp - firing order, home threads, sweeps and the worker threads.
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
// Counters per cache line: each thread's slots start on a line of their own.
constexpr uint32_t kPerLine = 64 / sizeof(int64_t);

}  // namespace

Network::~Network()
{
    shutdown_.store(true, std::memory_order_seq_cst);
    notify();
    for (std::thread &worker : workers_) {
        worker.join();
    }
}

bool Network::build(const std::vector<std::vector<Dependency>> &waits_for, const std::vector<uint32_t> &weights,
                    int32_t threads)
{
    const uint32_t count = static_cast<uint32_t>(waits_for.size());
    process_count_ = count;
    threads_ = threads < 1 ? 1 : threads;
    // More threads than cores: a spinning thread would keep a preempted one (which may hold the
    // block everybody waits for) off the core, so poll only briefly before sleeping.
    const unsigned cores = std::thread::hardware_concurrency();
    spins_ = cores != 0 && static_cast<unsigned>(threads_) > cores ? kSpins / 16 : kSpins;
    // Merge duplicates, keeping the smallest lag (waiting for block n also covers n - 2). A
    // process waits for itself by firing its blocks in order on one thread.
    std::vector<std::vector<Dependency>> deps(count);
    for (uint32_t p = 0; p < count; ++p) {
        std::vector<Dependency> &list = deps[p];
        for (const Dependency &d : waits_for[p]) {
            if (d.process != p && d.process < count) {
                list.push_back(Dependency{d.process, d.lag < 0 ? 0 : d.lag});
            }
        }
        std::sort(list.begin(), list.end(), [](const Dependency &a, const Dependency &b) {
            return a.process != b.process ? a.process < b.process : a.lag < b.lag;
        });
        list.erase(std::unique(list.begin(), list.end(),
                               [](const Dependency &a, const Dependency &b) { return a.process == b.process; }),
                   list.end());
    }
    std::vector<uint32_t> order;
    if (!firing_order(deps, &order)) {
        return false;
    }
    const std::vector<int32_t> home = choose_homes(deps, weights);

    // Slots: each thread's processes in firing order, each thread's run starting on a new line.
    std::vector<uint32_t> per_thread(static_cast<size_t>(threads_), 0);
    for (uint32_t p = 0; p < count; ++p) {
        ++per_thread[static_cast<size_t>(home[p])];
    }
    slot_begin_.assign(static_cast<size_t>(threads_) + 1, 0);
    slot_end_.assign(static_cast<size_t>(threads_), 0);
    busy_threads_ = 0;
    only_thread_ = 0;
    uint32_t slots = 0;
    for (int32_t t = 0; t < threads_; ++t) {
        slot_begin_[static_cast<size_t>(t)] = slots;
        slot_end_[static_cast<size_t>(t)] = slots + per_thread[static_cast<size_t>(t)];
        if (per_thread[static_cast<size_t>(t)] > 0) {
            ++busy_threads_;
            only_thread_ = t;
        }
        slots += (per_thread[static_cast<size_t>(t)] + kPerLine - 1) / kPerLine * kPerLine;
    }
    slot_begin_[static_cast<size_t>(threads_)] = slots;
    process_of_.assign(slots, UINT32_MAX);
    std::vector<uint32_t> slot_of(count, 0);
    std::vector<uint32_t> fill(slot_end_.size());
    for (int32_t t = 0; t < threads_; ++t) {
        fill[static_cast<size_t>(t)] = slot_begin_[static_cast<size_t>(t)];
    }
    for (uint32_t p : order) {
        const uint32_t s = fill[static_cast<size_t>(home[p])]++;
        process_of_[s] = p;
        slot_of[p] = s;
    }
    check_begin_.assign(static_cast<size_t>(slots) + 1, 0);
    checks_.clear();
    for (uint32_t s = 0; s < slots; ++s) {
        check_begin_[s] = static_cast<uint32_t>(checks_.size());
        if (process_of_[s] == UINT32_MAX) {
            continue;
        }
        for (const Dependency &d : deps[process_of_[s]]) {
            checks_.push_back(Check{slot_of[d.process], d.lag});
        }
    }
    check_begin_[slots] = static_cast<uint32_t>(checks_.size());
    const size_t lines = slots / kPerLine + 1;
    done_lines_.reset(new Line[lines]);
    next_.reset(new int64_t[slots + 1]);
    cursor_.reset(new uint32_t[slots + 1]);
    return true;
}

// Producers before their readers, and each reader soon after what it reads: the reverse of a
// depth-first walk from the last process (usually the sink) towards its producers, taking a
// process's inputs in order. A process reached again while its own walk is still open closes a
// cycle of lag-0 dependencies.
bool Network::firing_order(const std::vector<std::vector<Dependency>> &deps, std::vector<uint32_t> *order) const
{
    const uint32_t count = process_count_;
    enum : uint8_t { kNew, kOpen, kDone };
    std::vector<uint8_t> state(count, kNew);
    std::vector<std::pair<uint32_t, uint32_t>> stack;  // (process, next dependency to look at)
    order->clear();
    order->reserve(count);
    for (uint32_t root = count; root-- > 0;) {
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

// Every cross-core signal and block costs a cache line transfer, so whole independent parts of
// the graph share one home: take away the hubs (processes that read or feed three or more others,
// such as a mix of voices), give each connected piece of what remains to the least loaded thread,
// heaviest first, then the hubs.
std::vector<int32_t> Network::choose_homes(const std::vector<std::vector<Dependency>> &deps,
                                           const std::vector<uint32_t> &weights) const
{
    const uint32_t count = process_count_;
    std::vector<int32_t> home(count, 0);
    if (threads_ == 1 || count == 0) {
        return home;
    }
    std::vector<uint32_t> fan_in(count, 0);
    std::vector<uint32_t> fan_out(count, 0);
    for (uint32_t p = 0; p < count; ++p) {
        for (const Dependency &d : deps[p]) {
            if (d.lag == 0) {
                ++fan_in[p];
                ++fan_out[d.process];
            }
        }
    }
    auto hub = [&](uint32_t p) { return fan_in[p] >= 3 || fan_out[p] >= 3; };
    auto weight = [&](uint32_t p) -> uint64_t { return p < weights.size() ? std::max<uint32_t>(weights[p], 1) : 1; };
    std::vector<uint32_t> root(count);
    for (uint32_t p = 0; p < count; ++p) {
        root[p] = p;
    }
    auto find = [&root](uint32_t p) {
        while (root[p] != p) {
            root[p] = root[root[p]];
            p = root[p];
        }
        return p;
    };
    for (uint32_t p = 0; p < count; ++p) {
        for (const Dependency &d : deps[p]) {
            if (d.lag == 0 && !hub(p) && !hub(d.process)) {
                root[find(p)] = find(d.process);
            }
        }
    }
    std::vector<uint64_t> piece_weight(count, 0);
    for (uint32_t p = 0; p < count; ++p) {
        if (!hub(p)) {
            piece_weight[find(p)] += weight(p);
        }
    }
    std::vector<uint32_t> pieces;
    for (uint32_t p = 0; p < count; ++p) {
        if (!hub(p) && find(p) == p) {
            pieces.push_back(p);
        }
    }
    std::stable_sort(pieces.begin(), pieces.end(),
                     [&](uint32_t a, uint32_t b) { return piece_weight[a] > piece_weight[b]; });
    std::vector<uint64_t> load(static_cast<size_t>(threads_), 0);
    auto lightest = [&load]() {
        return static_cast<int32_t>(std::min_element(load.begin(), load.end()) - load.begin());
    };
    std::vector<int32_t> piece_home(count, 0);
    for (uint32_t piece : pieces) {
        const int32_t t = lightest();
        piece_home[piece] = t;
        load[static_cast<size_t>(t)] += piece_weight[piece];
    }
    for (uint32_t p = 0; p < count; ++p) {
        if (hub(p)) {
            const int32_t t = lightest();
            home[p] = t;
            load[static_cast<size_t>(t)] += weight(p);
        } else {
            home[p] = piece_home[find(p)];
        }
    }
    return home;
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
        notify();
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
    notify();
}

void Network::notify()
{
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_relaxed) == 0) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
        epoch_.fetch_add(1, std::memory_order_relaxed);
    }
    wake_.notify_all();
}

void Network::wake_all()
{
    notify();
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
    const uint64_t epoch = epoch_.load(std::memory_order_acquire);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!ready_to_go()) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        while (epoch_.load(std::memory_order_relaxed) == epoch && !shutdown_.load(std::memory_order_relaxed)) {
            wake_.wait(lock);
        }
    }
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
}

void Network::worker_loop(int32_t self, uint64_t seen)
{
    for (;;) {
        idle([this, seen] {
            return generation_.load(std::memory_order_acquire) != seen || shutdown_.load(std::memory_order_acquire);
        });
        if (shutdown_.load(std::memory_order_acquire)) {
            return;
        }
        const uint64_t generation = generation_.load(std::memory_order_acquire);
        if (generation == seen) {
            continue;
        }
        seen = generation;
        sweep(self);
        if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            notify();
        }
    }
}

// Whether the slot's process may fire its next block: every process it waits for has fired far
// enough. Checks that held once hold for good (counters only grow), so the next look starts
// where this one stopped.
bool Network::ready(uint32_t slot)
{
    const int64_t n = next_[slot];
    const uint32_t begin = check_begin_[slot];
    const uint32_t end = check_begin_[slot + 1];
    for (uint32_t k = begin + cursor_[slot]; k < end; ++k) {
        const Check &check = checks_[k];
        // It waits for block n - lag, i.e. n - lag + 1 blocks fired.
        const int64_t needed = n - check.lag + 1;
        if (needed > 0 && done(check.slot).load(std::memory_order_acquire) < needed) {
            cursor_[slot] = k - begin;
            return false;
        }
    }
    cursor_[slot] = end - begin;
    return true;
}

bool Network::anything_ready(int32_t self)
{
    for (uint32_t s = slot_begin_[static_cast<size_t>(self)]; s < slot_end_[static_cast<size_t>(self)]; ++s) {
        if (next_[s] < blocks_ && ready(s)) {
            return true;
        }
    }
    return false;
}

// Fires this thread's processes until each has fired every block, or the run stops. Each pass
// fires, in firing order, every process whose dependencies hold, at most one block each; a pass
// that fires nothing waits for the other threads.
void Network::sweep(int32_t self)
{
    const uint32_t first = slot_begin_[static_cast<size_t>(self)];
    const uint32_t last = slot_end_[static_cast<size_t>(self)];
    uint32_t unfinished = last - first;
    int32_t idle_rounds = 0;
    while (unfinished > 0) {
        bool progress = false;
        for (uint32_t s = first; s < last; ++s) {
            const int64_t n = next_[s];
            if (n >= blocks_ || !ready(s)) {
                continue;
            }
            if (stopping()) {
                stop(0, -1, AMP_OK);
                return;
            }
            const int32_t status = firer_->fire(process_of_[s], n);
            if (status != AMP_OK) {
                stop(process_of_[s], n, status);
                return;
            }
            next_[s] = n + 1;
            cursor_[s] = 0;
            done(s).store(n + 1, std::memory_order_release);
            progress = true;
            if (n + 1 == blocks_) {
                --unfinished;
            }
        }
        if (progress) {
            // A thread that ran out of patience sleeps; what this pass fired may be what it waits for.
            notify();
            idle_rounds = 0;
            continue;
        }
        if (stopping()) {
            stop(0, -1, AMP_OK);
            return;
        }
        if (++idle_rounds < spins_) {
            if ((idle_rounds & 15) == 15) {
                std::this_thread::yield();
            } else {
                for (int k = 0; k < 8; ++k) {
                    cpu_relax();
                }
            }
            continue;
        }
        idle_rounds = 0;
        const uint64_t epoch = epoch_.load(std::memory_order_acquire);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (!anything_ready(self) && !stopping()) {
            std::unique_lock<std::mutex> lock(sleep_mutex_);
            while (epoch_.load(std::memory_order_relaxed) == epoch && !shutdown_.load(std::memory_order_relaxed)) {
                wake_.wait(lock);
            }
        }
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    }
}

// One thread holds every process: block after block, every process once in firing order, which
// meets every dependency (lag-0 ones by the order, the others by the blocks before).
void Network::run_alone()
{
    const uint32_t *first = process_of_.data() + slot_begin_[static_cast<size_t>(only_thread_)];
    const uint32_t *last = process_of_.data() + slot_end_[static_cast<size_t>(only_thread_)];
    for (int64_t n = 0; n < blocks_; ++n) {
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

int32_t Network::run(Firer &firer, int64_t blocks, const std::atomic<bool> *cancel)
{
    if (blocks <= 0 || process_count_ == 0) {
        return AMP_OK;
    }
    if (cancel != nullptr && cancel->load(std::memory_order_seq_cst)) {
        return AMP_ERR_STOPPED;
    }
    const bool alone = busy_threads_ <= 1;
    if (!alone && !workers_started_) {
        const int32_t status = start_workers();
        if (status != AMP_OK) {
            return status;
        }
    }
    firer_ = &firer;
    blocks_ = blocks;
    cancel_.store(cancel, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    failure_ = Failure{};
    abort_.store(false, std::memory_order_relaxed);
    if (alone) {
        run_alone();
    } else {
        const uint32_t slots = slot_begin_[static_cast<size_t>(threads_)];
        for (uint32_t s = 0; s < slots; ++s) {
            done(s).store(0, std::memory_order_relaxed);
            next_[s] = 0;
            cursor_[s] = 0;
        }
        active_.store(threads_ - 1, std::memory_order_relaxed);
        // Publishes everything above to the workers, which start on seeing the new generation.
        generation_.fetch_add(1, std::memory_order_seq_cst);
        notify();
        sweep(0);
        // Nothing of this run may still be executing when the caller gets its graph back.
        while (active_.load(std::memory_order_acquire) != 0) {
            idle([this] { return active_.load(std::memory_order_acquire) == 0; });
        }
    }
    cancel_.store(nullptr, std::memory_order_relaxed);
    if (failed_.load(std::memory_order_seq_cst)) {
        return failure_.status;
    }
    return abort_.load(std::memory_order_seq_cst) ? AMP_ERR_STOPPED : AMP_OK;
}

}  // namespace amp
