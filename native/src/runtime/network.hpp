// network.hpp - the Kahn process network: processes that fire once per block, the block
// dependencies between them, and the threads that fire them.
//
// A dependency "p waits for q at lag L" means p may fire block n only once q has fired block
// n - L (blocks before 0 count as fired). Data edges are lag 0 (a consumer waits for its
// producer's block); room in a channel of depth d is lag d (a producer waits until every consumer
// is done with the slot it is about to overwrite); a process fires its blocks in order.
//
// Every process has a home thread, chosen when the network is built (never more homes than
// cores; further threads stay parked), and each thread fires its own processes in one order that
// respects every lag-0 dependency (producers before their readers, each reader close after its
// producers, so a block is read while it is still in the cache). A thread sweeps its list again
// and again; in each pass it fires every process whose dependencies are met, at most one block
// each, and publishes how many blocks each process has fired in a counter the others read: no
// queue, one uncontended compare-and-swap per firing (the claim on the block). A thread that has
// found nothing of its own for a while fires a ready process of another thread. With one thread
// a pass is one block of every process in that order, with nothing to check at all. A run with
// several homes goes in chunks of a few milliseconds, each on the threads or on the calling
// thread alone, whichever has lately been faster (network_run.cpp): when the machine is busy
// elsewhere, one thread beats several that keep waiting for each other.
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

class Network {
public:
    Network() = default;
    ~Network();
    Network(const Network &) = delete;
    Network &operator=(const Network &) = delete;

    // Built in two steps, because where each process runs decides how deep its channels must be.
    // arrange: data_waits[p] are the lag-0 dependencies of process p, weights[p] roughly how much
    // work it does per block; chooses the firing order and every process's home thread (see
    // home()). `threads` counts the calling thread; the others start with the first run that can
    // use them. Returns false when the dependencies form a cycle (no order could fire them).
    // build: waits_for[p] are all of p's dependencies (the lag-0 ones again, and the others).
    // Both throw std::bad_alloc.
    bool arrange(const std::vector<std::vector<Dependency>> &data_waits, const std::vector<uint32_t> &weights,
                 int32_t threads);
    int32_t home(uint32_t process) const { return home_[process]; }
    // Whether one thread fires every process (one thread, or every process placed on the same
    // one): then it fires block after block, every process once per block in order().
    bool one_home() const { return one_home_; }
    const std::vector<uint32_t> &order() const { return order_; }
    void build(const std::vector<std::vector<Dependency>> &waits_for);

    // Fires every process for blocks 0 .. blocks-1 on the calling thread and the others. Returns
    // 0, the status of the first failed firing (see failure()), or AMP_ERR_STOPPED when `cancel`
    // became true. Never allocates once the threads have started.
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
    // Blocks rendered so far on the threads and on the calling thread alone (see network_run.cpp).
    int64_t blocks_on_threads() const { return blocks_on_threads_.load(std::memory_order_relaxed); }
    int64_t blocks_alone() const { return blocks_alone_.load(std::memory_order_relaxed); }
    uint32_t process_count() const { return process_count_; }

private:
    // A dependency as a sweep checks it: the slot of the process waited for, and the lag.
    struct Check {
        uint32_t slot;
        int32_t lag;
    };
    // Block counters per cache line: each thread's slots start on a line of their own.
    static constexpr uint32_t kPerLine = 64 / sizeof(int64_t);
    struct alignas(64) Line {
        std::atomic<int64_t> value[kPerLine];
    };

    bool firing_order(const std::vector<std::vector<Dependency>> &deps, std::vector<uint32_t> *order) const;
    // network_placement.cpp
    void find_pieces();
    // Each process's home: runs of the firing order, or the heaviest piece first (see the file).
    void balance(const std::vector<uint64_t> &weights, int32_t homes);
    void flatten(const std::vector<std::vector<Dependency>> &deps);
    void lay_out();
    int32_t start_workers();
    void worker_loop(int32_t self, uint64_t seen);
    void run_alone(int64_t first_block, int64_t end_block);
    void run_threads(int64_t first_block, int64_t end_block);
    // network_run.cpp: with several homes, a run goes in chunks, each on the threads or on the
    // calling thread alone, whichever has lately taken less time per block.
    enum Way { kAlone = 0, kThreads = 1 };
    struct Pace {
        double ns_per_block = 0.0;
        bool known = false;
    };
    Way next_way();
    void record_pace(Way way, double ns_per_block);
    Pace pace_[2];
    Way way_ = kThreads;          // the way chunks go unless probing the other
    bool warmed_up_ = false;
    int32_t probe_left_ = 0;      // chunks of the current probe still to go
    uint32_t chunks_since_probe_ = 0;
    uint32_t probe_every_ = 8;
    std::atomic<int64_t> blocks_on_threads_{0};
    std::atomic<int64_t> blocks_alone_{0};
    enum Attempt { kNothing, kFired, kStopped };
    void sweep(int32_t self);
    Attempt try_fire(uint32_t slot, bool own);
    bool ready(uint32_t slot, int64_t n, uint32_t *from);
    bool anything_ready();
    bool stopping() const;
    void stop(uint32_t process, int64_t block, int32_t status);
    // Threads that sleep, and what wakes them: a notifier changes the condition first and then
    // looks for sleepers; a sleeper announces itself first and then re-checks the condition, so
    // one of the two always sees the other (both steps are sequentially consistent).
    struct Waiters {
        alignas(64) std::atomic<int32_t> sleepers{0};
        std::atomic<uint64_t> epoch{0};
        std::condition_variable wake;
    };
    void notify(Waiters &waiters);
    template <typename Predicate>
    void idle(Waiters &waiters, Predicate ready_to_go);  // polls, then sleeps
    template <typename Predicate>
    void sleep(Waiters &waiters, Predicate ready_to_go);

    uint32_t process_count_ = 0;
    int32_t threads_ = 1;
    // Idle passes before a thread looks for work on the others' lists (about a microsecond).
    static constexpr int32_t kStealAfter = 16;
    // What each process waits for (deps_[dep_begin_[p] .. dep_begin_[p + 1]), without itself),
    // and the order every thread fires its own processes in.
    std::vector<uint32_t> dep_begin_;
    std::vector<Dependency> deps_;
    std::vector<uint32_t> order_;
    // Placement: the connected pieces between hubs, and each process's home thread.
    std::vector<uint32_t> piece_of_;      // by process: its piece, or UINT32_MAX for a hub
    std::vector<uint32_t> hubs_;
    uint32_t pieces_ = 0;
    std::vector<int32_t> home_;
    bool one_home_ = true;
    // Slots: the processes renumbered so that each thread's come together, in its firing order;
    // thread t owns slots [slot_begin_[t], slot_end_[t]). Between two threads' slots lies a
    // cache line of padding, so the counters one thread writes never share a line with another's.
    std::vector<uint32_t> slot_begin_;   // threads_ + 1 entries: the last one is the number of slots
    std::vector<uint32_t> slot_end_;     // past thread t's last process
    std::vector<uint32_t> process_of_;    // by slot
    std::vector<uint32_t> check_begin_;   // by slot: checks_[check_begin_[s] .. check_begin_[s + 1])
    std::vector<Check> checks_;
    int32_t busy_threads_ = 0;            // threads with at least one process
    // By slot. The state word is twice the number of blocks the slot's process has fired, plus
    // one while a thread fires the next: a thread claims a block by setting that bit, so a
    // process is fired by one thread at a time and its blocks in order, whichever thread fires
    // them. A cursor (how many of the slot's checks already hold for block `block`) belongs to
    // the slot's home; the cursors of one thread's slots share no cache line with another's.
    std::unique_ptr<Line[]> state_lines_;
    std::atomic<int64_t> &state(uint32_t slot) { return state_lines_[slot / kPerLine].value[slot % kPerLine]; }
    struct alignas(64) Cursors {
        int64_t block[kPerLine];
        uint32_t checked[kPerLine];
    };
    std::unique_ptr<Cursors[]> cursor_lines_;
    int64_t &cursor_block(uint32_t slot) { return cursor_lines_[slot / kPerLine].block[slot % kPerLine]; }
    uint32_t &cursor(uint32_t slot) { return cursor_lines_[slot / kPerLine].checked[slot % kPerLine]; }

    Firer *firer_ = nullptr;
    int64_t blocks_ = 0;  // the end of the chunk on the threads (its processes fire blocks < blocks_)
    std::atomic<const std::atomic<bool> *> cancel_{nullptr};
    std::atomic<bool> abort_{false};
    std::atomic<bool> failed_{false};
    Failure failure_;
    alignas(64) std::atomic<uint64_t> generation_{0};  // bumped to start each run on the workers
    alignas(64) std::atomic<int32_t> active_{0};       // workers still inside the current run
    alignas(64) std::atomic<int32_t> remaining_{0};    // processes yet to fire their last block
    std::mutex sleep_mutex_;
    Waiters working_;  // threads inside a run, waiting for work or for the others to finish
    Waiters parked_;   // workers waiting for the next run
    std::atomic<bool> shutdown_{false};
    std::vector<std::thread> workers_;
    bool workers_started_ = false;
};

}  // namespace amp

#endif
