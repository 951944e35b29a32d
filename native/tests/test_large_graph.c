/* test_large_graph.c - a descriptor of 200,000 nodes is read, checked and built in time that grows
 * linearly with it, and the checks that a quadratic reader made by comparing pairs (a name used
 * twice, an input connected twice, a buffer shared by two live values) still refuse at that size.
 *
 * The time bounds are limits, not measurements: set-up that compares every pair of nodes or edges
 * (as the readers once did) took 32 s for 40,000 nodes and would take over ten minutes for 200,000
 * (25 times the pairs). Linear reading takes a tenth of a second in a release build and under a
 * second under AddressSanitizer in a debug build; building the graph (a state and buffers for
 * every node, the process network) about one and ten seconds. Bounds of 20 s per reading and 60 s
 * per build sit far from both, so they catch quadratic growth without turning a slow or shared
 * machine into a failure; ctest's timeout ends a quadratic run rather than waiting for it. */
#include "amp_error.h"
#include "formats/descriptor.h"
#include "formats/plan.h"
#include "graph_builder.h"
#include "test_util.h"

#include <string.h>
#include <time.h>

#define TARGET_NODES 200000u
#define FAN_IN 16u
#define VOICES_PER_LFO 64u
#define BOUND_SECONDS 20.0       /* reading and checking a blob */
#define BUILD_BOUND_SECONDS 60.0 /* describing (reading, then writing JSON) or building a graph */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void add_node(TestGraph *g, const char *prefix, uint32_t number, const char *type)
{
    TestNode *node = &g->nodes[g->node_count++];
    snprintf(node->name, sizeof(node->name), "%s%u", prefix, number);
    node->type = type;
}

/* Voices of oscillator -> gain, every 64 gains moved by one LFO, summed by a tree of 16-input mixes:
 * listed in an order that is already topological, as graph_builder.h needs. */
static TestGraph voice_bank(void)
{
    const uint32_t voices = 96100u; /* 2 nodes each, the LFOs and the mix tree: just over 200,000 */
    TestGraph g;
    memset(&g, 0, sizeof(g));
    g.nodes = (TestNode *)calloc(TARGET_NODES + 10000u, sizeof(TestNode));
    g.edges = (TestEdge *)calloc(TARGET_NODES + 10000u, sizeof(TestEdge));
    g.mods = (TestModulation *)calloc(voices, sizeof(TestModulation));
    uint32_t *level = (uint32_t *)calloc(voices, sizeof(uint32_t));
    uint32_t lfo = 0;
    for (uint32_t v = 0; v < voices; ++v) {
        if (v % VOICES_PER_LFO == 0) {
            lfo = g.node_count;
            add_node(&g, "lfo", v / VOICES_PER_LFO, "lfo");
        }
        const uint32_t osc = g.node_count;
        add_node(&g, "osc", v, "oscillator");
        const uint32_t gain = g.node_count;
        add_node(&g, "gain", v, "gain");
        g.edges[g.edge_count++] = (TestEdge){osc, gain, 0};
        g.mods[g.mod_count++] = (TestModulation){lfo, gain, "gain", 0, 0.001};
        level[v] = gain;
    }
    uint32_t width = voices;
    uint32_t depth = 0;
    while (width > 1) {
        uint32_t next = 0;
        for (uint32_t start = 0; start < width; start += FAN_IN) {
            const uint32_t mix = g.node_count;
            add_node(&g, "mix", depth * 100000u + next, "mix");
            for (uint32_t k = start; k < start + FAN_IN && k < width; ++k) {
                g.edges[g.edge_count++] = (TestEdge){level[k], mix, 0};
            }
            level[next++] = mix;
        }
        width = next;
        ++depth;
    }
    g.sink = g.node_count - 1;
    free(level);
    return g;
}

static double seconds_since(double start, const char *what)
{
    const double seconds = now_seconds() - start;
    printf("%s: %.3f s\n", what, seconds);
    return seconds;
}

static void test_parse_build_and_describe(const TestGraph *g)
{
    TestBytes descriptor = test_descriptor_blob(g);
    TestBytes plan = test_plan_blob(g, 1);
    AmpErrorInfo error;
    memset(&error, 0, sizeof(error));

    AmpDescriptor desc;
    double start = now_seconds();
    CHECK_EQ_INT(amp_descriptor_parse(descriptor.data, descriptor.size, &desc, &error), AMP_OK);
    CHECK(seconds_since(start, "descriptor parse") < BOUND_SECONDS);
    CHECK_EQ_INT(desc.node_count, g->node_count);
    CHECK_EQ_INT(desc.edge_count, g->edge_count);

    AmpPlan parsed;
    start = now_seconds();
    CHECK_EQ_INT(amp_plan_parse(plan.data, plan.size, &desc, &parsed, &error), AMP_OK);
    CHECK(seconds_since(start, "plan parse and check") < BOUND_SECONDS);
    CHECK_EQ_INT(parsed.value_count, g->node_count);
    amp_plan_free(&parsed);
    amp_descriptor_free(&desc);

    size_t required = 0;
    start = now_seconds();
    CHECK_EQ_INT(amp_native_describe_blob(descriptor.data, descriptor.size, NULL, 0, &required, &error),
                 AMP_ERR_BUFFER_TOO_SMALL);
    CHECK(seconds_since(start, "describe_blob (sizing)") < BUILD_BOUND_SECONDS);
    CHECK(required > descriptor.size); /* the JSON names every node and edge */

    AmpGraphConfig config = {1, 16, 1, 0, 48000.0, 0};
    AmpGraph *graph = NULL;
    start = now_seconds();
    CHECK_EQ_INT(amp_graph_create(descriptor.data, descriptor.size, plan.data, plan.size, &config, &graph, &error),
                 AMP_OK);
    CHECK(seconds_since(start, "amp_graph_create") < BUILD_BOUND_SECONDS);
    if (graph != NULL) {
        AmpGraphInfo info;
        CHECK_EQ_INT(amp_graph_info(graph, &info), AMP_OK);
        CHECK_EQ_INT(info.node_count, (int64_t)g->node_count);
        double out[16];
        CHECK_EQ_INT(amp_graph_render(graph, 16, 16, NULL, 0, NULL, 0, out, 16), AMP_OK);
        amp_graph_destroy(graph);
    }
    free(descriptor.data);
    free(plan.data);
}

/* The last node takes the first node's name: found at once by the name table, and named. */
static void test_duplicate_name_is_refused(TestGraph *g)
{
    TestNode saved = g->nodes[g->node_count - 1];
    memcpy(g->nodes[g->node_count - 1].name, g->nodes[0].name, sizeof(g->nodes[0].name));
    TestBytes descriptor = test_descriptor_blob(g);
    AmpErrorInfo error;
    memset(&error, 0, sizeof(error));
    AmpDescriptor desc;
    const double start = now_seconds();
    CHECK_EQ_INT(amp_descriptor_parse(descriptor.data, descriptor.size, &desc, &error), AMP_ERR_FORMAT);
    CHECK(seconds_since(start, "duplicate name refused") < BOUND_SECONDS);
    char expected[96];
    snprintf(expected, sizeof(expected), "is used twice (nodes 0 and %u)", g->node_count - 1);
    CHECK(strstr(error.message, expected) != NULL);
    g->nodes[g->node_count - 1] = saved;
    free(descriptor.data);
}

/* One more edge into the first gain's only input, at the very end of the edge list. */
static void test_second_connection_is_refused(TestGraph *g)
{
    g->edges[g->edge_count++] = (TestEdge){0, 2, 0}; /* lfo0 into gain0, which osc0 already feeds */
    TestBytes descriptor = test_descriptor_blob(g);
    --g->edge_count;
    AmpErrorInfo error;
    memset(&error, 0, sizeof(error));
    AmpDescriptor desc;
    CHECK_EQ_INT(amp_descriptor_parse(descriptor.data, descriptor.size, &desc, &error), AMP_ERR_FORMAT);
    CHECK(strstr(error.message, "input 'in' of node 'gain0' is already connected") != NULL);
    free(descriptor.data);
}

/* The plan puts the first oscillator's output in the buffer of the first LFO's, which the gains of
 * the first 64 voices read long after: the sorted sweep must find the two live values sharing it. */
static void test_shared_live_buffer_is_refused(const TestGraph *g)
{
    TestBytes descriptor = test_descriptor_blob(g);
    AmpErrorInfo error;
    memset(&error, 0, sizeof(error));
    AmpDescriptor desc;
    CHECK_EQ_INT(amp_descriptor_parse(descriptor.data, descriptor.size, &desc, &error), AMP_OK);
    /* the plan test_plan_blob writes without fusion, but with osc0 (value 1) in lfo0's buffer 0 */
    const uint32_t n = g->node_count;
    TestBytes payload = {0};
    TestBytes body = {0};
    tb_u32(&body, n);
    for (uint32_t i = 0; i < n; ++i) {
        tb_u32(&body, i);
    }
    tb_section(&payload, 1, &body);
    body.size = 0;
    tb_u32(&body, n);
    tb_u32(&body, n);
    for (uint32_t i = 0; i < n; ++i) {
        tb_u32(&body, i);
        tb_u32(&body, 0);
        tb_u32(&body, 1);
        tb_u32(&body, i == 1 ? 0u : i);
    }
    tb_section(&payload, 2, &body);
    body.size = 0;
    tb_u32(&body, 0);
    tb_section(&payload, 3, &body);
    body.size = 0;
    tb_u32(&body, g->mod_count);
    for (uint32_t m = 0; m < g->mod_count; ++m) {
        tb_u32(&body, m);
    }
    tb_section(&payload, 4, &body);
    body.size = 0;
    tb_u32(&body, 0);
    tb_section(&payload, 5, &body);
    TestBytes plan = tb_blob("AMPP", &payload);
    AmpPlan parsed;
    CHECK_EQ_INT(amp_plan_parse(plan.data, plan.size, &desc, &parsed, &error), AMP_ERR_FORMAT);
    CHECK(strstr(error.message, "while both are alive") != NULL);
    CHECK(strstr(error.message, "'osc0'") != NULL);
    amp_descriptor_free(&desc);
    free(plan.data);
    free(payload.data);
    free(body.data);
    free(descriptor.data);
}

int main(void)
{
    TestGraph g = voice_bank();
    CHECK(g.node_count >= TARGET_NODES);
    printf("%u nodes, %u edges, %u modulations\n", g.node_count, g.edge_count, g.mod_count);
    test_parse_build_and_describe(&g);
    test_duplicate_name_is_refused(&g);
    test_second_connection_is_refused(&g);
    test_shared_live_buffer_is_refused(&g);
    test_free_graph(&g);
    return TEST_RESULT();
}
