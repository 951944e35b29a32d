/* fuzz_plan.c - libFuzzer harness for the plan blob (AMPP).
 *
 * Input: the settings prefix (fuzz_common.h), then a plan. Its first byte picks the fixed graph
 * whose descriptor (and control blob) the plan is checked and rendered against. */
#include "fuzz_common.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    amp_fuzz_load_graphs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < AMP_FUZZ_PREFIX) {
        return 0;
    }
    AmpFuzzSettings s;
    amp_fuzz_settings(data, &s);
    const uint8_t *plan = data + AMP_FUZZ_PREFIX;
    const size_t plan_size = size - AMP_FUZZ_PREFIX;
    const AmpFuzzGraph *fixed = amp_fuzz_graph(s.graph);
    if (s.calls & AMP_FUZZ_DESCRIBE) {
        char text[256];
        size_t required = 0;
        AmpErrorInfo error;
        amp_native_describe_blob(plan, plan_size, text, sizeof(text), &required, &error);
    }
    amp_fuzz_check_allocation(fixed->descriptor, fixed->descriptor_size, plan, plan_size);
    amp_fuzz_drive(&s, fixed->descriptor, fixed->descriptor_size, plan, plan_size, fixed->control,
                   fixed->control_size);
    return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    return amp_fuzz_mutate(data, size, max_size, seed, "AMPP");
}
