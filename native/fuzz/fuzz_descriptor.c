/* fuzz_descriptor.c - libFuzzer harness for the descriptor blob (AMPD).
 *
 * Input: the settings prefix (fuzz_common.h), then a descriptor. The descriptor is described as
 * JSON, its reading is held to the allocation limit, and a graph is created from it with a plan
 * derived from it (so that an accepted descriptor goes on to build and render), controlled by the
 * control blob of the fixed graph the prefix names. */
#include "fuzz_common.h"

#include "formats/descriptor.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    amp_fuzz_load_graphs();
    return 0;
}

static void describe(const uint8_t *blob, size_t size, uint8_t calls)
{
    char small[16];
    size_t required = 0;
    AmpErrorInfo error;
    memset(&error, 0, sizeof(error));
    int32_t status = amp_native_describe_blob(blob, size, small, sizeof(small), &required, &error);
    if (status == AMP_ERR_BUFFER_TOO_SMALL && (calls & 128)) {
        char *text = (char *)malloc(required);
        status = amp_native_describe_blob(blob, size, text, required, &required, &error);
        if (status == AMP_OK && strlen(text) + 1 != required) {
            __builtin_trap();
        }
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < AMP_FUZZ_PREFIX) {
        return 0;
    }
    AmpFuzzSettings s;
    amp_fuzz_settings(data, &s);
    const uint8_t *blob = data + AMP_FUZZ_PREFIX;
    const size_t blob_size = size - AMP_FUZZ_PREFIX;
    const AmpFuzzGraph *fixed = amp_fuzz_graph(s.graph);

    if (s.calls & AMP_FUZZ_DESCRIBE) {
        describe(blob, blob_size, s.calls);
    }
    AmpDescriptor desc;
    AmpErrorInfo error;
    uint8_t *plan = NULL;
    size_t plan_size = 0;
    if (amp_descriptor_parse(blob, blob_size, &desc, &error) == AMP_OK) {
        plan = amp_fuzz_plan_for(&desc, s.plan_flags, &plan_size);
        amp_descriptor_free(&desc);
    }
    amp_fuzz_check_allocation(blob, blob_size, plan, plan_size);
    if (plan != NULL) {
        amp_fuzz_drive(&s, blob, blob_size, plan, plan_size, fixed->control, fixed->control_size);
    } else {
        amp_fuzz_drive(&s, blob, blob_size, fixed->plan, fixed->plan_size, fixed->control, fixed->control_size);
    }
    free(plan);
    return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    return amp_fuzz_mutate(data, size, max_size, seed, "AMPD");
}
