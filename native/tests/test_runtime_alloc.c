/* test_runtime_alloc.c - nothing allocates while a graph renders or streams, once warmed up.
 *
 * This program defines malloc, calloc, realloc and the aligned allocators itself, forwarding to
 * glibc's internal entry points and counting calls while `counting` is on. The library is linked
 * in statically, and libstdc++'s operator new calls malloc, so every allocation on any thread
 * (workers included) passes through here. Sanitizer builds replace the allocator themselves, so
 * there the test reports itself skipped. */
#include "amp_native.h"
#include "graph_builder.h"
#include "test_util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AMP_ALLOC_COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define AMP_ALLOC_COUNTING 0
#endif
#endif
#ifndef AMP_ALLOC_COUNTING
#define AMP_ALLOC_COUNTING 1
#endif

#if AMP_ALLOC_COUNTING
static atomic_int counting;
static atomic_long allocations;

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static void count_one(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    }
}

void *malloc(size_t size)
{
    count_one();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    count_one();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size)
{
    count_one();
    return __libc_realloc(pointer, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    count_one();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) {
        return 12; /* ENOMEM */
    }
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size)
{
    count_one();
    return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size)
{
    count_one();
    return __libc_memalign(alignment, size);
}
#endif

#if AMP_ALLOC_COUNTING
enum { BATCH = 2 };

static long count_during_renders(AmpGraph *graph, double *out, int32_t call, int32_t block, int repeats,
                                 const uint8_t *control, size_t control_size)
{
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
    for (int i = 0; i < repeats; ++i) {
        if (amp_graph_render(graph, call, block, NULL, 0, control, control_size, out, (size_t)BATCH * call) != AMP_OK) {
            ++amp_test_failures;
        }
    }
    atomic_store(&counting, 0);
    return atomic_load(&allocations);
}
#endif

int main(void)
{
#if !AMP_ALLOC_COUNTING
    printf("skipped: the sanitizer owns the allocator\n");
    return 77;
#else
    /* the counter sees this very allocation, so the interposition works */
    atomic_store(&counting, 1);
    void *probe = malloc(16);
    atomic_store(&counting, 0);
    CHECK_EQ_INT(atomic_load(&allocations), 1);
    free(probe);

    TestGraph g = test_random_graph(11, 40);
    TestBytes d = test_descriptor_blob(&g);
    double *out = (double *)calloc((size_t)BATCH * 4096, sizeof(double));
    /* a control blob with no keys: parsing it must not allocate either */
    TestBytes control_payload = {0};
    TestBytes body = {0};
    tb_f64(&body, 0.0);
    tb_f64(&body, 1.0);
    tb_section(&control_payload, 1, &body);
    body.size = 0;
    tb_u32(&body, 0);
    tb_section(&control_payload, 2, &body);
    TestBytes control = tb_blob("AMPC", &control_payload);

    static const int32_t threads[] = {1, 2, 4};
    for (int fuse = 0; fuse < 2; ++fuse) {
        TestBytes p = test_plan_blob(&g, fuse);
        for (int t = 0; t < 3; ++t) {
            AmpGraphConfig config = {BATCH, 512, threads[t], 0, 48000.0, 0};
            AmpErrorInfo error;
            AmpGraph *graph = NULL;
            CHECK_EQ_INT(amp_graph_create(d.data, d.size, p.data, p.size, &config, &graph, &error), AMP_OK);
            if (graph == NULL) {
                continue;
            }
            /* warm-up: the first render starts the worker threads */
            CHECK_EQ_INT(amp_graph_render(graph, 4096, 512, NULL, 0, NULL, 0, out, BATCH * 4096), AMP_OK);
            const long plain = count_during_renders(graph, out, 4096, 64, 20, NULL, 0);
            const long varied = count_during_renders(graph, out, 333, 100, 20, NULL, 0);
            const long controlled = count_during_renders(graph, out, 1024, 256, 20, control.data, control.size);
            printf("fuse %d threads %d: %ld, %ld, %ld allocations\n", fuse, threads[t], plain, varied, controlled);
            CHECK_EQ_INT(plain, 0);
            CHECK_EQ_INT(varied, 0);
            CHECK_EQ_INT(controlled, 0);

            /* a streamer allocates its ring when created; reading from it allocates nothing, on
             * the reading thread or on the render thread and its workers */
            AmpStreamerConfig stream = {64, 1024, 0};
            AmpStreamer *streamer = NULL;
            CHECK_EQ_INT(amp_streamer_create(graph, &stream, NULL, 0, NULL, 0, &streamer, &error), AMP_OK);
            int64_t got = 0;
            CHECK_EQ_INT(amp_streamer_read(streamer, out, BATCH * 4096, 4096, -1, &got), AMP_OK);
            atomic_store(&allocations, 0);
            atomic_store(&counting, 1);
            for (int i = 0; i < 20; ++i) {
                CHECK_EQ_INT(amp_streamer_read(streamer, out, BATCH * 1000, 1000, -1, &got), AMP_OK);
            }
            CHECK_EQ_INT(amp_streamer_set_control(streamer, control.data, control.size), AMP_OK);
            atomic_store(&counting, 0);
            /* set_control copies the blob (one allocation on the caller's thread, before the swap) */
            const long after_control = atomic_load(&allocations);
            atomic_store(&allocations, 0);
            atomic_store(&counting, 1);
            for (int i = 0; i < 20; ++i) {
                CHECK_EQ_INT(amp_streamer_read(streamer, out, BATCH * 1000, 1000, -1, &got), AMP_OK);
            }
            atomic_store(&counting, 0);
            printf("  streaming: %ld allocations around set_control, %ld after\n", after_control,
                   atomic_load(&allocations));
            CHECK(after_control <= 1);
            CHECK_EQ_INT(atomic_load(&allocations), 0);
            amp_streamer_destroy(streamer);
            amp_graph_destroy(graph);
        }
        free(p.data);
    }
    free(out);
    free(d.data);
    free(control.data);
    free(control_payload.data);
    free(body.data);
    test_free_graph(&g);
    return TEST_RESULT();
#endif
}
