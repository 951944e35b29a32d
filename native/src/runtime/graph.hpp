// graph.hpp - a compiled graph: node instances, the channels between them, and the Kahn process
// network (network.hpp) that renders it.
//
// Processes: a node, or a fused chain from the plan (its nodes run one after another in plan
// order), or, for a node with block_delay > 0, two processes: "emit" (process(), which needs no
// input of the block) and "absorb" (absorb(), after the block's producers ran), or, for a wide
// sum (a node with accumulate() and more than kStageInputs connections), a chain of stages that
// each add a run of the connections to the running sum in the node's output.
// Channels: every node output read by another process is a ring of `channel_depth` blocks; block
// n lives in slot n % depth, so a producer may run up to depth blocks ahead of its slowest
// reader. Outputs read only inside their own process need one block, and there the plan's buffer
// sharing applies unchanged (the process runs its nodes in plan order, which is the order the
// plan checker proved the sharing safe for). Every slot is sized for the value it holds, so no
// plan can make a node read or write outside its blocks.
#ifndef AMP_RUNTIME_GRAPH_HPP
#define AMP_RUNTIME_GRAPH_HPP

#include "../amp_node.h"
#include "../formats/descriptor.h"
#include "../formats/plan.h"
#include "amp_native.h"
#include "network.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace amp {

// Storage that starts on a cache line, so that per-process slices of it can too.
template <typename T>
struct LineAllocator {
    using value_type = T;
    LineAllocator() = default;
    template <typename U>
    LineAllocator(const LineAllocator<U> &) {}
    T *allocate(size_t count)
    {
        void *memory = nullptr;
        const size_t bytes = count * sizeof(T);
        if (posix_memalign(&memory, 64, bytes == 0 ? 64 : bytes) != 0) {
            throw std::bad_alloc();
        }
        return static_cast<T *>(memory);
    }
    void deallocate(T *memory, size_t) { std::free(memory); }
    template <typename U>
    bool operator==(const LineAllocator<U> &) const { return true; }
    template <typename U>
    bool operator!=(const LineAllocator<U> &) const { return false; }
};

// count doubles of zeroed storage starting on a cache line (at least one line), freed with
// std::free; nullptr when out of memory.
double *allocate_zeroed(size_t count);

// Where a parameter's per-block value comes from before modulation.
struct ParamSource {
    double base = 0.0;           // the descriptor value
    int binding = -1;            // index into Graph::keys_, or -1
    int override_index = -1;     // index into the current render's overrides, or -1
    std::vector<uint32_t> add_routes;  // indices into Graph::routes_
    std::vector<uint32_t> mul_routes;
    double *scratch = nullptr;   // (B, C, max_frames) when the parameter has routes
    // A bound parameter's control curve for the block, and the value in force before the block's
    // first event (the value the previous block ended on; initially `base`). Each bound parameter
    // keeps its own, so processes at different blocks never share one.
    std::vector<double> curve;
    double held = 0.0;
    // Where the last block's search of the key's events ended: the first event after it, which is
    // usually the next block's answer (checked before use, so any value is safe).
    uint32_t next_event = 0;
    // Constant folding: the leading routes whose source is an unmodulated constant node, applied
    // once at creation in the order the block loop would apply them (so the result is identical).
    uint32_t folded_adds = 0;    // how many of add_routes, from the front
    uint32_t folded_muls = 0;    // how many of mul_routes (only once every add route is folded)
    double folded_base = 0.0;
    std::vector<const ParamSource *> fold_sources;  // the folded constants' `value` parameters
    bool fold_active = false;    // no override in the current render reaches the folded value
};

struct Route {
    uint32_t source_value;  // index into the plan's values
    int32_t channel;        // -1: channel c of a same-width source, or channel 0 of a mono one
    double scale;
};

struct NodeInstance {
    uint32_t index = 0;
    const AmpDescNode *desc = nullptr;
    const AmpNodeSpec *spec = nullptr;
    void *state = nullptr;
    int32_t channels = 1;
    std::vector<uint32_t> input_values;    // the plan value behind every connection, grouped by port
    std::vector<int32_t> port_counts;      // connections per input port
    std::vector<ParamSource> param_sources;
};

// Points one AmpSignal at its value's block: data + slot * stride, where slot is block % depth
// (stride 0 for a value read only inside its process, which has a single block).
struct SignalLink {
    AmpSignal *signal;
    double *data;
    size_t stride;
};

// A node as its process fires it. Everything a firing touches sits in arrays laid out in firing
// order (links_, ports_, signals_, views_), so a long fused chain walks memory front to back.
struct Member {
    const AmpNodeSpec *spec = nullptr;
    void *state = nullptr;
    uint32_t node = 0;
    uint32_t links = 0;          // links_[links .. + input_links + output_links): inputs, then outputs,
                                 // only those of values with several slots
    uint32_t input_links = 0;
    uint32_t output_links = 0;
    uint32_t dynamic = 0;        // dynamic_[dynamic .. + dynamic_count): parameters rebuilt every block
    uint32_t dynamic_count = 0;
    AmpInputPort *inputs = nullptr;
    AmpSignal *outputs = nullptr;
    AmpParamView *params = nullptr;
    bool sink = false;
    bool staged = false;  // calls accumulate() with `stage` (a stage of a sum) rather than process()
    bool adds = false;    // calls add(): a fused oscillator adding itself into the sum it feeds
    int32_t stage = 0;
    uint32_t run = 1;     // adds: the members from this one on that one add() call takes (same type)
    bool run_ready = true;  // it or a later member of its run needs ready() each block (select_params)
};

// A control key bound to at least one parameter, and its events in the current render's blob.
struct ControlKey {
    std::string name;
    const uint8_t *events = nullptr;
    uint32_t event_count = 0;
    uint8_t interpolation = 0;
};

// Where a value's blocks live: `slots` blocks of slot_size samples, block n in slot n % slots.
struct ValueStore {
    double *data = nullptr;
    int32_t slots = 1;
    int32_t channels = 1;
    size_t slot_size = 0;
};

struct Process {
    enum Kind : uint8_t { kRun = 0, kEmit = 1, kAbsorb = 2 };
    Kind kind = kRun;
    bool staged = false;  // a stage of a wide sum, with its AMP_STAGE_* bits (none in the middle)
    int32_t stage = 0;
    uint32_t first = 0;   // members_[first .. first + count), in plan order
    uint32_t count = 0;
    double *scratch = nullptr;  // max_block_frames doubles for members that add() (AmpProcessArgs.scratch)
    // Written by the thread whose firing failed; read once the network has stopped.
    uint32_t failed_node = 0;
    const char *failed_stage = "";
    // Where a failing node writes its reason: per process, because the stages of one node (or
    // the two halves of a delay) may fire on different threads.
    char message[256] = {0};
};

struct RenderRequest {
    int64_t total_frames = 0;
    int32_t block_frames = 0;
    const AmpParamOverride *overrides = nullptr;
    uint32_t override_count = 0;
    const uint8_t *control_blob = nullptr;
    size_t control_blob_size = 0;
    double *output = nullptr;
    size_t output_size = 0;
    // Streaming: the control events already attached stay (no blob is read), the render starts at
    // the graph's frame position, and block n lands in block (ring_first + n) % ring_blocks of an
    // output whose rows hold ring_blocks * block_frames frames. ring_blocks == 0: a plain render,
    // rows of total_frames.
    bool keep_control = false;
    int64_t ring_blocks = 0;
    int64_t ring_first = 0;
    const std::atomic<bool> *cancel = nullptr;
    // Where this call's failure is reported (NULL: the handle's last error only). A refused or
    // failed call writes here and nowhere else, so concurrent callers never see each other's.
    AmpErrorInfo *error = nullptr;
    // A render in parts: the request's first first_frame frames were rendered by earlier calls (a
    // multiple of block_frames), and this call stops at the first whole run of blocks that ends
    // after budget_ns (0: no limit). *frames_done, when given, follows the frames rendered.
    int64_t first_frame = 0;
    int64_t budget_ns = 0;
    int64_t *frames_done = nullptr;
};

class Graph final : public Firer {
public:
    Graph() = default;
    ~Graph() override;
    Graph(const Graph &) = delete;
    Graph &operator=(const Graph &) = delete;

    // Copies the blobs, validates them and builds every node and channel. Errors land in `error`.
    int32_t create(const uint8_t *descriptors, size_t descriptors_size, const uint8_t *plan, size_t plan_size,
                   const AmpGraphConfig &config, AmpErrorInfo *error);
    // One caller at a time: a render, reset or streamer holds the graph while it runs; another
    // call meanwhile is refused with AMP_ERR_INVALID_ARGUMENT.
    int32_t render(const RenderRequest &request);
    int32_t reset();
    bool claim(const char *who, AmpErrorInfo *call = nullptr);
    void release();
    int32_t render_claimed(const RenderRequest &request);
    void wake_network() { network_.wake_all(); }

    void info(AmpGraphInfo *out) const;
    AmpErrorInfo last_error() const;
    void record_error(const AmpErrorInfo &error);
    void clear_error();
    void set_timing(bool enabled);
    uint32_t node_timings(uint64_t *nanoseconds, uint64_t *calls, uint32_t capacity) const;
    int32_t batch() const { return config_.batch; }
    int32_t output_channels() const;
    int32_t max_block_frames() const { return config_.max_block_frames; }
    double sample_rate() const { return config_.sample_rate; }
    int32_t validate_overrides(const AmpParamOverride *overrides, uint32_t count, int64_t total_frames,
                               AmpErrorInfo *call = nullptr);
    int32_t check_overrides_unique(const AmpParamOverride *overrides, uint32_t count, AmpErrorInfo *call);

    int32_t fire(uint32_t process, int64_t block) override;

private:
    struct BlockContext {
        int64_t block;
        int64_t offset;       // frames from the render's start
        int32_t frames;
        int64_t block_start;  // stream sample of the block's first frame
        int64_t block_index;
        size_t slot;          // block % channel depth: the slot of every channel
    };

    int32_t build_nodes(AmpErrorInfo *error);
    int32_t build_network(AmpErrorInfo *error);
    int32_t load_control(const RenderRequest &request, int64_t *start_sample);
    void fill_curve(ParamSource &source, const ControlKey &key, int64_t block_start, int32_t frames) const;
    void prepare_param(NodeInstance &node, AmpParamView &view, uint32_t param, const BlockContext &block);
    const double *route_row(const Route &route, const BlockContext &block, int32_t b, int32_t c) const;
    void select_params();
    void copy_to_output(const AmpSignal &sink, const BlockContext &block);
    int32_t fail(int32_t code, const char *stage, const char *node, int64_t block, const char *format, ...);
    // A failure of one call: into `call` when the caller gave one, else into the handle's error.
    int32_t report(AmpErrorInfo *call, int32_t code, const char *stage, const char *node, int64_t block,
                   const char *format, ...);
    int32_t run_blocks(const RenderRequest &request, int64_t first_block, int64_t blocks, int64_t start_sample);
    void fold_constants();       // constant_folding.cpp
    std::vector<uint8_t> lane_oscillators(const std::vector<int64_t> &group_of,
                                          const std::vector<uint32_t> &group_size) const;  // lane_fusion.cpp
    void activate_folds(const RenderRequest &request);

    std::vector<uint8_t> descriptor_bytes_;
    std::vector<uint8_t> plan_bytes_;
    AmpDescriptor desc_{};
    AmpPlan plan_{};
    AmpGraphConfig config_{};
    std::vector<NodeInstance> nodes_;          // by descriptor index
    std::vector<Route> routes_;
    std::vector<ControlKey> keys_;
    std::vector<ValueStore> stores_;           // one per plan value
    std::vector<double *> allocations_;
    std::vector<Process> processes_;
    std::vector<Member> members_;
    std::vector<AmpAddMember> add_members_;  // per member: what add() is given for it (adds only)
    std::vector<SignalLink> links_;
    std::vector<AmpInputPort, LineAllocator<AmpInputPort>> ports_;
    std::vector<AmpSignal, LineAllocator<AmpSignal>> signals_;
    std::vector<AmpParamView, LineAllocator<AmpParamView>> views_;
    std::vector<uint32_t> dynamic_;            // per member, room for every parameter
    Network network_;
    uint32_t sink_node_ = 0;
    int32_t depth_ = 2;
    uint32_t sink_value_ = 0;
    std::atomic<int64_t> frame_position_{0};
    int64_t block_index_ = 0;
    std::atomic<bool> busy_{false};

    // The render in progress, read by every firing.
    const RenderRequest *request_ = nullptr;
    int64_t start_sample_ = 0;
    int64_t first_block_index_ = 0;
    int64_t block_base_ = 0;            // the request's block that the current network run calls 0
    double pace_ns_per_block_ = 0.0;    // a render in parts sizes its runs by this (0: not known)
    int32_t pace_block_frames_ = 0;

    mutable std::mutex error_mutex_;
    AmpErrorInfo error_{};
    // Diagnostics timing, by member (the stages of one node fire on different threads): written by
    // the thread firing the member, summed by node between renders.
    std::atomic<bool> timing_{false};
    std::vector<uint64_t> override_keys_;     // (node << 32 | param) of a render's overrides, sorted
    std::vector<uint64_t> member_ns_;
    std::vector<uint64_t> member_calls_;
};

}  // namespace amp

#endif
