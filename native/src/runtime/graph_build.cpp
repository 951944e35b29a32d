// graph_build.cpp - building a graph from its blobs: node instances and their parameter sources.
// The process network built over them is in graph_network_build.cpp.
#include "graph.hpp"

#include "../amp_error.h"
#include "../amp_log.h"
#include "../amp_wrapping.h"
#include "../formats/control.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <queue>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>

namespace amp {

namespace {

constexpr int32_t kDefaultChannelDepth = 2;

// FNV-1a multiplies modulo 2^64 by design.
AMP_WRAPPING uint64_t name_seed(const char *name)
{
    uint64_t hash = 1469598103934665603ull;  // FNV-1a
    for (const char *p = name; *p; ++p) {
        hash ^= static_cast<uint8_t>(*p);
        hash *= 1099511628211ull;
    }
    return hash;
}

}  // namespace

double *allocate_zeroed(size_t count)
{
    void *memory = nullptr;
    const size_t bytes = ((count * sizeof(double) + 63) / 64) * 64;
    if (posix_memalign(&memory, 64, bytes == 0 ? 64 : bytes) != 0) {
        return nullptr;
    }
    std::memset(memory, 0, bytes == 0 ? 64 : bytes);
    return static_cast<double *>(memory);
}

int32_t Graph::create(const uint8_t *descriptors, size_t descriptors_size, const uint8_t *plan, size_t plan_size,
                      const AmpGraphConfig &config, AmpErrorInfo *error)
{
    if (config.batch < 1 || config.batch > 65536) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "config", nullptr, -1,
                             "batch must be in [1, 65536], got %d", config.batch);
    }
    if (config.max_block_frames < 1 || config.max_block_frames > (1 << 20)) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "config", nullptr, -1,
                             "max_block_frames must be in [1, 1048576], got %d", config.max_block_frames);
    }
    if (!std::isfinite(config.sample_rate) || config.sample_rate < 1.0 || config.sample_rate > 1.0e7) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "config", nullptr, -1,
                             "sample_rate must be in [1, 1e7] Hz, got %g", config.sample_rate);
    }
    if (config.threads < 0 || config.threads > 1024 || config.channel_depth < 0 || config.channel_depth > 64) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "config", nullptr, -1,
                             "threads must be in [0, 1024] and channel_depth in [0, 64]; got %d and %d",
                             config.threads, config.channel_depth);
    }
    if (descriptors == nullptr || plan == nullptr) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "config", nullptr, -1, "a blob pointer is NULL");
    }
    config_ = config;
    if (config_.channel_depth == 0) {
        config_.channel_depth = kDefaultChannelDepth;
    }
    if (config_.threads == 0) {
        const unsigned cores = std::thread::hardware_concurrency();
        config_.threads = cores == 0 ? 1 : static_cast<int32_t>(std::min(cores, 1024u));
    }
    // Node data (sampler buffers) points into the descriptor bytes, so keep a copy of our own.
    descriptor_bytes_.assign(descriptors, descriptors + descriptors_size);
    plan_bytes_.assign(plan, plan + plan_size);
    int32_t status = amp_descriptor_parse(descriptor_bytes_.data(), descriptor_bytes_.size(), &desc_, error);
    if (status != AMP_OK) {
        return status;
    }
    status = amp_plan_parse(plan_bytes_.data(), plan_bytes_.size(), &desc_, &plan_, error);
    if (status != AMP_OK) {
        return status;
    }
    if ((status = build_nodes(error)) != AMP_OK) {
        return status;
    }
    return build_network(error);
}

int32_t Graph::build_nodes(AmpErrorInfo *error)
{
    const size_t batch = static_cast<size_t>(config_.batch);
    const size_t max_frames = static_cast<size_t>(config_.max_block_frames);

    sink_node_ = desc_.sink;
    sink_value_ = plan_.value_base[desc_.sink];
    routes_.resize(desc_.modulation_count);
    for (uint32_t m = 0; m < desc_.modulation_count; ++m) {
        const AmpDescModulation &mod = desc_.modulations[m];
        routes_[m] = Route{plan_.value_base[mod.src_node] + mod.src_output, mod.channel, mod.scale};
    }

    nodes_.resize(desc_.node_count);
    for (uint32_t i = 0; i < desc_.node_count; ++i) {
        NodeInstance &node = nodes_[i];
        node.index = i;
        node.desc = &desc_.nodes[i];
        node.spec = node.desc->spec;
        node.channels = static_cast<int32_t>(plan_.node_channels[i]);
        node.param_sources.resize(static_cast<size_t>(node.spec->num_params));
        for (int p = 0; p < node.spec->num_params; ++p) {
            node.param_sources[static_cast<size_t>(p)].base = node.desc->params[p];
            node.param_sources[static_cast<size_t>(p)].held = node.desc->params[p];
        }
    }
    // Connections, grouped by port in edge order so that a multi-input sums in a fixed order. The
    // edges into each node are listed first (in edge order), so that a node looks only at its own.
    std::vector<uint32_t> into_first(desc_.node_count + 1, 0);
    std::vector<uint32_t> into(desc_.edge_count, 0);
    for (uint32_t e = 0; e < desc_.edge_count; ++e) {
        ++into_first[desc_.edges[e].dst_node + 1];
    }
    for (uint32_t i = 0; i < desc_.node_count; ++i) {
        into_first[i + 1] += into_first[i];
    }
    {
        std::vector<uint32_t> fill(into_first.begin(), into_first.end() - 1);
        for (uint32_t e = 0; e < desc_.edge_count; ++e) {
            into[fill[desc_.edges[e].dst_node]++] = e;
        }
    }
    std::vector<std::vector<int32_t>> port_channels(desc_.node_count);
    for (uint32_t i = 0; i < desc_.node_count; ++i) {
        NodeInstance &node = nodes_[i];
        port_channels[i].assign(static_cast<size_t>(node.spec->num_inputs), 0);
        node.port_counts.assign(static_cast<size_t>(node.spec->num_inputs), 0);
        for (int port = 0; port < node.spec->num_inputs; ++port) {
            for (uint32_t k = into_first[i]; k < into_first[i + 1]; ++k) {
                const AmpDescEdge &edge = desc_.edges[into[k]];
                if (edge.dst_input == static_cast<uint32_t>(port)) {
                    const uint32_t v = plan_.value_base[edge.src_node] + edge.src_output;
                    const int32_t channels = static_cast<int32_t>(plan_.values[v].channels);
                    node.input_values.push_back(v);
                    int32_t &widest = port_channels[i][static_cast<size_t>(port)];
                    widest = channels > widest ? channels : widest;
                    ++node.port_counts[static_cast<size_t>(port)];
                }
            }
        }
    }
    for (uint32_t r = 0; r < plan_.route_count; ++r) {
        const uint32_t m = plan_.routes[r];
        const AmpDescModulation &mod = desc_.modulations[m];
        ParamSource &source = nodes_[mod.dst_node].param_sources[mod.param];
        (mod.mode == AMP_MOD_ADD ? source.add_routes : source.mul_routes).push_back(m);
    }
    std::unordered_map<std::string, int> key_index;  // many bindings may name many keys
    for (uint32_t b = 0; b < desc_.binding_count; ++b) {
        const AmpDescBinding &binding = desc_.bindings[b];
        auto known = key_index.find(binding.key);
        int found = known == key_index.end() ? -1 : known->second;
        if (found < 0) {
            ControlKey key;
            key.name = binding.key;
            keys_.push_back(std::move(key));
            found = static_cast<int>(keys_.size() - 1);
            key_index.emplace(binding.key, found);
        }
        ParamSource &source = nodes_[binding.node].param_sources[binding.param];
        source.binding = found;
        source.curve.assign(max_frames, source.base);
    }
    for (NodeInstance &node : nodes_) {
        for (ParamSource &source : node.param_sources) {
            if (!source.add_routes.empty() || !source.mul_routes.empty()) {
                source.scratch = allocate_zeroed(batch * static_cast<size_t>(node.channels) * max_frames);
                if (source.scratch == nullptr) {
                    return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "create", node.desc->name, -1,
                                         "no memory for parameter scratch");
                }
                allocations_.push_back(source.scratch);
                AMP_LOG_ALLOCATION("param_scratch", batch * static_cast<size_t>(node.channels) * max_frames * sizeof(double));
            }
        }
        AmpNodeSetup setup{};
        setup.batch = config_.batch;
        setup.max_frames = config_.max_block_frames;
        setup.sample_rate = config_.sample_rate;
        setup.output_channels = node.channels;
        setup.input_channels = port_channels[node.index].data();
        setup.initial_params = node.desc->params;
        setup.seed = name_seed(node.desc->name);
        setup.data = node.desc->data;
        setup.data_size = static_cast<size_t>(node.desc->data_size);
        char reason[200] = {0};
        setup.message = reason;
        setup.message_size = sizeof(reason);
        const int status = node.spec->ops.create(&setup, &node.state);
        if (status != AMP_NODE_OK || node.state == nullptr) {
            if (reason[0] == '\0') {
                std::snprintf(reason, sizeof(reason), "%s", status == AMP_NODE_NO_MEMORY ? "out of memory" : "no reason given");
            }
            return amp_error_set(error, status == AMP_NODE_NO_MEMORY ? AMP_ERR_OUT_OF_MEMORY : AMP_ERR_GRAPH, "create",
                                 node.desc->name, -1, "node '%s' (%s) could not be created: %s", node.desc->name,
                                 node.spec->type_name, reason);
        }
        if (node.spec->block_delay > 0 && node.spec->ops.absorb == nullptr) {
            return amp_error_set(error, AMP_ERR_GRAPH, "create", node.desc->name, -1,
                                 "node type '%s' declares a block delay but has no absorb()", node.spec->type_name);
        }
    }
    fold_constants();
    return AMP_OK;
}

}  // namespace amp
