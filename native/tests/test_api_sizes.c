/* test_api_sizes.c - sizes that overflow are refused; renders in parts add up to one render; a
 * graph or streamer destroyed while another thread is inside a call on it waits for that call;
 * a parameter overridden twice in one render is refused by name, wherever the pair sits. */
#include "amp_native.h"
#include "graph_builder.h"
#include "test_util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const int64_t kHuge[] = {(int64_t)1 << 62, INT64_MAX};

static AmpGraph *create_graph(int32_t batch, int32_t max_block)
{
    TestNode nodes[1] = {{"osc", "oscillator", 1, {"freq"}, {440.0}}};
    TestGraph g = {nodes, 1, NULL, 0, NULL, 0, 0};
    TestBytes d = test_descriptor_blob(&g);
    TestBytes p = test_plan_blob(&g, 0);
    AmpGraphConfig config = {batch, max_block, 1, 0, 48000.0, 0};
    AmpGraph *graph = NULL;
    AmpErrorInfo error;
    CHECK_EQ_INT(amp_graph_create(d.data, d.size, p.data, p.size, &config, &graph, &error), AMP_OK);
    free(d.data);
    free(p.data);
    return graph;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* B = 4 rows of one channel: 4 x 2^62 wraps to 0 in 64 bits, which once let a one-sample buffer
 * pass the size check. */
static void check_overflowing_sizes(void)
{
    AmpGraph *graph = create_graph(4, 256);
    double one[1] = {0.0};
    AmpErrorInfo error;
    for (int i = 0; i < 2; ++i) {
        CHECK_EQ_INT(amp_graph_render(graph, kHuge[i], 256, NULL, 0, NULL, 0, one, 1), AMP_ERR_INVALID_ARGUMENT);
        CHECK_EQ_INT(amp_graph_last_error(graph, &error), AMP_OK);
        CHECK(strstr(error.message, "F=") != NULL);
        /* even a caller that claims an endless buffer is refused: the product does not fit */
        CHECK_EQ_INT(amp_graph_render(graph, kHuge[i], 256, NULL, 0, NULL, 0, one, SIZE_MAX),
                     AMP_ERR_INVALID_ARGUMENT);
        int64_t done = 0;
        CHECK_EQ_INT(amp_graph_render_part(graph, kHuge[i], 256, NULL, 0, NULL, 0, one, 1, 10, &done, &error),
                     AMP_ERR_INVALID_ARGUMENT);
        CHECK(strstr(error.message, "F=") != NULL);
        CHECK_EQ_INT(done, 0);
    }
    AmpGraphInfo info;
    CHECK_EQ_INT(amp_graph_info(graph, &info), AMP_OK);
    CHECK_EQ_INT(info.frame_position, 0);

    AmpStreamerConfig config = {64, 256, 0};
    AmpStreamer *streamer = NULL;
    CHECK_EQ_INT(amp_streamer_create(graph, &config, NULL, 0, NULL, 0, &streamer, &error), AMP_OK);
    for (int i = 0; i < 2; ++i) {
        int64_t got = -1;
        CHECK_EQ_INT(amp_streamer_read(streamer, one, 1, kHuge[i], 0, &got), AMP_ERR_INVALID_ARGUMENT);
        CHECK_EQ_INT(got, 0);
        CHECK_EQ_INT(amp_streamer_read(streamer, one, SIZE_MAX, kHuge[i], 0, &got), AMP_ERR_INVALID_ARGUMENT);
        CHECK_EQ_INT(amp_streamer_read_ex(streamer, one, 1, kHuge[i], 0, &got, &error), AMP_ERR_INVALID_ARGUMENT);
        CHECK(strstr(error.message, "read") != NULL);
    }
    CHECK_EQ_INT(amp_streamer_destroy(streamer), AMP_OK);
    CHECK_EQ_INT(amp_graph_destroy(graph), AMP_OK);
}

/* A render in parts of 1 ms each is the same samples as one render, and the frame position
 * follows the parts. */
static void check_render_in_parts(void)
{
    enum { kFrames = 48000 * 3 + 77, kBlock = 64 };
    AmpGraph *whole = create_graph(2, kBlock);
    AmpGraph *parts = create_graph(2, kBlock);
    double *a = (double *)malloc(sizeof(double) * 2 * kFrames);
    double *b = (double *)malloc(sizeof(double) * 2 * kFrames);
    CHECK_EQ_INT(amp_graph_render(whole, kFrames, kBlock, NULL, 0, NULL, 0, a, 2 * kFrames), AMP_OK);
    AmpErrorInfo error;
    int64_t done = 0;
    int calls = 0;
    int64_t last = 0;
    while (done < kFrames) {
        CHECK_EQ_INT(amp_graph_render_part(parts, kFrames, kBlock, NULL, 0, NULL, 0, b, 2 * kFrames, 1, &done, &error),
                     AMP_OK);
        CHECK(done > last && (done % kBlock == 0 || done == kFrames));
        AmpGraphInfo info;
        amp_graph_info(parts, &info);
        CHECK_EQ_INT(info.frame_position, done);
        last = done;
        if (++calls > 100000) {
            break;
        }
    }
    CHECK(calls > 1);
    CHECK(memcmp(a, b, sizeof(double) * 2 * kFrames) == 0);
    /* a start that is not where a block ends, or past the end, is refused */
    done = 3;
    CHECK_EQ_INT(amp_graph_render_part(parts, kFrames, kBlock, NULL, 0, NULL, 0, b, 2 * kFrames, 1, &done, &error),
                 AMP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(error.message, "block") != NULL);
    done = kFrames + kBlock;
    CHECK_EQ_INT(amp_graph_render_part(parts, kFrames, kBlock, NULL, 0, NULL, 0, b, 2 * kFrames, 1, &done, &error),
                 AMP_ERR_INVALID_ARGUMENT);
    /* a cancel with no render in progress stops the next one, and only that one */
    CHECK_EQ_INT(amp_graph_cancel(parts), AMP_OK);
    done = 0;
    CHECK_EQ_INT(amp_graph_render_part(parts, 64, kBlock, NULL, 0, NULL, 0, b, 128, 0, &done, &error), AMP_ERR_STOPPED);
    CHECK(strlen(error.message) > 0);
    done = 0;
    CHECK_EQ_INT(amp_graph_render_part(parts, 64, kBlock, NULL, 0, NULL, 0, b, 128, 0, &done, &error), AMP_OK);
    CHECK_EQ_INT(done, 64);
    free(a);
    free(b);
    amp_graph_destroy(whole);
    amp_graph_destroy(parts);
}

typedef struct Job {
    AmpGraph *graph;
    AmpStreamer *streamer;
    double *out;
    int64_t frames;
    int32_t status;
} Job;

static void *long_render(void *arg)
{
    Job *job = (Job *)arg;
    job->status = amp_graph_render(job->graph, job->frames, 1, NULL, 0, NULL, 0, job->out, (size_t)job->frames);
    return NULL;
}

static void *endless_read(void *arg)
{
    Job *job = (Job *)arg;
    int64_t got = 0;
    AmpErrorInfo error;
    job->status = amp_streamer_read_ex(job->streamer, job->out, (size_t)job->frames, job->frames, -1, &got, &error);
    return NULL;
}

/* Destroy while another thread is inside a call: the call is stopped and returns, then the handle
 * is freed (under AddressSanitizer a use after free would abort here). */
static void check_destroy_during_calls(void)
{
    Job job = {create_graph(1, 64), NULL, NULL, (int64_t)1 << 22, -1};
    job.out = (double *)malloc(sizeof(double) * (size_t)job.frames);
    pthread_t thread;
    pthread_create(&thread, NULL, long_render, &job);
    sleep_ms(50);
    CHECK_EQ_INT(amp_graph_destroy(job.graph), AMP_OK);
    pthread_join(thread, NULL);
    CHECK_EQ_INT(job.status, AMP_ERR_STOPPED);

    AmpGraph *graph = create_graph(1, 64);
    AmpStreamerConfig config = {1, 256, 0};  /* one-frame blocks: the reader waits on the render */
    AmpErrorInfo error;
    Job reader = {graph, NULL, job.out, (int64_t)1 << 22, -1};
    CHECK_EQ_INT(amp_streamer_create(graph, &config, NULL, 0, NULL, 0, &reader.streamer, &error), AMP_OK);
    pthread_create(&thread, NULL, endless_read, &reader);
    sleep_ms(50);
    CHECK_EQ_INT(amp_streamer_destroy(reader.streamer), AMP_OK);
    pthread_join(thread, NULL);
    CHECK_EQ_INT(reader.status, AMP_ERR_STOPPED);
    CHECK_EQ_INT(amp_graph_destroy(graph), AMP_OK);
    free(job.out);
}

static void check_overrides_named_twice(void)
{
    AmpGraph *graph = create_graph(1, 64);
    const double freq = 220.0, amp = 0.5, pw = 0.25;
    double out[64];
    /* freq (0), amp (1), pulse_width (4) of node 0: distinct pairs render, a repeated pair is
     * refused however far apart the two are */
    const AmpParamOverride distinct[3] = {{0, 4, &pw, 1, 1, 1}, {0, 0, &freq, 1, 1, 1}, {0, 1, &amp, 1, 1, 1}};
    AmpErrorInfo error;
    int64_t done = 0;
    CHECK_EQ_INT(amp_graph_render_part(graph, 64, 64, distinct, 3, NULL, 0, out, 64, 0, &done, &error), AMP_OK);
    const AmpParamOverride repeated[4] = {{0, 0, &freq, 1, 1, 1}, {0, 1, &amp, 1, 1, 1}, {0, 4, &pw, 1, 1, 1},
                                          {0, 0, &freq, 1, 1, 1}};
    memset(&error, 0, sizeof error);
    done = 0;
    CHECK_EQ_INT(amp_graph_render_part(graph, 64, 64, repeated, 4, NULL, 0, out, 64, 0, &done, &error),
                 AMP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(error.message, "'osc.freq' is overridden twice") != NULL);
    amp_graph_destroy(graph);
}

int main(void)
{
    check_overflowing_sizes();
    check_render_in_parts();
    check_destroy_during_calls();
    check_overrides_named_twice();
    return TEST_RESULT();
}
