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
// Waiting for this many processes or more, a process counts them per home thread (see build).
constexpr size_t kSplit = 8;

}  // namespace

void ReadyStacks::init(uint32_t processes, int32_t threads)
{
    threads_ = threads < 1 ? 1 : threads;
    heads_.reset(new Head[static_cast<size_t>(threads_)]);
    next_.reset(new std::atomic<uint32_t>[processes == 0 ? 1 : processes]);
    for (uint32_t p = 0; p < processes; ++p) {
        next_[p].store(0, std::memory_order_relaxed);
    }
}

void ReadyStacks::push(int32_t thread, uint32_t process)
{
    std::atomic<uint64_t> &head = heads_[thread].value;
    uint64_t top = head.load(std::memory_order_relaxed);
    uint64_t fresh = 0;
    do {
        next_[process].store(static_cast<uint32_t>(top), std::memory_order_relaxed);
        fresh = (((top >> 32) + 1) << 32) | (static_cast<uint64_t>(process) + 1);
    } while (!head.compare_exchange_weak(top, fresh, std::memory_order_release, std::memory_order_relaxed));
}

void ReadyStacks::link(uint32_t process, uint32_t next)
{
    next_[process].store(next + 1, std::memory_order_relaxed);
}

void ReadyStacks::push_chain(int32_t thread, uint32_t first, uint32_t last)
{
    std::atomic<uint64_t> &head = heads_[thread].value;
    uint64_t top = head.load(std::memory_order_relaxed);
    uint64_t fresh = 0;
    do {
        next_[last].store(static_cast<uint32_t>(top), std::memory_order_relaxed);
        fresh = (((top >> 32) + 1) << 32) | (static_cast<uint64_t>(first) + 1);
    } while (!head.compare_exchange_weak(top, fresh, std::memory_order_release, std::memory_order_relaxed));
}

bool ReadyStacks::pop_from(int32_t stack, uint32_t *process)
{
    std::atomic<uint64_t> &head = heads_[stack].value;
    uint64_t top = head.load(std::memory_order_acquire);
    for (;;) {
        const uint32_t entry = static_cast<uint32_t>(top);
        if (entry == 0) {
            return false;
        }
        const uint64_t next = next_[entry - 1].load(std::memory_order_relaxed);
        const uint64_t fresh = (((top >> 32) + 1) << 32) | next;
        if (head.compare_exchange_weak(top, fresh, std::memory_order_acquire, std::memory_order_acquire)) {
            *process = entry - 1;
            return true;
        }
    }
}

bool ReadyStacks::pop(int32_t thread, uint32_t *process)
{
    for (int32_t k = 0; k < threads_; ++k) {
        if (pop_from((thread + k) % threads_, process)) {
            return true;
        }
    }
    return false;
}

bool ReadyStacks::empty_at(int32_t thread) const
{
    return static_cast<uint32_t>(heads_[thread].value.load(std::memory_order_acquire)) == 0;
}

bool ReadyStacks::empty() const
{
    for (int32_t t = 0; t < threads_; ++t) {
        if (static_cast<uint32_t>(heads_[t].value.load(std::memory_order_acquire)) != 0) {
            return false;
        }
    }
    return true;
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

void Network::build(const std::vector<std::vector<Dependency>> &waits_for, const std::vector<uint32_t> &weights,
                    int32_t threads)
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
        std::vector<Dependency> &list = deps[p];
        list.assign(waits_for[p].begin(), waits_for[p].end());
        list.push_back(Dependency{p, 1});
        for (Dependency &d : list) {
            d.lag = d.process == p ? 1 : (d.lag < 0 ? 0 : d.lag);
            max_lag = std::max(max_lag, d.lag);
        }
        std::sort(list.begin(), list.end(), [](const Dependency &a, const Dependency &b) {
            return a.process != b.process ? a.process < b.process : a.lag < b.lag;
        });
        list.erase(std::unique(list.begin(), list.end(),
                               [](const Dependency &a, const Dependency &b) { return a.process == b.process; }),
                   list.end());
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
    choose_homes(deps, weights);
    // A process waiting for many others (a mix of a thousand voices, or a source whose readers
    // all give back room) would have every thread decrement the same counter, a line bouncing
    // between cores for each signal. It counts instead in one sub-counter per home thread of the
    // processes it waits for, each touched mostly by its own thread; the last signal of a
    // sub-counter counts once in the process's own counter.
    const size_t w = static_cast<size_t>(window_);
    std::vector<int32_t> sub_base(count, -1);
    size_t sub_count = 0;
    for (uint32_t p = 0; p < count; ++p) {
        if (threads_ > 1 && deps[p].size() >= kSplit) {
            sub_base[p] = static_cast<int32_t>(sub_count);
            sub_count += static_cast<size_t>(threads_);
        }
    }
    counters_.reset(new std::atomic<int32_t>[static_cast<size_t>(count) * stride_]);
    subs_.reset(new std::atomic<int32_t>[(sub_count == 0 ? 1 : sub_count) * stride_]);
    initial_.assign(static_cast<size_t>(count) * w, 0);
    full_.assign(count, 0);
    sub_initial_.assign(sub_count * w, 0);
    sub_full_.assign(sub_count, 0);
    std::vector<uint32_t> out_degree(count, 0);
    auto count_in = [&](int32_t *initial, int32_t *full, int32_t lag) {
        ++*full;
        for (int32_t n = lag; n < window_; ++n) {
            ++initial[n];
        }
    };
    for (uint32_t p = 0; p < count; ++p) {
        int32_t *initial = &initial_[static_cast<size_t>(p) * w];
        for (const Dependency &d : deps[p]) {
            ++out_degree[d.process];
            if (sub_base[p] >= 0 && d.process != p) {
                const size_t sub = static_cast<size_t>(sub_base[p] + home_[d.process]);
                count_in(&sub_initial_[sub * w], &sub_full_[sub], d.lag);
            } else {
                count_in(initial, &full_[p], d.lag);
            }
        }
        for (int32_t t = 0; sub_base[p] >= 0 && t < threads_; ++t) {
            const size_t sub = static_cast<size_t>(sub_base[p] + t);
            if (sub_full_[sub] == 0) {
                continue;
            }
            ++full_[p];
            for (int32_t n = 0; n < window_; ++n) {
                // A sub-counter with nothing to wait for at block n is complete from the start.
                initial[n] += sub_initial_[sub * w + static_cast<size_t>(n)] > 0 ? 1 : 0;
            }
        }
    }
    edge_begin_.assign(static_cast<size_t>(count) + 1, 0);
    for (uint32_t p = 0; p < count; ++p) {
        edge_begin_[p + 1] = edge_begin_[p] + out_degree[p];
    }
    edges_.assign(edge_begin_[count], Edge{0, 0, -1});
    std::vector<uint32_t> cursor(edge_begin_.begin(), edge_begin_.end() - 1);
    for (uint32_t p = 0; p < count; ++p) {
        for (const Dependency &d : deps[p]) {
            const int32_t sub = sub_base[p] >= 0 && d.process != p ? sub_base[p] + home_[d.process] : -1;
            edges_[cursor[d.process]++] = Edge{p, d.lag, sub};
        }
    }
    // Consumers first: the thread that produced a block goes on with the process that reads it,
    // while the block is still in its cache; the process's own next block comes last.
    for (uint32_t q = 0; q < count; ++q) {
        std::stable_sort(edges_.begin() + edge_begin_[q], edges_.begin() + edge_begin_[q + 1],
                         [q](const Edge &a, const Edge &b) {
                             const int ka = a.process == q ? 2 : (a.lag == 0 ? 0 : 1);
                             const int kb = b.process == q ? 2 : (b.lag == 0 ? 0 : 1);
                             return ka < kb;
                         });
    }
    next_block_.reset(new Padded[count == 0 ? 1 : count]);
    busy_.reset(new Padded[static_cast<size_t>(threads_)]);
    ready_.init(count, threads_);
}

// Every cross-core signal and block costs a cache line transfer, so each process gets a home
// thread, and whole independent parts of the graph share one: take away the hubs (processes that
// read or feed three or more others, such as a mix of voices), give each connected piece of what
// remains to the least loaded thread, heaviest first, then the hubs. A ready process goes onto
// its home's stack; an idle thread still takes work from any stack, so a poor guess costs
// locality, never progress.
void Network::choose_homes(const std::vector<std::vector<Dependency>> &deps, const std::vector<uint32_t> &weights)
{
    const uint32_t count = process_count_;
    home_.assign(count, 0);
    if (threads_ == 1 || count == 0) {
        return;
    }
    std::vector<uint32_t> fan_in(count, 0);
    std::vector<uint32_t> fan_out(count, 0);
    for (uint32_t p = 0; p < count; ++p) {
        for (const Dependency &d : deps[p]) {
            if (d.lag == 0 && d.process != p) {
                ++fan_in[p];
                ++fan_out[d.process];
            }
        }
    }
    auto hub = [&](uint32_t p) { return fan_in[p] >= 3 || fan_out[p] >= 3; };
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
            if (d.lag == 0 && d.process != p && !hub(p) && !hub(d.process)) {
                root[find(p)] = find(d.process);
            }
        }
    }
    std::vector<uint64_t> piece_weight(count, 0);
    for (uint32_t p = 0; p < count; ++p) {
        if (!hub(p)) {
            piece_weight[find(p)] += weights.empty() ? 1 : std::max<uint32_t>(weights[p], 1);
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
            home_[p] = t;
            load[static_cast<size_t>(t)] += weights.empty() ? 1 : std::max<uint32_t>(weights[p], 1);
        } else {
            home_[p] = piece_home[find(p)];
        }
    }
}

int32_t Network::start_workers()
{
    workers_started_ = true;
    try {
        workers_.reserve(static_cast<size_t>(threads_ - 1));
        for (int32_t i = 1; i < threads_; ++i) {
            workers_.emplace_back(&Network::worker_loop, this, i);
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

void Network::worker_loop(int32_t self)
{
    while (!shutdown_.load(std::memory_order_acquire)) {
        if (run_one(self)) {
            continue;
        }
        // While a stopped run drains, leftovers are not work.
        idle([this] {
            return (!ready_.empty() && !abort_.load(std::memory_order_seq_cst)) ||
                   shutdown_.load(std::memory_order_seq_cst);
        });
    }
}

bool Network::anyone_busy() const
{
    for (int32_t t = 0; t < threads_; ++t) {
        if (busy_[t].value.load(std::memory_order_seq_cst) != 0) {
            return true;
        }
    }
    return false;
}

// Takes one ready process and fires it. A thread marks itself busy before it looks at abort_ and
// pops: a stopping run sets abort_, waits until no thread is busy, and only then drains what is
// left, so no thread can hold a process popped from a stopped run while the next one begins.
bool Network::run_one(int32_t self)
{
    if (ready_.empty()) {
        return false;
    }
    std::atomic<int64_t> &busy = busy_[self].value;
    busy.store(1, std::memory_order_seq_cst);
    if (abort_.load(std::memory_order_seq_cst)) {
        busy.store(0, std::memory_order_seq_cst);
        notify(true);
        return false;
    }
    uint32_t process = 0;
    const bool popped = ready_.pop(self, &process);
    if (popped) {
        execute(self, process);
    }
    busy.store(0, std::memory_order_seq_cst);
    if (abort_.load(std::memory_order_seq_cst)) {
        notify(true);
    }
    return popped;
}

// Fires `process`, then keeps firing on this thread whichever process the firing made ready
// first, pushing the others, until a firing makes nothing ready. The caller has marked itself
// busy.
void Network::execute(int32_t self, uint32_t process)
{
    for (;;) {
        if (abort_.load(std::memory_order_seq_cst)) {
            return;
        }
        const std::atomic<bool> *cancel = cancel_.load(std::memory_order_acquire);
        if (cancel != nullptr && cancel->load(std::memory_order_seq_cst)) {
            abort_.store(true, std::memory_order_seq_cst);
            notify(true);
            return;
        }
        std::atomic<int64_t> &next = next_block_[process].value;
        const int64_t block = next.load(std::memory_order_relaxed);
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
        next.store(block + 1, std::memory_order_relaxed);
        // This block's counter now counts for block + window, which nothing can signal before
        // the signals below have been acted on.
        counters(process)[block & mask_].store(full_[process], std::memory_order_relaxed);
        uint32_t keep = kNone;
        uint32_t spare = kNone;  // the first ready process whose home is another thread
        // What the signals make ready goes to its home's stack in one push per home (a chain
        // linked here, where nobody else sees it yet).
        uint32_t chain_first[kMaxChains];
        uint32_t chain_last[kMaxChains];
        const int32_t chains = threads_ <= kMaxChains ? threads_ : 0;
        for (int32_t t = 0; t < chains; ++t) {
            chain_first[t] = kNone;
        }
        int32_t pushed = 0;
        auto hand_over = [&](uint32_t ready) {
            const int32_t home = home_[ready];
            ++pushed;
            if (home >= chains) {
                ready_.push(home, ready);
            } else if (chain_first[home] == kNone) {
                chain_first[home] = chain_last[home] = ready;
            } else {
                ready_.link(ready, chain_first[home]);
                chain_first[home] = ready;
            }
        };
        for (uint32_t e = edge_begin_[process]; e < edge_begin_[process + 1]; ++e) {
            const Edge &edge = edges_[e];
            const int64_t target = block + edge.lag;
            if (target >= blocks_) {
                continue;
            }
            if (edge.sub >= 0) {
                std::atomic<int32_t> &sub = subs(edge.sub)[target & mask_];
                if (sub.fetch_sub(1, std::memory_order_acq_rel) != 1) {
                    continue;
                }
                // Complete for this block: from now on it counts for block + window, which
                // nothing signals before the process has fired this block.
                sub.store(sub_full_[static_cast<size_t>(edge.sub)], std::memory_order_relaxed);
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
            if (keep == kNone && home_[edge.process] == self) {
                keep = edge.process;
            } else if (spare == kNone && home_[edge.process] != self) {
                spare = edge.process;
            } else {
                hand_over(edge.process);
            }
        }
        // With nothing of its own to do next, this thread does the spare itself rather than hand
        // it over and wake its home thread for it.
        if (spare != kNone) {
            if (keep == kNone && ready_.empty_at(self)) {
                keep = spare;
            } else {
                hand_over(spare);
            }
        }
        for (int32_t t = 0; t < chains; ++t) {
            if (chain_first[t] != kNone) {
                ready_.push_chain(t, chain_first[t], chain_last[t]);
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
    for (size_t sub = 0; sub < sub_full_.size(); ++sub) {
        std::atomic<int32_t> *slots = subs(static_cast<int32_t>(sub));
        for (int32_t n = 0; n < window_; ++n) {
            // Nothing signals a sub-counter for a block before its smallest lag, so such a slot
            // is complete at block n and waits already for block n + window.
            const int32_t initial = sub_initial_[sub * static_cast<size_t>(window_) + static_cast<size_t>(n)];
            slots[n].store(initial > 0 ? initial : sub_full_[sub], std::memory_order_relaxed);
        }
    }
    for (uint32_t p = 0; p < process_count_; ++p) {
        std::atomic<int32_t> *slots = counters(p);
        for (int32_t n = 0; n < window_; ++n) {
            slots[n].store(initial_[static_cast<size_t>(p) * static_cast<size_t>(window_) + static_cast<size_t>(n)],
                           std::memory_order_relaxed);
        }
        next_block_[p].value.store(0, std::memory_order_relaxed);
    }
    remaining_.store(static_cast<int32_t>(process_count_), std::memory_order_relaxed);
    abort_.store(false, std::memory_order_seq_cst);

    // Every process that waits for nothing at block 0 is ready; this thread takes the first.
    uint32_t first = kNone;
    int32_t pushed = 0;
    for (uint32_t p = 0; p < process_count_; ++p) {
        if (initial_[static_cast<size_t>(p) * static_cast<size_t>(window_)] != 0) {
            continue;
        }
        if (first == kNone && home_[p] == 0) {
            first = p;
        } else {
            ready_.push(home_[p], p);
            ++pushed;
        }
    }
    if (pushed > 0) {
        notify(pushed > 1);
    }
    if (first != kNone) {
        busy_[0].value.store(1, std::memory_order_seq_cst);
        execute(0, first);
        busy_[0].value.store(0, std::memory_order_seq_cst);
    }
    for (;;) {
        if (remaining_.load(std::memory_order_acquire) == 0) {
            break;
        }
        if (stopping()) {
            abort_.store(true, std::memory_order_seq_cst);
            if (!anyone_busy()) {
                break;
            }
        }
        if (run_one(0)) {
            continue;
        }
        idle([this] {
            return !ready_.empty() || remaining_.load(std::memory_order_seq_cst) == 0 ||
                   (stopping() && !anyone_busy());
        });
    }
    // Nothing of this run may still be executing when the caller gets its graph back.
    while (anyone_busy()) {
        std::this_thread::yield();
    }
    const bool stopped = remaining_.load(std::memory_order_acquire) != 0;
    if (stopped) {
        uint32_t process = 0;
        while (ready_.pop(0, &process)) {
        }
    }
    cancel_.store(nullptr, std::memory_order_release);
    if (failed_.load(std::memory_order_seq_cst)) {
        return failure_.status;
    }
    return stopped ? AMP_ERR_STOPPED : AMP_OK;
}

}  // namespace amp
