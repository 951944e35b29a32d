// graph.cpp - building a graph from its blobs and rendering it block by block.
#include "graph.hpp"

#include "../amp_error.h"
#include "../amp_log.h"
#include "../formats/control.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace amp {

namespace {

uint64_t name_seed(const char *name)
{
    uint64_t hash = 1469598103934665603ull;  // FNV-1a
    for (const char *p = name; *p; ++p) {
        hash ^= static_cast<uint8_t>(*p);
        hash *= 1099511628211ull;
    }
    return hash;
}

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

uint64_t timing_now_ns()
{
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

}  // namespace

Graph::~Graph()
{
    for (NodeInstance &node : nodes_) {
        if (node.state != nullptr && node.spec->ops.destroy != nullptr) {
            node.spec->ops.destroy(node.state);
        }
    }
    for (double *block : allocations_) {
        std::free(block);
    }
    amp_plan_free(&plan_);
    amp_descriptor_free(&desc_);
}

int32_t Graph::fail(int32_t code, const char *stage, const char *node, int64_t block, const char *format, ...)
{
    char message[sizeof(error_.message)];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    return amp_error_set(&error_, code, stage, node, block, "%s", message);
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
                             "threads must be in [0, 1024] and channel_depth in [0, 64]");
    }
    if (descriptors == nullptr || plan == nullptr) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "config", nullptr, -1, "a blob pointer is NULL");
    }
    config_ = config;
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
    return build_nodes(error);
}

int32_t Graph::build_nodes(AmpErrorInfo *error)
{
    const size_t batch = static_cast<size_t>(config_.batch);
    const size_t max_frames = static_cast<size_t>(config_.max_block_frames);

    buffers_.assign(plan_.buffer_count, nullptr);
    std::vector<uint32_t> buffer_channels(plan_.buffer_count, 0);
    for (uint32_t v = 0; v < plan_.value_count; ++v) {
        buffer_channels[plan_.values[v].buffer] = plan_.values[v].channels;
    }
    for (uint32_t b = 0; b < plan_.buffer_count; ++b) {
        const size_t count = batch * buffer_channels[b] * max_frames;
        buffers_[b] = allocate_zeroed(count);
        if (buffers_[b] == nullptr) {
            return amp_error_set(error, AMP_ERR_OUT_OF_MEMORY, "create", nullptr, -1,
                                 "no memory for buffer %u (%zu samples)", b, count);
        }
        allocations_.push_back(buffers_[b]);
        AMP_LOG_ALLOCATION("buffer", count * sizeof(double));
    }
    values_.resize(plan_.value_count);
    for (uint32_t v = 0; v < plan_.value_count; ++v) {
        values_[v].data = buffers_[plan_.values[v].buffer];
        values_[v].channels = static_cast<int32_t>(plan_.values[v].channels);
        values_[v].stride = config_.max_block_frames;
    }
    sink_value_ = static_cast<int32_t>(plan_.value_base[desc_.sink]);

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
        node.inputs.resize(static_cast<size_t>(node.spec->num_inputs));
        node.outputs.resize(static_cast<size_t>(node.spec->num_outputs));
        for (int o = 0; o < node.spec->num_outputs; ++o) {
            node.outputs[static_cast<size_t>(o)] = values_[plan_.value_base[i] + static_cast<uint32_t>(o)];
        }
        node.param_sources.resize(static_cast<size_t>(node.spec->num_params));
        node.params.resize(static_cast<size_t>(node.spec->num_params));
        for (int p = 0; p < node.spec->num_params; ++p) {
            node.param_sources[static_cast<size_t>(p)].base = node.desc->params[p];
        }
    }
    // Connections, grouped by port in edge order so that a multi-input sums in a fixed order.
    std::vector<std::vector<int32_t>> port_channels(desc_.node_count);
    for (uint32_t i = 0; i < desc_.node_count; ++i) {
        NodeInstance &node = nodes_[i];
        port_channels[i].assign(static_cast<size_t>(node.spec->num_inputs), 0);
        for (int port = 0; port < node.spec->num_inputs; ++port) {
            for (uint32_t e = 0; e < desc_.edge_count; ++e) {
                const AmpDescEdge &edge = desc_.edges[e];
                if (edge.dst_node == i && edge.dst_input == static_cast<uint32_t>(port)) {
                    const AmpSignal &signal = values_[plan_.value_base[edge.src_node] + edge.src_output];
                    node.input_signals.push_back(signal);
                    int32_t &widest = port_channels[i][static_cast<size_t>(port)];
                    widest = signal.channels > widest ? signal.channels : widest;
                }
            }
        }
        size_t cursor = 0;
        for (int port = 0; port < node.spec->num_inputs; ++port) {
            size_t count = 0;
            for (uint32_t e = 0; e < desc_.edge_count; ++e) {
                count += desc_.edges[e].dst_node == i && desc_.edges[e].dst_input == static_cast<uint32_t>(port);
            }
            node.inputs[static_cast<size_t>(port)].signals = count ? &node.input_signals[cursor] : nullptr;
            node.inputs[static_cast<size_t>(port)].count = static_cast<int32_t>(count);
            cursor += count;
        }
    }
    for (uint32_t r = 0; r < plan_.route_count; ++r) {
        const uint32_t m = plan_.routes[r];
        const AmpDescModulation &mod = desc_.modulations[m];
        ParamSource &source = nodes_[mod.dst_node].param_sources[mod.param];
        (mod.mode == AMP_MOD_ADD ? source.add_routes : source.mul_routes).push_back(m);
    }
    for (uint32_t b = 0; b < desc_.binding_count; ++b) {
        const AmpDescBinding &binding = desc_.bindings[b];
        int found = -1;
        for (size_t k = 0; k < bindings_.size(); ++k) {
            if (bindings_[k].key == binding.key) {
                found = static_cast<int>(k);
            }
        }
        if (found < 0) {
            Binding fresh;
            fresh.key = binding.key;
            fresh.held = desc_.nodes[binding.node].params[binding.param];
            fresh.curve.assign(max_frames, fresh.held);
            bindings_.push_back(std::move(fresh));
            found = static_cast<int>(bindings_.size() - 1);
        }
        nodes_[binding.node].param_sources[binding.param].binding = found;
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
        const int status = node.spec->ops.create(&setup, &node.state);
        if (status != AMP_NODE_OK || node.state == nullptr) {
            return amp_error_set(error, status == AMP_NODE_NO_MEMORY ? AMP_ERR_OUT_OF_MEMORY : AMP_ERR_GRAPH, "create",
                                 node.desc->name, -1, "node '%s' (%s) could not be created", node.desc->name,
                                 node.spec->type_name);
        }
        if (node.spec->block_delay > 0) {
            delayed_nodes_.push_back(node.index);
        }
    }
    order_.assign(plan_.order, plan_.order + plan_.order_count);
    fold_constants();
    node_ns_.assign(desc_.node_count, 0);
    node_calls_.assign(desc_.node_count, 0);
    return AMP_OK;
}

int32_t Graph::validate_overrides(const RenderRequest &request)
{
    for (uint32_t i = 0; i < request.override_count; ++i) {
        const AmpParamOverride &o = request.overrides[i];
        if (o.node >= desc_.node_count) {
            return fail(AMP_ERR_INVALID_ARGUMENT, "params", nullptr, -1, "override %u names node %u of %u", i, o.node,
                        desc_.node_count);
        }
        const NodeInstance &node = nodes_[o.node];
        const char *name = node.desc->name;
        if (o.param >= static_cast<uint32_t>(node.spec->num_params)) {
            return fail(AMP_ERR_INVALID_ARGUMENT, "params", name, -1, "node '%s' has no parameter %u", name, o.param);
        }
        const AmpParamSpec &spec = node.spec->params[o.param];
        if (spec.flags & AMP_PARAM_STATIC) {
            return fail(AMP_ERR_INVALID_ARGUMENT, "params", name, -1,
                        "parameter '%s' of node '%s' is fixed at creation and cannot be overridden", spec.name, name);
        }
        if (o.data == nullptr) {
            return fail(AMP_ERR_INVALID_ARGUMENT, "params", name, -1, "override of '%s.%s' has no data", name,
                        spec.name);
        }
        const bool batch_ok = o.batch == 1 || o.batch == config_.batch;
        const bool channels_ok = o.channels == 1 || o.channels == node.channels;
        const bool frames_ok = o.frames == 1 || o.frames == request.total_frames;
        if (!batch_ok || !channels_ok || !frames_ok) {
            return fail(AMP_ERR_INVALID_ARGUMENT, "params", name, -1,
                        "override of '%s.%s' has shape (%d, %d, %lld); expected (B, C, F) with each 1 or "
                        "(%d, %d, %lld)",
                        name, spec.name, o.batch, o.channels, static_cast<long long>(o.frames), config_.batch,
                        node.channels, static_cast<long long>(request.total_frames));
        }
        for (uint32_t j = 0; j < i; ++j) {
            if (request.overrides[j].node == o.node && request.overrides[j].param == o.param) {
                return fail(AMP_ERR_INVALID_ARGUMENT, "params", name, -1, "'%s.%s' is overridden twice", name,
                            spec.name);
            }
        }
        const size_t count = static_cast<size_t>(o.batch) * static_cast<size_t>(o.channels) *
                             static_cast<size_t>(o.frames);
        for (size_t k = 0; k < count; ++k) {
            const double value = o.data[k];
            if (!std::isfinite(value) || value < spec.min_value || value > spec.max_value) {
                const size_t f = k % static_cast<size_t>(o.frames);
                const size_t c = (k / static_cast<size_t>(o.frames)) % static_cast<size_t>(o.channels);
                const size_t b = k / (static_cast<size_t>(o.frames) * static_cast<size_t>(o.channels));
                return fail(AMP_ERR_INVALID_ARGUMENT, "params", name, -1,
                            "override of '%s.%s' is %g at [%zu, %zu, %zu]; values must be finite and in [%g, %g]",
                            name, spec.name, value, b, c, f, spec.min_value, spec.max_value);
            }
        }
    }
    return AMP_OK;
}

namespace {

int32_t attach_key(void *context, const AmpControlKey *key)
{
    auto *bindings = static_cast<std::vector<Binding> *>(context);
    for (Binding &binding : *bindings) {
        if (binding.key == key->name) {
            binding.events = key->events;
            binding.event_count = key->event_count;
            binding.interpolation = key->interpolation;
        }
    }
    return AMP_OK;
}

}  // namespace

int32_t Graph::load_control(const RenderRequest &request, int64_t *start_sample)
{
    for (Binding &binding : bindings_) {
        binding.events = nullptr;
        binding.event_count = 0;
    }
    *start_sample = frame_position_;
    if (request.control_blob == nullptr) {
        return AMP_OK;
    }
    double t0 = 0.0;
    double t1 = 0.0;
    AmpErrorInfo parse_error;
    amp_error_clear(&parse_error);
    const int32_t status = amp_control_parse(request.control_blob, request.control_blob_size, &t0, &t1, attach_key,
                                             &bindings_, &parse_error);
    if (status != AMP_OK) {
        error_ = parse_error;
        return status;
    }
    *start_sample = std::llround(t0 * config_.sample_rate);
    return AMP_OK;
}

namespace {

inline void read_event(const uint8_t *events, uint32_t index, double sample_rate, int64_t *sample, double *value)
{
    double time = 0.0;
    std::memcpy(&time, events + static_cast<size_t>(index) * 16u, 8);
    std::memcpy(value, events + static_cast<size_t>(index) * 16u + 8u, 8);
    *sample = std::llround(time * sample_rate);
}

}  // namespace

// An event at time t takes effect at stream sample round(t * sample_rate). Step keys hold an
// event's value until the next one; linear keys ramp from each event to the next, reaching it on
// its sample. Before a key's first event the value in force is the one the previous block ended
// on (initially the parameter's descriptor value); after its last event that event's value holds.
void Graph::fill_control_curves(int64_t block_start, int32_t frames)
{
    const double sr = config_.sample_rate;
    for (Binding &binding : bindings_) {
        double *curve = binding.curve.data();
        if (binding.event_count == 0) {
            for (int32_t f = 0; f < frames; ++f) {
                curve[f] = binding.held;
            }
            continue;
        }
        // First event that has not taken effect at block_start - 1 (binary search: events are sorted).
        uint32_t lo = 0;
        uint32_t hi = binding.event_count;
        while (lo < hi) {
            const uint32_t mid = lo + (hi - lo) / 2;
            int64_t sample = 0;
            double value = 0.0;
            read_event(binding.events, mid, sr, &sample, &value);
            if (sample < block_start) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        uint32_t next = lo;
        int64_t next_sample = 0;
        double next_value = 0.0;
        int64_t prev_sample = 0;
        double prev_value = binding.held;
        if (next > 0) {
            read_event(binding.events, next - 1, sr, &prev_sample, &prev_value);
        }
        if (next < binding.event_count) {
            read_event(binding.events, next, sr, &next_sample, &next_value);
        }
        for (int32_t f = 0; f < frames; ++f) {
            const int64_t n = block_start + f;
            while (next < binding.event_count && next_sample <= n) {
                prev_sample = next_sample;
                prev_value = next_value;
                ++next;
                if (next < binding.event_count) {
                    read_event(binding.events, next, sr, &next_sample, &next_value);
                }
            }
            const bool started = next > 0;
            if (binding.interpolation == AMP_INTERP_LINEAR && started && next < binding.event_count) {
                const double t = static_cast<double>(n - prev_sample) / static_cast<double>(next_sample - prev_sample);
                curve[f] = prev_value + (next_value - prev_value) * t;
            } else {
                curve[f] = started ? prev_value : binding.held;
            }
        }
    }
}

void Graph::prepare_params(NodeInstance &node, const RenderRequest &request, int64_t offset, int32_t frames)
{
    const int32_t batch = config_.batch;
    const int32_t channels = node.channels;
    const ptrdiff_t max_frames = config_.max_block_frames;
    for (size_t p = 0; p < node.param_sources.size(); ++p) {
        ParamSource &source = node.param_sources[p];
        AmpParamView base{source.fold_active ? &source.folded_base : &source.base, 0, 0, 0};
        const size_t first_add = source.fold_active ? source.folded_adds : 0;
        const size_t first_mul = source.fold_active ? source.folded_muls : 0;
        if (source.override_index >= 0) {
            const AmpParamOverride &o = request.overrides[source.override_index];
            const ptrdiff_t sf = o.frames == 1 ? 0 : 1;
            const ptrdiff_t sc = o.channels == 1 ? 0 : static_cast<ptrdiff_t>(o.frames);
            const ptrdiff_t sb = o.batch == 1 ? 0 : static_cast<ptrdiff_t>(o.frames) * o.channels;
            base = AmpParamView{o.data + offset * sf, sb, sc, sf};
        } else if (source.binding >= 0) {
            base = AmpParamView{bindings_[static_cast<size_t>(source.binding)].curve.data(), 0, 0, 1};
        }
        if (source.scratch == nullptr ||
            (first_add == source.add_routes.size() && first_mul == source.mul_routes.size())) {
            node.params[p] = base;
            continue;
        }
        // (base + sum of add routes) * product of mul routes, rebuilt in scratch every block.
        double *scratch = source.scratch;
        for (int32_t b = 0; b < batch; ++b) {
            for (int32_t c = 0; c < channels; ++c) {
                double *y = scratch + (static_cast<ptrdiff_t>(b) * channels + c) * max_frames;
                const double *x = amp_param_row(&base, b, c);
                for (int32_t f = 0; f < frames; ++f) {
                    y[f] = x[f * base.stride_frame];
                }
                for (size_t k = first_add; k < source.add_routes.size(); ++k) {
                    const Route &route = routes_[source.add_routes[k]];
                    const AmpSignal &src = values_[route.source_value];
                    const int32_t sc = route.channel >= 0 ? route.channel : (src.channels == 1 ? 0 : c);
                    const double *m = amp_signal_row(&src, b, sc);
                    for (int32_t f = 0; f < frames; ++f) {
                        y[f] += route.scale * m[f];
                    }
                }
                for (size_t k = first_mul; k < source.mul_routes.size(); ++k) {
                    const Route &route = routes_[source.mul_routes[k]];
                    const AmpSignal &src = values_[route.source_value];
                    const int32_t sc = route.channel >= 0 ? route.channel : (src.channels == 1 ? 0 : c);
                    const double *m = amp_signal_row(&src, b, sc);
                    for (int32_t f = 0; f < frames; ++f) {
                        y[f] *= route.scale * m[f];
                    }
                }
            }
        }
        node.params[p] = AmpParamView{scratch, static_cast<ptrdiff_t>(channels) * max_frames, max_frames, 1};
    }
}

int32_t Graph::run_block(const RenderRequest &request, int64_t offset, int32_t frames, int64_t block_start)
{
    fill_control_curves(block_start, frames);
    AmpProcessArgs args{};
    args.batch = config_.batch;
    args.frames = frames;
    args.sample_rate = config_.sample_rate;
    args.block_index = block_index_;
    args.frame_position = block_start;
    for (uint32_t index : order_) {
        NodeInstance &node = nodes_[index];
        prepare_params(node, request, offset, frames);
        args.inputs = node.inputs.data();
        args.outputs = node.outputs.data();
        args.params = node.params.data();
        args.message = node.message;
        args.message_size = sizeof(node.message);
        node.message[0] = '\0';
        const uint64_t started = AMP_LOG_NOW_NS();
        const uint64_t timed = timing_ ? timing_now_ns() : 0;
        const int status = node.spec->ops.process(node.state, &args);
        if (timing_) {
            node_ns_[index] += timing_now_ns() - timed;
            ++node_calls_[index];
        }
        AMP_LOG_NODE_TIMING(node.desc->name, block_index_, frames, started);
        if (status != AMP_NODE_OK) {
            return fail(AMP_ERR_RUNTIME, "process", node.desc->name, block_index_, "node '%s' (%s) failed: %s",
                        node.desc->name, node.spec->type_name, node.message[0] ? node.message : "no reason given");
        }
    }
    for (uint32_t index : delayed_nodes_) {
        NodeInstance &node = nodes_[index];
        args.inputs = node.inputs.data();
        args.outputs = node.outputs.data();
        args.params = node.params.data();
        args.message = node.message;
        args.message_size = sizeof(node.message);
        node.message[0] = '\0';
        const int status = node.spec->ops.absorb(node.state, &args);
        if (status != AMP_NODE_OK) {
            return fail(AMP_ERR_RUNTIME, "absorb", node.desc->name, block_index_, "node '%s' (%s) failed: %s",
                        node.desc->name, node.spec->type_name, node.message[0] ? node.message : "no reason given");
        }
    }
    for (Binding &binding : bindings_) {
        binding.held = binding.curve[static_cast<size_t>(frames - 1)];
    }
    // Copy the sink's block into (B, C, total_frames).
    const AmpSignal &sink = values_[static_cast<size_t>(sink_value_)];
    for (int32_t b = 0; b < config_.batch; ++b) {
        for (int32_t c = 0; c < sink.channels; ++c) {
            double *dst = request.output + (static_cast<int64_t>(b) * sink.channels + c) * request.total_frames + offset;
            std::memcpy(dst, amp_signal_row(&sink, b, c), static_cast<size_t>(frames) * sizeof(double));
        }
    }
    ++block_index_;
    return AMP_OK;
}

int32_t Graph::render(const RenderRequest &request)
{
    amp_error_clear(&error_);
    if (request.total_frames < 0 || request.block_frames < 1 || request.block_frames > config_.max_block_frames) {
        return fail(AMP_ERR_INVALID_ARGUMENT, "render", nullptr, -1,
                    "block_frames must be in [1, %d] and total_frames >= 0; got %d and %lld", config_.max_block_frames,
                    request.block_frames, static_cast<long long>(request.total_frames));
    }
    const int64_t channels = values_[static_cast<size_t>(sink_value_)].channels;
    const uint64_t needed = static_cast<uint64_t>(config_.batch) * static_cast<uint64_t>(channels) *
                            static_cast<uint64_t>(request.total_frames);
    if (request.output == nullptr || request.output_size < needed) {
        return fail(AMP_ERR_INVALID_ARGUMENT, "render", nullptr, -1,
                    "output holds %zu samples; (B=%d, C=%lld, F=%lld) needs %llu", request.output_size, config_.batch,
                    static_cast<long long>(channels), static_cast<long long>(request.total_frames),
                    static_cast<unsigned long long>(needed));
    }
    if (request.override_count > 0 && request.overrides == nullptr) {
        return fail(AMP_ERR_INVALID_ARGUMENT, "params", nullptr, -1, "override_count is %u but overrides is NULL",
                    request.override_count);
    }
    int32_t status = validate_overrides(request);
    if (status != AMP_OK) {
        return status;
    }
    int64_t start_sample = 0;
    if ((status = load_control(request, &start_sample)) != AMP_OK) {
        return status;
    }
    for (NodeInstance &node : nodes_) {
        for (ParamSource &source : node.param_sources) {
            source.override_index = -1;
        }
    }
    for (uint32_t i = 0; i < request.override_count; ++i) {
        const AmpParamOverride &o = request.overrides[i];
        nodes_[o.node].param_sources[o.param].override_index = static_cast<int>(i);
    }
    activate_folds(request);
    for (int64_t offset = 0; offset < request.total_frames; offset += request.block_frames) {
        const int64_t remaining = request.total_frames - offset;
        const int32_t frames = remaining < request.block_frames ? static_cast<int32_t>(remaining) : request.block_frames;
        if ((status = run_block(request, offset, frames, start_sample + offset)) != AMP_OK) {
            return status;
        }
    }
    frame_position_ = start_sample + request.total_frames;
    return AMP_OK;
}

int32_t Graph::reset()
{
    amp_error_clear(&error_);
    for (NodeInstance &node : nodes_) {
        if (node.spec->ops.reset != nullptr) {
            node.spec->ops.reset(node.state);
        }
    }
    for (size_t b = 0; b < bindings_.size(); ++b) {
        bindings_[b].held = 0.0;
    }
    for (uint32_t b = 0; b < desc_.binding_count; ++b) {
        const AmpDescBinding &binding = desc_.bindings[b];
        for (Binding &held : bindings_) {
            if (held.key == binding.key) {
                held.held = desc_.nodes[binding.node].params[binding.param];
            }
        }
    }
    frame_position_ = 0;
    block_index_ = 0;
    return AMP_OK;
}

void Graph::set_timing(bool enabled)
{
    if (enabled && !timing_) {
        std::fill(node_ns_.begin(), node_ns_.end(), 0);
        std::fill(node_calls_.begin(), node_calls_.end(), 0);
    }
    timing_ = enabled;
}

uint32_t Graph::node_timings(uint64_t *nanoseconds, uint64_t *calls, uint32_t capacity) const
{
    const uint32_t count = static_cast<uint32_t>(node_ns_.size());
    for (uint32_t i = 0; i < count && i < capacity; ++i) {
        if (nanoseconds != nullptr) {
            nanoseconds[i] = node_ns_[i];
        }
        if (calls != nullptr) {
            calls[i] = node_calls_[i];
        }
    }
    return count;
}

void Graph::info(AmpGraphInfo *out) const
{
    out->batch = config_.batch;
    out->output_channels = values_.empty() ? 0 : values_[static_cast<size_t>(sink_value_)].channels;
    out->max_block_frames = config_.max_block_frames;
    out->threads = config_.threads;
    out->node_count = static_cast<int32_t>(nodes_.size());
    out->process_count = static_cast<int32_t>(nodes_.size());
    out->sample_rate = config_.sample_rate;
    out->frame_position = frame_position_;
}

}  // namespace amp
