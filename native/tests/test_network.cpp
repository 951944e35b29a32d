// test_network.cpp - the process network on its own, with a firer that does no DSP but watches
// every firing: a process fires its blocks in order, never two at once, and only when every
// block it waits for has been fired (its inputs hold a block, its outputs have room); a producer
// runs ahead of a slow consumer by as many blocks as the channel between them holds, and no
// further; a failing firing stops the run and is named; a cycle of lag-0 waits is refused.
#include "runtime/network.hpp"
#include "test_util.h"

#include "amp_native.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace {

using amp::Dependency;
using amp::Network;

void spin_for(std::chrono::nanoseconds duration)
{
    const auto until = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < until) {
    }
}

// Records, for every process, how many blocks it has finished; checks each firing against the
// dependencies it was built with.
class WatchingFirer : public amp::Firer {
public:
    WatchingFirer(const std::vector<std::vector<Dependency>> &waits, uint64_t seed)
        : waits_(waits), done_(new std::atomic<int64_t>[waits.size()]), firing_(new std::atomic<bool>[waits.size()]),
          seed_(seed)
    {
        restart();
    }

    void restart()
    {
        for (size_t p = 0; p < waits_.size(); ++p) {
            done_[p].store(0);
            firing_[p].store(false);
        }
        violations_.store(0);
        max_lead_.store(0);
    }

    int32_t fire(uint32_t process, int64_t block) override
    {
        if (firing_[process].exchange(true, std::memory_order_acq_rel)) {
            report("process fired by two threads at once", process, block);
        }
        if (done_[process].load(std::memory_order_acquire) != block) {
            report("blocks out of order", process, block);
        }
        for (const Dependency &d : waits_[process]) {
            const int64_t needed = block - d.lag;  // this block of d.process must be done
            if (needed >= 0 && done_[d.process].load(std::memory_order_acquire) < needed + 1) {
                report("fired before a block it waits for", process, block);
            }
        }
        if (process == fail_process_ && block == fail_block_) {
            firing_[process].store(false, std::memory_order_release);
            return 4242;
        }
        // A little work of varying length, so that the threads meet in ever different orders.
        const uint64_t x = (seed_ ^ (static_cast<uint64_t>(process) << 32) ^ static_cast<uint64_t>(block)) *
                           0x9E3779B97F4A7C15ull;
        spin_for(std::chrono::nanoseconds(process == slow_ ? 20000 : static_cast<int64_t>((x >> 58) * 40)));
        if (process == lead_of_) {
            // The blocks lead_over_ has finished that this process is still reading or has yet to
            // read: how many slots of the channel between them are full.
            const int64_t lead = done_[lead_over_].load(std::memory_order_acquire) - block;
            int64_t seen = max_lead_.load(std::memory_order_relaxed);
            while (lead > seen && !max_lead_.compare_exchange_weak(seen, lead)) {
            }
        }
        done_[process].store(block + 1, std::memory_order_release);
        firing_[process].store(false, std::memory_order_release);
        return AMP_OK;
    }

    int64_t done(uint32_t process) const { return done_[process].load(); }
    int violations() const { return violations_.load(); }
    int64_t max_lead() const { return max_lead_.load(); }

    uint32_t slow_ = UINT32_MAX;      // a process that takes 20 µs a block
    uint32_t lead_of_ = UINT32_MAX;   // at the end of each of its firings, how far lead_over_ is ahead
    uint32_t lead_over_ = UINT32_MAX;
    uint32_t fail_process_ = UINT32_MAX;
    int64_t fail_block_ = -1;

private:
    void report(const char *what, uint32_t process, int64_t block)
    {
        if (violations_.fetch_add(1) < 5) {
            fprintf(stderr, "%s: process %u, block %lld\n", what, process, static_cast<long long>(block));
        }
    }

    const std::vector<std::vector<Dependency>> &waits_;
    std::unique_ptr<std::atomic<int64_t>[]> done_;
    std::unique_ptr<std::atomic<bool>[]> firing_;
    std::atomic<int> violations_{0};
    std::atomic<int64_t> max_lead_{0};
    uint64_t seed_;
};

// A random DAG of processes, as the graph builds one: data waits (lag 0) on earlier processes,
// room in each channel (the producer waits for each reader at a lag of 1 to 4 blocks), and now
// and then a feedback wait through a block delay (lag >= 1) on a later process.
struct RandomNetwork {
    std::vector<std::vector<Dependency>> data_waits;
    std::vector<std::vector<Dependency>> waits;
};

RandomNetwork random_network(std::mt19937_64 &rng, uint32_t count)
{
    RandomNetwork net;
    net.data_waits.resize(count);
    net.waits.resize(count);
    for (uint32_t p = 1; p < count; ++p) {
        const uint32_t inputs = 1 + static_cast<uint32_t>(rng() % 3);
        for (uint32_t k = 0; k < inputs; ++k) {
            const uint32_t q = static_cast<uint32_t>(rng() % p);
            net.data_waits[p].push_back(Dependency{q, 0});
            net.waits[p].push_back(Dependency{q, 0});
            net.waits[q].push_back(Dependency{p, 1 + static_cast<int32_t>(rng() % 4)});
        }
        if (rng() % 8 == 0) {
            const uint32_t later = p + static_cast<uint32_t>(rng() % (count - p));
            net.waits[p].push_back(Dependency{later, 1 + static_cast<int32_t>(rng() % 2)});
        }
    }
    return net;
}

void check_every_firing_meets_its_waits()
{
    std::mt19937_64 rng(20261204);
    static const int32_t thread_counts[] = {1, 2, 3, 4, 8};
    for (int graph = 0; graph < 40; ++graph) {
        const uint32_t count = 2 + static_cast<uint32_t>(rng() % 39);
        const RandomNetwork net = random_network(rng, count);
        for (int32_t threads : thread_counts) {
            Network network;
            CHECK(network.arrange(net.data_waits, std::vector<uint32_t>(count, 1), threads));
            network.build(net.waits);
            WatchingFirer firer(net.waits, rng());
            const int64_t blocks = 150;
            CHECK_EQ_INT(network.run(firer, blocks, nullptr), AMP_OK);
            CHECK_EQ_INT(firer.violations(), 0);
            for (uint32_t p = 0; p < count; ++p) {
                CHECK_EQ_INT(firer.done(p), blocks);
            }
            CHECK_EQ_INT(network.blocks_on_threads() + network.blocks_alone(), blocks);
            // A second run on the same network starts again at block 0.
            firer.restart();
            CHECK_EQ_INT(network.run(firer, 40, nullptr), AMP_OK);
            CHECK_EQ_INT(firer.violations(), 0);
            CHECK_EQ_INT(firer.done(count - 1), 40);
        }
    }
}

// Three producers and a slow consumer that reads them all, with channels of `depth` blocks. The
// consumer is a hub (it reads three processes), so it gets a home of its own and the producers
// share the other (network_placement.cpp).
void check_producers_run_ahead_by_the_channel_depth(int32_t depth)
{
    const std::vector<std::vector<Dependency>> data_waits = {
        {}, {}, {}, {Dependency{0, 0}, Dependency{1, 0}, Dependency{2, 0}}};
    std::vector<std::vector<Dependency>> waits = data_waits;
    for (uint32_t producer = 0; producer < 3; ++producer) {
        waits[producer].push_back(Dependency{3, depth});
    }
    Network network;
    CHECK(network.arrange(data_waits, {1, 1, 1, 3}, 2));
    if (network.one_home()) {
        printf("skipped the run-ahead check at depth %d: one core, so one home\n", depth);
        return;
    }
    CHECK(network.home(0) != network.home(3));
    network.build(waits);
    WatchingFirer firer(waits, 7);
    firer.slow_ = 3;
    firer.lead_of_ = 3;
    firer.lead_over_ = 0;
    // 64 blocks are the run's first chunk, which always goes on the threads (network_run.cpp).
    const int64_t blocks = 64;
    CHECK_EQ_INT(network.run(firer, blocks, nullptr), AMP_OK);
    CHECK_EQ_INT(network.blocks_on_threads(), blocks);
    CHECK_EQ_INT(firer.violations(), 0);
    // While the consumer reads block n, the producer may fill the channel's other slots, up to
    // block n + depth - 1, and no further: it gets `depth` blocks ahead, never more.
    CHECK_EQ_INT(firer.max_lead(), depth);
}

void check_a_failing_firing_stops_the_run_and_is_named(int32_t threads)
{
    std::mt19937_64 rng(99);
    const RandomNetwork net = random_network(rng, 12);
    Network network;
    CHECK(network.arrange(net.data_waits, std::vector<uint32_t>(12, 1), threads));
    network.build(net.waits);
    WatchingFirer firer(net.waits, 3);
    firer.fail_process_ = 5;
    firer.fail_block_ = 37;
    CHECK_EQ_INT(network.run(firer, 200, nullptr), 4242);
    CHECK_EQ_INT(network.failure().process, 5);
    CHECK_EQ_INT(network.failure().block, 37);
    CHECK_EQ_INT(network.failure().status, 4242);
    CHECK_EQ_INT(firer.violations(), 0);
    // What waits on the failed block never fired it.
    for (uint32_t p = 0; p < 12; ++p) {
        for (const Dependency &d : net.waits[p]) {
            if (d.process == 5 && d.lag == 0) {
                CHECK(firer.done(p) <= 37);
            }
        }
    }
    // The network is whole afterwards: the next run renders every block.
    firer.restart();
    firer.fail_process_ = UINT32_MAX;
    CHECK_EQ_INT(network.run(firer, 50, nullptr), AMP_OK);
    CHECK_EQ_INT(firer.done(11), 50);
    CHECK_EQ_INT(firer.violations(), 0);
}

void check_a_run_stops_when_cancelled()
{
    std::mt19937_64 rng(5);
    const RandomNetwork net = random_network(rng, 6);
    Network network;
    CHECK(network.arrange(net.data_waits, std::vector<uint32_t>(6, 1), 2));
    network.build(net.waits);
    WatchingFirer firer(net.waits, 11);
    firer.slow_ = 0;
    std::atomic<bool> cancel{false};
    std::thread canceller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        cancel.store(true);
        network.wake_all();
    });
    const auto started = std::chrono::steady_clock::now();
    // A million blocks of 20 µs would take 20 s; the run stops soon after the cancel instead.
    const int32_t status = network.run(firer, 1000000, &cancel);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    canceller.join();
    CHECK_EQ_INT(status, AMP_ERR_STOPPED);
    CHECK(seconds < 5.0);
    CHECK(firer.done(0) < 1000000);
    CHECK_EQ_INT(firer.violations(), 0);
}

void check_a_lag_zero_cycle_is_refused()
{
    // 0 -> 1 -> 2 -> 0, all lag 0: no order could fire them.
    const std::vector<std::vector<Dependency>> cycle = {{Dependency{2, 0}}, {Dependency{0, 0}}, {Dependency{1, 0}}};
    Network network;
    CHECK(!network.arrange(cycle, {1, 1, 1}, 2));
    // The same loop closed through a block delay (lag 1) has an order, and runs.
    const std::vector<std::vector<Dependency>> data = {{}, {Dependency{0, 0}}, {Dependency{1, 0}}};
    const std::vector<std::vector<Dependency>> waits = {
        {Dependency{2, 1}, Dependency{1, 1}}, {Dependency{0, 0}, Dependency{2, 1}}, {Dependency{1, 0}}};
    Network delayed;
    CHECK(delayed.arrange(data, {1, 1, 1}, 2));
    delayed.build(waits);
    WatchingFirer firer(waits, 1);
    CHECK_EQ_INT(delayed.run(firer, 100, nullptr), AMP_OK);
    CHECK_EQ_INT(firer.done(2), 100);
    CHECK_EQ_INT(firer.violations(), 0);
}

}  // namespace

int main()
{
    check_every_firing_meets_its_waits();
    for (int32_t depth : {1, 2, 4}) {
        check_producers_run_ahead_by_the_channel_depth(depth);
    }
    for (int32_t threads : {1, 2, 4}) {
        check_a_failing_firing_stops_the_run_and_is_named(threads);
    }
    check_a_run_stops_when_cancelled();
    check_a_lag_zero_cycle_is_refused();
    return TEST_RESULT();
}
