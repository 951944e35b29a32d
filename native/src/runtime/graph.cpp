// graph.cpp - rendering a built graph: firing a process for one block, the render and reset
// entry points, timings and errors. Building it from the blobs is in graph_build.cpp.
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
#include <thread>

namespace amp {

namespace {

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
    std::lock_guard<std::mutex> lock(error_mutex_);
    return amp_error_set(&error_, code, stage, node, block, "%s", message);
}

int32_t Graph::report(AmpErrorInfo *call, int32_t code, const char *stage, const char *node, int64_t block,
                      const char *format, ...)
{
    char message[sizeof(error_.message)];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    if (call != nullptr) {
        return amp_error_set(call, code, stage, node, block, "%s", message);
    }
    std::lock_guard<std::mutex> lock(error_mutex_);
    return amp_error_set(&error_, code, stage, node, block, "%s", message);
}

AmpErrorInfo Graph::last_error() const
{
    std::lock_guard<std::mutex> lock(error_mutex_);
    return error_;
}

void Graph::clear_error()
{
    std::lock_guard<std::mutex> lock(error_mutex_);
    amp_error_clear(&error_);
}

void Graph::record_error(const AmpErrorInfo &error)
{
    std::lock_guard<std::mutex> lock(error_mutex_);
    error_ = error;
}
int32_t Graph::output_channels() const
{
    return stores_.empty() ? 0 : stores_[sink_value_].channels;
}

void Graph::copy_to_output(const AmpSignal &sink, const BlockContext &block)
{
    const RenderRequest &request = *request_;
    int64_t row_frames = request.total_frames;
    int64_t at = block.offset;
    if (request.ring_blocks > 0) {
        row_frames = request.ring_blocks * request.block_frames;
        at = ((request.ring_first + block.block) % request.ring_blocks) * request.block_frames;
    }
    for (int32_t b = 0; b < config_.batch; ++b) {
        for (int32_t c = 0; c < sink.channels; ++c) {
            double *dst = request.output + (static_cast<int64_t>(b) * sink.channels + c) * row_frames + at;
            std::memcpy(dst, amp_signal_row(&sink, b, c), static_cast<size_t>(block.frames) * sizeof(double));
        }
    }
}

int32_t Graph::fire(uint32_t index, int64_t block_number)
{
    Process &process = processes_[index];
    const RenderRequest &request = *request_;
    BlockContext block;
    block.block = block_base_ + block_number;
    block.offset = block.block * request.block_frames;
    const int64_t remaining = request.total_frames - block.offset;
    block.frames = remaining < request.block_frames ? static_cast<int32_t>(remaining) : request.block_frames;
    block.block_start = start_sample_ + block.offset;
    block.block_index = first_block_index_ + block.block;
    block.slot = static_cast<size_t>(block_number % depth_);

    AmpProcessArgs args{};
    args.batch = config_.batch;
    args.frames = block.frames;
    args.sample_rate = config_.sample_rate;
    args.block_index = block.block_index;
    args.frame_position = block.block_start;
    args.message = process.message;
    args.message_size = sizeof(process.message);
    args.scratch = process.scratch;
    const bool timing = timing_.load(std::memory_order_relaxed);
    const bool absorb = process.kind == Process::kAbsorb;
    const bool emit = process.kind == Process::kEmit;
    const SignalLink *links = links_.data();
    const size_t slot = block.slot;
    const Member *end = members_.data() + process.first + process.count;
    // Points the member's multi-slot values at this block's slots and rebuilds its parameters
    // that change every block.
    const auto ready = [&](const Member &member) {
        // Only values of several slots have links (the rest stay where the build pointed them).
        // emit() reads no input: its producers may not have run yet.
        if (member.input_links + member.output_links != 0) {
            const SignalLink *link = links + member.links + (emit ? member.input_links : 0);
            const SignalLink *last = links + member.links + member.input_links + member.output_links;
            for (; link != last; ++link) {
                link->signal->data = link->data + slot * link->stride;
            }
        }
        // Only the last stage of a wide sum reads parameters: the stages of one node may fire
        // different blocks at the same time, and a parameter's curve is kept for one block.
        const bool whole = !member.staged || (member.stage & AMP_STAGE_LAST) != 0;
        if (member.dynamic_count != 0 && !absorb && whole) {
            NodeInstance &node = nodes_[member.node];
            for (uint32_t d = member.dynamic; d < member.dynamic + member.dynamic_count; ++d) {
                const uint32_t p = dynamic_[d];
                prepare_param(node, member.params[p], p, block);
            }
        }
    };
    for (const Member *member = members_.data() + process.first; member != end; ++member) {
        if (member->adds && !absorb && !timing && !AMP_LOG_ENABLED()) {
            // A run of fused oscillators adding into their sum: one call for all of them.
            const Member *last = end - member < static_cast<ptrdiff_t>(member->run) ? end : member + member->run;
            if (member->run_ready) {
                for (const Member *m = member; m != last; ++m) {
                    ready(*m);
                }
            }
            args.inputs = nullptr;
            args.outputs = member->outputs;
            args.params = nullptr;
            process.message[0] = '\0';
            int32_t failed = 0;
            const int status = member->spec->ops.add(&add_members_[static_cast<size_t>(member - members_.data())],
                                                     static_cast<int32_t>(last - member), &args, &failed);
            if (status != AMP_NODE_OK) {
                process.failed_node = member[failed >= 0 && failed < last - member ? failed : 0].node;
                process.failed_stage = "process";
                return AMP_ERR_RUNTIME;
            }
            member = last - 1;
            continue;
        }
        ready(*member);
        const bool whole = !member->staged || (member->stage & AMP_STAGE_LAST) != 0;
        args.inputs = member->inputs;
        args.outputs = member->outputs;
        args.params = member->params;
        process.message[0] = '\0';
        int status = AMP_NODE_OK;
        if (absorb) {
            status = member->spec->ops.absorb(member->state, &args);
        } else if (!timing && !AMP_LOG_ENABLED()) {
            status = !member->staged ? member->spec->ops.process(member->state, &args)
                                     : member->spec->ops.accumulate(member->state, &args, member->stage);
        } else {
            // Timed or logged, each fused oscillator is a call of its own, so that each has a time.
            const uint64_t started = AMP_LOG_NOW_NS();
            const uint64_t timed = timing ? timing_now_ns() : 0;
            int32_t failed = 0;
            status = member->adds     ? member->spec->ops.add(&add_members_[static_cast<size_t>(member - members_.data())], 1,
                                                              &args, &failed)
                     : !member->staged ? member->spec->ops.process(member->state, &args)
                                       : member->spec->ops.accumulate(member->state, &args, member->stage);
            if (timing) {
                const size_t m = static_cast<size_t>(member - members_.data());
                member_ns_[m] += timing_now_ns() - timed;
                member_calls_[m] += whole ? 1 : 0;
            }
            AMP_LOG_NODE_TIMING(nodes_[member->node].desc->name, block.block_index, block.frames, started);
        }
        if (status != AMP_NODE_OK) {
            process.failed_node = member->node;
            process.failed_stage = absorb ? "absorb" : "process";
            return AMP_ERR_RUNTIME;
        }
        if (member->sink && !absorb) {
            copy_to_output(member->outputs[0], block);
        }
    }
    return AMP_OK;
}

bool Graph::claim(const char *who, AmpErrorInfo *call)
{
    bool expected = false;
    if (busy_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
        return true;
    }
    report(call, AMP_ERR_INVALID_ARGUMENT, who, nullptr, -1,
           "the graph is busy: another render, a reset or a streamer is using it (one caller at a time)");
    return false;
}

void Graph::release()
{
    busy_.store(false, std::memory_order_release);
}

int32_t Graph::render(const RenderRequest &request)
{
    if (!claim("render", request.error)) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    // Only the caller's own render clears the handle's error: a streamer rendering in the
    // background must not erase the refusal another caller is about to read.
    if (request.error == nullptr) {
        clear_error();
    }
    const int32_t status = render_claimed(request);
    release();
    return status;
}

namespace {

// a * b * c, or false when it does not fit in a size_t (every factor >= 0).
bool checked_size(int64_t a, int64_t b, int64_t c, size_t *out)
{
    size_t ab = 0;
    if (a < 0 || b < 0 || c < 0) {
        return false;
    }
    return !__builtin_mul_overflow(static_cast<size_t>(a), static_cast<size_t>(b), &ab) &&
           !__builtin_mul_overflow(ab, static_cast<size_t>(c), out);
}

}  // namespace

int32_t Graph::render_claimed(const RenderRequest &request)
{
    AmpErrorInfo *call = request.error;
    if (request.total_frames < 0 || request.block_frames < 1 || request.block_frames > config_.max_block_frames) {
        return report(call, AMP_ERR_INVALID_ARGUMENT, "render", nullptr, -1,
                      "block_frames must be in [1, %d] and total_frames >= 0; got %d and %lld",
                      config_.max_block_frames, request.block_frames, static_cast<long long>(request.total_frames));
    }
    const int64_t channels = output_channels();
    int64_t row_frames = request.total_frames;
    if (request.ring_blocks > 0 &&
        __builtin_mul_overflow(request.ring_blocks, static_cast<int64_t>(request.block_frames), &row_frames)) {
        return report(call, AMP_ERR_INVALID_ARGUMENT, "render", nullptr, -1, "the ring is too large");
    }
    size_t needed = 0;
    if (!checked_size(config_.batch, channels, row_frames, &needed)) {
        return report(call, AMP_ERR_INVALID_ARGUMENT, "render", nullptr, -1,
                      "(B=%d, C=%lld, F=%lld) is more samples than a buffer can hold", config_.batch,
                      static_cast<long long>(channels), static_cast<long long>(row_frames));
    }
    if (request.output == nullptr || request.output_size < needed) {
        return report(call, AMP_ERR_INVALID_ARGUMENT, "render", nullptr, -1,
                      "output holds %zu samples; (B=%d, C=%lld, F=%lld) needs %zu", request.output_size,
                      config_.batch, static_cast<long long>(channels), static_cast<long long>(row_frames), needed);
    }
    const int64_t blocks = request.total_frames / request.block_frames +
                           (request.total_frames % request.block_frames != 0 ? 1 : 0);
    if (request.first_frame < 0 || request.first_frame > request.total_frames ||
        (request.first_frame % request.block_frames != 0 && request.first_frame != request.total_frames)) {
        return report(call, AMP_ERR_INVALID_ARGUMENT, "render", nullptr, -1,
                      "frames already rendered (%lld) must be a whole number of blocks of %d, at most %lld",
                      static_cast<long long>(request.first_frame), request.block_frames,
                      static_cast<long long>(request.total_frames));
    }
    int32_t status = validate_overrides(request.overrides, request.override_count, request.total_frames, call);
    if (status != AMP_OK) {
        return status;
    }
    int64_t start_sample = 0;
    if ((status = load_control(request, &start_sample)) != AMP_OK) {
        return status;
    }
    if (request.control_blob == nullptr || request.keep_control || request.ring_blocks > 0) {
        // the position stands where the earlier parts of this request left it
        start_sample -= request.first_frame;
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
    select_params();
    const int64_t first_block = request.first_frame == request.total_frames ? blocks
                                                                            : request.first_frame / request.block_frames;
    return run_blocks(request, first_block, blocks, start_sample);
}

int32_t Graph::run_blocks(const RenderRequest &request, int64_t first_block, int64_t blocks, int64_t start_sample)
{
    AmpErrorInfo *call = request.error;
    request_ = &request;
    start_sample_ = start_sample;
    first_block_index_ = block_index_ - first_block;
    if (pace_block_frames_ != request.block_frames) {
        pace_block_frames_ = request.block_frames;
        pace_ns_per_block_ = 0.0;
    }
    const auto started = std::chrono::steady_clock::now();
    int64_t done = first_block;
    int32_t status = AMP_OK;
    while (done < blocks) {
        // Without a budget: one run. With one: runs of about a quarter of it, so that the call
        // ends soon after the budget is spent (the first run, of unknown pace, is one block).
        int64_t run = blocks - done;
        if (request.budget_ns > 0) {
            const double quarter = static_cast<double>(request.budget_ns) / 4.0;
            const double fit = pace_ns_per_block_ > 0.0 ? quarter / pace_ns_per_block_ : 1.0;
            run = std::min<int64_t>(run, std::max<int64_t>(1, static_cast<int64_t>(std::min(fit, 1.0e12))));
        }
        block_base_ = done;
        const auto run_started = std::chrono::steady_clock::now();
        status = network_.run(*this, run, request.cancel);
        if (status != AMP_OK) {
            break;
        }
        const auto now = std::chrono::steady_clock::now();
        const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - run_started).count());
        pace_ns_per_block_ = ns / static_cast<double>(run);
        done += run;
        block_index_ += run;
        const int64_t frames = std::min(done * request.block_frames, request.total_frames);
        frame_position_.store(start_sample + frames, std::memory_order_relaxed);
        if (request.frames_done != nullptr) {
            *request.frames_done = frames;
        }
        if (request.budget_ns > 0 &&
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - started).count() >= request.budget_ns) {
            break;
        }
    }
    request_ = nullptr;
    const int64_t base = block_base_;
    block_base_ = 0;
    if (status == AMP_OK) {
        if (blocks == first_block && request.frames_done != nullptr) {
            *request.frames_done = request.total_frames;
        }
        if (blocks == first_block && request.first_frame == 0) {
            frame_position_.store(start_sample, std::memory_order_relaxed);  // an empty render still sets the position
        }
        return AMP_OK;
    }
    if (status == AMP_ERR_STOPPED) {
        return report(call, AMP_ERR_STOPPED, "render", nullptr, -1, "the render was stopped");
    }
    const Network::Failure &failure = network_.failure();
    const int64_t failed_block = first_block_index_ + base + failure.block;
    if (status == AMP_ERR_RUNTIME) {
        const Process &process = processes_[failure.process];
        const NodeInstance &node = nodes_[process.failed_node];
        return report(call, AMP_ERR_RUNTIME, process.failed_stage, node.desc->name, failed_block,
                      "node '%s' (%s) failed in %s: %s", node.desc->name, node.spec->type_name, process.failed_stage,
                      process.message[0] ? process.message : "no reason given");
    }
    if (status == AMP_ERR_OUT_OF_MEMORY) {
        return report(call, status, "render", nullptr, -1, "could not start %d worker threads", network_.threads() - 1);
    }
    return report(call, status, "render", nullptr, failed_block, "the scheduler failed (status %d)", status);
}

int32_t Graph::reset()
{
    if (!claim("reset")) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    clear_error();
    for (NodeInstance &node : nodes_) {
        if (node.spec->ops.reset != nullptr) {
            node.spec->ops.reset(node.state);
        }
        for (ParamSource &source : node.param_sources) {
            source.held = source.base;
        }
    }
    frame_position_.store(0, std::memory_order_relaxed);
    block_index_ = 0;
    release();
    return AMP_OK;
}

void Graph::set_timing(bool enabled)
{
    if (enabled && !timing_.load(std::memory_order_relaxed)) {
        std::fill(member_ns_.begin(), member_ns_.end(), 0);
        std::fill(member_calls_.begin(), member_calls_.end(), 0);
    }
    timing_.store(enabled, std::memory_order_relaxed);
}

uint32_t Graph::node_timings(uint64_t *nanoseconds, uint64_t *calls, uint32_t capacity) const
{
    const uint32_t count = static_cast<uint32_t>(nodes_.size());
    const uint32_t filled = std::min(count, capacity);
    for (uint32_t i = 0; i < filled; ++i) {
        if (nanoseconds != nullptr) {
            nanoseconds[i] = 0;
        }
        if (calls != nullptr) {
            calls[i] = 0;
        }
    }
    for (size_t m = 0; m < members_.size(); ++m) {
        const uint32_t node = members_[m].node;
        if (node < filled && nanoseconds != nullptr) {
            nanoseconds[node] += member_ns_[m];
        }
        if (node < filled && calls != nullptr) {
            calls[node] += member_calls_[m];
        }
    }
    return count;
}

void Graph::info(AmpGraphInfo *out) const
{
    out->batch = config_.batch;
    out->output_channels = output_channels();
    out->max_block_frames = config_.max_block_frames;
    out->threads = network_.threads();
    out->node_count = static_cast<int32_t>(nodes_.size());
    out->process_count = static_cast<int32_t>(processes_.size());
    out->sample_rate = config_.sample_rate;
    out->frame_position = frame_position_.load(std::memory_order_relaxed);
    out->blocks_on_threads = network_.blocks_on_threads();
    out->blocks_alone = network_.blocks_alone();
}

}  // namespace amp
