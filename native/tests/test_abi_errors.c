/* test_abi_errors.c - the C ABI refuses bad arguments with a status and a message, never a crash. */
#include "amp_native.h"
#include "test_util.h"

#include <string.h>

int main(void)
{
    AmpErrorInfo error;
    AmpGraph *graph = (AmpGraph *)0x1;
    AmpGraphConfig config = {1, 256, 1, 0, 48000.0, 0};
    const uint8_t junk[40] = {'A', 'M', 'P', 'D', 1, 0, 0, 0, 24, 0, 0, 0};

    CHECK_EQ_INT(amp_graph_create(NULL, 0, NULL, 0, &config, &graph, &error), AMP_ERR_INVALID_ARGUMENT);
    CHECK(graph == NULL);
    CHECK(strlen(error.message) > 0);

    CHECK_EQ_INT(amp_graph_create(junk, sizeof(junk), junk, sizeof(junk), &config, &graph, &error), AMP_ERR_FORMAT);
    CHECK(graph == NULL);
    CHECK(strstr(error.message, "payload") != NULL);
    CHECK(strcmp(error.stage, "header") == 0);

    config.batch = 0;
    CHECK_EQ_INT(amp_graph_create(junk, sizeof(junk), junk, sizeof(junk), &config, &graph, &error),
                 AMP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(error.message, "batch") != NULL);
    config.batch = 1;
    config.sample_rate = 0.0 / 0.0;
    CHECK_EQ_INT(amp_graph_create(junk, sizeof(junk), junk, sizeof(junk), &config, &graph, &error),
                 AMP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(error.message, "sample_rate") != NULL);

    /* calls on a missing handle answer with a status */
    CHECK_EQ_INT(amp_graph_render(NULL, 10, 10, NULL, 0, NULL, 0, NULL, 0), AMP_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(amp_graph_last_error(NULL, &error), AMP_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(amp_graph_info(NULL, NULL), AMP_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(amp_graph_reset(NULL), AMP_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(amp_graph_destroy(NULL), AMP_OK);
    CHECK_EQ_INT(amp_native_catalogue_json(NULL, 0, NULL), AMP_ERR_BUFFER_TOO_SMALL);

    char text[64];
    size_t required = 0;
    CHECK_EQ_INT(amp_native_describe_blob(junk, 3, text, sizeof(text), &required, &error), AMP_ERR_FORMAT);
    CHECK(strstr(error.message, "shorter") != NULL);

    AmpLibraryInfo info;
    CHECK_EQ_INT(amp_native_library_info(&info), AMP_OK);
    if (!info.logging_compiled) {
        /* the plain build has no logging to switch on, and says so */
        CHECK_EQ_INT(amp_native_logging_set(1), AMP_ERR_LOGGING_UNAVAILABLE);
        CHECK_EQ_INT(amp_native_logging_set(0), AMP_OK);
    }
    return TEST_RESULT();
}
