/*
 * amp_native.h - the C ABI of libamp_native.
 *
 * The region between AMP_CDEF_BEGIN and AMP_CDEF_END is plain C that cffi parses at load time:
 * it is the only declaration of this interface anywhere, Python included. Keep it free of
 * preprocessor conditionals and macros other than integer #defines.
 *
 * Conventions: every function returns an int32_t status (AMP_OK == 0). Functions that act on a
 * handle record a failure in that handle (read it with amp_*_last_error); functions without a
 * handle, and amp_graph_render_part and amp_streamer_read_ex, fill the caller's AmpErrorInfo when
 * one is given (and only it, so that concurrent callers never read each other's failure). No
 * function aborts, exits or prints.
 *
 * Handles and threads: any function may be called on a handle from any thread. amp_graph_destroy
 * and amp_streamer_destroy may run while other threads are inside calls on the same handle: they
 * stop a render in progress (as amp_graph_cancel) or a streamer (waking its readers), wait for
 * every call inside the handle to return, then free it. A call that begins once destroy has begun
 * is refused with AMP_ERR_STOPPED; a call made after destroy returned uses freed memory, as with
 * any freed pointer. Every size a call computes (batch x channels x frames) is checked for
 * overflow before use.
 */
#ifndef AMP_NATIVE_H
#define AMP_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* AMP_CDEF_BEGIN */
#define AMP_ABI_VERSION 2

#define AMP_OK 0
#define AMP_ERR_INVALID_ARGUMENT 1
#define AMP_ERR_FORMAT 2
#define AMP_ERR_GRAPH 3
#define AMP_ERR_RUNTIME 4
#define AMP_ERR_OUT_OF_MEMORY 5
#define AMP_ERR_BUFFER_TOO_SMALL 6
#define AMP_ERR_LOGGING_UNAVAILABLE 7
#define AMP_ERR_STOPPED 8
#define AMP_ERR_INTERNAL 9

/* Optimisations of the compiled plan, switched off by setting their bit in
 * AmpGraphConfig.disabled_optimisations. */
#define AMP_OPT_CHAIN_FUSION 1
#define AMP_OPT_CONSTANT_FOLDING 2
#define AMP_OPT_BUFFER_REUSE 4
#define AMP_OPT_SUM_STAGES 8
#define AMP_OPT_LANE_FUSION 16

typedef struct AmpErrorInfo {
    int32_t code;
    int64_t block_index;   /* -1 when the error is not tied to a block */
    char node[64];         /* node name, empty when not tied to a node */
    char stage[32];        /* "descriptor", "plan", "control", "create", "process", ... */
    char message[512];
} AmpErrorInfo;

typedef struct AmpLibraryInfo {
    int32_t abi_version;
    int32_t logging_compiled;
    int32_t logging_enabled;
    int32_t catalogue_size;
    char version[32];
} AmpLibraryInfo;

int32_t amp_native_library_info(AmpLibraryInfo *out);

/* The node catalogue as JSON. Writes at most `capacity` bytes (NUL-terminated) and stores the
 * size needed, including the terminator, in *required. AMP_ERR_BUFFER_TOO_SMALL asks for more. */
int32_t amp_native_catalogue_json(char *buffer, size_t capacity, size_t *required);

/* Run-time switch of the logging build; the plain build answers AMP_ERR_LOGGING_UNAVAILABLE. */
int32_t amp_native_logging_set(int32_t enabled);
int32_t amp_native_logging_set_directory(const char *path);

/* Any amp blob (descriptor, plan or control) described as JSON, after full validation. */
int32_t amp_native_describe_blob(const uint8_t *blob, size_t size, char *buffer,
                                 size_t capacity, size_t *required, AmpErrorInfo *error);

typedef struct AmpGraph AmpGraph;

typedef struct AmpGraphConfig {
    int32_t batch;                    /* B >= 1 */
    int32_t max_block_frames;         /* largest block a render may use */
    int32_t threads;                  /* worker threads; 0 = hardware concurrency */
    int32_t channel_depth;            /* room per channel between threads, in blocks; 0 = default (2) */
    double sample_rate;
    uint32_t disabled_optimisations;  /* AMP_OPT_* bits */
} AmpGraphConfig;

typedef struct AmpGraphInfo {
    int32_t batch;
    int32_t output_channels;
    int32_t max_block_frames;
    int32_t threads;
    int32_t node_count;
    int32_t process_count;
    double sample_rate;
    int64_t frame_position;
    /* Blocks rendered so far by the worker threads together, and by the calling thread alone
     * (every block of a graph that one thread fires; with several threads, the chunks the
     * runtime ran alone because the threads were slower there: see docs/runtime.md). */
    int64_t blocks_on_threads;
    int64_t blocks_alone;
} AmpGraphInfo;

/* A per-render value for one parameter, shaped (batch, channels, frames), each dimension either 1
 * (broadcast) or the full size: B, the node's channel count, and the render's total frames. */
typedef struct AmpParamOverride {
    uint32_t node;
    uint32_t param;
    const double *data;
    int32_t batch;
    int32_t channels;
    int64_t frames;
} AmpParamOverride;

int32_t amp_graph_create(const uint8_t *descriptors, size_t descriptors_size,
                         const uint8_t *plan, size_t plan_size,
                         const AmpGraphConfig *config, AmpGraph **out_graph,
                         AmpErrorInfo *error);
int32_t amp_graph_destroy(AmpGraph *graph);
int32_t amp_graph_last_error(const AmpGraph *graph, AmpErrorInfo *out);
int32_t amp_graph_info(const AmpGraph *graph, AmpGraphInfo *out);
int32_t amp_graph_reset(AmpGraph *graph);

/* Renders total_frames in blocks of block_frames into output, shaped (B, C, total_frames), as a
 * Kahn process network on the graph's threads (the calling thread among them); the result is the
 * same for any thread count. control_blob may be NULL; when given, its window start is the time of
 * the first frame. One call at a time per graph: a call while another render, a reset or a
 * streamer holds the graph is refused. A failed or stopped render leaves nodes part-way through
 * the render; amp_graph_reset starts afresh. */
int32_t amp_graph_render(AmpGraph *graph, int64_t total_frames, int32_t block_frames,
                         const AmpParamOverride *overrides, uint32_t override_count,
                         const uint8_t *control_blob, size_t control_blob_size,
                         double *output, size_t output_size);

/* The same render in parts, each call bounded in time, so that the caller can handle signals in
 * between. Every call of one request passes the same arguments. *frames_done says where the call
 * starts (0 for the first call, then what the previous call left in it: a whole number of blocks)
 * and, on return, how many frames of the request are rendered; it is updated as each run of blocks
 * ends, so it is right even if the caller is interrupted. The call renders runs of blocks until the
 * request is complete or budget_ms has passed (<= 0: no limit), then returns AMP_OK. The graph's
 * frame position stands after the last frame rendered, and the control window start is the time
 * of the request's first frame on every call. A refusal or failure is described in *error. */
int32_t amp_graph_render_part(AmpGraph *graph, int64_t total_frames, int32_t block_frames,
                              const AmpParamOverride *overrides, uint32_t override_count,
                              const uint8_t *control_blob, size_t control_blob_size,
                              double *output, size_t output_size, int32_t budget_ms,
                              int64_t *frames_done, AmpErrorInfo *error);
/* Stops the render in progress on this graph (it returns AMP_ERR_STOPPED, its nodes part-way
 * through the render; amp_graph_reset starts afresh), or when none is in progress the next one to
 * start. Returns at once. */
int32_t amp_graph_cancel(AmpGraph *graph);

/* Streaming: a thread renders the graph ahead of its reader into a ring of lead_frames (rounded up
 * to whole blocks). The streamer holds the graph until it stops or fails; the stream continues the
 * graph's timeline (its frame position), and control events are placed on that timeline: an event
 * at time t acts at sample round(t * sample_rate). */
typedef struct AmpStreamer AmpStreamer;

typedef struct AmpStreamerConfig {
    int32_t block_frames;   /* frames per block, 1 .. the graph's max_block_frames */
    int32_t lead_frames;    /* how far ahead of the reader it may render */
    int32_t chunk_blocks;   /* at most this many blocks per network run (a reader sees a run's frames
                               when it ends); 0 = a quarter of the ring, at most 4096 frames */
} AmpStreamerConfig;

typedef struct AmpStreamerInfo {
    int32_t block_frames;
    int32_t lead_frames;    /* the ring, in frames */
    int32_t chunk_blocks;
    int32_t running;        /* 0 once stopped or failed */
    int32_t failed;
    int64_t frames_rendered;
    int64_t frames_read;
} AmpStreamerInfo;

/* overrides hold one value per row and channel (frames == 1) and are copied; control_blob may be
 * NULL and is copied. */
int32_t amp_streamer_create(AmpGraph *graph, const AmpStreamerConfig *config,
                            const AmpParamOverride *overrides, uint32_t override_count,
                            const uint8_t *control_blob, size_t control_blob_size,
                            AmpStreamer **out_streamer, AmpErrorInfo *error);
/* Copies up to `frames` frames into output, shaped (B, C, frames), waiting for them at most
 * timeout_ms (< 0: as long as it takes); *frames_read says how many arrived. A failure inside
 * the network is returned by the next read (its code; amp_streamer_last_error has the node,
 * stage and block); a stopped streamer answers AMP_ERR_STOPPED. */
int32_t amp_streamer_read(AmpStreamer *streamer, double *output, size_t output_size, int64_t frames,
                          int32_t timeout_ms, int64_t *frames_read);
/* The same, with a refusal or failure described in *error (node, stage and block of a failure
 * inside the network) instead of in the streamer's last error. */
int32_t amp_streamer_read_ex(AmpStreamer *streamer, double *output, size_t output_size, int64_t frames,
                             int32_t timeout_ms, int64_t *frames_read, AmpErrorInfo *error);
/* Replaces the control events from the next rendered block on (blob NULL: no events; every bound
 * parameter then holds its last value). The blob is validated now and copied. */
int32_t amp_streamer_set_control(AmpStreamer *streamer, const uint8_t *control_blob, size_t control_blob_size);
/* Stops rendering and joins the thread; returns promptly from any state, and may be repeated. */
int32_t amp_streamer_stop(AmpStreamer *streamer);
int32_t amp_streamer_destroy(AmpStreamer *streamer);
int32_t amp_streamer_info(const AmpStreamer *streamer, AmpStreamerInfo *out);
int32_t amp_streamer_last_error(const AmpStreamer *streamer, AmpErrorInfo *out);

/* Per-node processing time, for diagnostics. Off by default (it costs two clock reads per node per
 * block); while on, each process() call adds its duration and a count to its node's totals, which
 * amp_graph_node_timings copies out by descriptor node index (at most `capacity` entries; the node
 * count goes to *node_count). Switching it on clears the totals. Output is the same either way. */
int32_t amp_graph_set_timing(AmpGraph *graph, int32_t enabled);
int32_t amp_graph_node_timings(const AmpGraph *graph, uint64_t *nanoseconds, uint64_t *calls,
                               uint32_t capacity, uint32_t *node_count);
/* AMP_CDEF_END */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* AMP_NATIVE_H */
