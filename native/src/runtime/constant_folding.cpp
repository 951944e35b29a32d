// constant_folding.cpp - modulation routes from constant nodes, applied once when the graph is built.
//
// A route whose source is a `constant` node with nothing modulating, binding or overriding its value
// adds (or multiplies) the same number into its target every block. When the plan says constant
// folding is on (and the configuration does not switch it off), the leading run of such routes of a
// parameter is applied once here, in the order the block loop applies routes, so the folded base is
// the same double the loop would compute. A parameter whose routes all fold then reaches its kernel
// as a constant (stride 0), which lets the kernel take its constant inner loop. Overrides are only
// known per render, so each render re-checks that none reaches a folded value (activate_folds).
#include "graph.hpp"

#include "../amp_log.h"

#include <cstring>

namespace amp {

namespace {

int param_index(const AmpNodeSpec *spec, const char *name)
{
    for (int p = 0; p < spec->num_params; ++p) {
        if (std::strcmp(spec->params[p].name, name) == 0) {
            return p;
        }
    }
    return -1;
}

}  // namespace

void Graph::fold_constants()
{
    const bool enabled = (plan_.optimisations & AMP_OPT_CONSTANT_FOLDING) != 0 &&
                         (config_.disabled_optimisations & AMP_OPT_CONSTANT_FOLDING) == 0;
    if (!enabled) {
        return;
    }
    // The constant behind route r, or null when r cannot fold.
    auto constant_of = [this](uint32_t r) -> const ParamSource * {
        const NodeInstance &node = nodes_[plan_.values[routes_[r].source_value].node];
        const int value = param_index(node.spec, "value");
        if (std::strcmp(node.spec->type_name, "constant") != 0 || value < 0) {
            return nullptr;
        }
        const ParamSource &source = node.param_sources[static_cast<size_t>(value)];
        if (source.binding >= 0 || !source.add_routes.empty() || !source.mul_routes.empty()) {
            return nullptr;
        }
        return &source;
    };
    for (NodeInstance &node : nodes_) {
        for (ParamSource &source : node.param_sources) {
            if (source.binding >= 0) {
                continue;  // the base is a control curve, not a number
            }
            double folded = source.base;
            const ParamSource *constant = nullptr;
            uint32_t adds = 0;
            while (adds < source.add_routes.size() && (constant = constant_of(source.add_routes[adds])) != nullptr) {
                folded += routes_[source.add_routes[adds]].scale * constant->base;
                source.fold_sources.push_back(constant);
                ++adds;
            }
            uint32_t muls = 0;
            if (adds == source.add_routes.size()) {
                while (muls < source.mul_routes.size() &&
                       (constant = constant_of(source.mul_routes[muls])) != nullptr) {
                    folded *= routes_[source.mul_routes[muls]].scale * constant->base;
                    source.fold_sources.push_back(constant);
                    ++muls;
                }
            }
            source.folded_adds = adds;
            source.folded_muls = muls;
            source.folded_base = folded;
            if (adds + muls > 0) {
                AMP_LOG_EVENT("constant_folding", node.desc->name, "\"param\":%d,\"routes\":%u,\"value\":%.17g",
                              static_cast<int>(&source - node.param_sources.data()), adds + muls, folded);
            }
        }
    }
}

void Graph::activate_folds(const RenderRequest &request)
{
    (void)request;
    for (NodeInstance &node : nodes_) {
        for (ParamSource &source : node.param_sources) {
            bool active = !source.fold_sources.empty() && source.override_index < 0;
            for (const ParamSource *constant : source.fold_sources) {
                active = active && constant->override_index < 0;
            }
            source.fold_active = active;
        }
    }
}

}  // namespace amp
