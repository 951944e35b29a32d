/* amp_json.c - a growable JSON text writer. */
#include "amp_json.h"

#include "amp_native.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void amp_json_init(AmpJson *json)
{
    memset(json, 0, sizeof(*json));
}

void amp_json_free(AmpJson *json)
{
    free(json->text);
    memset(json, 0, sizeof(*json));
}

static void append(AmpJson *json, const char *bytes, size_t n)
{
    if (json->failed) {
        return;
    }
    if (json->length + n + 1 > json->capacity) {
        size_t capacity = json->capacity ? json->capacity : 256;
        while (json->length + n + 1 > capacity) {
            capacity *= 2;
        }
        char *text = (char *)realloc(json->text, capacity);
        if (text == NULL) {
            json->failed = 1;
            return;
        }
        json->text = text;
        json->capacity = capacity;
    }
    memcpy(json->text + json->length, bytes, n);
    json->length += n;
    json->text[json->length] = '\0';
}

static void separate(AmpJson *json)
{
    if (json->need_comma) {
        append(json, ",", 1);
    }
    json->need_comma = 1;
}

void amp_json_begin_object(AmpJson *json)
{
    separate(json);
    append(json, "{", 1);
    json->need_comma = 0;
}

void amp_json_end_object(AmpJson *json)
{
    append(json, "}", 1);
    json->need_comma = 1;
}

void amp_json_begin_array(AmpJson *json)
{
    separate(json);
    append(json, "[", 1);
    json->need_comma = 0;
}

void amp_json_end_array(AmpJson *json)
{
    append(json, "]", 1);
    json->need_comma = 1;
}

void amp_json_string_n(AmpJson *json, const char *value, size_t length)
{
    separate(json);
    append(json, "\"", 1);
    for (size_t i = 0; i < length; ++i) {
        const unsigned char ch = (unsigned char)value[i];
        char escaped[8];
        if (ch == '"' || ch == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)ch;
            append(json, escaped, 2);
        } else if (ch < 0x20) {
            snprintf(escaped, sizeof(escaped), "\\u%04x", ch);
            append(json, escaped, 6);
        } else {
            append(json, (const char *)&value[i], 1);
        }
    }
    append(json, "\"", 1);
}

void amp_json_string(AmpJson *json, const char *value)
{
    if (value == NULL) {
        amp_json_null(json);
        return;
    }
    amp_json_string_n(json, value, strlen(value));
}

void amp_json_key(AmpJson *json, const char *key)
{
    amp_json_string(json, key);
    append(json, ":", 1);
    json->need_comma = 0;
}

void amp_json_number(AmpJson *json, double value)
{
    if (!isfinite(value)) {
        amp_json_null(json);
        return;
    }
    char text[40];
    int n = snprintf(text, sizeof(text), "%.17g", value);
    separate(json);
    append(json, text, (size_t)n);
}

void amp_json_int(AmpJson *json, int64_t value)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%lld", (long long)value);
    separate(json);
    append(json, text, (size_t)n);
}

void amp_json_bool(AmpJson *json, int value)
{
    separate(json);
    append(json, value ? "true" : "false", value ? 4 : 5);
}

void amp_json_null(AmpJson *json)
{
    separate(json);
    append(json, "null", 4);
}

int32_t amp_json_export(const AmpJson *json, char *buffer, size_t capacity, size_t *required)
{
    if (json->failed) {
        return AMP_ERR_OUT_OF_MEMORY;
    }
    const size_t needed = json->length + 1;
    if (required != NULL) {
        *required = needed;
    }
    if (buffer == NULL || capacity < needed) {
        return AMP_ERR_BUFFER_TOO_SMALL;
    }
    if (json->length > 0) {
        memcpy(buffer, json->text, json->length);
    }
    buffer[json->length] = '\0';
    return AMP_OK;
}
