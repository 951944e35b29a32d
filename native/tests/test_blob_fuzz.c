/* test_blob_fuzz.c - thousands of mutated blobs through graph creation and rendering: every one is
 * refused with a status and a message, or renders; none may touch memory it does not own (this
 * test is meant to run under AddressSanitizer and UndefinedBehaviorSanitizer). */
#include "amp_native.h"
#include "blob_files.h"
#include "formats/blob_reader.h"
#include "test_util.h"

#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void reseal(uint8_t *blob, size_t size)
{
    if (size < AMP_BLOB_HEADER_SIZE) {
        return;
    }
    const uint64_t payload = size - AMP_BLOB_HEADER_SIZE;
    const uint32_t crc = amp_crc32(blob + AMP_BLOB_HEADER_SIZE, (size_t)payload);
    for (int i = 0; i < 4; ++i) {
        blob[12 + i] = (uint8_t)(crc >> (8 * i));
    }
    for (int i = 0; i < 8; ++i) {
        blob[16 + i] = (uint8_t)(payload >> (8 * i));
    }
}

/* Mutates `source` into `out` (capacity size + 64); returns the new size. */
static size_t mutate(const uint8_t *source, size_t size, uint8_t *out, int kind)
{
    memcpy(out, source, size);
    size_t n = size;
    const size_t payload_bytes = size - AMP_BLOB_HEADER_SIZE;
    switch (kind) {
    case 0: /* truncate and reseal */
        n = AMP_BLOB_HEADER_SIZE + next_random() % payload_bytes;
        break;
    case 1: /* flip bits in the payload */
        for (uint32_t i = 0, flips = 1 + next_random() % 4; i < flips; ++i) {
            out[AMP_BLOB_HEADER_SIZE + next_random() % payload_bytes] ^= (uint8_t)(1u << (next_random() % 8));
        }
        break;
    case 2: /* append garbage */
        for (uint32_t i = 0, extra = 1 + next_random() % 64; i < extra; ++i) {
            out[n++] = (uint8_t)next_random();
        }
        break;
    default: { /* inflate a 32-bit field */
        static const uint32_t huge[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 0x10000u, 0xFFFFu, 64u};
        const size_t at = AMP_BLOB_HEADER_SIZE + next_random() % (payload_bytes - 4);
        const uint32_t value = huge[next_random() % 5];
        for (int i = 0; i < 4; ++i) {
            out[at + i] = (uint8_t)(value >> (8 * i));
        }
        break;
    }
    }
    reseal(out, n);
    return n;
}

static int try_graph(const uint8_t *d, size_t ds, const uint8_t *p, size_t ps, const uint8_t *c, size_t cs)
{
    AmpGraphConfig config = {2, 64, 1, 0, 48000.0, 0};
    AmpErrorInfo error;
    AmpGraph *graph = NULL;
    int32_t status = amp_graph_create(d, ds, p, ps, &config, &graph, &error);
    if (status != AMP_OK) {
        CHECK(graph == NULL);
        CHECK(error.message[0] != '\0');
        return 0;
    }
    static double out[2 * 64 * 64 * 3];
    AmpGraphInfo info;
    amp_graph_info(graph, &info);
    status = amp_graph_render(graph, 150, 64, NULL, 0, c, cs, out, sizeof(out) / sizeof(out[0]));
    if (status != AMP_OK) {
        AmpErrorInfo why;
        amp_graph_last_error(graph, &why);
        CHECK(why.message[0] != '\0');
    }
    amp_graph_destroy(graph);
    return status == AMP_OK;
}

int main(void)
{
    size_t ds = 0, ps = 0, cs = 0;
    uint8_t *d = amp_test_read_blob("sine_gain.ampd", &ds);
    uint8_t *p = amp_test_read_blob("sine_gain.ampp", &ps);
    uint8_t *c = amp_test_read_blob("performance.ampc", &cs);
    CHECK(d && p && c);
    if (!(d && p && c)) {
        return TEST_RESULT();
    }
    CHECK(try_graph(d, ds, p, ps, c, cs) == 1);
    size_t largest = ds > ps ? ds : ps;
    largest = largest > cs ? largest : cs;
    uint8_t *scratch = (uint8_t *)malloc(largest + 64);
    int refused[3] = {0, 0, 0};
    const int rounds = 2000;
    for (int i = 0; i < rounds; ++i) {
        size_t n = mutate(d, ds, scratch, i % 4);
        /* a copy of exactly n bytes, so that ASan sees any read past the end */
        uint8_t *exact = (uint8_t *)malloc(n);
        memcpy(exact, scratch, n);
        refused[0] += !try_graph(exact, n, p, ps, c, cs);
        free(exact);

        n = mutate(p, ps, scratch, i % 4);
        exact = (uint8_t *)malloc(n);
        memcpy(exact, scratch, n);
        refused[1] += !try_graph(d, ds, exact, n, c, cs);
        free(exact);

        n = mutate(c, cs, scratch, i % 4);
        exact = (uint8_t *)malloc(n);
        memcpy(exact, scratch, n);
        refused[2] += !try_graph(d, ds, p, ps, exact, n);
        free(exact);
    }
    printf("refused: descriptor %d, plan %d, control %d of %d each\n", refused[0], refused[1], refused[2], rounds);
    CHECK(refused[0] > rounds / 2 && refused[1] > rounds / 2 && refused[2] > rounds / 4);
    free(scratch);
    free(d);
    free(p);
    free(c);
    return TEST_RESULT();
}
