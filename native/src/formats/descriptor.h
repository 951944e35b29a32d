/* descriptor.h - the descriptor blob ("AMPD"): what nodes exist, their parameters and wiring. */
#ifndef AMP_DESCRIPTOR_H
#define AMP_DESCRIPTOR_H

#include "../amp_node.h"
#include "amp_native.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AMP_DESCRIPTOR_VERSION_MAJOR 1
#define AMP_DESCRIPTOR_VERSION_MINOR 0

enum {
    AMP_DESC_SECTION_NODES = 1,
    AMP_DESC_SECTION_EDGES = 2,
    AMP_DESC_SECTION_MODULATIONS = 3,
    AMP_DESC_SECTION_CONTROL_BINDINGS = 4,
    AMP_DESC_SECTION_SINK = 5,
    AMP_DESC_SECTION_NODE_DATA = 6
};

enum { AMP_MOD_ADD = 0, AMP_MOD_MUL = 1 };

typedef struct AmpDescNode {
    char name[64];
    const AmpNodeSpec *spec;
    double *params; /* spec->num_params values: defaults, then what the blob sets */
    const uint8_t *data; /* points into the blob, which must outlive the descriptor */
    uint64_t data_size;
} AmpDescNode;

typedef struct AmpDescEdge {
    uint32_t src_node;
    uint32_t src_output;
    uint32_t dst_node;
    uint32_t dst_input;
} AmpDescEdge;

typedef struct AmpDescModulation {
    uint32_t src_node;
    uint32_t src_output;
    int32_t channel; /* -1: every channel */
    uint32_t dst_node;
    uint32_t param;
    uint8_t mode;
    double scale;
} AmpDescModulation;

typedef struct AmpDescBinding {
    uint32_t node;
    uint32_t param;
    char key[64];
} AmpDescBinding;

typedef struct AmpDescriptor {
    uint16_t version_minor;
    uint32_t node_count;
    AmpDescNode *nodes;
    uint32_t edge_count;
    AmpDescEdge *edges;
    uint32_t modulation_count;
    AmpDescModulation *modulations;
    uint32_t binding_count;
    AmpDescBinding *bindings;
    uint32_t sink;
    int has_sink;
} AmpDescriptor;

/* Parses and validates a descriptor blob against the catalogue. On failure *out is left empty. */
int32_t amp_descriptor_parse(const uint8_t *blob, size_t size, AmpDescriptor *out, AmpErrorInfo *error);
void amp_descriptor_free(AmpDescriptor *desc);
/* Index of a parameter by name in a spec, or -1. */
int amp_spec_param_index(const AmpNodeSpec *spec, const char *name);

#ifdef __cplusplus
}
#endif

#endif
