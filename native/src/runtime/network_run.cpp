// network_run.cpp - a run of the network: on the threads, or on the calling thread alone,
// whichever has lately been faster.
//
// Several threads pay off only while the machine gives the network its cores. When other work
// takes a core, the OS stops one of the network's threads for milliseconds at a time, often in
// the middle of a firing that the other threads need, and they wait: a render on two threads of
// a machine with one core busy elsewhere measured 0.4 to 0.8 times the speed of one thread. So a
// network with several homes renders in chunks of a few milliseconds, each chunk either on the
// threads or on the calling thread alone (every process, in firing order), by which has taken
// less time per block in the chunks before. Now and then two half-length chunks try the other
// way, at first after eight chunks, then less and less often (up to every 128) while the choice
// holds; when the chosen way slows down below the other's last pace, the other takes over at once
// and the way given up is tried again two chunks later. The choice changes only which thread
// fires what, never what a firing computes.
#include "network.hpp"

#include "amp_native.h"

#include <algorithm>
#include <chrono>

namespace amp {

namespace {

constexpr double kChunkNanoseconds = 4.0e6;  // long enough that starting the threads costs ~1 %
constexpr int64_t kFirstChunkBlocks = 64;     // until the pace of both ways is known
constexpr uint32_t kFirstProbeEvery = 8;
constexpr uint32_t kLastProbeEvery = 128;
constexpr uint32_t kProbeSoonAfterSwitch = 2;
// A probe takes over when it is faster by more than an eighth. Between probes only the chosen
// way is measured, and its pace jitters more than the other's last probe did (a host's hiccup
// slows a chunk on two threads more than one on one), so the other takes over only when it is
// faster by a quarter: the margin by which a core busy elsewhere slows the threads at the least.
constexpr double kSwitchBelow = 0.87;
constexpr double kSwitchBetweenProbesBelow = 0.75;

double now_nanoseconds()
{
    return static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

}  // namespace

int32_t Network::run(Firer &firer, int64_t blocks, const std::atomic<bool> *cancel)
{
    if (blocks <= 0 || process_count_ == 0) {
        return AMP_OK;
    }
    if (cancel != nullptr && cancel->load(std::memory_order_seq_cst)) {
        return AMP_ERR_STOPPED;
    }
    const bool threads_can_help = busy_threads_ > 1;
    if (threads_can_help && !workers_started_) {
        const int32_t status = start_workers();
        if (status != AMP_OK) {
            return status;
        }
    }
    firer_ = &firer;
    cancel_.store(cancel, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    failure_ = Failure{};
    abort_.store(false, std::memory_order_relaxed);
    if (!threads_can_help) {
        run_alone(0, blocks);
        blocks_alone_.fetch_add(blocks, std::memory_order_relaxed);
    } else {
        for (int64_t done = 0; done < blocks;) {
            if (stopping()) {
                abort_.store(true, std::memory_order_relaxed);
                break;
            }
            const Way way = next_way();
            // Sized by the faster way's pace, so that a probe of the slower way is as many blocks
            // long and its measure as little skewed by starting the threads.
            int64_t chunk = kFirstChunkBlocks;
            if (pace_[kAlone].known && pace_[kThreads].known) {
                const double fastest = std::min(pace_[kAlone].ns_per_block, pace_[kThreads].ns_per_block);
                chunk = static_cast<int64_t>(kChunkNanoseconds / std::max(fastest, 1.0));
            }
            if (probe_left_ > 0) {
                chunk /= 2;  // a probe's two chunks together take as long as one
            }
            // Chunks of equal length to the end of the run: a short last one would measure mostly
            // the threads filling and draining the network.
            chunk = std::max<int64_t>(chunk, 1);
            const int64_t left = blocks - done;
            const int64_t chunks = (left + chunk - 1) / chunk;
            chunk = (left + chunks - 1) / chunks;
            const double started = now_nanoseconds();
            if (way == kAlone) {
                run_alone(done, done + chunk);
            } else {
                run_threads(done, done + chunk);
            }
            if (!stopping()) {
                record_pace(way, (now_nanoseconds() - started) / static_cast<double>(chunk));
            }
            (way == kAlone ? blocks_alone_ : blocks_on_threads_).fetch_add(chunk, std::memory_order_relaxed);
            done += chunk;
        }
    }
    cancel_.store(nullptr, std::memory_order_relaxed);
    if (failed_.load(std::memory_order_seq_cst)) {
        return failure_.status;
    }
    return abort_.load(std::memory_order_seq_cst) ? AMP_ERR_STOPPED : AMP_OK;
}

// The way of the next chunk: the preferred one, or the other while a probe lasts (two chunks:
// the first lets the way's threads wake and its data move into their caches, the second is
// measured). The first probe comes right after the first measured chunk on the threads.
Network::Way Network::next_way()
{
    const Way other = way_ == kAlone ? kThreads : kAlone;
    if (probe_left_ > 0) {
        return other;
    }
    if (pace_[way_].known && (!pace_[other].known || ++chunks_since_probe_ >= probe_every_)) {
        chunks_since_probe_ = 0;
        probe_left_ = 2;
        return other;
    }
    return way_;
}

void Network::record_pace(Way way, double ns_per_block)
{
    Pace &pace = pace_[way];
    if (!warmed_up_) {
        warmed_up_ = true;  // the first chunk of all pays for first touches of every buffer
        return;
    }
    if (probe_left_ > 0) {
        if (--probe_left_ > 0) {
            return;
        }
        // The probed way's pace is from long ago: the probe replaces it. A probe that loses makes
        // the next one wait longer; one that wins takes over and starts the count again.
        pace.ns_per_block = ns_per_block;
        pace.known = true;
        if (ns_per_block < kSwitchBelow * pace_[way_].ns_per_block) {
            way_ = way;
            probe_every_ = kFirstProbeEvery;
        } else {
            probe_every_ = std::min(2 * probe_every_, kLastProbeEvery);
        }
        return;
    }
    // A quarter of the weight to the newest chunk: a busy spell shows within a few chunks, a
    // single slow chunk does not decide. When the preferred way slows down that much, the other
    // way takes over on the strength of its last probe (and the next probe corrects it).
    pace.ns_per_block = pace.known ? 0.75 * pace.ns_per_block + 0.25 * ns_per_block : ns_per_block;
    pace.known = true;
    // A spell of noise can do that too, so the way given up is probed again soon.
    const Way other = way_ == kAlone ? kThreads : kAlone;
    if (pace_[other].known && pace_[other].ns_per_block < kSwitchBetweenProbesBelow * pace.ns_per_block) {
        way_ = other;
        chunks_since_probe_ = 0;
        probe_every_ = kProbeSoonAfterSwitch;
    }
}

}  // namespace amp
