/* Shared, pre-framed WebSocket server messages: one encoding, reference
 * counted, serves every client. */
#ifndef DISPATCHAI_GW_FRAME_H
#define DISPATCHAI_GW_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* One complete server frame (header + payload), reference-counted so one
 * encoding serves every client. Only the fan-out thread touches refs. */
struct gw_frame {
    unsigned refs;
    size_t len;
    unsigned char data[];
};

/* Encode a server frame (opcode WSLAY_TEXT_FRAME, WSLAY_PONG, ...) with
 * wslay. New frame with refs = 1, or NULL on OOM/invalid control payload. */
struct gw_frame *gw_frame_new(uint8_t opcode, const void *payload, size_t len);
/* A close frame with a status code and short reason. */
struct gw_frame *gw_frame_close(uint16_t code, const char *reason);
static inline struct gw_frame *gw_frame_ref(struct gw_frame *f)
{
    f->refs++;
    return f;
}
void gw_frame_unref(struct gw_frame *f);

#endif
