/* plan.h - the plan blob ("AMPP"): the compiled form of a graph, checked against its descriptor. */
#ifndef AMP_PLAN_H
#define AMP_PLAN_H

#include "amp_native.h"
#include "descriptor.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AMP_PLAN_VERSION_MAJOR 1
#define AMP_PLAN_VERSION_MINOR 0

enum {
    AMP_PLAN_SECTION_ORDER = 1,
    AMP_PLAN_SECTION_VALUES = 2,
    AMP_PLAN_SECTION_FUSION = 3,
    AMP_PLAN_SECTION_ROUTES = 4,
    AMP_PLAN_SECTION_OPTIONS = 5
};

/* One output of one node and the buffer that holds it during a block. */
typedef struct AmpPlanValue {
    uint32_t node;
    uint32_t output;
    uint32_t channels;
    uint32_t buffer;
} AmpPlanValue;

typedef struct AmpPlan {
    uint32_t order_count;
    uint32_t *order;           /* node indices in execution order */
    uint32_t buffer_count;
    uint32_t value_count;
    AmpPlanValue *values;      /* exactly one per (node, output) */
    uint32_t group_count;
    uint32_t *group_offsets;   /* group g is group_nodes[group_offsets[g] .. group_offsets[g+1]) */
    uint32_t *group_nodes;
    uint32_t route_count;
    uint32_t *routes;          /* modulation indices in the order they are applied */
    uint32_t optimisations;    /* AMP_OPT_* bits the compiler applied */
    uint32_t *node_channels;   /* derived: channels of every node, by node index */
    uint32_t *value_base;      /* derived: first value index of each node */
} AmpPlan;

/* Parses a plan blob and checks it against `desc`: every node exactly once, every edge and
 * modulation respected by the order (except edges into a block-delay node), channel counts as the
 * catalogue's rules give them, and no buffer holding two values that are alive at once. */
int32_t amp_plan_parse(const uint8_t *blob, size_t size, const AmpDescriptor *desc, AmpPlan *out,
                       AmpErrorInfo *error);
void amp_plan_free(AmpPlan *plan);

/* Channel counts of every node, as the catalogue's rules give them; used by the plan check and by
 * the JSON description. Returns AMP_OK or a graph error naming the node. */
int32_t amp_plan_node_channels(const AmpDescriptor *desc, const uint32_t *order, uint32_t *channels,
                               AmpErrorInfo *error);

#ifdef __cplusplus
}
#endif

#endif
