/* catalogue.c - the registry of node types: one line per node in AMP_NODE_TYPES. */
#include "amp_node.h"

#include <string.h>

#define AMP_NODE_TYPES(X) \
    X(constant)           \
    X(oscillator)         \
    X(oscillator_bank)    \
    X(gain)               \
    X(mix)                \
    X(block_delay)        \
    X(biquad)             \
    X(svf)                \
    X(one_pole)           \
    X(dc_block)           \
    X(delay)              \
    X(fft_division)       \
    X(noise)              \
    X(lfo)                \
    X(sampler)            \
    X(envelope)           \
    X(pan)                \
    X(safety)             \
    X(controller)         \
    X(pitch_quantizer)    \
    X(subharmonic)

#define AMP_DECLARE_NODE(type) extern const AmpNodeSpec amp_node_##type;
#define AMP_LIST_NODE(type) &amp_node_##type,

AMP_NODE_TYPES(AMP_DECLARE_NODE)

static const AmpNodeSpec *const amp_catalogue[] = {AMP_NODE_TYPES(AMP_LIST_NODE)};

int amp_catalogue_size(void)
{
    return (int)(sizeof(amp_catalogue) / sizeof(amp_catalogue[0]));
}

const AmpNodeSpec *amp_catalogue_entry(int index)
{
    if (index < 0 || index >= amp_catalogue_size()) {
        return NULL;
    }
    return amp_catalogue[index];
}

const AmpNodeSpec *amp_catalogue_find(const char *type_name, size_t length)
{
    for (int i = 0; i < amp_catalogue_size(); ++i) {
        const char *name = amp_catalogue[i]->type_name;
        if (strlen(name) == length && memcmp(name, type_name, length) == 0) {
            return amp_catalogue[i];
        }
    }
    return NULL;
}
