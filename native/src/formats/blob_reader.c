/* blob_reader.c - bounds-checked reading of amp's little-endian blobs. */
#include "blob_reader.h"

#include "../amp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_build_table(void)
{
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) {
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[i] = c;
    }
    crc_table_ready = 1;
}

uint32_t amp_crc32(const uint8_t *data, size_t size)
{
    /* Building the table twice from two threads writes identical values; the flag is only a
     * shortcut. */
    if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE)) {
        crc_build_table();
        __atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; ++i) {
        crc = crc_table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

static uint16_t load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t load_u64(const uint8_t *p)
{
    return (uint64_t)load_u32(p) | ((uint64_t)load_u32(p + 4) << 32);
}

int32_t amp_format_error(AmpCursor *c, const char *format, ...)
{
    char detail[384];
    va_list args;
    va_start(args, format);
    vsnprintf(detail, sizeof(detail), format, args);
    va_end(args);
    return amp_error_set(c->error, AMP_ERR_FORMAT, c->stage, NULL, -1, "%s, section %s, byte %zu: %s",
                         c->stage, c->where, c->base + c->offset, detail);
}

int32_t amp_blob_read_header(const uint8_t *blob, size_t size, AmpBlobHeader *out, AmpErrorInfo *error)
{
    memset(out, 0, sizeof(*out));
    if (blob == NULL) {
        return amp_error_set(error, AMP_ERR_INVALID_ARGUMENT, "header", NULL, -1, "blob pointer is NULL");
    }
    if (size < AMP_BLOB_HEADER_SIZE) {
        return amp_error_set(error, AMP_ERR_FORMAT, "header", NULL, -1,
                             "blob is %zu bytes, shorter than the %u-byte header", size, AMP_BLOB_HEADER_SIZE);
    }
    memcpy(out->magic, blob, 4);
    out->magic[4] = '\0';
    if (memcmp(blob, "AMPD", 4) == 0) {
        out->kind = AMP_BLOB_DESCRIPTOR;
    } else if (memcmp(blob, "AMPP", 4) == 0) {
        out->kind = AMP_BLOB_PLAN;
    } else if (memcmp(blob, "AMPC", 4) == 0) {
        out->kind = AMP_BLOB_CONTROL;
    } else {
        return amp_error_set(error, AMP_ERR_FORMAT, "header", NULL, -1,
                             "unknown magic %02x %02x %02x %02x (expected AMPD, AMPP or AMPC)",
                             blob[0], blob[1], blob[2], blob[3]);
    }
    out->version_major = load_u16(blob + 4);
    out->version_minor = load_u16(blob + 6);
    out->header_size = load_u32(blob + 8);
    out->crc32 = load_u32(blob + 12);
    out->payload_size = load_u64(blob + 16);
    if (out->header_size < AMP_BLOB_HEADER_SIZE || out->header_size > size) {
        return amp_error_set(error, AMP_ERR_FORMAT, "header", NULL, -1,
                             "%s header size %u is outside [%u, %zu]", out->magic, out->header_size,
                             AMP_BLOB_HEADER_SIZE, size);
    }
    if (out->payload_size != (uint64_t)(size - out->header_size)) {
        return amp_error_set(error, AMP_ERR_FORMAT, "header", NULL, -1,
                             "%s header promises a %llu-byte payload but %zu bytes follow the header",
                             out->magic, (unsigned long long)out->payload_size, size - out->header_size);
    }
    const uint32_t crc = amp_crc32(blob + out->header_size, (size_t)out->payload_size);
    if (crc != out->crc32) {
        return amp_error_set(error, AMP_ERR_FORMAT, "header", NULL, -1,
                             "%s payload CRC-32 is %08x, header says %08x: the blob is corrupt",
                             out->magic, crc, out->crc32);
    }
    return AMP_OK;
}

int32_t amp_blob_read_sections(const uint8_t *blob, size_t size, int kind, uint16_t major,
                               const char *stage, AmpSectionVisitor visit, void *context,
                               AmpErrorInfo *error)
{
    AmpBlobHeader header;
    int32_t status = amp_blob_read_header(blob, size, &header, error);
    if (status != AMP_OK) {
        return status;
    }
    static const char *const magic_of[] = {"", "AMPD", "AMPP", "AMPC"};
    if (header.kind != kind) {
        return amp_error_set(error, AMP_ERR_FORMAT, stage, NULL, -1, "%s: expected a %s blob, got %s", stage,
                             magic_of[kind], header.magic);
    }
    if (header.version_major != major) {
        return amp_error_set(error, AMP_ERR_FORMAT, stage, NULL, -1,
                             "%s: format version %u.%u is not readable by this library (major %u)", stage,
                             header.version_major, header.version_minor, major);
    }
    AmpCursor top = {blob + header.header_size, (size_t)header.payload_size, 0, header.header_size,
                     "list", error, stage};
    while (top.offset < top.size) {
        AmpSection section;
        uint32_t reserved = 0;
        if ((status = amp_cursor_u32(&top, "section id", &section.id)) != AMP_OK ||
            (status = amp_cursor_u32(&top, "section flags", &reserved)) != AMP_OK ||
            (status = amp_cursor_u64(&top, "section length", &section.length)) != AMP_OK) {
            return status;
        }
        if (section.length > top.size - top.offset) {
            return amp_format_error(&top, "section %u claims %llu bytes but only %zu remain", section.id,
                                    (unsigned long long)section.length, top.size - top.offset);
        }
        section.offset = top.base + top.offset;
        section.body = top.data + top.offset;
        AmpCursor body = {section.body, (size_t)section.length, 0, section.offset, "?", error, stage};
        status = visit(context, &section, &body);
        if (status != AMP_OK) {
            return status;
        }
        top.offset += (size_t)section.length;
    }
    return AMP_OK;
}

static int32_t need(AmpCursor *c, const char *field, size_t n)
{
    if (n > c->size - c->offset) {
        return amp_format_error(c, "%s needs %zu bytes but only %zu remain", field, n, c->size - c->offset);
    }
    return AMP_OK;
}

int32_t amp_cursor_u8(AmpCursor *c, const char *field, uint8_t *out)
{
    int32_t status = need(c, field, 1);
    if (status == AMP_OK) {
        *out = c->data[c->offset];
        c->offset += 1;
    }
    return status;
}

int32_t amp_cursor_u32(AmpCursor *c, const char *field, uint32_t *out)
{
    int32_t status = need(c, field, 4);
    if (status == AMP_OK) {
        *out = load_u32(c->data + c->offset);
        c->offset += 4;
    }
    return status;
}

int32_t amp_cursor_i32(AmpCursor *c, const char *field, int32_t *out)
{
    uint32_t raw = 0;
    int32_t status = amp_cursor_u32(c, field, &raw);
    if (status == AMP_OK) {
        memcpy(out, &raw, sizeof(raw));
    }
    return status;
}

int32_t amp_cursor_u64(AmpCursor *c, const char *field, uint64_t *out)
{
    int32_t status = need(c, field, 8);
    if (status == AMP_OK) {
        *out = load_u64(c->data + c->offset);
        c->offset += 8;
    }
    return status;
}

int32_t amp_cursor_f64(AmpCursor *c, const char *field, double *out)
{
    uint64_t raw = 0;
    int32_t status = amp_cursor_u64(c, field, &raw);
    if (status == AMP_OK) {
        memcpy(out, &raw, sizeof(raw));
    }
    return status;
}

/* Length of the well-formed UTF-8 sequence at text[0] (no overlongs, no surrogates, <= U+10FFFF),
 * or 0 if there is none within `available` bytes. */
static uint32_t utf8_sequence(const uint8_t *text, uint32_t available)
{
    const uint8_t b0 = text[0];
    if (b0 < 0x80) {
        return 1;
    }
    uint32_t length = 0;
    uint32_t code = 0;
    uint32_t minimum = 0;
    if ((b0 & 0xE0) == 0xC0) {
        length = 2, code = b0 & 0x1Fu, minimum = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        length = 3, code = b0 & 0x0Fu, minimum = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        length = 4, code = b0 & 0x07u, minimum = 0x10000;
    } else {
        return 0;
    }
    if (length > available) {
        return 0;
    }
    for (uint32_t i = 1; i < length; ++i) {
        if ((text[i] & 0xC0) != 0x80) {
            return 0;
        }
        code = (code << 6) | (text[i] & 0x3Fu);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
        return 0;
    }
    return length;
}

int32_t amp_cursor_name(AmpCursor *c, const char *field, char *out, size_t capacity)
{
    uint32_t length = 0;
    int32_t status = amp_cursor_u32(c, field, &length);
    if (status != AMP_OK) {
        return status;
    }
    if (length == 0 || length > AMP_BLOB_MAX_NAME || length >= capacity) {
        return amp_format_error(c, "%s length %u is outside [1, %u]", field, length, AMP_BLOB_MAX_NAME);
    }
    if ((status = need(c, field, length)) != AMP_OK) {
        return status;
    }
    const uint8_t *text = c->data + c->offset;
    for (uint32_t i = 0; i < length;) {
        if (text[i] < 0x20 || text[i] == 0x7f) {
            return amp_format_error(c, "%s holds control byte 0x%02x", field, text[i]);
        }
        const uint32_t step = utf8_sequence(text + i, length - i);
        if (step == 0) {
            return amp_format_error(c, "%s is not valid UTF-8 (byte %u of the name)", field, i);
        }
        i += step;
    }
    memcpy(out, text, length);
    out[length] = '\0';
    c->offset += length;
    return AMP_OK;
}

int32_t amp_cursor_count(AmpCursor *c, const char *field, size_t min_item_size, uint32_t *out)
{
    int32_t status = amp_cursor_u32(c, field, out);
    if (status != AMP_OK) {
        return status;
    }
    const size_t remaining = c->size - c->offset;
    if (min_item_size > 0 && (uint64_t)*out > remaining / min_item_size) {
        return amp_format_error(c, "%s of %u needs at least %llu bytes but only %zu remain", field, *out,
                                (unsigned long long)*out * min_item_size, remaining);
    }
    return AMP_OK;
}

int32_t amp_cursor_bytes(AmpCursor *c, const char *field, uint64_t length, const uint8_t **out)
{
    if (length > c->size - c->offset) {
        return amp_format_error(c, "%s of %llu bytes overruns the section (%zu remain)", field,
                                (unsigned long long)length, c->size - c->offset);
    }
    *out = c->data + c->offset;
    c->offset += (size_t)length;
    return AMP_OK;
}

int32_t amp_cursor_expect_end(AmpCursor *c)
{
    if (c->offset != c->size) {
        return amp_format_error(c, "%zu unexplained bytes at the end of the section", c->size - c->offset);
    }
    return AMP_OK;
}
