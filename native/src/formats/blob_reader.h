/* blob_reader.h - bounds-checked reading of amp's little-endian blobs: the common header, the
 * section list, and the scalar and string fields inside a section. */
#ifndef AMP_BLOB_READER_H
#define AMP_BLOB_READER_H

#include "amp_native.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AMP_BLOB_HEADER_SIZE 24u
#define AMP_BLOB_MAX_NAME 63u

enum {
    AMP_BLOB_DESCRIPTOR = 1,
    AMP_BLOB_PLAN = 2,
    AMP_BLOB_CONTROL = 3
};

typedef struct AmpBlobHeader {
    int kind;  /* AMP_BLOB_* */
    char magic[5];
    uint16_t version_major;
    uint16_t version_minor;
    uint32_t header_size;
    uint32_t crc32;
    uint64_t payload_size;
} AmpBlobHeader;

/* A window of bytes being read; `where` names the current section for error messages. */
typedef struct AmpCursor {
    const uint8_t *data;
    size_t size;
    size_t offset;
    size_t base;  /* offset of data[0] within the whole blob, for messages */
    const char *where;
    AmpErrorInfo *error;
    const char *stage;
} AmpCursor;

typedef struct AmpSection {
    uint32_t id;
    uint64_t length;
    size_t offset;  /* of the section body within the blob */
    const uint8_t *body;
} AmpSection;

uint32_t amp_crc32(const uint8_t *data, size_t size);

/* Checks the common header of any blob: magic, major version, sizes, CRC. */
int32_t amp_blob_read_header(const uint8_t *blob, size_t size, AmpBlobHeader *out,
                             AmpErrorInfo *error);

/* Checks that `blob` is of `kind` with major version `major`, then walks its sections, calling
 * visit for each; unknown section ids are handed over too (visit skips them). */
typedef int32_t (*AmpSectionVisitor)(void *context, const AmpSection *section, AmpCursor *cursor);
int32_t amp_blob_read_sections(const uint8_t *blob, size_t size, int kind, uint16_t major,
                               const char *stage, AmpSectionVisitor visit, void *context,
                               AmpErrorInfo *error);

int32_t amp_cursor_u8(AmpCursor *c, const char *field, uint8_t *out);
int32_t amp_cursor_u32(AmpCursor *c, const char *field, uint32_t *out);
int32_t amp_cursor_i32(AmpCursor *c, const char *field, int32_t *out);
int32_t amp_cursor_u64(AmpCursor *c, const char *field, uint64_t *out);
int32_t amp_cursor_f64(AmpCursor *c, const char *field, double *out);
/* A u32 length then that many bytes of UTF-8, 1..AMP_BLOB_MAX_NAME long; copied with a NUL. */
int32_t amp_cursor_name(AmpCursor *c, const char *field, char *out, size_t capacity);
/* A count that promises `count * min_item_size` more bytes: checked before anything is allocated. */
int32_t amp_cursor_count(AmpCursor *c, const char *field, size_t min_item_size, uint32_t *out);
int32_t amp_cursor_bytes(AmpCursor *c, const char *field, uint64_t length, const uint8_t **out);
int32_t amp_cursor_expect_end(AmpCursor *c);

int32_t amp_format_error(AmpCursor *c, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
