/* blob_files.h - reading the test blobs in data/ (written by scripts/make_native_test_data.py). */
#ifndef AMP_TEST_BLOB_FILES_H
#define AMP_TEST_BLOB_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Returns a malloc'd copy of data/<name>, or NULL (with a message) when it cannot be read. */
static uint8_t *amp_test_read_blob(const char *name, size_t *size)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", AMP_TEST_DATA_DIR, name);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(file, 0, SEEK_END);
    const long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = (uint8_t *)malloc(length > 0 ? (size_t)length : 1);
    *size = fread(bytes, 1, (size_t)length, file);
    fclose(file);
    return bytes;
}

#endif
