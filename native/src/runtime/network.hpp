// network.hpp - the Kahn process network: processes that fire once per block, the block
// dependencies between them, and the pool of worker threads that fires whatever is ready.
//
// A dependency "p waits for q at lag L" means p may fire block n only once q has fired block
// n - L (blocks before 0 count as fired). Data edges are lag 0 (a consumer waits for its
// producer's block); room in a channel of depth d is lag d (a producer waits until every consumer
// is done with the slot it is about to overwrite); every process waits for itself at lag 1, which
// makes it sequential. Each process keeps one counter per block in flight, armed with the number
// of its dependencies; a finished firing decrements the counters it satisfies, and the firing
// that brings one to zero queues that process (or runs it at once on the same thread).
// Firing order never changes what a firing computes, so the output is the same for any number of
// threads and any schedule.
#ifndef AMP_RUNTIME_NETWORK_HPP
#define AMP_RUNTIME_NETWORK_HPP

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace amp {

struct Dependency {
    uint32_t process;  // the process waited for
    int32_t lag;       // in blocks, >= 0
};

// What firing one process for one block does. Returns 0 or a status; a failure stops the run.
class Firer {
public:
    virtual ~Firer() = default;
    virtual int32_t fire(uint32_t process, int64_t block) = 0;
};

// The processes ready to fire: one lock-free stack per thread, threaded through a per-process
// link (a process is in at most one stack, once, since it cannot be ready for block n + 1 before
// it has fired block n). A thread pushes what its firings make ready onto its own stack and pops
// from it first, so a chain of work tends to stay on the core whose cache holds its blocks;
// a thread with nothing of its own takes from the others. Each head carries a tag bumped by
// every change, so a pop that raced with a pop and a push of the same process fails its
// compare-and-swap instead of linking a stale successor. No slot can be held by a thread the OS
// has paused, so a push never fails.
class ReadyStacks {
public:
    void init(uint32_t processes, int32_t threads);
    void push(int32_t thread, uint32_t process);
    // A chain first .. last, linked with link(), pushed in one step.
    void link(uint32_t process, uint32_t next);
    void push_chain(int32_t thread, uint32_t first, uint32_t last);
    bool pop(int32_t thread, uint32_t *process);
    bool empty() const;
    bool empty_at(int32_t thread) const;

private:
    bool pop_from(int32_t stack, uint32_t *process);
    struct alignas(64) Head {
        std::atomic<uint64_t> value{0};  // tag << 32 | (process + 1), 0 when empty
    };
    std::unique_ptr<Head[]> heads_;
    int32_t threads_ = 1;
    std::unique_ptr<std::atomic<uint32_t>[]> next_;
};

class Network {
public:
    Network() = default;
    ~Network();
    Network(const Network &) = delete;
    Network &operator=(const Network &) = delete;

    // waits_for[p]: the dependencies of process p, without its own lag-1 one (added here);
    // weights[p]: roughly how much work p does per block. `threads` counts the calling thread; the
    // pool's other threads start with the first run that can use them. Throws std::bad_alloc.
    void build(const std::vector<std::vector<Dependency>> &waits_for, const std::vector<uint32_t> &weights,
               int32_t threads);

    // Fires every process for blocks 0 .. blocks-1 on the calling thread and the pool. Returns 0,
    // the status of the first failed firing (see failure()), or AMP_ERR_STOPPED when `cancel`
    // became true. Never allocates once the pool has started.
    int32_t run(Firer &firer, int64_t blocks, const std::atomic<bool> *cancel);

    // Wakes every sleeping thread, so that a run whose `cancel` was just set notices it.
    void wake_all();

    struct Failure {
        uint32_t process = 0;
        int64_t block = -1;
        int32_t status = 0;
    };
    const Failure &failure() const { return failure_; }
    int32_t threads() const { return threads_; }
    uint32_t process_count() const { return process_count_; }

private:
    void choose_homes(const std::vector<std::vector<Dependency>> &deps, const std::vector<uint32_t> &weights);
    int32_t start_workers();
    void worker_loop(int32_t self);
    bool run_one(int32_t self);
    bool anyone_busy() const;
    void execute(int32_t self, uint32_t process);
    bool stopping() const;
    void notify(bool everyone);
    template <typename Predicate>
    void idle(Predicate ready_to_go);
    std::atomic<int32_t> *counters(uint32_t process) { return &counters_[static_cast<size_t>(process) * stride_]; }
    std::atomic<int32_t> *subs(int32_t sub) { return &subs_[static_cast<size_t>(sub) * stride_]; }

    struct Edge {
        uint32_t process;  // the dependent
        int32_t lag;
        int32_t sub;       // its sub-counter for this edge, or -1
    };
    static constexpr int32_t kMaxChains = 64;

    uint32_t process_count_ = 0;
    int32_t threads_ = 1;
    int32_t spins_ = 0;    // polls before sleeping
    int32_t window_ = 2;   // counters per process: at least the largest lag + 1
    int64_t mask_ = 1;
    size_t stride_ = 16;   // counters per process, padded to a cache line
    std::unique_ptr<std::atomic<int32_t>[]> counters_;
    std::vector<int32_t> initial_;        // [process * window + n]: dependencies that count at block n
    std::vector<int32_t> full_;           // dependencies that count once every lag is reached
    std::vector<uint32_t> edge_begin_;    // dependents of p: edges_[edge_begin_[p] .. edge_begin_[p + 1])
    std::vector<Edge> edges_;
    std::unique_ptr<std::atomic<int32_t>[]> subs_;  // sub-counters, window per sub, padded like counters_
    std::vector<int32_t> sub_initial_;
    std::vector<int32_t> sub_full_;
    std::vector<int32_t> home_;           // the thread whose stack a ready process goes to
    // Per-thread and per-process words, each on a cache line of its own: threads write them all
    // the time, and a neighbour's line bouncing between cores costs more than the work.
    struct alignas(64) Padded {
        std::atomic<int64_t> value{0};
    };
    std::unique_ptr<Padded[]> next_block_;  // per process; touched only by the thread firing it
    std::unique_ptr<Padded[]> busy_;        // per thread (0: the caller of run): inside a pop or a firing
    ReadyStacks ready_;

    Firer *firer_ = nullptr;
    int64_t blocks_ = 0;
    bool alone_ = true;    // this run uses one thread
    std::atomic<const std::atomic<bool> *> cancel_{nullptr};
    std::atomic<bool> abort_{false};
    std::atomic<bool> failed_{false};
    Failure failure_;
    alignas(64) std::atomic<int32_t> remaining_{0};  // processes that still have blocks to fire
    alignas(64) std::atomic<int32_t> sleepers_{0};
    std::atomic<uint64_t> epoch_{0};
    std::mutex sleep_mutex_;
    std::condition_variable wake_;
    std::atomic<bool> shutdown_{false};
    std::vector<std::thread> workers_;
    bool workers_started_ = false;
};

}  // namespace amp

#endif
