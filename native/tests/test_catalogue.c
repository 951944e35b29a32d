/* test_catalogue.c - every catalogue entry is well formed and the JSON export is complete. */
#include "amp_native.h"
#include "amp_node.h"
#include "test_util.h"

#include <string.h>

int main(void)
{
    const int size = amp_catalogue_size();
    CHECK(size >= 4);
    for (int i = 0; i < size; ++i) {
        const AmpNodeSpec *spec = amp_catalogue_entry(i);
        CHECK(spec != NULL && spec->type_name != NULL && spec->doc != NULL);
        CHECK(spec->num_params < 64); /* the descriptor reader tracks parameters in a 64-bit mask */
        CHECK(spec->num_outputs >= 1);
        CHECK(spec->ops.create && spec->ops.process && spec->ops.reset && spec->ops.destroy);
        CHECK(amp_catalogue_find(spec->type_name, strlen(spec->type_name)) == spec);
        if (spec->block_delay > 0) {
            /* a node that closes a loop cannot take its width from an input that runs after it */
            CHECK(spec->channel_rule != AMP_CHANNELS_FROM_INPUT);
            CHECK(spec->ops.absorb != NULL);
        }
        if (spec->channel_rule == AMP_CHANNELS_FROM_PARAM) {
            CHECK(spec->channel_value < spec->num_params);
            CHECK(spec->params[spec->channel_value].flags & AMP_PARAM_STATIC);
        }
        if (spec->channel_rule == AMP_CHANNELS_FROM_INPUT) {
            CHECK(spec->channel_value < spec->num_inputs);
        }
        for (int p = 0; p < spec->num_params; ++p) {
            const AmpParamSpec *param = &spec->params[p];
            CHECK(param->min_value <= param->default_value && param->default_value <= param->max_value);
            CHECK(param->doc != NULL && param->unit != NULL);
            for (int q = 0; q < p; ++q) {
                CHECK(strcmp(spec->params[q].name, param->name) != 0);
            }
        }
        for (int j = 0; j < i; ++j) {
            CHECK(strcmp(amp_catalogue_entry(j)->type_name, spec->type_name) != 0);
        }
    }
    CHECK(amp_catalogue_find("no_such_node", 12) == NULL);

    size_t required = 0;
    CHECK_EQ_INT(amp_native_catalogue_json(NULL, 0, &required), AMP_ERR_BUFFER_TOO_SMALL);
    CHECK(required > 2);
    char *text = (char *)malloc(required);
    CHECK_EQ_INT(amp_native_catalogue_json(text, required, &required), AMP_OK);
    CHECK(text[0] == '[' && text[required - 2] == ']' && text[required - 1] == '\0');
    for (int i = 0; i < size; ++i) {
        char quoted[80];
        snprintf(quoted, sizeof(quoted), "\"type\":\"%s\"", amp_catalogue_entry(i)->type_name);
        CHECK(strstr(text, quoted) != NULL);
    }
    free(text);

    AmpLibraryInfo info;
    CHECK_EQ_INT(amp_native_library_info(&info), AMP_OK);
    CHECK_EQ_INT(info.abi_version, AMP_ABI_VERSION);
    CHECK_EQ_INT(info.catalogue_size, size);
    CHECK_EQ_INT(amp_native_library_info(NULL), AMP_ERR_INVALID_ARGUMENT);
    return TEST_RESULT();
}
