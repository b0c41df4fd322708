/* Unit tests for gateway/session.c over an in-memory transport: text
 * messages (whole, fragmented, split across reads, with control frames
 * interleaved), ping/pong, the closing handshake, every protocol violation
 * with its close code (1002, 1003, 1007, 1009), the bounded send queue (1013),
 * and partial writes that must never corrupt the byte stream. Client frames
 * are built by hand here so the test does not trust the code under test. */
#include "../../gateway/frame.h"
#include "../../gateway/session.h"

#include <dispatchai/clock.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct mem {
    unsigned char in[1 << 18];
    size_t in_len, in_off, read_chunk;
    bool eof;
    unsigned char out[1 << 20];
    size_t out_len, write_limit;
    bool blocked;
    char texts[8][256];
    int n_texts;
};

static ssize_t m_read(void *ud, void *buf, size_t len)
{
    struct mem *m = ud;
    size_t n = m->in_len - m->in_off;

    if (n == 0) {
        if (m->eof)
            return 0;
        errno = EAGAIN;
        return -1;
    }
    if (m->read_chunk && n > m->read_chunk)
        n = m->read_chunk;
    if (n > len)
        n = len;
    memcpy(buf, m->in + m->in_off, n);
    m->in_off += n;
    return (ssize_t)n;
}

static ssize_t m_writev(void *ud, const struct iovec *iov, int cnt)
{
    struct mem *m = ud;
    size_t total = 0;

    if (m->blocked) {
        errno = EAGAIN;
        return -1;
    }
    for (int i = 0; i < cnt; i++) {
        size_t n = iov[i].iov_len;

        if (m->write_limit && total + n > m->write_limit)
            n = m->write_limit - total;
        memcpy(m->out + m->out_len, iov[i].iov_base, n);
        m->out_len += n;
        total += n;
        if (m->write_limit && total == m->write_limit)
            break;
    }
    if (total == 0) {
        errno = EAGAIN;
        return -1;
    }
    return (ssize_t)total;
}

static void m_text(void *ud, const char *data, size_t len)
{
    struct mem *m = ud;

    assert_true(m->n_texts < 8 && len < 256);
    memcpy(m->texts[m->n_texts], data, len);
    m->texts[m->n_texts++][len] = '\0';
}

/* Append a client frame: fin, rsv bits, opcode, masked or not. */
static void frame(struct mem *m, int fin, int rsv, int op, bool mask, const void *p, size_t n)
{
    unsigned char *o = m->in + m->in_len;
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0;

    o[h++] = (unsigned char)((fin ? 0x80 : 0) | (rsv << 4) | op);
    if (n < 126) {
        o[h++] = (unsigned char)((mask ? 0x80 : 0) | n);
    } else if (n < 65536) {
        o[h++] = (unsigned char)((mask ? 0x80 : 0) | 126);
        o[h++] = (unsigned char)(n >> 8);
        o[h++] = (unsigned char)n;
    } else {
        o[h++] = (unsigned char)((mask ? 0x80 : 0) | 127);
        for (int i = 7; i >= 0; i--)
            o[h++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    if (mask) {
        memcpy(o + h, key, 4);
        h += 4;
    }
    for (size_t i = 0; i < n; i++)
        o[h + i] = (unsigned char)(((const unsigned char *)p)[i] ^ (mask ? key[i % 4] : 0));
    m->in_len += h + n;
}

struct sframe {
    int op;
    size_t len;
    const unsigned char *p;
};

/* Parse the server's output (unmasked frames) into out; returns the count. */
static int parse_out(const struct mem *m, struct sframe *out, int max)
{
    size_t off = 0;
    int n = 0;

    while (off < m->out_len && n < max) {
        const unsigned char *b = m->out + off;
        size_t len = b[1] & 0x7f, h = 2;

        assert_int_equal(b[1] & 0x80, 0); /* servers never mask */
        assert_int_equal(b[0] & 0x80, 0x80);
        if (len == 126) {
            len = (size_t)b[2] << 8 | b[3];
            h = 4;
        } else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | b[2 + i];
            h = 10;
        }
        assert_true(off + h + len <= m->out_len);
        out[n].op = b[0] & 0x0f;
        out[n].len = len;
        out[n].p = b + h;
        n++;
        off += h + len;
    }
    assert_int_equal(off, m->out_len); /* no torn frame at the end */
    return n;
}

static unsigned close_code(const struct sframe *f)
{
    assert_int_equal(f->op, 0x8);
    return f->len >= 2 ? (unsigned)f->p[0] << 8 | f->p[1] : 0;
}

static struct gw_session *open_session(struct mem *m, size_t queue_msgs)
{
    struct gw_session_limits lim = {.max_message = 1000, .queue_msgs = queue_msgs,
                                    .queue_bytes = 1 << 20};
    struct gw_session_io io = {m_read, m_writev, m_text, m};
    struct gw_session *s;

    memset(m, 0, sizeof(*m));
    s = gw_session_new(&lim, &io);
    assert_non_null(s);
    return s;
}

static void pump(struct gw_session *s)
{
    while (gw_session_on_readable(s))
        ;
    while (gw_session_want_write(s))
        gw_session_on_writable(s);
}

static void test_gw_session_text_and_fragments(void **state)
{
    static struct mem m;
    struct gw_session *s = open_session(&m, 16);
    struct sframe f[8];

    (void)state;
    frame(&m, 1, 0, 0x1, true, "{\"type\":\"ping\"}", 15);
    /* "hello world" in three fragments with a ping in between. */
    frame(&m, 0, 0, 0x1, true, "hel", 3);
    frame(&m, 1, 0, 0x9, true, "p1", 2);
    frame(&m, 0, 0, 0x0, true, "lo w", 4);
    frame(&m, 1, 0, 0x0, true, "orld", 4);
    frame(&m, 1, 0, 0x1, true, "", 0); /* an empty message is a message */
    m.read_chunk = 1;                  /* one byte per read: headers split everywhere */
    pump(s);
    assert_int_equal(m.n_texts, 3);
    assert_string_equal(m.texts[0], "{\"type\":\"ping\"}");
    assert_string_equal(m.texts[1], "hello world");
    assert_string_equal(m.texts[2], "");
    assert_int_equal(parse_out(&m, f, 8), 1);
    assert_int_equal(f[0].op, 0xA); /* pong with the ping's payload */
    assert_int_equal(f[0].len, 2);
    assert_memory_equal(f[0].p, "p1", 2);
    assert_int_equal(gw_session_state(s), GW_SESS_OPEN);
    gw_session_free(s);
}

static void test_gw_session_close_handshake(void **state)
{
    static struct mem m;
    struct gw_session *s = open_session(&m, 16);
    struct sframe f[4];
    unsigned char body[] = {0x03, 0xe8, 'b', 'y', 'e'};

    (void)state;
    frame(&m, 1, 0, 0x8, true, body, sizeof(body));
    frame(&m, 1, 0, 0x1, true, "late", 4); /* after close: ignored */
    pump(s);
    assert_int_equal(m.n_texts, 0);
    assert_int_equal(parse_out(&m, f, 4), 1);
    assert_int_equal(close_code(&f[0]), 1000); /* echoed */
    assert_int_equal(gw_session_state(s), GW_SESS_DONE);
    gw_session_free(s);

    /* Server-initiated: close queued, then the peer answers. */
    s = open_session(&m, 16);
    gw_session_close(s, 1001, "idle timeout", true);
    pump(s);
    assert_int_equal(gw_session_state(s), GW_SESS_CLOSING);
    assert_true(gw_session_close_sent(s));
    assert_int_equal(parse_out(&m, f, 4), 1);
    assert_int_equal(close_code(&f[0]), 1001);
    frame(&m, 1, 0, 0x8, true, "\x03\xe9", 2);
    pump(s);
    assert_int_equal(gw_session_state(s), GW_SESS_DONE);
    gw_session_free(s);

    /* The peer just goes away. */
    s = open_session(&m, 16);
    m.eof = true;
    pump(s);
    assert_int_equal(gw_session_state(s), GW_SESS_DONE);
    gw_session_free(s);
}

struct violation {
    const char *name;
    unsigned code;
    void (*build)(struct mem *m);
};

static void v_unmasked(struct mem *m) { frame(m, 1, 0, 0x1, false, "hi", 2); }
static void v_rsv(struct mem *m) { frame(m, 1, 4, 0x1, true, "hi", 2); }
static void v_opcode(struct mem *m) { frame(m, 1, 0, 0x3, true, "hi", 2); }
static void v_ctrl_opcode(struct mem *m) { frame(m, 1, 0, 0xB, true, "", 0); }
static void v_binary(struct mem *m) { frame(m, 1, 0, 0x2, true, "\x01\x02", 2); }
static void v_utf8(struct mem *m) { frame(m, 1, 0, 0x1, true, "\xc0\xaf", 2); }
static void v_utf8_split(struct mem *m)
{
    frame(m, 0, 0, 0x1, true, "\xe2\x82", 2);
    frame(m, 1, 0, 0x0, true, "x", 1);
}
static void v_too_big(struct mem *m)
{
    static char big[1001];

    memset(big, 'a', sizeof(big));
    frame(m, 1, 0, 0x1, true, big, sizeof(big));
}
static void v_too_big_fragments(struct mem *m)
{
    static char half[600];

    memset(half, 'a', sizeof(half));
    frame(m, 0, 0, 0x1, true, half, sizeof(half));
    frame(m, 1, 0, 0x0, true, half, sizeof(half));
}
static void v_lone_continuation(struct mem *m) { frame(m, 1, 0, 0x0, true, "x", 1); }
static void v_nested_message(struct mem *m)
{
    frame(m, 0, 0, 0x1, true, "a", 1);
    frame(m, 1, 0, 0x1, true, "b", 1);
}
static void v_fragmented_ping(struct mem *m) { frame(m, 0, 0, 0x9, true, "x", 1); }
static void v_long_ping(struct mem *m)
{
    static char p[126];

    memset(p, 'p', sizeof(p));
    frame(m, 1, 0, 0x9, true, p, sizeof(p));
}
static void v_close_1byte(struct mem *m) { frame(m, 1, 0, 0x8, true, "\x03", 1); }
static void v_close_bad_code(struct mem *m) { frame(m, 1, 0, 0x8, true, "\x03\xed", 2); }
static void v_close_bad_reason(struct mem *m) { frame(m, 1, 0, 0x8, true, "\x03\xe8\xff", 3); }

static void test_gw_session_violations_get_the_right_code(void **state)
{
    static const struct violation v[] = {
        {"unmasked", 1002, v_unmasked},
        {"rsv bits", 1002, v_rsv},
        {"reserved data opcode", 1002, v_opcode},
        {"reserved control opcode", 1002, v_ctrl_opcode},
        {"binary", 1003, v_binary},
        {"bad utf-8", 1007, v_utf8},
        {"utf-8 split over fragments", 1007, v_utf8_split},
        {"too big", 1009, v_too_big},
        {"too big in fragments", 1009, v_too_big_fragments},
        {"lone continuation", 1002, v_lone_continuation},
        {"message inside message", 1002, v_nested_message},
        {"fragmented ping", 1002, v_fragmented_ping},
        {"ping over 125 bytes", 1002, v_long_ping},
        {"close with 1 byte", 1002, v_close_1byte},
        {"close code 1005", 1002, v_close_bad_code},
        {"close reason not utf-8", 1007, v_close_bad_reason},
    };
    static struct mem m;

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct gw_session *s = open_session(&m, 16);
        struct sframe f[4];
        int n;

        v[i].build(&m);
        frame(&m, 1, 0, 0x1, true, "after", 5); /* never parsed after a failure */
        pump(s);
        n = parse_out(&m, f, 4);
        if (n != 1 || close_code(&f[0]) != v[i].code)
            fail_msg("%s: %d frames, close code %u (want %u)", v[i].name, n,
                     n ? close_code(&f[0]) : 0, v[i].code);
        assert_int_equal(m.n_texts, 0);
        assert_int_equal(gw_session_state(s), GW_SESS_CLOSING);
        m.eof = true; /* the peer closes its side: done */
        pump(s);
        assert_int_equal(gw_session_state(s), GW_SESS_DONE);
        gw_session_free(s);
    }
}

static void test_gw_session_queue_overflow_closes_1013(void **state)
{
    static struct mem m;
    struct gw_session *s = open_session(&m, 3);
    struct gw_frame *f = gw_frame_new(0x1, "update", 6);
    struct sframe out[8];

    (void)state;
    m.blocked = true; /* the client reads nothing */
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_session_send(s, f), 0);
    assert_int_equal(gw_session_queued(s), 3);
    assert_int_equal(gw_session_send(s, f), DAI_EQUEUEFULL);
    assert_int_equal(gw_session_state(s), GW_SESS_CLOSING);
    assert_int_equal(gw_session_queued(s), 0); /* dropped: nothing may follow the close */
    assert_int_equal(gw_session_send(s, f), DAI_EINVAL);
    m.blocked = false;
    pump(s);
    assert_int_equal(parse_out(&m, out, 8), 1);
    assert_int_equal(close_code(&out[0]), 1013);
    gw_frame_unref(f);
    gw_session_free(s);
}

static void test_gw_session_partial_writes_keep_frames_whole(void **state)
{
    static struct mem m;
    static char payload[3000];
    struct gw_session *s = open_session(&m, 64);
    struct sframe out[64];
    int n;

    (void)state;
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)('a' + i % 26);
    m.write_limit = 7; /* tiny writes: frames are split at every possible point */
    for (int i = 0; i < 20; i++) {
        struct gw_frame *f = gw_frame_new(0x1, payload, 100 + (size_t)i * 97);

        assert_int_equal(gw_session_send(s, f), 0);
        gw_frame_unref(f);
        if (i == 10) {
            gw_session_ping(s); /* control frames slot in between, never inside */
            gw_session_on_writable(s);
        }
    }
    while (gw_session_want_write(s))
        gw_session_on_writable(s);
    n = parse_out(&m, out, 64);
    assert_int_equal(n, 21);
    for (int i = 0, k = 0; i < n; i++) {
        if (out[i].op == 0x9)
            continue;
        assert_int_equal(out[i].op, 0x1);
        assert_int_equal(out[i].len, 100 + (size_t)k * 97);
        assert_memory_equal(out[i].p, payload, out[i].len);
        k++;
    }
    assert_int_equal(gw_session_frames_sent(s), 20);
    gw_session_free(s);
}

static void test_gw_session_preloaded_bytes_come_first(void **state)
{
    static struct mem m;
    struct gw_session *s = open_session(&m, 16);
    unsigned char pre[64];
    size_t split;

    (void)state;
    frame(&m, 1, 0, 0x1, true, "first", 5);
    frame(&m, 1, 0, 0x1, true, "second", 6);
    /* The first frame and half of the second arrived with the handshake. */
    split = 11 + 5;
    memcpy(pre, m.in, split);
    memmove(m.in, m.in + split, m.in_len - split);
    m.in_len -= split;
    assert_int_equal(gw_session_preload(s, pre, split), 0);
    pump(s);
    assert_int_equal(m.n_texts, 2);
    assert_string_equal(m.texts[0], "first");
    assert_string_equal(m.texts[1], "second");
    gw_session_free(s);
}

/* A peer that pings faster than the limit is closed with 1008, and the close
 * frame is not stuck behind the pongs it never reads. */
static void test_gw_session_ping_flood_closes_1008(void **state)
{
    static struct mem m;
    struct gw_session *s = open_session(&m, 16);
    struct sframe f[64];
    int n;

    (void)state;
    for (int i = 0; i < 40; i++)
        frame(&m, 1, 0, 0x9, true, "flood", 5);
    m.blocked = true; /* it never reads */
    while (gw_session_on_readable(s))
        ;
    gw_session_on_writable(s);
    assert_int_equal(gw_session_state(s), GW_SESS_CLOSING);
    assert_int_equal(gw_session_close_code(s), 1008);
    m.blocked = false;
    while (gw_session_want_write(s))
        gw_session_on_writable(s);
    n = parse_out(&m, f, 64);
    assert_int_equal(n, 1); /* the queued pongs were dropped for the close */
    assert_int_equal(close_code(&f[0]), 1008);
    gw_session_free(s);
}

/* Pongs pile up while the peer does not read: beyond the control queue the
 * session closes with 1008 instead of growing. */
static void test_gw_session_control_queue_is_bounded(void **state)
{
    static struct mem m;
    struct gw_session_limits lim = {.max_message = 1000, .queue_msgs = 16,
                                    .queue_bytes = 1 << 20, .ctrl_queue = 4,
                                    .pings_per_s = 1000};
    struct gw_session_io io = {m_read, m_writev, m_text, &m};
    struct gw_session *s;

    (void)state;
    memset(&m, 0, sizeof(m));
    s = gw_session_new(&lim, &io);
    assert_non_null(s);
    for (int i = 0; i < 4; i++)
        frame(&m, 1, 0, 0x9, true, "p", 1);
    m.blocked = true;
    while (gw_session_on_readable(s))
        ;
    gw_session_on_writable(s);
    assert_int_equal(gw_session_state(s), GW_SESS_OPEN); /* 4 pongs wait: allowed */
    frame(&m, 1, 0, 0x9, true, "p", 1);
    while (gw_session_on_readable(s))
        ;
    assert_int_equal(gw_session_state(s), GW_SESS_CLOSING);
    assert_int_equal(gw_session_close_code(s), 1008);
    gw_session_free(s);
}

/* One call reads at most the read budget and says more is waiting; the rest
 * comes on the next calls, nothing lost. */
static void test_gw_session_reads_within_a_budget(void **state)
{
    static struct mem m;
    struct gw_session_limits lim = {.max_message = 1000, .queue_msgs = 16,
                                    .queue_bytes = 1 << 20, .read_budget = 64};
    struct gw_session_io io = {m_read, m_writev, m_text, &m};
    struct gw_session *s;
    char msg[40];
    int calls = 0;

    (void)state;
    memset(&m, 0, sizeof(m));
    s = gw_session_new(&lim, &io);
    assert_non_null(s);
    memset(msg, 'a', sizeof(msg));
    for (int i = 0; i < 8; i++)
        frame(&m, 1, 0, 0x1, true, msg, sizeof(msg)); /* 46 bytes each */
    assert_true(gw_session_on_readable(s));
    assert_true(m.in_off <= 64);
    assert_true(m.n_texts < 8);
    calls = 1;
    while (gw_session_on_readable(s))
        calls++;
    assert_true(calls >= 5);
    assert_int_equal(m.n_texts, 8);
    assert_int_equal(gw_session_state(s), GW_SESS_OPEN);
    gw_session_free(s);
}

/* Liveness: the peer's own pings (and stray pongs) do not keep it alive; a
 * data message or the pong to our latest ping does. */
static void test_gw_session_liveness_needs_messages_or_our_pong(void **state)
{
    static struct mem m;
    struct gw_session *s = open_session(&m, 16);
    struct sframe f[8];
    long long t0 = gw_session_last_rx_us(s), t1;
    char payload[16];

    (void)state;
    while (dai_mono_us() == t0)
        ;
    frame(&m, 1, 0, 0x9, true, "hi", 2);
    frame(&m, 1, 0, 0xA, true, "stray", 5);
    pump(s);
    assert_int_equal(gw_session_last_rx_us(s), t0);
    m.out_len = 0;
    gw_session_ping(s);
    pump(s);
    assert_int_equal(parse_out(&m, f, 8), 1);
    assert_int_equal(f[0].op, 0x9);
    assert_true(f[0].len < sizeof(payload));
    memcpy(payload, f[0].p, f[0].len);
    frame(&m, 1, 0, 0xA, true, payload, f[0].len);
    pump(s);
    t1 = gw_session_last_rx_us(s);
    assert_true(t1 > t0);
    while (dai_mono_us() == t1)
        ;
    frame(&m, 1, 0, 0x1, true, "{}", 2);
    pump(s);
    assert_true(gw_session_last_rx_us(s) > t1);
    gw_session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_session_text_and_fragments),
        cmocka_unit_test(test_gw_session_close_handshake),
        cmocka_unit_test(test_gw_session_violations_get_the_right_code),
        cmocka_unit_test(test_gw_session_queue_overflow_closes_1013),
        cmocka_unit_test(test_gw_session_partial_writes_keep_frames_whole),
        cmocka_unit_test(test_gw_session_preloaded_bytes_come_first),
        cmocka_unit_test(test_gw_session_ping_flood_closes_1008),
        cmocka_unit_test(test_gw_session_control_queue_is_bounded),
        cmocka_unit_test(test_gw_session_reads_within_a_budget),
        cmocka_unit_test(test_gw_session_liveness_needs_messages_or_our_pong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
