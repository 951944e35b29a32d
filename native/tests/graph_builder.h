/* graph_builder.h - descriptor and plan blobs for runtime tests, written by the same rules as
 * docs/formats.md (and src/amp/blobs.py): a graph of one-output mono nodes, given in an order that
 * is already topological, so the plan is that order, one buffer per value and, optionally, the
 * straight chains fused and wide sums staged. */
#ifndef AMP_TEST_GRAPH_BUILDER_H
#define AMP_TEST_GRAPH_BUILDER_H

#include "amp_native.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t amp_crc32(const uint8_t *data, size_t size);

typedef struct TestBytes {
    uint8_t *data;
    size_t size;
    size_t capacity;
} TestBytes;

static inline void tb_put(TestBytes *b, const void *bytes, size_t n)
{
    if (b->size + n > b->capacity) {
        b->capacity = (b->size + n) * 2 + 64;
        b->data = (uint8_t *)realloc(b->data, b->capacity);
    }
    memcpy(b->data + b->size, bytes, n);
    b->size += n;
}

static inline void tb_u8(TestBytes *b, uint8_t v) { tb_put(b, &v, 1); }
static inline void tb_u16(TestBytes *b, uint16_t v) { tb_put(b, &v, 2); }
static inline void tb_u32(TestBytes *b, uint32_t v) { tb_put(b, &v, 4); }
static inline void tb_i32(TestBytes *b, int32_t v) { tb_put(b, &v, 4); }
static inline void tb_u64(TestBytes *b, uint64_t v) { tb_put(b, &v, 8); }
static inline void tb_f64(TestBytes *b, double v) { tb_put(b, &v, 8); }

static inline void tb_name(TestBytes *b, const char *s)
{
    tb_u32(b, (uint32_t)strlen(s));
    tb_put(b, s, strlen(s));
}

static inline void tb_section(TestBytes *payload, uint32_t id, const TestBytes *body)
{
    tb_u32(payload, id);
    tb_u32(payload, 0);
    tb_u64(payload, body->size);
    tb_put(payload, body->data, body->size);
}

static inline TestBytes tb_blob(const char magic[4], const TestBytes *payload)
{
    TestBytes blob = {0};
    tb_put(&blob, magic, 4);
    tb_u16(&blob, 1);
    tb_u16(&blob, 0);
    tb_u32(&blob, 24);
    tb_u32(&blob, amp_crc32(payload->data, payload->size));
    tb_u64(&blob, payload->size);
    tb_put(&blob, payload->data, payload->size);
    return blob;
}

#define TEST_MAX_PARAMS 4

typedef struct TestNode {
    char name[32];
    const char *type;
    int param_count;
    const char *param_names[TEST_MAX_PARAMS];
    double param_values[TEST_MAX_PARAMS];
} TestNode;

typedef struct TestEdge {
    uint32_t source;
    uint32_t target;
    uint32_t input;
} TestEdge;

typedef struct TestModulation {
    uint32_t source;
    uint32_t target;
    const char *param;
    uint8_t mode; /* 0 add, 1 mul */
    double scale;
} TestModulation;

typedef struct TestGraph {
    TestNode *nodes;
    uint32_t node_count;
    TestEdge *edges;
    uint32_t edge_count;
    TestModulation *mods;
    uint32_t mod_count;
    uint32_t sink;
} TestGraph;

static inline TestBytes test_descriptor_blob(const TestGraph *g)
{
    TestBytes payload = {0};
    TestBytes body = {0};
    tb_u32(&body, g->node_count);
    for (uint32_t i = 0; i < g->node_count; ++i) {
        tb_name(&body, g->nodes[i].name);
        tb_name(&body, g->nodes[i].type);
        tb_u32(&body, (uint32_t)g->nodes[i].param_count);
        for (int p = 0; p < g->nodes[i].param_count; ++p) {
            tb_name(&body, g->nodes[i].param_names[p]);
            tb_f64(&body, g->nodes[i].param_values[p]);
        }
    }
    tb_section(&payload, 1, &body);
    body.size = 0;
    tb_u32(&body, g->edge_count);
    for (uint32_t e = 0; e < g->edge_count; ++e) {
        tb_u32(&body, g->edges[e].source);
        tb_u32(&body, 0);
        tb_u32(&body, g->edges[e].target);
        tb_u32(&body, g->edges[e].input);
    }
    tb_section(&payload, 2, &body);
    body.size = 0;
    tb_u32(&body, g->mod_count);
    for (uint32_t m = 0; m < g->mod_count; ++m) {
        tb_u32(&body, g->mods[m].source);
        tb_u32(&body, 0);
        tb_i32(&body, -1);
        tb_u32(&body, g->mods[m].target);
        tb_name(&body, g->mods[m].param);
        tb_u8(&body, g->mods[m].mode);
        tb_f64(&body, g->mods[m].scale);
    }
    tb_section(&payload, 3, &body);
    body.size = 0;
    tb_u32(&body, 0);
    tb_section(&payload, 4, &body);
    body.size = 0;
    tb_u32(&body, g->sink);
    tb_section(&payload, 5, &body);
    TestBytes blob = tb_blob("AMPD", &payload);
    free(body.data);
    free(payload.data);
    return blob;
}

/* With `fuse`, runs of nodes where each feeds only the next and the next reads only it become
 * fusion groups, as the Python compiler makes them. */
static inline TestBytes test_plan_blob(const TestGraph *g, int fuse)
{
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
        tb_u32(&body, i);
    }
    tb_section(&payload, 2, &body);
    body.size = 0;
    uint32_t *uses = (uint32_t *)calloc(n, sizeof(uint32_t));
    uint32_t *feeds = (uint32_t *)calloc(n, sizeof(uint32_t));
    int32_t *only_use = (int32_t *)malloc(n * sizeof(int32_t));
    int32_t *only_feed = (int32_t *)malloc(n * sizeof(int32_t));
    for (uint32_t i = 0; i < n; ++i) {
        only_use[i] = only_feed[i] = -1;
    }
    for (uint32_t e = 0; e < g->edge_count + g->mod_count; ++e) {
        const uint32_t s = e < g->edge_count ? g->edges[e].source : g->mods[e - g->edge_count].source;
        const uint32_t t = e < g->edge_count ? g->edges[e].target : g->mods[e - g->edge_count].target;
        if (only_use[s] != (int32_t)t) {
            ++uses[s];
            only_use[s] = (int32_t)t;
        }
        if (only_feed[t] != (int32_t)s) {
            ++feeds[t];
            only_feed[t] = (int32_t)s;
        }
    }
    TestBytes groups = {0};
    uint32_t group_count = 0;
    uint32_t start = 0;
    for (uint32_t i = 1; i <= n; ++i) {
        const int joins = fuse && i < n && uses[i - 1] == 1 && only_use[i - 1] == (int32_t)i && feeds[i] == 1 &&
                          only_feed[i] == (int32_t)(i - 1) && g->sink != i - 1;
        if (!joins) {
            if (i - start >= 2) {
                tb_u32(&groups, i - start);
                for (uint32_t k = start; k < i; ++k) {
                    tb_u32(&groups, k);
                }
                ++group_count;
            }
            start = i;
        }
    }
    tb_u32(&body, group_count);
    if (groups.size) {
        tb_put(&body, groups.data, groups.size);
    }
    tb_section(&payload, 3, &body);
    body.size = 0;
    tb_u32(&body, g->mod_count);
    for (uint32_t m = 0; m < g->mod_count; ++m) {
        tb_u32(&body, m);
    }
    tb_section(&payload, 4, &body);
    body.size = 0;
    /* With fuse, the runtime may also split the final mix (of every node before it) into stages. */
    tb_u32(&body, fuse ? (uint32_t)(AMP_OPT_CHAIN_FUSION | AMP_OPT_SUM_STAGES) : 0u);
    tb_section(&payload, 5, &body);
    TestBytes blob = tb_blob("AMPP", &payload);
    free(uses);
    free(feeds);
    free(only_use);
    free(only_feed);
    free(groups.data);
    free(body.data);
    free(payload.data);
    return blob;
}

/* xorshift64*: reproducible random graphs. */
static inline uint64_t test_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

/* A random DAG of oscillators, constants, gains and mixes feeding one final mix (the sink), with
 * some parameters modulated by earlier nodes. The caller frees nodes, edges and mods. */
static inline TestGraph test_random_graph(uint64_t seed, uint32_t node_count)
{
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    TestGraph g;
    memset(&g, 0, sizeof(g));
    g.node_count = node_count < 3 ? 3 : node_count;
    g.nodes = (TestNode *)calloc(g.node_count, sizeof(TestNode));
    g.edges = (TestEdge *)calloc((size_t)g.node_count * 4, sizeof(TestEdge));
    g.mods = (TestModulation *)calloc(g.node_count, sizeof(TestModulation));
    for (uint32_t i = 0; i < g.node_count; ++i) {
        TestNode *node = &g.nodes[i];
        snprintf(node->name, sizeof(node->name), "n%u", i);
        const uint64_t r = test_random(&state);
        const int last = i + 1 == g.node_count;
        const int kind = last ? 3 : (i < 2 ? (int)(r % 2) : (int)(r % 4));
        if (kind == 0) {
            node->type = "oscillator";
            node->param_count = 1;
            node->param_names[0] = "freq";
            node->param_values[0] = 50.0 + (double)(test_random(&state) % 2000);
        } else if (kind == 1) {
            node->type = "constant";
            node->param_count = 1;
            node->param_names[0] = "value";
            node->param_values[0] = (double)(test_random(&state) % 100) / 50.0 - 1.0;
        } else if (kind == 2) {
            node->type = "gain";
            node->param_count = 1;
            node->param_names[0] = "gain";
            node->param_values[0] = (double)(test_random(&state) % 100) / 60.0 - 0.8;
            g.edges[g.edge_count++] = (TestEdge){(uint32_t)(test_random(&state) % i), i, 0};
        } else {
            node->type = "mix";
            const uint32_t inputs = last ? i : 1 + (uint32_t)(test_random(&state) % 3);
            for (uint32_t k = 0; k < inputs && k < i; ++k) {
                const uint32_t source = last ? k : (uint32_t)(test_random(&state) % i);
                g.edges[g.edge_count++] = (TestEdge){source, i, 0};
            }
        }
        if (i >= 2 && (kind == 0 || kind == 2) && test_random(&state) % 3 == 0) {
            g.mods[g.mod_count++] = (TestModulation){(uint32_t)(test_random(&state) % i), i,
                                                     kind == 0 ? "freq" : "gain", (uint8_t)(test_random(&state) % 2),
                                                     kind == 0 ? 30.0 : 0.5};
        }
    }
    g.sink = g.node_count - 1;
    return g;
}

static inline void test_free_graph(TestGraph *g)
{
    free(g->nodes);
    free(g->edges);
    free(g->mods);
    memset(g, 0, sizeof(*g));
}

#endif
