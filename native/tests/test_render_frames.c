/* test_render_frames.c - frame counts may change from call to call: 256, 512, 100 and 4096 frames
 * rendered one after another equal one long render, with and without a control blob. */
#include "amp_native.h"
#include "blob_files.h"
#include "test_util.h"

#include <string.h>

static AmpGraph *make_graph(const uint8_t *d, size_t ds, const uint8_t *p, size_t ps, int32_t max_frames)
{
    AmpGraphConfig config = {2, max_frames, 1, 0, 48000.0, 0};
    AmpErrorInfo error;
    AmpGraph *graph = NULL;
    const int32_t status = amp_graph_create(d, ds, p, ps, &config, &graph, &error);
    if (status != AMP_OK) {
        fprintf(stderr, "create failed: %s\n", error.message);
    }
    return graph;
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
    enum { TOTAL = 256 + 512 + 100 + 4096, BATCH = 2 };
    static const int32_t pieces[] = {256, 512, 100, 4096};
    for (int with_control = 0; with_control < 2; ++with_control) {
        AmpGraph *stepped = make_graph(d, ds, p, ps, 4096);
        AmpGraph *whole = make_graph(d, ds, p, ps, TOTAL);
        CHECK(stepped != NULL && whole != NULL);
        if (stepped == NULL || whole == NULL) {
            break;
        }
        double *a = (double *)calloc((size_t)BATCH * TOTAL, sizeof(double));
        double *b = (double *)calloc((size_t)BATCH * TOTAL, sizeof(double));
        double *piece = (double *)calloc((size_t)BATCH * 4096, sizeof(double));
        /* the control blob's window starts at 0: later pieces continue the graph's own clock */
        int64_t done = 0;
        for (int i = 0; i < 4; ++i) {
            const uint8_t *blob = (with_control && i == 0) ? c : NULL;
            const int32_t status = amp_graph_render(stepped, pieces[i], pieces[i], NULL, 0, blob, blob ? cs : 0,
                                                    piece, (size_t)BATCH * 4096);
            CHECK_EQ_INT(status, AMP_OK);
            for (int row = 0; row < BATCH; ++row) {
                memcpy(a + (size_t)row * TOTAL + done, piece + (size_t)row * pieces[i], sizeof(double) * pieces[i]);
            }
            done += pieces[i];
        }
        if (with_control) {
            /* the first piece carried the control window; do the same for the long render */
            CHECK_EQ_INT(amp_graph_render(whole, 256, 256, NULL, 0, c, cs, b, (size_t)BATCH * TOTAL), AMP_OK);
            double *rest = (double *)calloc((size_t)BATCH * TOTAL, sizeof(double));
            CHECK_EQ_INT(amp_graph_render(whole, TOTAL - 256, TOTAL - 256, NULL, 0, NULL, 0, rest,
                                          (size_t)BATCH * TOTAL), AMP_OK);
            double *joined = (double *)calloc((size_t)BATCH * TOTAL, sizeof(double));
            for (int row = 0; row < BATCH; ++row) {
                memcpy(joined + (size_t)row * TOTAL, b + (size_t)row * 256, sizeof(double) * 256);
                memcpy(joined + (size_t)row * TOTAL + 256, rest + (size_t)row * (TOTAL - 256),
                       sizeof(double) * (TOTAL - 256));
            }
            CHECK(memcmp(a, joined, sizeof(double) * BATCH * TOTAL) == 0);
            free(rest);
            free(joined);
        } else {
            CHECK_EQ_INT(amp_graph_render(whole, TOTAL, TOTAL, NULL, 0, NULL, 0, b, (size_t)BATCH * TOTAL), AMP_OK);
            CHECK(memcmp(a, b, sizeof(double) * BATCH * TOTAL) == 0);
        }
        /* a block larger than the configured maximum is refused, not overrun */
        CHECK_EQ_INT(amp_graph_render(stepped, 8192, 8192, NULL, 0, NULL, 0, a, (size_t)BATCH * TOTAL),
                     AMP_ERR_INVALID_ARGUMENT);
        AmpErrorInfo error;
        CHECK_EQ_INT(amp_graph_last_error(stepped, &error), AMP_OK);
        CHECK(strstr(error.message, "block_frames") != NULL);
        /* an output buffer too small is refused, not overrun */
        CHECK_EQ_INT(amp_graph_render(stepped, 100, 100, NULL, 0, NULL, 0, a, 199), AMP_ERR_INVALID_ARGUMENT);
        free(a);
        free(b);
        free(piece);
        amp_graph_destroy(stepped);
        amp_graph_destroy(whole);
    }
    free(d);
    free(p);
    free(c);
    return TEST_RESULT();
}
