// graph.hpp - a compiled graph: node instances, their buffers and the block loop.
#ifndef AMP_RUNTIME_GRAPH_HPP
#define AMP_RUNTIME_GRAPH_HPP

#include "../amp_node.h"
#include "../formats/descriptor.h"
#include "../formats/plan.h"
#include "amp_native.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace amp {

// Where a parameter's per-block value comes from before modulation.
struct ParamSource {
    double base = 0.0;           // the descriptor value
    int binding = -1;            // index into Graph::bindings_, or -1
    int override_index = -1;     // index into the current render's overrides, or -1
    std::vector<uint32_t> add_routes;  // indices into Graph::routes_
    std::vector<uint32_t> mul_routes;
    double *scratch = nullptr;   // (B, C, max_frames) when the parameter has routes
    // Constant folding: the leading routes whose source is an unmodulated constant node, applied
    // once at creation in the order the block loop would apply them (so the result is identical).
    uint32_t folded_adds = 0;    // how many of add_routes, from the front
    uint32_t folded_muls = 0;    // how many of mul_routes (only once every add route is folded)
    double folded_base = 0.0;
    std::vector<const ParamSource *> fold_sources;  // the folded constants' `value` parameters
    bool fold_active = false;    // no override in the current render reaches the folded value
};

struct Route {
    uint32_t source_value;  // index into Graph::values_
    int32_t channel;        // -1: channel c of a same-width source, or channel 0 of a mono one
    double scale;
};

struct NodeInstance {
    uint32_t index = 0;
    const AmpDescNode *desc = nullptr;
    const AmpNodeSpec *spec = nullptr;
    void *state = nullptr;
    int32_t channels = 1;
    std::vector<AmpSignal> input_signals;  // every connection, grouped by port
    std::vector<AmpInputPort> inputs;
    std::vector<AmpSignal> outputs;
    std::vector<ParamSource> param_sources;
    std::vector<AmpParamView> params;
    char message[256] = {0};
};

// The control curve of one bound key for the current block.
struct Binding {
    std::string key;
    double held = 0.0;               // the value in force before the block's first event
    std::vector<double> curve;       // max_frames samples
    const uint8_t *events = nullptr; // this render's events, pointing into the control blob
    uint32_t event_count = 0;
    uint8_t interpolation = 0;
};

struct RenderRequest {
    int64_t total_frames;
    int32_t block_frames;
    const AmpParamOverride *overrides;
    uint32_t override_count;
    const uint8_t *control_blob;
    size_t control_blob_size;
    double *output;
    size_t output_size;
};

class Graph {
public:
    Graph() = default;
    ~Graph();
    Graph(const Graph &) = delete;
    Graph &operator=(const Graph &) = delete;

    // Copies the blobs, validates them and builds every node. Errors land in `error`.
    int32_t create(const uint8_t *descriptors, size_t descriptors_size, const uint8_t *plan, size_t plan_size,
                   const AmpGraphConfig &config, AmpErrorInfo *error);
    int32_t render(const RenderRequest &request);
    int32_t reset();
    void info(AmpGraphInfo *out) const;
    const AmpErrorInfo &last_error() const { return error_; }
    void set_timing(bool enabled);
    uint32_t node_timings(uint64_t *nanoseconds, uint64_t *calls, uint32_t capacity) const;
    void record_error(const AmpErrorInfo &error) { error_ = error; }

private:
    int32_t build_nodes(AmpErrorInfo *error);
    int32_t validate_overrides(const RenderRequest &request);
    int32_t load_control(const RenderRequest &request, int64_t *start_sample);
    void fill_control_curves(int64_t block_start, int32_t frames);
    void prepare_params(NodeInstance &node, const RenderRequest &request, int64_t offset, int32_t frames);
    int32_t run_block(const RenderRequest &request, int64_t offset, int32_t frames, int64_t block_start);
    int32_t fail(int32_t code, const char *stage, const char *node, int64_t block, const char *format, ...);
    void fold_constants();       // constant_folding.cpp
    void activate_folds(const RenderRequest &request);

    std::vector<uint8_t> descriptor_bytes_;
    std::vector<uint8_t> plan_bytes_;
    AmpDescriptor desc_{};
    AmpPlan plan_{};
    AmpGraphConfig config_{};
    std::vector<NodeInstance> nodes_;          // by descriptor index
    std::vector<uint32_t> order_;
    std::vector<uint32_t> delayed_nodes_;      // nodes whose absorb runs after the block
    std::vector<Route> routes_;
    std::vector<Binding> bindings_;
    std::vector<AmpSignal> values_;            // one per plan value
    std::vector<double *> buffers_;            // one per plan buffer
    std::vector<double *> allocations_;
    int32_t sink_value_ = 0;
    int64_t frame_position_ = 0;
    int64_t block_index_ = 0;
    AmpErrorInfo error_{};
    // Diagnostics timing, by node index: written by the thread running the node, read between renders.
    bool timing_ = false;
    std::vector<uint64_t> node_ns_;
    std::vector<uint64_t> node_calls_;
};

}  // namespace amp

#endif
