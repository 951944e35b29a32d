// network_placement.cpp - which thread fires which process, and the slots that follow from it.
//
// Every block that crosses between cores, and every counter one thread reads of another, costs a
// cache line transfer, so whole independent parts of the graph share one home. Take away the
// hubs (processes that read or feed three or more others, such as a mix of voices or a stage of
// one); what remains falls into connected pieces. Walking the firing order, the pieces and hubs
// as it first reaches them are cut into runs of about equal weight, one per thread: what is
// fired close together, and so what a hub reads (a stage of a sum and its inputs), stays
// together. When such runs balance much worse than placing the heaviest piece first on the least
// loaded thread would, that placement is taken instead. A process weighs its number of nodes.
// Placement changes only which thread does the work, never what a firing computes, and a thread
// with nothing of its own to do takes work from the others (network.cpp), so a poor guess costs
// locality, never progress.
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

void Network::balance(const std::vector<uint64_t> &weights, int32_t homes)
{
    const uint32_t count = process_count_;
    home_.assign(count, 0);
    if (homes <= 1) {
        return;
    }
    // Units: the pieces, then the hubs, each placed whole.
    const uint32_t units = pieces_ + static_cast<uint32_t>(hubs_.size());
    std::vector<uint32_t> unit_of(count, 0);
    for (uint32_t p = 0; p < count; ++p) {
        unit_of[p] = piece_of_[p];
    }
    for (uint32_t h = 0; h < hubs_.size(); ++h) {
        unit_of[hubs_[h]] = pieces_ + h;
    }
    std::vector<uint64_t> unit_weight(units, 0);
    for (uint32_t p = 0; p < count; ++p) {
        unit_weight[unit_of[p]] += weights[p];
    }
    const size_t threads = static_cast<size_t>(homes);

    // Runs of the firing order.
    std::vector<uint32_t> walk;  // units as the firing order first reaches them
    std::vector<bool> reached(units, false);
    for (uint32_t p : order_) {
        if (!reached[unit_of[p]]) {
            reached[unit_of[p]] = true;
            walk.push_back(unit_of[p]);
        }
    }
    uint64_t total = 0;
    for (uint64_t w : unit_weight) {
        total += w;
    }
    std::vector<int32_t> run_home(units, 0);
    std::vector<uint64_t> run_load(threads, 0);
    size_t t = 0;
    uint64_t before = 0;
    for (uint32_t u : walk) {
        // The next run starts at the unit whose middle lies past this run's share of the total.
        while (t + 1 < threads && run_load[t] > 0 && 2 * before + unit_weight[u] > 2 * total * (t + 1) / threads) {
            ++t;
        }
        run_home[u] = static_cast<int32_t>(t);
        run_load[t] += unit_weight[u];
        before += unit_weight[u];
    }

    // The heaviest piece first on the least loaded thread, then each hub.
    std::vector<uint32_t> by_weight(pieces_);
    for (uint32_t i = 0; i < pieces_; ++i) {
        by_weight[i] = i;
    }
    std::sort(by_weight.begin(), by_weight.end(), [&unit_weight](uint32_t a, uint32_t b) {
        return unit_weight[a] != unit_weight[b] ? unit_weight[a] > unit_weight[b] : a < b;
    });
    for (uint32_t h = 0; h < hubs_.size(); ++h) {
        by_weight.push_back(pieces_ + h);
    }
    std::vector<int32_t> greedy_home(units, 0);
    std::vector<uint64_t> greedy_load(threads, 0);
    for (uint32_t u : by_weight) {
        const size_t lightest = static_cast<size_t>(std::min_element(greedy_load.begin(), greedy_load.end()) -
                                                    greedy_load.begin());
        greedy_home[u] = static_cast<int32_t>(lightest);
        greedy_load[lightest] += unit_weight[u];
    }

    const uint64_t run_max = *std::max_element(run_load.begin(), run_load.end());
    const uint64_t greedy_max = *std::max_element(greedy_load.begin(), greedy_load.end());
    const std::vector<int32_t> &chosen = 8 * run_max <= 9 * greedy_max ? run_home : greedy_home;
    for (uint32_t p = 0; p < count; ++p) {
        home_[p] = chosen[unit_of[p]];
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
    uint32_t slots = 0;
    for (int32_t t = 0; t < threads_; ++t) {
        const uint32_t mine = fill[static_cast<size_t>(t)];
        slot_begin_[static_cast<size_t>(t)] = slots;
        slot_end_[static_cast<size_t>(t)] = slots + mine;
        fill[static_cast<size_t>(t)] = slots;
        if (mine > 0) {
            ++busy_threads_;
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
