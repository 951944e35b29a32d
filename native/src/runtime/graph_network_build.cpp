// graph_network_build.cpp - building a graph's process network: processes from the plan order and
// its fusion groups, the storage of every value, and the dependencies between processes.
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

// A wide sum fires in stages of at most this many connections: few enough that a stage follows
// its inputs while they are still in the cache, and that the stages of 16 voices can split
// between two threads; many enough that a stage's firing costs little beside its additions.
constexpr int32_t kStageInputs = 8;
// Fused oscillators per stage of their sum: the stage adds them while they are in the cache.
constexpr int32_t kLaneChunk = 8;
constexpr uint32_t kWholePort = UINT32_MAX;
constexpr uint32_t kNoSum = UINT32_MAX;

}  // namespace

// Processes from the plan order and its fusion groups, the storage of every value, and the
// dependencies between processes.
int32_t Graph::build_network(AmpErrorInfo *error)
{
    const uint32_t n = desc_.node_count;
    std::vector<int64_t> group_of(n, -1);
    for (uint32_t g = 0; g < plan_.group_count; ++g) {
        for (uint32_t i = plan_.group_offsets[g]; i < plan_.group_offsets[g + 1]; ++i) {
            group_of[plan_.group_nodes[i]] = g;
        }
    }
    std::vector<uint32_t> group_size(plan_.group_count, 0);
    for (uint32_t g = 0; g < plan_.group_count; ++g) {
        group_size[g] = plan_.group_offsets[g + 1] - plan_.group_offsets[g];
    }
    // Lane fusion: these oscillators run inside the process of the sum they feed (lane_fusion.cpp).
    const std::vector<uint8_t> lane = lane_oscillators(group_of, group_size);
    std::vector<uint8_t> lane_sum(n, 0);
    for (uint32_t e = 0; e < desc_.edge_count; ++e) {
        lane_sum[desc_.edges[e].dst_node] |= lane[desc_.edges[e].src_node];
    }
    std::vector<int32_t> lane_slot(plan_.value_count, -1);  // a fused oscillator's buffer in its process
    const bool staging = (plan_.optimisations & AMP_OPT_SUM_STAGES) != 0 &&
                         (config_.disabled_optimisations & AMP_OPT_SUM_STAGES) == 0;
    std::vector<uint32_t> run_process(n, 0);      // the process that calls process() of the node
    std::vector<uint32_t> absorb_process(n, 0);   // delay nodes: the process that calls absorb()
    std::vector<uint32_t> first_process(n, 0);    // the node's first process: its first stage, or run_process
    std::vector<std::vector<uint32_t>> stage_of(n);  // staged nodes: the process reading each connection
    std::vector<uint32_t> member_nodes;
    std::vector<uint32_t> member_from;   // per member: its first connection, when a stage
    std::vector<uint32_t> member_span;   // per member: how many connections, or kWholePort
    std::vector<int32_t> member_stage;   // per member: its AMP_STAGE_* bits when a stage of a fused sum, else -1
    std::vector<uint32_t> member_into;   // per member: the sum a fused oscillator adds itself into, or kNoSum
    auto push_member = [&](uint32_t node, uint32_t from, uint32_t span, int32_t stage, uint32_t into = kNoSum) {
        member_nodes.push_back(node);
        member_from.push_back(from);
        member_span.push_back(span);
        member_stage.push_back(stage);
        member_into.push_back(into);
    };
    // A sum whose every connection is a fused oscillator with an adding form, in a render of one
    // row: each oscillator adds its block straight into the running sum, in connection order, the
    // additions the stages would make; a stage before them clears the sum, one after them applies
    // the rest of the sum's work.
    auto adds_in_place = [&](uint32_t sum) {
        if (config_.batch != 1) {
            return false;
        }
        for (uint32_t value : nodes_[sum].input_values) {
            const uint32_t source = plan_.values[value].node;
            if (!lane[source] || nodes_[source].spec->ops.add == nullptr || plan_.values[value].channels != 1) {
                return false;
            }
        }
        return true;
    };
    for (uint32_t k = 0; k < plan_.order_count;) {
        const uint32_t node = plan_.order[k];
        if (lane[node]) {
            ++k;  // laid out with the sum it feeds
            continue;
        }
        const bool delayed = desc_.nodes[node].spec->block_delay > 0;
        const NodeInstance &instance = nodes_[node];
        const int32_t connections = instance.spec->num_inputs == 1 ? instance.port_counts[0] : 0;
        const bool alone = group_of[node] < 0 || group_size[static_cast<size_t>(group_of[node])] == 1;
        Process process;
        process.first = static_cast<uint32_t>(member_nodes.size());
        first_process[node] = static_cast<uint32_t>(processes_.size());
        if (staging && !delayed && alone && !lane_sum[node] && instance.spec->ops.accumulate != nullptr &&
            connections > kStageInputs) {
            // Stage s sums connections [c * s / S, c * (s + 1) / S): runs of (nearly) equal length.
            const uint32_t c = static_cast<uint32_t>(connections);
            const uint32_t stages = (c + kStageInputs - 1) / kStageInputs;
            for (uint32_t s = 0; s < stages; ++s) {
                const uint32_t from = static_cast<uint32_t>(uint64_t{c} * s / stages);
                const uint32_t to = static_cast<uint32_t>(uint64_t{c} * (s + 1) / stages);
                Process stage;
                stage.staged = true;
                stage.stage = (s == 0 ? AMP_STAGE_FIRST : 0) | (s + 1 == stages ? AMP_STAGE_LAST : 0);
                stage.first = static_cast<uint32_t>(member_nodes.size());
                stage.count = 1;
                push_member(node, from, to - from, -1);
                stage_of[node].insert(stage_of[node].end(), to - from, static_cast<uint32_t>(processes_.size()));
                processes_.push_back(stage);
            }
            run_process[node] = static_cast<uint32_t>(processes_.size() - 1);
            ++k;
            continue;
        }
        if (delayed) {
            // A fused group never runs a delay node's two halves: they split it where it sits.
            // Both halves fire the same member.
            process.kind = Process::kEmit;
            process.count = 1;
            push_member(node, 0, kWholePort, -1);
            run_process[node] = static_cast<uint32_t>(processes_.size());
            processes_.push_back(process);
            process.kind = Process::kAbsorb;
            absorb_process[node] = static_cast<uint32_t>(processes_.size());
            processes_.push_back(process);
            ++k;
            continue;
        }
        const int64_t group = group_of[node];
        const uint32_t index = static_cast<uint32_t>(processes_.size());
        do {
            const uint32_t member = plan_.order[k];
            run_process[member] = index;
            first_process[member] = index;
            ++k;
            if (!lane_sum[member]) {
                push_member(member, 0, kWholePort, -1);
                ++process.count;
                continue;
            }
            const std::vector<uint32_t> &inputs = nodes_[member].input_values;
            const uint32_t c = static_cast<uint32_t>(inputs.size());
            if (adds_in_place(member)) {
                push_member(member, 0, 0, AMP_STAGE_FIRST);
                for (uint32_t i = 0; i < c; ++i) {
                    const uint32_t source = plan_.values[inputs[i]].node;
                    push_member(source, 0, kWholePort, -1, member);
                    run_process[source] = index;
                    first_process[source] = index;
                }
                push_member(member, c, 0, AMP_STAGE_LAST);
                process.count += c + 2;
                if (process.scratch == nullptr) {
                    process.scratch = allocate_zeroed(static_cast<size_t>(config_.max_block_frames));
                    if (process.scratch == nullptr) {
                        return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "create", desc_.nodes[member].name, -1,
                                             "no memory for a block of work space");
                    }
                    allocations_.push_back(process.scratch);
                }
                continue;
            }
            // Each fused oscillator, then after every kLaneChunk of them the stage of the sum
            // that adds the connections so far; the oscillators of a chunk take its buffers.
            uint32_t from = 0;
            int32_t chunk = 0;
            for (uint32_t i = 0; i < c; ++i) {
                const uint32_t source = plan_.values[inputs[i]].node;
                if (lane[source]) {
                    push_member(source, 0, kWholePort, -1);
                    ++process.count;
                    run_process[source] = index;
                    first_process[source] = index;
                    lane_slot[plan_.value_base[source]] = chunk++;
                }
                if (i + 1 == c || chunk == kLaneChunk) {
                    const int32_t stage = (from == 0 ? AMP_STAGE_FIRST : 0) | (i + 1 == c ? AMP_STAGE_LAST : 0);
                    push_member(member, from, i + 1 - from, stage);
                    ++process.count;
                    from = i + 1;
                    chunk = 0;
                }
            }
        } while (group >= 0 && k < plan_.order_count && group_of[plan_.order[k]] == group &&
                 desc_.nodes[plan_.order[k]].spec->block_delay == 0);
        processes_.push_back(process);
    }

    // Who reads each value: the process of every consumer (edges into a delay node are read by
    // its absorb process; modulation is read where the target's parameters are prepared).
    const uint32_t values = plan_.value_count;
    std::vector<std::vector<uint32_t>> readers(values);
    auto add_reader = [&readers](uint32_t value, uint32_t process) { readers[value].push_back(process); };
    std::vector<uint32_t> connections_seen(n, 0);  // edges into a staged node so far: its connection index
    for (uint32_t e = 0; e < desc_.edge_count; ++e) {
        const AmpDescEdge &edge = desc_.edges[e];
        const uint32_t dst = edge.dst_node;
        const bool delayed = desc_.nodes[dst].spec->block_delay > 0;
        uint32_t reader = delayed ? absorb_process[dst] : run_process[dst];
        if (!stage_of[dst].empty()) {
            reader = stage_of[dst][connections_seen[dst]++];
        }
        add_reader(plan_.value_base[edge.src_node] + edge.src_output, reader);
    }
    for (uint32_t m = 0; m < desc_.modulation_count; ++m) {
        const AmpDescModulation &mod = desc_.modulations[m];
        add_reader(plan_.value_base[mod.src_node] + mod.src_output, run_process[mod.dst_node]);
    }
    // Each reader once, where it first appears: marked with the value being cleaned, so that a
    // value read by thousands of processes (an LFO on every voice) is not searched per reader.
    {
        std::vector<uint32_t> marked(processes_.size(), UINT32_MAX);
        for (uint32_t v = 0; v < values; ++v) {
            std::vector<uint32_t> &list = readers[v];
            size_t kept = 0;
            for (uint32_t reader : list) {
                if (marked[reader] != v) {
                    marked[reader] = v;
                    list[kept++] = reader;
                }
            }
            list.resize(kept);
        }
    }

    // The data dependencies decide the firing order and which thread fires each process. A stage
    // waits first for the stage before it, so that the firing order walks the sum front to back:
    // each stage's inputs, then the stage.
    std::vector<std::vector<Dependency>> waits(processes_.size());
    for (uint32_t p = 0; p < processes_.size(); ++p) {
        if (processes_[p].staged && (processes_[p].stage & AMP_STAGE_FIRST) == 0) {
            waits[p].push_back(Dependency{p - 1, 0});
        }
    }
    for (uint32_t v = 0; v < values; ++v) {
        const uint32_t producer = run_process[plan_.values[v].node];
        for (uint32_t reader : readers[v]) {
            if (reader != producer) {
                waits[reader].push_back(Dependency{producer, 0});
            }
        }
    }
    for (uint32_t i = 0; i < n; ++i) {
        if (desc_.nodes[i].spec->block_delay > 0) {
            waits[absorb_process[i]].push_back(Dependency{run_process[i], 0});
        }
    }
    std::vector<uint32_t> weights(processes_.size(), 1);
    for (size_t p = 0; p < processes_.size(); ++p) {
        weights[p] = processes_[p].count;
    }
    if (!network_.arrange(waits, weights, config_.threads)) {
        return amp_error_set(error, AMP_ERR_GRAPH, "create", nullptr, -1,
                             "the plan's processes wait for each other's block in a cycle with no block delay");
    }

    // A channel whose producer and readers share a thread gets one slot: that thread fires them
    // one after another, so a deeper ring would only spread their blocks over more cache. Between
    // threads it has `channel_depth` slots, so that the producer can run ahead.
    const int32_t depth = config_.channel_depth;
    depth_ = depth;
    const size_t block_samples = static_cast<size_t>(config_.batch) * static_cast<size_t>(config_.max_block_frames);
    stores_.assign(values, ValueStore{});
    // When one thread fires every process, once per block in the network's order, a channel is in
    // use only from its producer's firing to its last reader's in each block: channels whose spans
    // do not overlap share memory, as registers do, and a long graph of separate processes
    // touches a few blocks per block of audio instead of one per process.
    struct Span {
        uint32_t value;
        size_t first;  // the producer's place in the order
        size_t last;   // the last reader's
    };
    std::vector<Span> spans;
    std::vector<size_t> position(processes_.size(), 0);
    for (size_t i = 0; i < network_.order().size(); ++i) {
        position[network_.order()[i]] = i;
    }
    // Values read only inside their own process share storage as the plan's buffers say: by
    // (process, buffer, channels), the value that first took memory for it.
    std::map<std::tuple<uint32_t, uint32_t, int32_t>, uint32_t> internal_buffers;
    std::vector<std::vector<std::pair<int32_t, uint32_t>>> lane_buffers(processes_.size());  // (slot, value)
    for (uint32_t v = 0; v < values; ++v) {
        const AmpPlanValue &value = plan_.values[v];
        const uint32_t producer = run_process[value.node];
        // The stages of a wide sum all write its output, the first one first: when they fire on
        // different threads, the running sum is a channel between them.
        const uint32_t first_writer = first_process[value.node];
        bool crossing = false;
        for (uint32_t writer = first_writer; writer < producer; ++writer) {
            crossing = crossing || network_.home(writer) != network_.home(producer);
        }
        bool external = crossing;
        for (uint32_t reader : readers[v]) {
            if (reader != producer) {
                external = true;
                crossing = crossing || network_.home(reader) != network_.home(producer);
            }
        }
        const int32_t slots = crossing ? depth : 1;
        for (uint32_t reader : readers[v]) {
            if (reader != producer) {
                waits[first_writer].push_back(Dependency{reader, slots});
            }
        }
        if (first_writer != producer) {
            waits[first_writer].push_back(Dependency{producer, slots});
        }
        ValueStore &store = stores_[v];
        store.channels = static_cast<int32_t>(value.channels);
        store.slot_size = block_samples * value.channels;
        if (external && network_.one_home()) {
            store.slots = 1;
            spans.push_back(Span{v, position[first_writer], position[producer]});
            for (uint32_t reader : readers[v]) {
                spans.back().last = std::max(spans.back().last, position[reader]);
            }
            continue;
        }
        if (external) {
            store.slots = slots;
            const size_t count = store.slot_size * static_cast<size_t>(slots);
            store.data = allocate_zeroed(count);
            if (store.data == nullptr) {
                return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "create", desc_.nodes[value.node].name, -1,
                                     "no memory for a channel of %zu samples", count);
            }
            allocations_.push_back(store.data);
            AMP_LOG_ALLOCATION("channel", count * sizeof(double));
            continue;
        }
        const bool lane = lane_slot[v] >= 0;
        if (lane) {
            // A fused oscillator's block lives until the next stage of its sum: the k-th
            // oscillator of every chunk of one process writes the same buffer.
            for (const auto &pooled : lane_buffers[producer]) {
                if (pooled.first == lane_slot[v] && stores_[pooled.second].slot_size == store.slot_size &&
                    stores_[pooled.second].channels == store.channels) {
                    store.data = stores_[pooled.second].data;
                }
            }
        } else {
            const auto shared = internal_buffers.find(std::make_tuple(producer, value.buffer, store.channels));
            if (shared != internal_buffers.end()) {
                store.data = stores_[shared->second].data;
            }
        }
        if (store.data == nullptr) {
            store.data = allocate_zeroed(store.slot_size);
            if (store.data == nullptr) {
                return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "create", desc_.nodes[value.node].name, -1,
                                     "no memory for a buffer of %zu samples", store.slot_size);
            }
            allocations_.push_back(store.data);
            AMP_LOG_ALLOCATION("buffer", store.slot_size * sizeof(double));
            if (lane) {
                lane_buffers[producer].emplace_back(lane_slot[v], v);
            } else {
                internal_buffers.emplace(std::make_tuple(producer, value.buffer, store.channels), v);
            }
        }
    }
    // Spans by their first place; each takes the memory (of its size) that has been free longest,
    // which is free when its last span ended before this one begins (a node never reads and
    // writes the same memory).
    std::sort(spans.begin(), spans.end(), [](const Span &a, const Span &b) { return a.first < b.first; });
    // (busy until, buffer) by size, the one free longest on top. The buffers then lie in one
    // allocation in the order they were first used, so a reader of many (a mix) walks memory
    // front to back.
    using Buffer = std::pair<size_t, uint32_t>;
    std::map<size_t, std::priority_queue<Buffer, std::vector<Buffer>, std::greater<Buffer>>> free_after;
    std::vector<size_t> buffer_offset;  // in doubles, each buffer starting on a cache line
    std::vector<uint32_t> buffer_of(spans.size(), 0);
    size_t arena = 0;
    for (size_t i = 0; i < spans.size(); ++i) {
        const size_t size = stores_[spans[i].value].slot_size;
        auto &sized = free_after[size];
        uint32_t buffer = 0;
        if (!sized.empty() && sized.top().first < spans[i].first) {
            buffer = sized.top().second;
            sized.pop();
        } else {
            buffer = static_cast<uint32_t>(buffer_offset.size());
            buffer_offset.push_back(arena);
            arena += (size + 7) / 8 * 8;
        }
        sized.push(Buffer{spans[i].last, buffer});
        buffer_of[i] = buffer;
    }
    if (arena > 0) {
        double *data = allocate_zeroed(arena);
        if (data == nullptr) {
            return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "create", nullptr, -1,
                                 "no memory for %zu channel buffers of %zu samples in all", buffer_offset.size(), arena);
        }
        allocations_.push_back(data);
        AMP_LOG_ALLOCATION("channel", arena * sizeof(double));
        for (size_t i = 0; i < spans.size(); ++i) {
            stores_[spans[i].value].data = data + buffer_offset[buffer_of[i]];
        }
    }
    for (uint32_t i = 0; i < n; ++i) {
        if (desc_.nodes[i].spec->block_delay > 0) {
            // emit(n), then absorb(n), then emit(n + 1): the node's state is used in that order.
            waits[run_process[i]].push_back(Dependency{absorb_process[i], 1});
        }
    }

    // Members and their arrays, in firing order. Sized first: the members point into them.
    size_t link_count = 0;
    size_t port_count = 0;
    size_t signal_count = 0;
    size_t view_count = 0;
    auto inputs_of = [&](size_t m) {
        return member_span[m] == kWholePort ? nodes_[member_nodes[m]].input_values.size() : size_t{member_span[m]};
    };
    for (size_t m = 0; m < member_nodes.size(); ++m) {
        const NodeInstance &instance = nodes_[member_nodes[m]];
        link_count += inputs_of(m) + static_cast<size_t>(instance.spec->num_outputs);
        port_count += static_cast<size_t>(instance.spec->num_inputs);
        signal_count += inputs_of(m) + static_cast<size_t>(instance.spec->num_outputs);
        view_count += static_cast<size_t>(instance.spec->num_params);
    }
    // Each process's signals, ports and views start on a cache line of their own: the firing
    // thread writes them every block, and a line shared with another process would bounce
    // between the cores running the two.
    const size_t pad = processes_.size() + 1;
    links_.assign(link_count, SignalLink{nullptr, nullptr, 0});
    ports_.assign(port_count + 4 * pad, AmpInputPort{nullptr, 0});
    signals_.assign(signal_count + 4 * pad, AmpSignal{nullptr, 0, 0});
    views_.assign(view_count + 2 * pad, AmpParamView{nullptr, 0, 0, 0});
    dynamic_.assign(view_count + 2 * pad, 0);
    members_.assign(member_nodes.size(), Member{});
    size_t links = 0;
    size_t ports = 0;
    size_t signals = 0;
    size_t views = 0;
    auto line_start = [](const void *base, size_t index, size_t size) {
        for (size_t step = 0; step < 64 / size; ++step) {
            if ((reinterpret_cast<uintptr_t>(base) + (index + step) * size) % 64 == 0) {
                return index + step;
            }
        }
        return index;
    };
    // A signal points at its value's first slot from here on; only a value of several slots needs a
    // link, which moves the signal to the block's slot at each firing.
    auto link = [&](uint32_t value) {
        const ValueStore &store = stores_[value];
        AmpSignal &signal = signals_[signals++];
        signal = AmpSignal{store.data, store.channels, config_.max_block_frames};
        if (store.slots > 1) {
            links_[links++] = SignalLink{&signal, store.data, store.slot_size};
        }
        return &signal;
    };
    for (const Process &process : processes_) {
        if (process.kind == Process::kAbsorb) {
            continue;  // it fires the member its emit half laid out
        }
        ports = line_start(ports_.data(), ports, sizeof(AmpInputPort));
        signals = line_start(signals_.data(), signals, sizeof(AmpSignal));
        views = line_start(views_.data(), views, sizeof(AmpParamView));
        for (uint32_t m = process.first; m < process.first + process.count; ++m) {
            NodeInstance &node = nodes_[member_nodes[m]];
            Member &member = members_[m];
            member.spec = node.spec;
            member.state = node.state;
            member.node = node.index;
            member.staged = process.staged || member_stage[m] >= 0;
            member.stage = member_stage[m] >= 0 ? member_stage[m] : process.stage;
            member.sink = node.index == sink_node_ && (!member.staged || (member.stage & AMP_STAGE_LAST) != 0);
            member.adds = member_into[m] != kNoSum;
            member.links = static_cast<uint32_t>(links);
            member.inputs = ports_.data() + ports;
            ports += static_cast<size_t>(node.spec->num_inputs);
            const bool part = member_span[m] != kWholePort;  // a stage: its run of the only port's connections
            size_t connection = part ? member_from[m] : 0;
            for (int port = 0; port < node.spec->num_inputs; ++port) {
                const int32_t count = part ? static_cast<int32_t>(member_span[m]) : node.port_counts[static_cast<size_t>(port)];
                AmpInputPort &input = member.inputs[port];
                input.count = count;
                input.signals = nullptr;
                for (int32_t c = 0; c < count; ++c) {
                    AmpSignal *signal = link(node.input_values[connection++]);
                    if (c == 0) {
                        input.signals = signal;
                    }
                }
            }
            member.input_links = static_cast<uint32_t>(links) - member.links;
            member.outputs = signals_.data() + signals;
            for (int o = 0; o < node.spec->num_outputs; ++o) {
                link(member.adds ? plan_.value_base[member_into[m]] : plan_.value_base[node.index] + static_cast<uint32_t>(o));
            }
            member.output_links = static_cast<uint32_t>(links) - member.links - member.input_links;
            member.params = views_.data() + views;
            member.dynamic = static_cast<uint32_t>(views);
            views += static_cast<size_t>(node.spec->num_params);
        }
    }
    links_.resize(links);
    // Runs of adding members of one type, each taken by one add() call.
    add_members_.assign(members_.size(), AmpAddMember{});
    for (size_t after = members_.size(); after > 0; --after) {
        const size_t m = after - 1;
        Member &member = members_[m];
        if (member.adds) {
            add_members_[m] = AmpAddMember{member.state, member.inputs, member.params};
            const bool joins = after < members_.size() && members_[after].adds && members_[after].spec == member.spec;
            member.run = joins ? members_[after].run + 1 : 1;
        }
    }
    network_.build(waits);
    member_ns_.assign(members_.size(), 0);
    member_calls_.assign(members_.size(), 0);
    return AMP_OK;
}

}  // namespace amp
