/* fuzz_common.c - settings, the calls a harness makes, the allocation check and the mutator. */
#include "fuzz_common.h"

#include "formats/blob_reader.h"
#include "formats/plan.h"

#include <dirent.h>
#include <sanitizer/allocator_interface.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* A contract broken: trap with a line libFuzzer's log shows above the stack. */
#define FUZZ_REQUIRE(condition)                                                                \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            fprintf(stderr, "fuzz contract broken at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
            __builtin_trap();                                                                  \
        }                                                                                      \
    } while (0)

/* ------------------------------------------------------------------ the fixed graphs */

static AmpFuzzGraph *graphs;
static size_t graph_count;

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    fseek(file, 0, SEEK_END);
    const long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = (uint8_t *)malloc(length > 0 ? (size_t)length : 1);
    *size = fread(bytes, 1, length > 0 ? (size_t)length : 0, file);
    fclose(file);
    return bytes;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const AmpFuzzGraph *)a)->name, ((const AmpFuzzGraph *)b)->name);
}

void amp_fuzz_load_graphs(void)
{
    if (graphs != NULL) {
        return;
    }
    const char *dir = getenv("AMP_FUZZ_GRAPHS");
    if (dir == NULL) {
        dir = AMP_FUZZ_GRAPH_DIR;
    }
    DIR *listing = opendir(dir);
    if (listing == NULL) {
        fprintf(stderr, "cannot open the fixed graphs in %s (set AMP_FUZZ_GRAPHS)\n", dir);
        abort();
    }
    size_t capacity = 0;
    struct dirent *entry;
    while ((entry = readdir(listing)) != NULL) {
        const size_t length = strlen(entry->d_name);
        if (length < 6 || length >= 120 || strcmp(entry->d_name + length - 5, ".ampd") != 0) {
            continue;
        }
        if (graph_count == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            graphs = (AmpFuzzGraph *)realloc(graphs, capacity * sizeof(AmpFuzzGraph));
        }
        AmpFuzzGraph *g = &graphs[graph_count++];
        memset(g, 0, sizeof(*g));
        memcpy(g->name, entry->d_name, length - 5);
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s.ampd", dir, g->name);
        g->descriptor = read_file(path, &g->descriptor_size);
        snprintf(path, sizeof(path), "%s/%s.ampp", dir, g->name);
        g->plan = read_file(path, &g->plan_size);
        snprintf(path, sizeof(path), "%s/%s.ampc", dir, g->name);
        g->control = read_file(path, &g->control_size);
        if (g->descriptor == NULL || g->plan == NULL) {
            fprintf(stderr, "graph %s in %s lacks its .ampd or .ampp\n", g->name, dir);
            abort();
        }
    }
    closedir(listing);
    if (graph_count == 0) {
        fprintf(stderr, "no graphs (*.ampd) in %s\n", dir);
        abort();
    }
    qsort(graphs, graph_count, sizeof(AmpFuzzGraph), by_name);
}

size_t amp_fuzz_graph_count(void)
{
    return graph_count;
}

const AmpFuzzGraph *amp_fuzz_graph(size_t index)
{
    return &graphs[index % graph_count];
}

/* ------------------------------------------------------------------ settings and calls */

void amp_fuzz_settings(const uint8_t *p, AmpFuzzSettings *out)
{
    static const double rates[] = {48000.0, 44100.0, 8000.0, 192000.0};
    memset(out, 0, sizeof(*out));
    out->graph = p[0];
    out->config.batch = 1 + (p[1] & 3) % 3;
    out->config.channel_depth = (p[1] >> 2) & 3;
    out->config.sample_rate = rates[(p[1] >> 4) & 3];
    out->config.threads = p[2] & 3;
    out->config.disabled_optimisations = p[3] & 15u;
    out->plan_flags = (uint8_t)(p[3] >> 4);
    out->config.max_block_frames = 1 + p[4];
    out->block_frames = p[5] == 255 ? out->config.max_block_frames + 1 : 1 + p[5] % out->config.max_block_frames;
    out->total_frames = 4 * (int64_t)p[6];
    out->calls = p[7];
}

static void require_message(const AmpErrorInfo *error, int32_t status)
{
    FUZZ_REQUIRE(status > AMP_OK && status <= AMP_ERR_INTERNAL);
    FUZZ_REQUIRE(error->code == status);
    FUZZ_REQUIRE(memchr(error->message, '\0', sizeof(error->message)) != NULL);
    FUZZ_REQUIRE(error->message[0] != '\0');
    /* AMP_ERR_INTERNAL means the library caught itself in an impossible state */
    FUZZ_REQUIRE(status != AMP_ERR_INTERNAL);
}

static void check_graph_status(const AmpGraph *graph, int32_t status)
{
    if (getenv("AMP_FUZZ_VERBOSE") != NULL) {
        AmpErrorInfo why;
        amp_graph_last_error(graph, &why);
        fprintf(stderr, "render: status %d %s\n", status, status == AMP_OK ? "" : why.message);
    }
    if (status == AMP_OK) {
        return;
    }
    AmpErrorInfo why;
    memset(&why, 0, sizeof(why));
    FUZZ_REQUIRE(amp_graph_last_error(graph, &why) == AMP_OK);
    require_message(&why, status);
}

static void drive_streamer(AmpGraph *graph, const AmpFuzzSettings *s, const uint8_t *control, size_t control_size,
                           double *output, size_t output_size, int64_t frames)
{
    AmpStreamerConfig config = {s->block_frames, 4 * s->block_frames, s->calls >> 6};
    AmpStreamer *streamer = NULL;
    AmpErrorInfo error;
    memset(&error, 0, sizeof(error));
    int32_t status = amp_streamer_create(graph, &config, NULL, 0, control, control_size, &streamer, &error);
    if (status != AMP_OK) {
        FUZZ_REQUIRE(streamer == NULL);
        require_message(&error, status);
        return;
    }
    int64_t got = 0;
    status = amp_streamer_read(streamer, output, output_size, frames, 2000, &got);
    FUZZ_REQUIRE(got >= 0 && got <= frames);
    if (status != AMP_OK) {
        AmpErrorInfo why;
        memset(&why, 0, sizeof(why));
        FUZZ_REQUIRE(amp_streamer_last_error(streamer, &why) == AMP_OK);
        FUZZ_REQUIRE(why.message[0] != '\0' || status == AMP_ERR_STOPPED);
    }
    amp_streamer_set_control(streamer, control, control_size);
    FUZZ_REQUIRE(amp_streamer_stop(streamer) == AMP_OK);
    FUZZ_REQUIRE(amp_streamer_destroy(streamer) == AMP_OK);
}

void amp_fuzz_drive(const AmpFuzzSettings *s, const uint8_t *descriptor, size_t descriptor_size,
                    const uint8_t *plan, size_t plan_size, const uint8_t *control, size_t control_size)
{
    AmpErrorInfo error;
    memset(&error, 0, sizeof(error));
    AmpGraph *graph = (AmpGraph *)&error; /* must be overwritten: NULL on failure */
    int32_t status = amp_graph_create(descriptor, descriptor_size, plan, plan_size, &s->config, &graph, &error);
    if (getenv("AMP_FUZZ_VERBOSE") != NULL) {
        /* for triage: what became of the input */
        fprintf(stderr, "create: status %d %s\n", status, status == AMP_OK ? "" : error.message);
    }
    if (status != AMP_OK) {
        FUZZ_REQUIRE(graph == NULL);
        require_message(&error, status);
        return;
    }
    AmpGraphInfo info;
    FUZZ_REQUIRE(amp_graph_info(graph, &info) == AMP_OK);
    FUZZ_REQUIRE(info.batch == s->config.batch && info.output_channels >= 1 && info.output_channels <= 64);
    const int64_t per_frame = (int64_t)info.batch * info.output_channels;
    int64_t frames = s->total_frames;
    if (s->block_frames > 0 && frames > AMP_FUZZ_MAX_BLOCKS * (int64_t)s->block_frames) {
        /* each block is a round of hand-offs between threads: few blocks keep an execution short,
         * and the remainder keeps a partial last block */
        frames = AMP_FUZZ_MAX_BLOCKS * (int64_t)s->block_frames + frames % s->block_frames;
    }
    if (frames * per_frame > AMP_FUZZ_SAMPLE_BUDGET) {
        frames = AMP_FUZZ_SAMPLE_BUDGET / per_frame;
    }
    const size_t output_size = (size_t)(frames * per_frame);
    double *output = (double *)malloc((output_size + 1) * sizeof(double));
    FUZZ_REQUIRE(output != NULL);

    if (s->calls & AMP_FUZZ_RENDER) {
        status = amp_graph_render(graph, frames, s->block_frames, NULL, 0, NULL, 0, output, output_size);
        check_graph_status(graph, status);
        if (status == AMP_OK) {
            FUZZ_REQUIRE(amp_graph_info(graph, &info) == AMP_OK && info.frame_position >= frames);
        }
    }
    if (s->calls & AMP_FUZZ_RENDER_CONTROL) {
        AmpParamOverride override = {s->graph % (uint32_t)info.node_count, (uint32_t)(s->graph >> 4),
                                     NULL, 1, 1, 1};
        const double value = 0.25 * (double)(s->graph & 7);
        override.data = &value;
        const uint32_t override_count = (s->calls & AMP_FUZZ_OVERRIDE) ? 1u : 0u;
        status = amp_graph_render(graph, frames, s->block_frames, override_count ? &override : NULL, override_count,
                                  control, control_size, output, output_size);
        check_graph_status(graph, status);
    }
    if (s->calls & AMP_FUZZ_RESET) {
        FUZZ_REQUIRE(amp_graph_reset(graph) == AMP_OK);
        status = amp_graph_render(graph, frames, s->block_frames, NULL, 0, control, control_size, output,
                                  output_size);
        check_graph_status(graph, status);
    }
    if (s->calls & AMP_FUZZ_STREAMER) {
        drive_streamer(graph, s, control, control_size, output, output_size, frames);
    }
    free(output);
    FUZZ_REQUIRE(amp_graph_destroy(graph) == AMP_OK);
}

/* ------------------------------------------------------------------ allocation while validating */

/* Bytes live on this thread since the measurement began, and their peak; the hooks see every
 * allocation of the process, the thread-local flag limits them to the readers' calls. */
static __thread int measuring;
static __thread long long live_bytes;
static __thread long long peak_bytes;

static void on_malloc(const volatile void *pointer, size_t size)
{
    (void)pointer;
    if (measuring) {
        live_bytes += (long long)size;
        if (live_bytes > peak_bytes) {
            peak_bytes = live_bytes;
        }
    }
}

static void on_free(const volatile void *pointer)
{
    if (measuring && pointer != NULL) {
        live_bytes -= (long long)__sanitizer_get_allocated_size((const void *)pointer);
    }
}

void amp_fuzz_check_allocation(const uint8_t *descriptor, size_t descriptor_size, const uint8_t *plan,
                               size_t plan_size)
{
    static int hooks_installed;
    if (!hooks_installed) {
        FUZZ_REQUIRE(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0);
        hooks_installed = 1;
    }
    AmpErrorInfo error;
    AmpDescriptor desc;
    AmpPlan parsed;
    live_bytes = 0;
    peak_bytes = 0;
    measuring = 1;
    int32_t status = amp_descriptor_parse(descriptor, descriptor_size, &desc, &error);
    size_t counted = descriptor_size;
    if (status == AMP_OK && plan != NULL) {
        counted += plan_size;
        if (amp_plan_parse(plan, plan_size, &desc, &parsed, &error) == AMP_OK) {
            amp_plan_free(&parsed);
        }
    }
    if (status == AMP_OK) {
        amp_descriptor_free(&desc);
    }
    measuring = 0;
    const long long limit = (long long)AMP_FUZZ_ALLOCATION_MULTIPLE * (long long)counted + AMP_FUZZ_ALLOCATION_SLACK;
    if (getenv("AMP_FUZZ_VERBOSE") != NULL) {
        fprintf(stderr, "validation: at most %lld bytes held for %zu bytes of blobs\n", peak_bytes, counted);
    }
    if (peak_bytes > limit) {
        fprintf(stderr, "validating %zu bytes of blobs held %lld bytes at once; the limit is %lld\n", counted,
                peak_bytes, limit);
        __builtin_trap();
    }
}

/* ------------------------------------------------------------------ mutation */

static void store_u32(uint8_t *p, uint32_t value)
{
    for (int i = 0; i < 4; ++i) {
        p[i] = (uint8_t)(value >> (8 * i));
    }
}

void amp_fuzz_reseal(uint8_t *blob, size_t size)
{
    if (size < AMP_BLOB_HEADER_SIZE) {
        return;
    }
    const uint64_t payload = size - AMP_BLOB_HEADER_SIZE;
    store_u32(blob + 8, AMP_BLOB_HEADER_SIZE);
    store_u32(blob + 12, amp_crc32(blob + AMP_BLOB_HEADER_SIZE, (size_t)payload));
    store_u32(blob + 16, (uint32_t)payload);
    store_u32(blob + 20, (uint32_t)(payload >> 32));
}

/* xorshift64: shifts out high bits by design. */
__attribute__((no_sanitize("unsigned-integer-overflow", "unsigned-shift-base"))) static uint32_t next_random(
    uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint32_t)(*state >> 16);
}

size_t amp_fuzz_mutate(uint8_t *data, size_t size, size_t max_size, unsigned int seed, const char *magic)
{
    uint64_t state = 0x9E3779B97F4A7C15ull ^ seed;
    next_random(&state);
    size = LLVMFuzzerMutate(data, size, max_size);
    if (size < AMP_FUZZ_PREFIX + AMP_BLOB_HEADER_SIZE) {
        return size;
    }
    uint8_t *blob = data + AMP_FUZZ_PREFIX;
    const size_t blob_size = size - AMP_FUZZ_PREFIX;
    const uint32_t roll = next_random(&state) % 16;
    if (roll < 2 && blob_size >= AMP_BLOB_HEADER_SIZE + 4) {
        /* a hostile count over an aligned field of the payload: sizes and counts are u32 or u64
         * fields at 4-byte multiples in most sections */
        static const uint32_t hostile[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u, 0x10000000u,
                                           0x00010000u, 0x0000FFFFu, 0x00001000u, 65u};
        const size_t words = (blob_size - AMP_BLOB_HEADER_SIZE) / 4;
        const size_t at = AMP_BLOB_HEADER_SIZE + 4 * (next_random(&state) % words);
        store_u32(blob + at, hostile[next_random(&state) % 8]);
    }
    if (roll != 15) {
        /* one mutation in sixteen keeps whatever header it made */
        memcpy(blob, magic, 4);
        blob[4] = 1;
        blob[5] = 0;
        amp_fuzz_reseal(blob, blob_size);
    }
    return size;
}
