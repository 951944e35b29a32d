// network_placement.cpp - which thread fires which process, and the slots that follow from it.
//
// Every block that crosses between cores, and every counter one thread reads of another, costs a
// cache line transfer, so whole independent parts of the graph share one home: take away the
// hubs (processes that read or feed three or more others, such as a mix of voices), give each
// connected piece of what remains to the least loaded thread, heaviest first, then the hubs.
// A process weighs its number of nodes. Placement changes only which thread does the work, never
// what a firing computes, and a thread with nothing of its own to do takes work from the others
// (network.cpp), so a poor guess costs locality, never progress.
#include "network.hpp"

#include <algorithm>

namespace amp {

namespace {

constexpr uint32_t kHub = UINT32_MAX;

}  // namespace

void Network::find_pieces()
{
    const uint32_t count = process_count_;
    std::vector<uint32_t> fan_in(count, 0);
    std::vector<uint32_t> fan_out(count, 0);
    for (uint32_t p = 0; p < count; ++p) {
        for (uint32_t k = dep_begin_[p]; k < dep_begin_[p + 1]; ++k) {
            if (deps_[k].lag == 0) {
                ++fan_in[p];
                ++fan_out[deps_[k].process];
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
        for (uint32_t k = dep_begin_[p]; k < dep_begin_[p + 1]; ++k) {
            const Dependency &d = deps_[k];
            if (d.lag == 0 && !hub(p) && !hub(d.process)) {
                root[find(p)] = find(d.process);
            }
        }
    }
    piece_of_.assign(count, kHub);
    hubs_.clear();
    std::vector<uint32_t> piece_of_root(count, kHub);
    uint32_t pieces = 0;
    for (uint32_t p = 0; p < count; ++p) {
        if (hub(p)) {
            hubs_.push_back(p);
            continue;
        }
        const uint32_t r = find(p);
        if (piece_of_root[r] == kHub) {
            piece_of_root[r] = pieces++;
        }
        piece_of_[p] = piece_of_root[r];
    }
    pieces_ = pieces;
}

// Each piece to the least loaded of `homes` threads, heaviest first, then each hub.
void Network::balance(const std::vector<uint64_t> &weights, int32_t homes)
{
    const uint32_t count = process_count_;
    home_.assign(count, 0);
    if (homes <= 1) {
        return;
    }
    std::vector<uint64_t> piece_weight(pieces_, 0);
    for (uint32_t p = 0; p < count; ++p) {
        if (piece_of_[p] != kHub) {
            piece_weight[piece_of_[p]] += weights[p];
        }
    }
    std::vector<uint32_t> piece_order(pieces_);
    for (uint32_t i = 0; i < pieces_; ++i) {
        piece_order[i] = i;
    }
    std::sort(piece_order.begin(), piece_order.end(), [&piece_weight](uint32_t a, uint32_t b) {
        return piece_weight[a] != piece_weight[b] ? piece_weight[a] > piece_weight[b] : a < b;
    });
    std::vector<uint64_t> load(static_cast<size_t>(homes), 0);
    auto lightest = [&load]() {
        return static_cast<int32_t>(std::min_element(load.begin(), load.end()) - load.begin());
    };
    std::vector<int32_t> piece_home(pieces_, 0);
    for (uint32_t piece : piece_order) {
        const int32_t t = lightest();
        piece_home[piece] = t;
        load[static_cast<size_t>(t)] += piece_weight[piece];
    }
    for (uint32_t p : hubs_) {
        const int32_t t = lightest();
        home_[p] = t;
        load[static_cast<size_t>(t)] += weights[p];
    }
    for (uint32_t p = 0; p < count; ++p) {
        if (piece_of_[p] != kHub) {
            home_[p] = piece_home[piece_of_[p]];
        }
    }
}

// Slots from home_: each thread's processes in firing order, each thread's run starting on a
// cache line of its own, and every check pointing at the slot of the process it waits for.
void Network::lay_out()
{
    const uint32_t count = process_count_;
    std::vector<uint32_t> fill(static_cast<size_t>(threads_), 0);
    for (uint32_t p = 0; p < count; ++p) {
        ++fill[static_cast<size_t>(home_[p])];
    }
    busy_threads_ = 0;
    only_thread_ = 0;
    uint32_t slots = 0;
    for (int32_t t = 0; t < threads_; ++t) {
        const uint32_t mine = fill[static_cast<size_t>(t)];
        slot_begin_[static_cast<size_t>(t)] = slots;
        slot_end_[static_cast<size_t>(t)] = slots + mine;
        fill[static_cast<size_t>(t)] = slots;
        if (mine > 0) {
            ++busy_threads_;
            only_thread_ = t;
        }
        slots += (mine + kPerLine - 1) / kPerLine * kPerLine;
    }
    slot_begin_[static_cast<size_t>(threads_)] = slots;
    process_of_.assign(slots, UINT32_MAX);
    std::vector<uint32_t> slot_of(count, 0);
    for (uint32_t p : order_) {
        const uint32_t s = fill[static_cast<size_t>(home_[p])]++;
        process_of_[s] = p;
        slot_of[p] = s;
    }
    uint32_t k = 0;
    for (uint32_t s = 0; s < slots; ++s) {
        check_begin_[s] = k;
        const uint32_t p = process_of_[s];
        if (p == UINT32_MAX) {
            continue;
        }
        for (uint32_t d = dep_begin_[p]; d < dep_begin_[p + 1]; ++d) {
            checks_[k++] = Check{slot_of[deps_[d].process], deps_[d].lag};
        }
    }
    check_begin_[slots] = k;
}

}  // namespace amp
