// lane_fusion.cpp - which oscillators run inside the process of the mix they feed.
//
// An `oscillator` node whose only use is one connection into a summing node (a node with
// accumulate(), such as `mix`) can run in that node's process, right before the stage of the sum
// that adds it: the sum is built the way sum stages build it (the first stage clears it, each
// stage adds its run of connections in connection order, the last applies the gain), so the
// result is the same bits as the unfused mix. Each oscillator's block is added while it is still
// in the cache, the oscillators of a process share a few buffers instead of one each, and the
// network fires one process instead of one per oscillator. When the plan says lane fusion is on
// (and the configuration does not switch it off), this picks the oscillators; build_network lays
// out the processes.
#include "graph.hpp"

#include <cstring>

namespace amp {

std::vector<uint8_t> Graph::lane_oscillators(const std::vector<int64_t> &group_of,
                                             const std::vector<uint32_t> &group_size) const
{
    const uint32_t n = desc_.node_count;
    std::vector<uint8_t> lane(n, 0);
    const bool enabled = (plan_.optimisations & AMP_OPT_LANE_FUSION) != 0 &&
                         (config_.disabled_optimisations & AMP_OPT_LANE_FUSION) == 0;
    if (!enabled) {
        return lane;
    }
    std::vector<uint32_t> uses(n, 0);
    std::vector<uint32_t> target(n, 0);
    for (uint32_t e = 0; e < desc_.edge_count; ++e) {
        ++uses[desc_.edges[e].src_node];
        target[desc_.edges[e].src_node] = desc_.edges[e].dst_node;
    }
    for (uint32_t m = 0; m < desc_.modulation_count; ++m) {
        uses[desc_.modulations[m].src_node] += 2;  // never a lane: its value is read elsewhere too
    }
    auto grouped = [&](uint32_t node) {
        return group_of[node] >= 0 && group_size[static_cast<size_t>(group_of[node])] > 1;
    };
    std::vector<uint32_t> lanes_of(n, 0);
    for (uint32_t s = 0; s < n; ++s) {
        const AmpNodeSpec *spec = desc_.nodes[s].spec;
        if (std::strcmp(spec->type_name, "oscillator") != 0 || uses[s] != 1 || s == sink_node_ ||
            spec->block_delay > 0 || grouped(s)) {
            continue;
        }
        const AmpNodeSpec *sum = desc_.nodes[target[s]].spec;
        if (sum->ops.accumulate == nullptr || sum->num_inputs != 1 || sum->block_delay > 0) {
            continue;
        }
        lane[s] = 1;
        ++lanes_of[target[s]];
    }
    for (uint32_t s = 0; s < n; ++s) {
        if (lane[s] && lanes_of[target[s]] < 2) {
            lane[s] = 0;  // one oscillator alone saves nothing
        }
    }
    return lane;
}

}  // namespace amp
