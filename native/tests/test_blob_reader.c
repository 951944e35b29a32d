/* test_blob_reader.c - the common header and cursor reject every malformed input with a message. */
#include "amp_error.h"
#include "formats/blob_reader.h"
#include "formats/control.h"
#include "test_util.h"

#include <string.h>

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

/* Builds a control blob holding only an empty WINDOW section. */
static size_t build_control(uint8_t *blob, double t0, double t1)
{
    uint8_t *payload = blob + AMP_BLOB_HEADER_SIZE;
    put_u32(payload, AMP_CONTROL_SECTION_WINDOW);
    put_u32(payload + 4, 0);
    put_u64(payload + 8, 16);
    memcpy(payload + 16, &t0, 8);
    memcpy(payload + 24, &t1, 8);
    const size_t payload_size = 32;
    memcpy(blob, "AMPC", 4);
    blob[4] = 1;
    blob[5] = 0;
    blob[6] = 0;
    blob[7] = 0;
    put_u32(blob + 8, AMP_BLOB_HEADER_SIZE);
    put_u32(blob + 12, amp_crc32(payload, payload_size));
    put_u64(blob + 16, payload_size);
    return AMP_BLOB_HEADER_SIZE + payload_size;
}

int main(void)
{
    /* the standard CRC-32 check value */
    CHECK(amp_crc32((const uint8_t *)"123456789", 9) == 0xCBF43926u);

    uint8_t blob[128];
    AmpErrorInfo error;
    double t0 = 0.0;
    double t1 = 0.0;
    size_t size = build_control(blob, 0.5, 1.5);
    amp_error_clear(&error);
    CHECK_EQ_INT(amp_control_parse(blob, size, &t0, &t1, NULL, NULL, &error), AMP_OK);
    CHECK(t0 == 0.5 && t1 == 1.5);

    /* every truncation fails cleanly */
    for (size_t n = 0; n < size; ++n) {
        amp_error_clear(&error);
        CHECK_EQ_INT(amp_control_parse(blob, n, &t0, &t1, NULL, NULL, &error), AMP_ERR_FORMAT);
        CHECK(error.message[0] != '\0');
    }
    /* every single-bit flip fails cleanly: the CRC or a header check catches it */
    for (size_t byte = 0; byte < size; ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            uint8_t copy[128];
            memcpy(copy, blob, size);
            copy[byte] ^= (uint8_t)(1u << bit);
            amp_error_clear(&error);
            const int32_t status = amp_control_parse(copy, size, &t0, &t1, NULL, NULL, &error);
            if (byte >= 6 && byte < 8) {
                /* the minor version: any minor is accepted */
                CHECK_EQ_INT(status, AMP_OK);
            } else {
                CHECK(status != AMP_OK);
                CHECK(error.message[0] != '\0');
            }
        }
    }
    /* a reversed window is refused, by name */
    size = build_control(blob, 2.0, 1.0);
    amp_error_clear(&error);
    CHECK_EQ_INT(amp_control_parse(blob, size, &t0, &t1, NULL, NULL, &error), AMP_ERR_FORMAT);
    CHECK(strstr(error.message, "WINDOW") != NULL);
    /* a wrong kind of blob is refused, by name */
    size = build_control(blob, 0.0, 1.0);
    blob[3] = 'D';
    amp_error_clear(&error);
    CHECK(amp_control_parse(blob, size, &t0, &t1, NULL, NULL, &error) == AMP_ERR_FORMAT);
    CHECK(strstr(error.message, "AMPC") != NULL);
    return TEST_RESULT();
}
