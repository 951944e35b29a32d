/* fuzz_control.c - libFuzzer harness for the control blob (AMPC).
 *
 * Input: the settings prefix (fuzz_common.h), then a control blob. Its first byte picks the fixed
 * graph (descriptor and plan) it controls; every input renders with it at least once, by
 * amp_graph_render and, when the prefix asks, through a streamer. */
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
    s.calls |= AMP_FUZZ_RENDER_CONTROL;
    const uint8_t *control = data + AMP_FUZZ_PREFIX;
    const size_t control_size = size - AMP_FUZZ_PREFIX;
    const AmpFuzzGraph *fixed = amp_fuzz_graph(s.graph);
    if (s.calls & AMP_FUZZ_DESCRIBE) {
        char text[256];
        size_t required = 0;
        AmpErrorInfo error;
        amp_native_describe_blob(control, control_size, text, sizeof(text), &required, &error);
    }
    amp_fuzz_drive(&s, fixed->descriptor, fixed->descriptor_size, fixed->plan, fixed->plan_size, control,
                   control_size);
    return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    return amp_fuzz_mutate(data, size, max_size, seed, "AMPC");
}
