/* test_replay - amp_replay on a dump written here: blobs from tests/data, PCM rendered through the C
 * ABI with three differently sized calls (one with a parameter override, two with a control blob).
 * The replay must find every sample identical, and must report a flipped bit (exit 1) and an
 * unreadable dump (exit 2). */
#include "amp_native.h"
#include "blob_files.h"
#include "test_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dump_dir[900];

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dump_dir, name);
}

static int write_bytes(const char *name, const void *data, size_t size)
{
    char path[1024];
    path_of(path, sizeof(path), name);
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        return -1;
    }
    const size_t written = fwrite(data, 1, size, file);
    fclose(file);
    return written == size ? 0 : -1;
}

/* numpy's .npy version 1.0: magic, header length, a dict padded with spaces to 64 bytes, data. */
static int write_npy(const char *name, const double *data, int batch, int channels, long long frames)
{
    char dict[128];
    int n = snprintf(dict, sizeof(dict), "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d, %lld), }",
                     batch, channels, frames);
    const int total = ((10 + n + 1 + 63) / 64) * 64;
    const int header_len = total - 10;
    size_t samples = (size_t)batch * (size_t)channels * (size_t)frames;
    uint8_t *bytes = (uint8_t *)malloc((size_t)total + samples * 8);
    memcpy(bytes, "\x93NUMPY\x01\x00", 8);
    bytes[8] = (uint8_t)(header_len & 0xff);
    bytes[9] = (uint8_t)(header_len >> 8);
    memset(bytes + 10, ' ', (size_t)header_len);
    memcpy(bytes + 10, dict, (size_t)n);
    bytes[total - 1] = '\n';
    memcpy(bytes + total, data, samples * 8);
    const int status = write_bytes(name, bytes, (size_t)total + samples * 8);
    free(bytes);
    return status;
}

static int run_replay(void)
{
    char command[2048];
    snprintf(command, sizeof(command), "'%s' '%s' --quiet", AMP_REPLAY_PROGRAM, dump_dir);
    const int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct Call {
    long long frames;
    int block_frames;
    int control;
    int override_lfo;
} Call;

int main(int argc, char **argv)
{
    snprintf(dump_dir, sizeof(dump_dir), "%s", argc > 1 ? argv[1] : "test_replay_dump");
    mkdir(dump_dir, 0777);
    size_t descriptor_size = 0;
    size_t plan_size = 0;
    size_t control_size = 0;
    uint8_t *descriptor = amp_test_read_blob("sine_gain.ampd", &descriptor_size);
    uint8_t *plan = amp_test_read_blob("sine_gain.ampp", &plan_size);
    uint8_t *control = amp_test_read_blob("performance.ampc", &control_size);
    CHECK(descriptor != NULL && plan != NULL && control != NULL);
    if (descriptor == NULL || plan == NULL || control == NULL) {
        return TEST_RESULT();
    }
    CHECK(write_bytes("descriptor.bin", descriptor, descriptor_size) == 0);
    CHECK(write_bytes("plan.bin", plan, plan_size) == 0);
    CHECK(write_bytes("control.bin", control, control_size) == 0);

    AmpGraphConfig config;
    memset(&config, 0, sizeof(config));
    config.batch = 2;
    config.max_block_frames = 300;
    config.threads = 1;
    config.sample_rate = 48000.0;
    AmpGraph *graph = NULL;
    AmpErrorInfo error;
    CHECK_EQ_INT(amp_graph_create(descriptor, descriptor_size, plan, plan_size, &config, &graph, &error), AMP_OK);
    if (graph == NULL) {
        fprintf(stderr, "create: %s\n", error.message);
        return TEST_RESULT();
    }
    const Call calls[] = {{1000, 256, 1, 0}, {300, 300, 0, 1}, {777, 128, 1, 0}};
    const int call_count = (int)(sizeof(calls) / sizeof(calls[0]));
    char json[8192];
    int used = snprintf(json, sizeof(json),
                        "{\"format\": \"amp-replay\", \"version\": 1, \"descriptor\": \"descriptor.bin\", "
                        "\"plan\": \"plan.bin\", \"config\": {\"batch\": 2, \"max_block_frames\": 300, "
                        "\"threads\": 1, \"channel_depth\": 0, \"sample_rate\": 48000.0, "
                        "\"disabled_optimisations\": 0}, \"calls\": [");
    for (int k = 0; k < call_count; ++k) {
        const Call *call = &calls[k];
        double *out = (double *)calloc((size_t)(2 * call->frames), sizeof(double));
        double *level = (double *)calloc((size_t)call->frames, sizeof(double));
        for (long long f = 0; f < call->frames; ++f) {
            level[f] = 0.25 + 0.5 * (double)f / (double)call->frames;
        }
        AmpParamOverride override_ = {1, 0, level, 1, 1, call->frames};
        CHECK_EQ_INT(amp_graph_render(graph, call->frames, call->block_frames, call->override_lfo ? &override_ : NULL,
                                      call->override_lfo ? 1u : 0u, call->control ? control : NULL,
                                      call->control ? control_size : 0, out, (size_t)(2 * call->frames)),
                     AMP_OK);
        char name[64];
        snprintf(name, sizeof(name), "block_%03d.npy", k);
        CHECK(write_npy(name, out, 2, 1, call->frames) == 0);
        char overrides[256] = "[]";
        if (call->override_lfo) {
            snprintf(name, sizeof(name), "params_block_%03d_001_00.npy", k);
            CHECK(write_npy(name, level, 1, 1, call->frames) == 0);
            snprintf(overrides, sizeof(overrides), "[{\"node\": 1, \"param\": 0, \"file\": \"%s\"}]", name);
        }
        used += snprintf(json + used, sizeof(json) - (size_t)used,
                         "%s{\"block\": %d, \"total_frames\": %lld, \"block_frames\": %d, \"control\": %s, "
                         "\"expected\": \"block_%03d.npy\", \"overrides\": %s}",
                         k ? ", " : "", k, call->frames, call->block_frames,
                         call->control ? "\"control.bin\"" : "null", k, overrides);
        free(out);
        free(level);
    }
    snprintf(json + used, sizeof(json) - (size_t)used, "]}\n");
    amp_graph_destroy(graph);
    CHECK(write_bytes("replay.json", json, strlen(json)) == 0);

    CHECK_EQ_INT(run_replay(), 0);

    /* one flipped bit in the middle of block_001's samples */
    char path[1024];
    path_of(path, sizeof(path), "block_001.npy");
    FILE *file = fopen(path, "r+b");
    CHECK(file != NULL);
    if (file != NULL) {
        fseek(file, -8 * 150, SEEK_END);
        const int byte = fgetc(file);
        fseek(file, -8 * 150, SEEK_END);
        fputc(byte ^ 1, file);
        fclose(file);
        CHECK_EQ_INT(run_replay(), 1);
        file = fopen(path, "r+b");
        fseek(file, -8 * 150, SEEK_END);
        fputc(byte, file);
        fclose(file);
        CHECK_EQ_INT(run_replay(), 0);
    }

    /* a missing control blob and a broken replay.json are errors of the dump, not mismatches */
    char moved[1024];
    path_of(path, sizeof(path), "control.bin");
    path_of(moved, sizeof(moved), "control.moved");
    CHECK(rename(path, moved) == 0);
    CHECK_EQ_INT(run_replay(), 2);
    CHECK(rename(moved, path) == 0);
    CHECK(write_bytes("replay.json", json, strlen(json) / 2) == 0);
    CHECK_EQ_INT(run_replay(), 2);

    free(descriptor);
    free(plan);
    free(control);
    return TEST_RESULT();
}
