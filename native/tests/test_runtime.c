/* test_runtime.c - the process network renders the same bytes for any thread count, channel depth,
 * fusion and block schedule; failures stop it cleanly; a streamer reads what a render writes and
 * stops from any state. Built also with ThreadSanitizer (see docs/performance.md). */
#include "amp_native.h"
#include "graph_builder.h"
#include "test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { BATCH = 2, FRAMES = 3000 };

static AmpGraph *create(const TestBytes *d, const TestBytes *p, int32_t threads, int32_t depth, int32_t max_frames)
{
    AmpGraphConfig config = {BATCH, max_frames, threads, depth, 48000.0, 0};
    AmpErrorInfo error;
    AmpGraph *graph = NULL;
    if (amp_graph_create(d->data, d->size, p->data, p->size, &config, &graph, &error) != AMP_OK) {
        fprintf(stderr, "create failed: %s\n", error.message);
        return NULL;
    }
    return graph;
}

/* Renders FRAMES frames as consecutive calls of `call` frames (the last shorter) in blocks of
 * `block` frames. */
static int render(AmpGraph *graph, int32_t call, int32_t block, double *out)
{
    double *piece = (double *)malloc(sizeof(double) * BATCH * (size_t)call);
    for (int32_t done = 0; done < FRAMES; done += call) {
        const int32_t n = FRAMES - done < call ? FRAMES - done : call;
        const int32_t status = amp_graph_render(graph, n, block < n ? block : n, NULL, 0, NULL, 0, piece,
                                                (size_t)BATCH * (size_t)n);
        if (status != AMP_OK) {
            AmpErrorInfo error;
            amp_graph_last_error(graph, &error);
            fprintf(stderr, "render failed: %s\n", error.message);
            free(piece);
            return status;
        }
        for (int b = 0; b < BATCH; ++b) {
            memcpy(out + (size_t)b * FRAMES + done, piece + (size_t)b * n, sizeof(double) * (size_t)n);
        }
    }
    free(piece);
    return AMP_OK;
}

static void check_random_graphs(void)
{
    static const int32_t threads[] = {1, 2, 3, 4, 8};
    static const int32_t depths[] = {1, 2, 3, 5};
    static const int32_t calls[][2] = {{3000, 64}, {3000, 1000}, {700, 32}, {129, 129}, {1000, 17}};
    double *reference = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    double *unfused = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    double *out = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    for (uint64_t seed = 1; seed <= 24; ++seed) {
        TestGraph g = test_random_graph(seed, 3 + (uint32_t)(seed * 7 % 38));
        TestBytes d = test_descriptor_blob(&g);
        for (int fuse = 0; fuse < 2; ++fuse) {
            TestBytes p = test_plan_blob(&g, fuse);
            AmpGraph *graph = create(&d, &p, 1, 1, 1024);
            CHECK(graph != NULL);
            if (graph == NULL) {
                free(p.data);
                continue;
            }
            CHECK_EQ_INT(render(graph, FRAMES, 1024, reference), AMP_OK);
            amp_graph_destroy(graph);
            /* Fused chains and staged sums compute the same bytes as the plain plan. */
            if (fuse == 0) {
                memcpy(unfused, reference, sizeof(double) * BATCH * FRAMES);
            } else if (memcmp(unfused, reference, sizeof(double) * BATCH * FRAMES) != 0) {
                fprintf(stderr, "seed %llu: fusion and stages change the output\n", (unsigned long long)seed);
                ++amp_test_failures;
            }
            for (int t = 0; t < 5; ++t) {
                for (int k = 0; k < 4; ++k) {
                    graph = create(&d, &p, threads[t], depths[k], 1024);
                    const int schedule = (t + k + (int)seed) % 5;
                    CHECK_EQ_INT(render(graph, calls[schedule][0], calls[schedule][1], out), AMP_OK);
                    if (memcmp(out, reference, sizeof(double) * BATCH * FRAMES) != 0) {
                        fprintf(stderr, "seed %llu fuse %d threads %d depth %d schedule %d differs\n",
                                (unsigned long long)seed, fuse, threads[t], depths[k], schedule);
                        ++amp_test_failures;
                    }
                    amp_graph_destroy(graph);
                }
            }
            free(p.data);
        }
        free(d.data);
        test_free_graph(&g);
    }
    free(reference);
    free(unfused);
    free(out);
}

/* x -> mix -> block_delay -> gain -> back into mix: y[n] = x[n] + 0.5 y[n - 48]. */
static TestGraph comb_graph(void)
{
    static TestNode nodes[4];
    static TestEdge edges[4];
    memset(nodes, 0, sizeof(nodes));
    strcpy(nodes[0].name, "x");
    nodes[0].type = "oscillator";
    nodes[0].param_count = 1;
    nodes[0].param_names[0] = "freq";
    nodes[0].param_values[0] = 1234.0;
    strcpy(nodes[1].name, "sum");
    nodes[1].type = "mix";
    strcpy(nodes[2].name, "delay");
    nodes[2].type = "block_delay";
    nodes[2].param_count = 1;
    nodes[2].param_names[0] = "frames";
    nodes[2].param_values[0] = 48.0;
    strcpy(nodes[3].name, "fb");
    nodes[3].type = "gain";
    nodes[3].param_count = 1;
    nodes[3].param_names[0] = "gain";
    nodes[3].param_values[0] = 0.5;
    edges[0] = (TestEdge){0, 1, 0};
    edges[1] = (TestEdge){1, 2, 0};
    edges[2] = (TestEdge){2, 3, 0};
    edges[3] = (TestEdge){3, 1, 0};
    TestGraph g = {nodes, 4, edges, 4, NULL, 0, 1};
    return g;
}

/* Plan order x, delay, fb, sum: the delay emits before its producer runs. */
static TestBytes comb_plan(void)
{
    TestBytes payload = {0};
    TestBytes body = {0};
    const uint32_t order[4] = {0, 2, 3, 1};
    tb_u32(&body, 4);
    for (int i = 0; i < 4; ++i) {
        tb_u32(&body, order[i]);
    }
    tb_section(&payload, 1, &body);
    body.size = 0;
    tb_u32(&body, 4);
    tb_u32(&body, 4);
    for (uint32_t i = 0; i < 4; ++i) {
        tb_u32(&body, i);
        tb_u32(&body, 0);
        tb_u32(&body, 1);
        tb_u32(&body, i);
    }
    tb_section(&payload, 2, &body);
    body.size = 0;
    tb_u32(&body, 0);
    tb_section(&payload, 3, &body);
    tb_section(&payload, 4, &body);
    tb_section(&payload, 5, &body);
    TestBytes blob = tb_blob("AMPP", &payload);
    free(body.data);
    free(payload.data);
    return blob;
}

static void check_feedback_and_failure(void)
{
    TestGraph g = comb_graph();
    TestBytes d = test_descriptor_blob(&g);
    TestBytes p = comb_plan();
    double *reference = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    double *out = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    double *x = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    /* the oscillator alone, for the recurrence */
    {
        TestGraph alone = {g.nodes, 1, NULL, 0, NULL, 0, 0};
        TestBytes da = test_descriptor_blob(&alone);
        TestBytes pa = test_plan_blob(&alone, 0);
        AmpGraph *graph = create(&da, &pa, 1, 0, 48);
        CHECK_EQ_INT(render(graph, FRAMES, 48, x), AMP_OK);
        amp_graph_destroy(graph);
        free(da.data);
        free(pa.data);
    }
    for (int i = 0; i < BATCH * FRAMES; ++i) {
        const int n = i % FRAMES;
        reference[i] = x[i] + (n >= 48 ? 0.5 * reference[i - 48] : 0.0);
    }
    static const int32_t threads[] = {1, 2, 4, 8};
    for (int t = 0; t < 4; ++t) {
        for (int32_t depth = 1; depth <= 3; ++depth) {
            AmpGraph *graph = create(&d, &p, threads[t], depth, 48);
            CHECK_EQ_INT(render(graph, 1000, 16 << (t % 2), out), AMP_OK);
            double worst = 0.0;
            for (int i = 0; i < BATCH * FRAMES; ++i) {
                const double e = out[i] > reference[i] ? out[i] - reference[i] : reference[i] - out[i];
                worst = e > worst ? e : worst;
            }
            CHECK(worst < 1e-12);
            amp_graph_destroy(graph);
        }
    }
    /* a block longer than the delay fails in the delay's process() at the block it reached, and
     * the graph renders again afterwards */
    for (int t = 0; t < 4; ++t) {
        AmpGraph *graph = create(&d, &p, threads[t], 0, 64);
        CHECK_EQ_INT(amp_graph_render(graph, 96, 32, NULL, 0, NULL, 0, out, BATCH * 96), AMP_OK);
        CHECK_EQ_INT(amp_graph_render(graph, 640, 64, NULL, 0, NULL, 0, out, BATCH * 640), AMP_ERR_RUNTIME);
        AmpErrorInfo error;
        amp_graph_last_error(graph, &error);
        CHECK(strcmp(error.node, "delay") == 0);
        CHECK(strcmp(error.stage, "process") == 0);
        CHECK_EQ_INT(error.block_index, 3);
        CHECK_EQ_INT(error.code, AMP_ERR_RUNTIME);
        CHECK(strstr(error.message, "longer than the delay") != NULL);
        CHECK_EQ_INT(amp_graph_reset(graph), AMP_OK);
        CHECK_EQ_INT(render(graph, 1000, 16, out), AMP_OK);
        double after = 0.0;
        for (int i = 0; i < BATCH * FRAMES; ++i) {
            const double e = out[i] > reference[i] ? out[i] - reference[i] : reference[i] - out[i];
            after = e > after ? e : after;
        }
        CHECK(after < 1e-12);
        amp_graph_destroy(graph);
    }
    free(reference);
    free(out);
    free(x);
    free(d.data);
    free(p.data);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct Reader {
    AmpStreamer *streamer;
    int32_t last_status;
} Reader;

static void *read_until_stopped(void *opaque)
{
    Reader *reader = (Reader *)opaque;
    double buffer[BATCH * 300];
    int64_t got = 0;
    for (;;) {
        const int32_t status = amp_streamer_read(reader->streamer, buffer, BATCH * 300, 300, -1, &got);
        if (status != AMP_OK) {
            reader->last_status = status;
            return NULL;
        }
    }
}

static void check_streamer(void)
{
    TestGraph g = test_random_graph(7, 30);
    TestBytes d = test_descriptor_blob(&g);
    TestBytes p = test_plan_blob(&g, 1);
    double *reference = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    double *out = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    AmpGraph *graph = create(&d, &p, 2, 0, 256);
    CHECK_EQ_INT(render(graph, FRAMES, 256, reference), AMP_OK);
    CHECK_EQ_INT(amp_graph_reset(graph), AMP_OK);

    AmpStreamerConfig config = {100, 450, 0};
    AmpStreamer *streamer = NULL;
    AmpErrorInfo error;
    CHECK_EQ_INT(amp_streamer_create(graph, &config, NULL, 0, NULL, 0, &streamer, &error), AMP_OK);
    /* the graph belongs to the streamer while it runs */
    CHECK_EQ_INT(amp_graph_render(graph, 10, 10, NULL, 0, NULL, 0, out, BATCH * 10), AMP_ERR_INVALID_ARGUMENT);
    AmpStreamer *second = NULL;
    CHECK_EQ_INT(amp_streamer_create(graph, &config, NULL, 0, NULL, 0, &second, &error), AMP_ERR_INVALID_ARGUMENT);
    static const int64_t sizes[] = {1, 99, 500, 3, 1000, 1397};
    int64_t done = 0;
    double *piece = (double *)malloc(sizeof(double) * BATCH * FRAMES);
    for (int i = 0; i < 6; ++i) {
        int64_t got = 0;
        CHECK_EQ_INT(amp_streamer_read(streamer, piece, (size_t)BATCH * (size_t)sizes[i], sizes[i], -1, &got), AMP_OK);
        CHECK_EQ_INT(got, sizes[i]);
        for (int b = 0; b < BATCH; ++b) {
            memcpy(out + (size_t)b * FRAMES + done, piece + (size_t)b * (size_t)sizes[i], sizeof(double) * (size_t)got);
        }
        done += got;
    }
    CHECK_EQ_INT(done, FRAMES);
    CHECK(memcmp(out, reference, sizeof(double) * BATCH * FRAMES) == 0);
    AmpStreamerInfo info;
    amp_streamer_info(streamer, &info);
    CHECK_EQ_INT(info.lead_frames, 500);
    CHECK(info.frames_rendered - info.frames_read <= 500);
    CHECK_EQ_INT(amp_streamer_stop(streamer), AMP_OK);
    CHECK_EQ_INT(amp_streamer_stop(streamer), AMP_OK);
    int64_t got = 0;
    CHECK_EQ_INT(amp_streamer_read(streamer, piece, BATCH, 1, -1, &got), AMP_ERR_STOPPED);
    CHECK_EQ_INT(amp_streamer_destroy(streamer), AMP_OK);

    /* stop while a reader waits and while the network renders, at many moments */
    double worst = 0.0;
    for (int round = 0; round < 200; ++round) {
        AmpStreamerConfig small = {32 + round % 5, 64 + 37 * (round % 7), round % 3};
        CHECK_EQ_INT(amp_streamer_create(graph, &small, NULL, 0, NULL, 0, &streamer, &error), AMP_OK);
        Reader reader = {streamer, AMP_OK};
        pthread_t thread;
        const int with_reader = round % 2;
        if (with_reader) {
            pthread_create(&thread, NULL, read_until_stopped, &reader);
        }
        const struct timespec pause = {0, (long)(round % 13) * 37000L};
        nanosleep(&pause, NULL);
        const double started = now_seconds();
        CHECK_EQ_INT(amp_streamer_stop(streamer), AMP_OK);
        const double took = now_seconds() - started;
        worst = took > worst ? took : worst;
        if (with_reader) {
            pthread_join(thread, NULL);
            CHECK_EQ_INT(reader.last_status, AMP_ERR_STOPPED);
        }
        if (round % 4 == 0) {
            /* the graph goes first; the streamer stays answerable */
            amp_graph_destroy(graph);
            graph = create(&d, &p, 1 + round % 2, 0, 256);
            CHECK_EQ_INT(amp_streamer_read(streamer, piece, BATCH, 1, 0, &got), AMP_ERR_STOPPED);
        }
        CHECK_EQ_INT(amp_streamer_destroy(streamer), AMP_OK);
    }
    printf("slowest stop: %.3f ms\n", worst * 1e3);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    CHECK(worst < 1.0); /* instrumented code runs several times slower */
#else
    CHECK(worst < 0.1);
#endif

    /* a failure inside the network reaches the reader with its node, stage and block */
    {
        TestGraph c = comb_graph();
        TestBytes dc = test_descriptor_blob(&c);
        TestBytes pc = comb_plan();
        AmpGraph *comb = create(&dc, &pc, 4, 0, 64);
        CHECK_EQ_INT(amp_graph_render(comb, 96, 32, NULL, 0, NULL, 0, out, BATCH * 96), AMP_OK);
        AmpStreamerConfig wide = {64, 256, 0};
        CHECK_EQ_INT(amp_streamer_create(comb, &wide, NULL, 0, NULL, 0, &streamer, &error), AMP_OK);
        CHECK_EQ_INT(amp_streamer_read(streamer, piece, BATCH * 64, 64, 2000, &got), AMP_ERR_RUNTIME);
        amp_streamer_last_error(streamer, &error);
        CHECK(strcmp(error.node, "delay") == 0);
        CHECK(strcmp(error.stage, "process") == 0);
        CHECK_EQ_INT(error.block_index, 3);
        amp_streamer_info(streamer, &info);
        CHECK_EQ_INT(info.running, 0);
        CHECK_EQ_INT(info.failed, 1);
        /* the network let go of the graph */
        CHECK_EQ_INT(amp_graph_render(comb, 32, 32, NULL, 0, NULL, 0, out, BATCH * 32), AMP_OK);
        CHECK_EQ_INT(amp_streamer_destroy(streamer), AMP_OK);
        amp_graph_destroy(comb);
        free(dc.data);
        free(pc.data);
    }
    amp_graph_destroy(graph);
    free(piece);
    free(reference);
    free(out);
    free(d.data);
    free(p.data);
    test_free_graph(&g);
}

/* Many renders of one or two blocks in a row: runs start and end all the time, which is where a
 * thread still leaving one run could meet the next one. */
static void check_short_runs(void)
{
    double ref[2 * 300];
    double out[2 * 300];
    for (uint64_t seed = 1; seed <= 3; ++seed) {
        TestGraph g = test_random_graph(seed * 11, 12 + (uint32_t)seed * 6);
        TestBytes d = test_descriptor_blob(&g);
        TestBytes p = test_plan_blob(&g, (int)(seed % 2));
        static const int32_t threads[] = {2, 4, 8};
        for (int t = 0; t < 3; ++t) {
            AmpGraph *one = create(&d, &p, 1, 0, 300);
            AmpGraph *many = create(&d, &p, threads[t], (int32_t)(seed % 3), 300);
            for (int i = 0; i < 400 && one && many; ++i) {
                const int32_t frames = 1 + (i * 37) % 300;
                const int32_t block = 1 + (i * 13) % 100;
                CHECK_EQ_INT(amp_graph_render(one, frames, block, NULL, 0, NULL, 0, ref, (size_t)(2 * frames)), AMP_OK);
                CHECK_EQ_INT(amp_graph_render(many, frames, block, NULL, 0, NULL, 0, out, (size_t)(2 * frames)), AMP_OK);
                if (memcmp(ref, out, sizeof(double) * 2 * (size_t)frames) != 0) {
                    fprintf(stderr, "short runs: seed %llu threads %d call %d differ\n", (unsigned long long)seed,
                            threads[t], i);
                    ++amp_test_failures;
                    break;
                }
            }
            amp_graph_destroy(one);
            amp_graph_destroy(many);
        }
        free(d.data);
        free(p.data);
        test_free_graph(&g);
    }
}

int main(void)
{
    check_random_graphs();
    check_short_runs();
    check_feedback_and_failure();
    check_streamer();
    return TEST_RESULT();
}
