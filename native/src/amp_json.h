/* amp_json.h - a growable JSON text writer for descriptions and log records (never on the
 * render path). */
#ifndef AMP_JSON_H
#define AMP_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct AmpJson {
    char *text;
    size_t length;
    size_t capacity;
    int failed;      /* an allocation failed; the text is incomplete */
    int need_comma;  /* the next value in the current container needs a separator */
} AmpJson;

void amp_json_init(AmpJson *json);
void amp_json_free(AmpJson *json);
void amp_json_begin_object(AmpJson *json);
void amp_json_end_object(AmpJson *json);
void amp_json_begin_array(AmpJson *json);
void amp_json_end_array(AmpJson *json);
void amp_json_key(AmpJson *json, const char *key);
void amp_json_string(AmpJson *json, const char *value);
void amp_json_string_n(AmpJson *json, const char *value, size_t length);
void amp_json_number(AmpJson *json, double value); /* non-finite values are written as null */
void amp_json_int(AmpJson *json, int64_t value);
void amp_json_bool(AmpJson *json, int value);
void amp_json_null(AmpJson *json);

/* Copies the text into a caller's buffer with the amp_native_*_json size protocol. */
int32_t amp_json_export(const AmpJson *json, char *buffer, size_t capacity, size_t *required);

#ifdef __cplusplus
}
#endif

#endif
