/* fuzz_common.h - what the three libFuzzer harnesses share.
 *
 * Every fuzz input is an 8-byte settings prefix followed by one amp blob. The prefix chooses how
 * the graph is created and driven (batch, threads, disabled optimisations, block sizes, which
 * calls are made), so the fuzzer explores the runtime's configurations together with the bytes:
 *
 *   byte 0  graph: index of the fixed graph (plan and control harnesses), an override target
 *   byte 1  batch 1..3 (bits 0-1), channel depth 0..3 (bits 2-3), sample rate (bits 4-5)
 *   byte 2  threads 0..3 (0: hardware concurrency)
 *   byte 3  disabled optimisations (AMP_OPT_* bits 0-3), plan fusion and options (bits 4-7)
 *   byte 4  max_block_frames - 1
 *   byte 5  block frames: 1 + byte % max_block_frames, or max_block_frames + 1 (refused) when 255
 *   byte 6  total frames / 4 (capped so that every render is small)
 *   byte 7  calls: bit 0 render without control, bit 1 with control, bit 2 reset and render again,
 *           bit 3 an override, bit 4 a streamer, bit 5 describe the blob as JSON
 */
#ifndef AMP_FUZZ_COMMON_H
#define AMP_FUZZ_COMMON_H

#include "amp_native.h"
#include "formats/descriptor.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AMP_FUZZ_PREFIX 8u
/* Frames x channels x batch of one render: keeps every execution in the millisecond range. */
#define AMP_FUZZ_SAMPLE_BUDGET 4096
/* Blocks of one render, at most (plus a partial one). */
#define AMP_FUZZ_MAX_BLOCKS 8
/* The documented limit (docs/formats.md): reading and validating blobs allocates at most this many
 * bytes per blob byte, plus AMP_FUZZ_ALLOCATION_SLACK. */
#define AMP_FUZZ_ALLOCATION_MULTIPLE 16u
#define AMP_FUZZ_ALLOCATION_SLACK 4096u

typedef struct AmpFuzzSettings {
    uint8_t graph;
    AmpGraphConfig config;
    int32_t block_frames;
    int64_t total_frames;
    uint8_t calls;
    uint8_t plan_flags;
} AmpFuzzSettings;

enum {
    AMP_FUZZ_RENDER = 1,
    AMP_FUZZ_RENDER_CONTROL = 2,
    AMP_FUZZ_RESET = 4,
    AMP_FUZZ_OVERRIDE = 8,
    AMP_FUZZ_STREAMER = 16,
    AMP_FUZZ_DESCRIBE = 32
};

/* A fixed graph of the corpus (corpus/graphs/NAME.ampd, .ampp and .ampc). */
typedef struct AmpFuzzGraph {
    char name[128];
    uint8_t *descriptor;
    size_t descriptor_size;
    uint8_t *plan;
    size_t plan_size;
    uint8_t *control;
    size_t control_size;
} AmpFuzzGraph;

/* Reads corpus/graphs once (sorted by name); aborts if there are none. */
void amp_fuzz_load_graphs(void);
size_t amp_fuzz_graph_count(void);
const AmpFuzzGraph *amp_fuzz_graph(size_t index);

void amp_fuzz_settings(const uint8_t *prefix, AmpFuzzSettings *out);

/* Creates the graph and makes the calls the settings ask for, as Python would; every refusal must
 * carry a message. Traps on a broken contract, so that libFuzzer records the input. */
void amp_fuzz_drive(const AmpFuzzSettings *s, const uint8_t *descriptor, size_t descriptor_size,
                    const uint8_t *plan, size_t plan_size, const uint8_t *control, size_t control_size);

/* Parses the descriptor (and the plan against it, when given) with the library's readers and
 * traps if they held more than the documented multiple of the blobs' size at any moment. */
void amp_fuzz_check_allocation(const uint8_t *descriptor, size_t descriptor_size, const uint8_t *plan,
                               size_t plan_size);

/* Writes a valid plan for a parsed descriptor (topological order, one buffer per value, routes in
 * order), or returns NULL when there is none (a cycle without a block delay, a channel rule that
 * fails). flags bit 0: fuse the first two nodes of the order; bits 1-3: the OPTIONS word. */
uint8_t *amp_fuzz_plan_for(const AmpDescriptor *desc, uint8_t flags, size_t *size);

/* The structure-aware half of the custom mutators: after LLVMFuzzerMutate, usually restores the
 * blob's magic, payload size and CRC so that the mutation reaches the section readers, and
 * sometimes writes a hostile count (0xFFFFFFFF, 2^31-1, 2^16, ...) over an aligned field. */
size_t amp_fuzz_mutate(uint8_t *data, size_t size, size_t max_size, unsigned int seed, const char *magic);

void amp_fuzz_reseal(uint8_t *blob, size_t size);

#ifdef __cplusplus
}
#endif

#endif
