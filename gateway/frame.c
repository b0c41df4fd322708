/* Server frames encoded once by wslay and shared: an update is framed a
 * single time and every subscribed session writes the same bytes, so fan-out
 * costs a reference, not a copy or a re-encode per client. Reference counts
 * are touched only by the fan-out thread (see gateway.h). */
#include "frame.h"

#include <dispatchai/utf8.h>

#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#define MAX_HEADER 10 /* server frames are never masked */

struct sink {
    unsigned char *p;
    size_t len, cap;
};

static ssize_t sink_send(const uint8_t *data, size_t len, int flags, void *ud)
{
    struct sink *s = ud;

    (void)flags;
    if (len > s->cap - s->len)
        return -1;
    memcpy(s->p + s->len, data, len);
    s->len += len;
    return (ssize_t)len;
}

static ssize_t no_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)buf;
    (void)len;
    (void)flags;
    (void)ud;
    return -1;
}

static int no_mask(uint8_t *buf, size_t len, void *ud)
{
    (void)buf;
    (void)len;
    (void)ud;
    return -1;
}

struct gw_frame *gw_frame_new(uint8_t opcode, const void *payload, size_t len)
{
    struct wslay_frame_callbacks cb = {sink_send, no_recv, no_mask};
    struct wslay_frame_iocb io;
    wslay_frame_context_ptr ctx;
    struct gw_frame *f;
    struct sink sink;
    ssize_t r;

    if (wslay_is_ctrl_frame(opcode) && len > 125)
        return NULL;
    f = malloc(sizeof(*f) + len + MAX_HEADER);
    if (!f)
        return NULL;
    sink.p = f->data;
    sink.len = 0;
    sink.cap = len + MAX_HEADER;
    if (wslay_frame_context_init(&ctx, &cb, &sink) != 0) {
        free(f);
        return NULL;
    }
    memset(&io, 0, sizeof(io));
    io.fin = 1;
    io.opcode = opcode;
    io.payload_length = len;
    io.data = payload;
    io.data_length = len;
    r = wslay_frame_send(ctx, &io);
    wslay_frame_context_free(ctx);
    /* The sink takes everything at once, so one call writes the whole frame. */
    if (r < 0 || (size_t)r != len) {
        free(f);
        return NULL;
    }
    f->refs = 1;
    f->len = sink.len;
    return f;
}

struct gw_frame *gw_frame_close(uint16_t code, const char *reason)
{
    unsigned char p[125];
    size_t rl = reason ? strlen(reason) : 0;

    if (rl > sizeof(p) - 2)
        rl = dai_utf8_cut(reason, rl, sizeof(p) - 2);
    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)code;
    if (rl)
        memcpy(p + 2, reason, rl);
    return gw_frame_new(WSLAY_CONNECTION_CLOSE, p, code ? rl + 2 : 0);
}

void gw_frame_unref(struct gw_frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}
