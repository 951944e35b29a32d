/*
 * amp_native.h - the C ABI of libamp_native.
 *
 * The region between AMP_CDEF_BEGIN and AMP_CDEF_END is plain C that cffi parses at load time:
 * it is the only declaration of this interface anywhere, Python included. Keep it free of
 * preprocessor conditionals and macros other than integer #defines.
 *
 * Conventions: every function returns an int32_t status (AMP_OK == 0). Functions that act on a
 * handle record a failure in that handle (read it with amp_*_last_error); functions without a
 * handle fill the caller's AmpErrorInfo when one is given. No function aborts, exits or prints.
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
#define AMP_ABI_VERSION 1

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
    int32_t channel_depth;            /* blocks of room per channel; 0 = default (2) */
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

/* Renders total_frames in blocks of block_frames into output, shaped (B, C, total_frames).
 * control_blob may be NULL; when given, its window start is the time of the first frame. */
int32_t amp_graph_render(AmpGraph *graph, int64_t total_frames, int32_t block_frames,
                         const AmpParamOverride *overrides, uint32_t override_count,
                         const uint8_t *control_blob, size_t control_blob_size,
                         double *output, size_t output_size);

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
