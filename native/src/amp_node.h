/*
 * amp_node.h - what a node kernel implements and what the runtime hands it.
 *
 * A node is one C file that defines one `const AmpNodeSpec amp_node_<type>` and registers it with
 * one line in catalogue.c. Its life cycle: create (allocate and initialise all state for every
 * batch row), process (one block; never allocates, never prints), reset, destroy.
 */
#ifndef AMP_NODE_H
#define AMP_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A block of audio: row (b, c) starts at data + (b * channels + c) * stride; frames follow
 * contiguously. The runtime owns every block. */
typedef struct AmpSignal {
    double *data;
    int32_t channels;
    int32_t stride;
} AmpSignal;

static inline double *amp_signal_row(const AmpSignal *s, int32_t b, int32_t c)
{
    return s->data + ((size_t)b * (size_t)s->channels + (size_t)c) * (size_t)s->stride;
}

/* An input port: the blocks of every connection made to it (at most one unless AMP_PORT_MULTI). */
typedef struct AmpInputPort {
    const AmpSignal *signals;
    int32_t count;
} AmpInputPort;

/* A parameter for this block. value(b, c, f) = data[b*stride_batch + c*stride_channel +
 * f*stride_frame]; a stride of 0 means the value is the same along that axis, so a kernel can
 * pick a constant inner loop when stride_frame == 0. */
typedef struct AmpParamView {
    const double *data;
    ptrdiff_t stride_batch;
    ptrdiff_t stride_channel;
    ptrdiff_t stride_frame;
} AmpParamView;

static inline const double *amp_param_row(const AmpParamView *p, int32_t b, int32_t c)
{
    return p->data + b * p->stride_batch + c * p->stride_channel;
}

/* For a node's hot loops: GCC compiles a copy for AVX-512, one for AVX2 and a plain one, and the
 * loader picks the widest the CPU has. Not under the sanitizers (the choice is made before their
 * run-time is set up). Each copy performs the same IEEE operations in the same order as long as
 * the loops leave no room for contraction or reassociation, so the output does not depend on
 * the machine. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define AMP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AMP_VECTOR_CLONES
#endif

/* The same for kernels that also use fused multiply-adds, only where the value computed is the
 * same bits either way (dsp/phase.h): the wide copies are for the x86-64-v4 (AVX-512) and v3
 * (AVX2) levels, which have FMA, and amp_fma_clones_fused() tells at run time whether the copy
 * that runs has it (with GCC only; elsewhere these are AMP_VECTOR_CLONES, with FMA only where
 * the whole build targets it). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define AMP_FMA_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define AMP_FMA_CLONES_AT_RUN_TIME 1
#else
#define AMP_FMA_VECTOR_CLONES AMP_VECTOR_CLONES
#endif

static inline int amp_fma_clones_fused(void)
{
#if defined(__FMA__)
    return 1;
#elif defined(AMP_FMA_CLONES_AT_RUN_TIME)
    __builtin_cpu_init();
    return __builtin_cpu_supports("x86-64-v3") != 0;
#else
    return 0;
#endif
}

/* Zeroed memory for a node's state (free it with free()): it starts on a cache line and fills
 * whole lines, so two nodes never share one. Nodes on different threads that wrote neighbouring
 * calloc blocks kept pulling each other's lines across cores, which made every node 20 to 30 %
 * slower on two threads. NULL when out of memory or when count * size overflows. */
static inline void *amp_node_calloc(size_t count, size_t size)
{
    enum { AMP_CACHE_LINE = 64 };
    if (size != 0 && count > (SIZE_MAX - AMP_CACHE_LINE) / size) {
        return NULL;
    }
    size_t bytes = count * size;
    bytes = (bytes + AMP_CACHE_LINE - 1) / AMP_CACHE_LINE * AMP_CACHE_LINE;
    if (bytes == 0) {
        bytes = AMP_CACHE_LINE;
    }
    void *memory = aligned_alloc(AMP_CACHE_LINE, bytes);
    if (memory != NULL) {
        memset(memory, 0, bytes);
    }
    return memory;
}

typedef struct AmpNodeSetup {
    int32_t batch;
    int32_t max_frames;
    double sample_rate;
    int32_t output_channels;
    const int32_t *input_channels;  /* per input port: widest connected block, 0 when unconnected */
    const double *initial_params;   /* every parameter's descriptor value, in catalogue order */
    uint64_t seed;                  /* stable per node: derived from its name */
    const void *data;               /* the node's data section from the descriptor, or NULL */
    size_t data_size;
    char *message;                  /* a create() that fails writes its reason here */
    size_t message_size;
} AmpNodeSetup;

typedef struct AmpProcessArgs {
    int32_t batch;
    int32_t frames;
    double sample_rate;
    int64_t block_index;
    int64_t frame_position;
    const AmpInputPort *inputs;   /* one per catalogue input */
    const AmpSignal *outputs;     /* one per catalogue output, each output_channels wide */
    const AmpParamView *params;   /* one per catalogue parameter */
    char *message;                /* a kernel that fails writes its reason here */
    size_t message_size;
    /* add() only: max_frames doubles of work space for the call, shared by the members of one
     * process (they run one after another), so that hundreds of fused oscillators do not each
     * keep a block of their own in the cache. NULL for the other calls. */
    double *scratch;
} AmpProcessArgs;

/* One node of a run that add() adds into a sum: its state, inputs and parameters for the block. */
typedef struct AmpAddMember {
    void *state;
    const AmpInputPort *inputs;
    const AmpParamView *params;
} AmpAddMember;

typedef struct AmpNodeOps {
    int (*create)(const AmpNodeSetup *setup, void **out_state);
    int (*process)(void *state, const AmpProcessArgs *args);
    void (*reset)(void *state);
    void (*destroy)(void *state);
    /* Nodes with block_delay > 0 only: process() writes the block from state without reading
     * inputs; absorb() then takes the block's inputs into state, after their producers ran. */
    int (*absorb)(void *state, const AmpProcessArgs *args);
    /* Optional, for a node with one input port whose first output is the sum of that port's
     * signals in connection order, then work of its own (mix). The runtime may then fire a wide
     * sum in stages, each a process of its own that another thread can run: stage k sees a
     * contiguous run of the connections in inputs[0] and adds them into outputs[0], which holds
     * the sum of the earlier stages' connections. `stage` has AMP_STAGE_FIRST on the first stage
     * (zero the output first) and AMP_STAGE_LAST on the last (the rest of the work; only then
     * are params and the node's other outputs valid). accumulate(FIRST | LAST) over every
     * connection must be exactly process(), so a staged sum is the same, bit for bit. */
    int (*accumulate)(void *state, const AmpProcessArgs *args, int32_t stage);
    /* Optional, for a node of one output that lane fusion may run inside the process of the sum
     * it feeds (lane_fusion.cpp): process() for one row (batch 1) of each of `count` nodes of
     * this type in turn, except that each sample x of a node's output is added into outputs[0]
     * (y = y + x, what a stage of the sum does with it) instead of written there. outputs[0] is
     * the sum's running total, row 0 channel 0; args->inputs and args->params are unused (each
     * member has its own) and args->scratch is work space for the call. One call for a run of
     * nodes saves the runtime's and the call's own work per node, which is most of a quiet
     * oscillator's block. On failure it returns the status with *failed the member's index. */
    int (*add)(const AmpAddMember *members, int32_t count, const AmpProcessArgs *args, int32_t *failed);
} AmpNodeOps;

enum { AMP_STAGE_FIRST = 1, AMP_STAGE_LAST = 2 };

enum {
    AMP_PARAM_STATIC = 1,   /* fixed when the node is created: no modulation, override or control */
    AMP_PARAM_INTEGER = 2
};

enum { AMP_PORT_MULTI = 1 };

enum {
    AMP_CHANNELS_FIXED = 0,       /* channel_value channels */
    AMP_CHANNELS_FROM_PARAM = 1,  /* the static integer parameter at index channel_value */
    AMP_CHANNELS_FROM_INPUT = 2   /* as wide as the widest block on input channel_value (1 if none) */
};

typedef struct AmpParamSpec {
    const char *name;
    double default_value;
    double min_value;
    double max_value;
    const char *unit;
    const char *doc;
    const char *choices;  /* NULL, or "a|b|c": the value is the index of the choice */
    int32_t flags;
} AmpParamSpec;

typedef struct AmpPortSpec {
    const char *name;
    const char *doc;
    int32_t flags;
} AmpPortSpec;

typedef struct AmpNodeSpec {
    const char *type_name;
    const char *doc;
    int32_t num_inputs;
    const AmpPortSpec *inputs;
    int32_t num_outputs;
    const AmpPortSpec *outputs;
    int32_t channel_rule;
    int32_t channel_value;
    int32_t block_delay;  /* blocks of latency from input to output; > 0 may close a feedback loop */
    int32_t num_params;
    const AmpParamSpec *params;
    AmpNodeOps ops;
} AmpNodeSpec;

/* Kernel status codes: 0 success, anything else fails the render with args->message. */
#define AMP_NODE_OK 0
#define AMP_NODE_ERROR 1
#define AMP_NODE_NO_MEMORY 2

int amp_catalogue_size(void);
const AmpNodeSpec *amp_catalogue_entry(int index);
const AmpNodeSpec *amp_catalogue_find(const char *type_name, size_t length);

#ifdef __cplusplus
}
#endif

#endif /* AMP_NODE_H */
