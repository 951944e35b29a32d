// network.hpp - the Kahn process network: processes that fire once per block, the block
// dependencies between them, and the threads that fire them.
//
// A dependency "p waits for q at lag L" means p may fire block n only once q has fired block
// n - L (blocks before 0 count as fired). Data edges are lag 0 (a consumer waits for its
// producer's block); room in a channel of depth d is lag d (a producer waits until every consumer
// is done with the slot it is about to overwrite); a process fires its blocks in order.
//
// Every process has a home thread, fixed when the network is built, and each thread fires its
// own processes in one order that respects every lag-0 dependency (producers before their
// readers, each reader close after its producers, so a block is read while it is still in the
// cache). A thread sweeps its list again and again; in each sweep it fires every process whose
// dependencies on other threads are met, at most one block each, and publishes how many blocks
// each process has fired. So a thread signals another only by a counter the other reads: no
// queue, no locked instruction per firing. With one thread a sweep is one block of every process
// in that order, with nothing to check at all.
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

    // waits_for[p]: the dependencies of process p (a dependency on itself is implied);
    // weights[p]: roughly how much work p does per block. `threads` counts the calling thread; the
    // other threads start with the first run that can use them. Returns false when the lag-0
    // dependencies form a cycle (no order could fire them). Throws std::bad_alloc.
    bool build(const std::vector<std::vector<Dependency>> &waits_for, const std::vector<uint32_t> &weights,
               int32_t threads);

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
    uint32_t process_count() const { return process_count_; }

private:
    // A dependency as a sweep checks it: the slot of the process waited for, and the lag.
    struct Check {
        uint32_t slot;
        int32_t lag;
    };
    struct alignas(64) Line {
        std::atomic<int64_t> value[8];
    };

    std::vector<int32_t> choose_homes(const std::vector<std::vector<Dependency>> &deps,
                                      const std::vector<uint32_t> &weights) const;
    bool firing_order(const std::vector<std::vector<Dependency>> &deps, std::vector<uint32_t> *order) const;
    int32_t start_workers();
    void worker_loop(int32_t self, uint64_t seen);
    void run_alone();
    void sweep(int32_t self);
    bool ready(uint32_t slot);
    bool anything_ready(int32_t self);
    bool stopping() const;
    void stop(uint32_t process, int64_t block, int32_t status);
    void notify();
    template <typename Predicate>
    void idle(Predicate ready_to_go);

    uint32_t process_count_ = 0;
    int32_t threads_ = 1;
    int32_t spins_ = 0;  // polls before sleeping
    // Slots: the processes renumbered so that each thread's come together, in its firing order;
    // thread t owns slots [slot_begin_[t], slot_end_[t]). Between two threads' slots lies a
    // cache line of padding, so the counters one thread writes never share a line with another's.
    std::vector<uint32_t> slot_begin_;   // threads_ + 1 entries: the last one is the number of slots
    std::vector<uint32_t> slot_end_;     // past thread t's last process
    std::vector<uint32_t> process_of_;    // by slot
    std::vector<uint32_t> check_begin_;   // by slot: checks_[check_begin_[s] .. check_begin_[s + 1])
    std::vector<Check> checks_;
    int32_t busy_threads_ = 0;            // threads with at least one process
    int32_t only_thread_ = 0;             // the one such thread, when there is one
    // By slot. done_ is how many blocks the slot's process has fired: written by its home thread,
    // read by the threads whose processes wait for it. next_ and cursor_ (how many of the slot's
    // checks already hold for its next block) belong to the home thread alone.
    std::unique_ptr<Line[]> done_lines_;
    std::atomic<int64_t> &done(uint32_t slot) { return done_lines_[slot / 8].value[slot % 8]; }
    std::unique_ptr<int64_t[]> next_;
    std::unique_ptr<uint32_t[]> cursor_;

    Firer *firer_ = nullptr;
    int64_t blocks_ = 0;
    std::atomic<const std::atomic<bool> *> cancel_{nullptr};
    std::atomic<bool> abort_{false};
    std::atomic<bool> failed_{false};
    Failure failure_;
    alignas(64) std::atomic<uint64_t> generation_{0};  // bumped to start each run on the workers
    alignas(64) std::atomic<int32_t> active_{0};       // workers still inside the current run
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
