// params.cpp - a parameter's value for a block: base, override or control curve, plus add routes,
// times mul routes; and the checks of a render's overrides and control blob.
#include "graph.hpp"

#include "../amp_error.h"
#include "../formats/control.h"
#include "control_ramp.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace amp {

int32_t Graph::validate_overrides(const AmpParamOverride *overrides, uint32_t override_count, int64_t total_frames,
                                  AmpErrorInfo *call)
{
    if (override_count > 0 && overrides == nullptr) {
        return report(call, AMP_ERR_INVALID_ARGUMENT, "params", nullptr, -1, "override_count is %u but overrides is NULL",
                    override_count);
    }
    for (uint32_t i = 0; i < override_count; ++i) {
        const AmpParamOverride &o = overrides[i];
        if (o.node >= desc_.node_count) {
            return report(call, AMP_ERR_INVALID_ARGUMENT, "params", nullptr, -1, "override %u names node %u of %u", i, o.node,
                        desc_.node_count);
        }
        const NodeInstance &node = nodes_[o.node];
        const char *name = node.desc->name;
        if (o.param >= static_cast<uint32_t>(node.spec->num_params)) {
            return report(call, AMP_ERR_INVALID_ARGUMENT, "params", name, -1, "node '%s' has no parameter %u", name, o.param);
        }
        const AmpParamSpec &spec = node.spec->params[o.param];
        if (spec.flags & AMP_PARAM_STATIC) {
            return report(call, AMP_ERR_INVALID_ARGUMENT, "params", name, -1,
                        "parameter '%s' of node '%s' is fixed at creation and cannot be overridden", spec.name, name);
        }
        if (o.data == nullptr) {
            return report(call, AMP_ERR_INVALID_ARGUMENT, "params", name, -1, "override of '%s.%s' has no data", name,
                        spec.name);
        }
        const bool batch_ok = o.batch == 1 || o.batch == config_.batch;
        const bool channels_ok = o.channels == 1 || o.channels == node.channels;
        const bool frames_ok = o.frames == 1 || o.frames == total_frames;
        if (!batch_ok || !channels_ok || !frames_ok) {
            return report(call, AMP_ERR_INVALID_ARGUMENT, "params", name, -1,
                        "override of '%s.%s' has shape (%d, %d, %lld); expected (B, C, F) with each 1 or "
                        "(%d, %d, %lld)",
                        name, spec.name, o.batch, o.channels, static_cast<long long>(o.frames), config_.batch,
                        node.channels, static_cast<long long>(total_frames));
        }
        const size_t count = static_cast<size_t>(o.batch) * static_cast<size_t>(o.channels) *
                             static_cast<size_t>(o.frames);
        for (size_t k = 0; k < count; ++k) {
            const double value = o.data[k];
            if (!std::isfinite(value) || value < spec.min_value || value > spec.max_value) {
                const size_t f = k % static_cast<size_t>(o.frames);
                const size_t c = (k / static_cast<size_t>(o.frames)) % static_cast<size_t>(o.channels);
                const size_t b = k / (static_cast<size_t>(o.frames) * static_cast<size_t>(o.channels));
                return report(call, AMP_ERR_INVALID_ARGUMENT, "params", name, -1,
                            "override of '%s.%s' is %g at [%zu, %zu, %zu]; values must be finite and in [%g, %g]",
                            name, spec.name, value, b, c, f, spec.min_value, spec.max_value);
            }
        }
    }
    return check_overrides_unique(overrides, override_count, call);
}

int32_t Graph::check_overrides_unique(const AmpParamOverride *overrides, uint32_t override_count, AmpErrorInfo *call)
{
    // A render may override every parameter of a large graph, so the pairs are sorted rather than
    // compared with each other; the keys' storage is kept between renders (no allocation once warm).
    override_keys_.clear();
    for (uint32_t i = 0; i < override_count; ++i) {
        override_keys_.push_back((static_cast<uint64_t>(overrides[i].node) << 32) | overrides[i].param);
    }
    std::sort(override_keys_.begin(), override_keys_.end());
    for (size_t k = 1; k < override_keys_.size(); ++k) {
        if (override_keys_[k] == override_keys_[k - 1]) {
            const NodeInstance &node = nodes_[override_keys_[k] >> 32];
            const char *name = node.desc->name;
            const char *param = node.spec->params[override_keys_[k] & 0xFFFFFFFFu].name;
            return report(call, AMP_ERR_INVALID_ARGUMENT, "params", name, -1, "'%s.%s' is overridden twice", name, param);
        }
    }
    return AMP_OK;
}

namespace {

int32_t attach_key(void *context, const AmpControlKey *key)
{
    auto *keys = static_cast<std::vector<ControlKey> *>(context);
    for (ControlKey &bound : *keys) {
        if (bound.name == key->name) {
            bound.events = key->events;
            bound.event_count = key->event_count;
            bound.interpolation = key->interpolation;
        }
    }
    return AMP_OK;
}

}  // namespace

int32_t Graph::load_control(const RenderRequest &request, int64_t *start_sample)
{
    *start_sample = frame_position_.load(std::memory_order_relaxed);
    if (request.keep_control) {
        return AMP_OK;
    }
    for (ControlKey &key : keys_) {
        key.events = nullptr;
        key.event_count = 0;
    }
    if (request.control_blob == nullptr) {
        return AMP_OK;
    }
    double t0 = 0.0;
    double t1 = 0.0;
    AmpErrorInfo parse_error;
    amp_error_clear(&parse_error);
    const int32_t status = amp_control_parse(request.control_blob, request.control_blob_size, &t0, &t1, attach_key,
                                             &keys_, &parse_error);
    if (status != AMP_OK) {
        if (request.error != nullptr) {
            *request.error = parse_error;
        } else {
            record_error(parse_error);
        }
        return status;
    }
    if (request.ring_blocks == 0) {
        *start_sample = std::llround(t0 * config_.sample_rate);
    }
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
void Graph::fill_curve(ParamSource &source, const ControlKey &key, int64_t block_start, int32_t frames) const
{
    const double sr = config_.sample_rate;
    double *curve = source.curve.data();
    if (key.event_count == 0) {
        for (int32_t f = 0; f < frames; ++f) {
            curve[f] = source.held;
        }
        return;
    }
    // First event that has not taken effect at block_start - 1: where the last block left off when
    // that is it (blocks usually follow one another), else a binary search (events are sorted).
    uint32_t lo = 0;
    uint32_t hi = key.event_count;
    if (source.next_event <= key.event_count) {
        const uint32_t h = source.next_event;
        int64_t sample = 0;
        double value = 0.0;
        bool fits = true;
        if (h > 0) {
            read_event(key.events, h - 1, sr, &sample, &value);
            fits = sample < block_start;
        }
        if (fits && h < key.event_count) {
            read_event(key.events, h, sr, &sample, &value);
            fits = sample >= block_start;
        }
        if (fits) {
            lo = h;
            hi = h;
        }
    }
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        int64_t sample = 0;
        double value = 0.0;
        read_event(key.events, mid, sr, &sample, &value);
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
    double prev_value = source.held;
    if (next > 0) {
        read_event(key.events, next - 1, sr, &prev_sample, &prev_value);
    }
    if (next < key.event_count) {
        read_event(key.events, next, sr, &next_sample, &next_value);
    }
    // Run by run between the samples where an event takes effect, so that each run's loop has no
    // branch in it and vectorizes; every sample takes the same operations as one at a time would.
    const bool linear = key.interpolation == AMP_INTERP_LINEAR;
    int32_t f = 0;
    while (f < frames) {
        const int64_t n = block_start + f;
        while (next < key.event_count && next_sample <= n) {
            prev_sample = next_sample;
            prev_value = next_value;
            ++next;
            if (next < key.event_count) {
                read_event(key.events, next, sr, &next_sample, &next_value);
            }
        }
        const bool started = next > 0;
        const bool pending = next < key.event_count;
        // The run ends where the next event takes effect (after n: the loop above passed the rest).
        const int32_t end =
            pending && next_sample - block_start < frames ? static_cast<int32_t>(next_sample - block_start) : frames;
        if (linear && started && pending) {
            const double span = static_cast<double>(next_sample - prev_sample);
            const double rise = next_value - prev_value;
            const int64_t from = n - prev_sample;
            if (from >= 0 && from < (int64_t{1} << 52)) {
                // (n - prev_sample) as a double, counted up from one conversion: whole numbers
                // below 2^53 are exact, so the same as converting each n.
                amp_control_ramp(curve + f, end - f, static_cast<double>(from), span, prev_value, rise);
            } else {
                for (int32_t k = 0; k < end - f; ++k) {
                    const double t = static_cast<double>(from + k) / span;
                    curve[f + k] = prev_value + rise * t;
                }
            }
        } else {
            const double value = started ? prev_value : source.held;
            for (int32_t k = f; k < end; ++k) {
                curve[k] = value;
            }
        }
        f = end;
    }
    source.next_event = next;
}

// Which parameters need work every block in this render (a control curve, an override, routes
// that do not all fold); the others get their constant view here, once.
void Graph::select_params()
{
    for (Member &member : members_) {
        NodeInstance &node = nodes_[member.node];
        member.dynamic_count = 0;
        for (size_t p = 0; p < node.param_sources.size(); ++p) {
            const ParamSource &source = node.param_sources[p];
            const bool folded = source.fold_active && source.folded_adds == source.add_routes.size() &&
                                source.folded_muls == source.mul_routes.size();
            const bool routed = source.scratch != nullptr && !folded;
            if (source.binding >= 0 || source.override_index >= 0 || routed) {
                dynamic_[member.dynamic + member.dynamic_count++] = static_cast<uint32_t>(p);
            } else {
                member.params[p] = AmpParamView{source.fold_active ? &source.folded_base : &source.base, 0, 0, 0};
            }
        }
    }
    // Whether a member, or one after it in its run of adding members, has slots to point or
    // parameters to rebuild each block: a row of steady oscillators has none, and fire() then
    // does not visit them one by one.
    for (size_t after = members_.size(); after > 0; --after) {
        Member &member = members_[after - 1];
        const bool own = member.input_links + member.output_links != 0 || member.dynamic_count != 0;
        member.run_ready = own || (member.adds && member.run > 1 && members_[after].run_ready);
    }
}

namespace {

// The passes of a parameter's routes, compiled for wider vectors where the machine has them (the
// runtime itself is built for the baseline). Every sample takes the same rounded operations as a
// plain loop: no contraction into fused multiply-adds, which the AVX-512 copy could otherwise use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

// y = x + scale m (x the base: a constant when xs is 0, else every xs-th sample).
AMP_VECTOR_CLONES void route_add_first(double *y, const double *x, ptrdiff_t xs, double scale, const double *m,
                                       int32_t frames)
{
    if (xs == 0) {
        const double x0 = x[0];
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = x0 + scale * m[f];
        }
    } else if (xs == 1) {
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = x[f] + scale * m[f];
        }
    } else {
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = x[f * xs] + scale * m[f];
        }
    }
}

AMP_VECTOR_CLONES void route_add(double *y, double scale, const double *m, int32_t frames)
{
    for (int32_t f = 0; f < frames; ++f) {
        y[f] += scale * m[f];
    }
}

// y = x (scale m).
AMP_VECTOR_CLONES void route_mul_first(double *y, const double *x, ptrdiff_t xs, double scale, const double *m,
                                       int32_t frames)
{
    if (xs == 0) {
        const double x0 = x[0];
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = x0 * (scale * m[f]);
        }
    } else if (xs == 1) {
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = x[f] * (scale * m[f]);
        }
    } else {
        for (int32_t f = 0; f < frames; ++f) {
            y[f] = x[f * xs] * (scale * m[f]);
        }
    }
}

AMP_VECTOR_CLONES void route_mul(double *y, double scale, const double *m, int32_t frames)
{
    for (int32_t f = 0; f < frames; ++f) {
        y[f] *= scale * m[f];
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

}  // namespace

// Row b, channel c of a route's source value for this block.
const double *Graph::route_row(const Route &route, const BlockContext &block, int32_t b, int32_t c) const
{
    const ValueStore &store = stores_[route.source_value];
    const AmpSignal src{store.data + (store.slots > 1 ? block.slot : 0) * store.slot_size, store.channels,
                        config_.max_block_frames};
    const int32_t sc = route.channel >= 0 ? route.channel : (src.channels == 1 ? 0 : c);
    return amp_signal_row(&src, b, sc);
}

void Graph::prepare_param(NodeInstance &node, AmpParamView &view, uint32_t p, const BlockContext &block)
{
    const RenderRequest &request = *request_;
    const int32_t batch = config_.batch;
    const int32_t channels = node.channels;
    const int32_t frames = block.frames;
    const ptrdiff_t max_frames = config_.max_block_frames;
    ParamSource &source = node.param_sources[p];
    AmpParamView base{source.fold_active ? &source.folded_base : &source.base, 0, 0, 0};
    const size_t first_add = source.fold_active ? source.folded_adds : 0;
    const size_t first_mul = source.fold_active ? source.folded_muls : 0;
    if (source.binding >= 0) {
        // Followed even under an override, so the value held into the next render is the key's.
        fill_curve(source, keys_[static_cast<size_t>(source.binding)], block.block_start, frames);
        source.held = source.curve[static_cast<size_t>(frames - 1)];
        base = AmpParamView{source.curve.data(), 0, 0, 1};
    }
    if (source.override_index >= 0) {
        const AmpParamOverride &o = request.overrides[source.override_index];
        const ptrdiff_t sf = o.frames == 1 ? 0 : 1;
        const ptrdiff_t sc = o.channels == 1 ? 0 : static_cast<ptrdiff_t>(o.frames);
        const ptrdiff_t sb = o.batch == 1 ? 0 : static_cast<ptrdiff_t>(o.frames) * o.channels;
        base = AmpParamView{o.data + block.offset * sf, sb, sc, sf};
    }
    if (source.scratch == nullptr ||
        (first_add == source.add_routes.size() && first_mul == source.mul_routes.size())) {
        view = base;
        return;
    }
    // (base + sum of add routes) * product of mul routes, rebuilt in scratch every block. The base
    // is copied in the same pass as the first route (x + s m and x * (s m) round as the copy and
    // the separate pass did).
    double *scratch = source.scratch;
    const size_t adds = source.add_routes.size();
    const size_t muls = source.mul_routes.size();
    for (int32_t b = 0; b < batch; ++b) {
        for (int32_t c = 0; c < channels; ++c) {
            double *y = scratch + (static_cast<ptrdiff_t>(b) * channels + c) * max_frames;
            const double *x = amp_param_row(&base, b, c);
            const ptrdiff_t xs = base.stride_frame;
            for (size_t k = first_add; k < adds; ++k) {
                const double scale = routes_[source.add_routes[k]].scale;
                const double *m = route_row(routes_[source.add_routes[k]], block, b, c);
                if (k > first_add) {
                    route_add(y, scale, m, frames);
                } else {
                    route_add_first(y, x, xs, scale, m, frames);
                }
            }
            for (size_t k = first_mul; k < muls; ++k) {
                const double scale = routes_[source.mul_routes[k]].scale;
                const double *m = route_row(routes_[source.mul_routes[k]], block, b, c);
                if (k > first_mul || first_add < adds) {
                    route_mul(y, scale, m, frames);
                } else {
                    route_mul_first(y, x, xs, scale, m, frames);
                }
            }
        }
    }
    view = AmpParamView{scratch, static_cast<ptrdiff_t>(channels) * max_frames, max_frames, 1};
}

}  // namespace amp
