/* Gateway internals: the in-memory triage view (store, ordered index, string
 * maps), REST query parsing and cursors, access control, human corrections,
 * WebSocket sessions (wslay framing) with their fan-out loop, and the Kafka
 * follower that feeds them. Names are gw_*; nothing here is public.
 *
 * Threads: the consumer thread is the only writer of the store and the only
 * producer of updates; MHD threads read the store under its read lock; one
 * epoll thread (fanout.c) owns every WebSocket session and the resume log. */
#ifndef DISPATCHAI_GATEWAY_H
#define DISPATCHAI_GATEWAY_H

#include <dispatchai/dai.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* ==== text.c: small pure helpers ========================================= */

/* True if [p, p+n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF) — what RFC 6455 requires of text frames. */
bool gw_utf8_valid(const void *p, size_t n);
/* Largest length <= max that does not cut a UTF-8 sequence of s[0..n). */
size_t gw_utf8_cut(const char *s, size_t n, size_t max);
/* RFC 3339 timestamp ("2026-01-02T03:04:05.678Z", "+02:00" offsets) to Unix
 * milliseconds. 0 or DAI_EPARSE. */
DAI_MUST_CHECK int gw_parse_time_ms(const char *s, int64_t *out);
/* ASCII lower-casing of n bytes into out (which may equal s). */
void gw_lower(const char *s, size_t n, char *out);
/* 64-bit FNV-1a; stable across processes (used in cursors). */
uint64_t gw_hash64(const void *p, size_t n);
/* base64url without padding. gw_b64url_encode writes 4*ceil(n/3) + 1 bytes
 * at most and returns the length; decode returns the decoded length or
 * DAI_EPARSE (bad character, impossible length, or more than cap bytes). */
size_t gw_b64url_encode(const void *in, size_t n, char *out);
DAI_MUST_CHECK int gw_b64url_decode(const char *in, size_t n, void *out, size_t cap);
/* A 128-bit Bloom signature of the byte bigrams of s: if needle occurs in
 * hay, every bit of sig(needle) is set in sig(hay). Needles under 2 bytes
 * give an empty signature (no filtering). */
void gw_bigram_sig(const char *s, size_t n, uint64_t sig[2]);
/* Strict unsigned decimal (no sign, no spaces, no leading '+'); 0 or DAI_EPARSE. */
DAI_MUST_CHECK int gw_parse_u64(const char *s, size_t n, uint64_t *out);

/* ==== strmap.c: string -> uint32 open-addressing map ====================== */

struct gw_strmap_slot;
struct gw_strmap {
    struct gw_strmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

/* Keys are borrowed: the caller keeps each key's bytes alive and unchanged
 * while it is in the map (the store points at its own copies). */
void gw_strmap_init(struct gw_strmap *m);
void gw_strmap_free(struct gw_strmap *m);
/* 0 and *val, or DAI_ENOTFOUND. */
DAI_MUST_CHECK int gw_strmap_get(const struct gw_strmap *m, const char *key, size_t len,
                                 uint32_t *val);
/* Insert or replace; 0 or -ENOMEM. */
DAI_MUST_CHECK int gw_strmap_put(struct gw_strmap *m, const char *key, size_t len, uint32_t val);
/* 0 or DAI_ENOTFOUND. */
int gw_strmap_del(struct gw_strmap *m, const char *key, size_t len);

/* ==== order.c: issues ordered newest first =============================== */

/* One issue's position and the fields list queries filter on, kept together
 * so a filtered scan walks memory sequentially. Order: updated_ms desc, then
 * khash desc (a stable hash of the key, so cursors survive restarts and work
 * across gateway instances). */
struct gw_ent {
    int64_t updated_ms;
    uint64_t khash;
    const char *title_lc; /* borrowed from the store's issue */
    uint64_t tsig[2];     /* gw_bigram_sig of title_lc: most q scans stop here */
    uint32_t title_len;
    uint32_t id;          /* store slot */
    uint32_t repo;        /* repo id */
    uint32_t team;        /* suggested assignee id, 0 = none */
    uint8_t category, priority, state, type;
};

struct gw_order_blk;
struct gw_order {
    struct gw_order_blk **blk;
    size_t nblk, capblk;
    size_t n;
};

/* A position: block and index within it. */
struct gw_order_pos {
    size_t b, i;
};

void gw_order_init(struct gw_order *o);
void gw_order_free(struct gw_order *o);
/* 0 or -ENOMEM. The (updated_ms, khash) pair must not already be present. */
DAI_MUST_CHECK int gw_order_insert(struct gw_order *o, const struct gw_ent *e);
/* 0 or DAI_ENOTFOUND. */
int gw_order_remove(struct gw_order *o, int64_t updated_ms, uint64_t khash);
/* First position strictly after (ms, hash) in order; with after == false,
 * the very first position. */
struct gw_order_pos gw_order_seek(const struct gw_order *o, bool after, int64_t ms,
                                  uint64_t hash);
/* Entry at pos or NULL at the end; gw_order_next advances. */
const struct gw_ent *gw_order_at(const struct gw_order *o, struct gw_order_pos p);
struct gw_order_pos gw_order_next(const struct gw_order *o, struct gw_order_pos p);
/* The entry k places after pos within pos's block, or NULL (for prefetching). */
const struct gw_ent *gw_order_peek(const struct gw_order *o, struct gw_order_pos p, size_t k);
/* The oldest entry, or NULL when empty. */
const struct gw_ent *gw_order_last(const struct gw_order *o);

/* ==== match: filters shared by REST queries and WS subscriptions ========= */

enum gw_state { GW_STATE_OPEN = 0, GW_STATE_CLOSED, GW_STATE_OTHER, GW_STATE_COUNT };
enum gw_type { GW_TYPE_ISSUE = 0, GW_TYPE_PR, GW_TYPE_COUNT };

#define GW_MAX_VALUES 32   /* values per filter field */
#define GW_MAX_VALUE_LEN 200
#define GW_MAX_Q 256

struct gw_strset {
    char *v[GW_MAX_VALUES]; /* new, lower-case */
    unsigned n;
};

/* Bitmasks: bit i set = enum value i accepted; 0 = any. String sets: empty = any. */
struct gw_match {
    uint32_t categories, priorities, states, types;
    struct gw_strset repos, teams;
};

enum gw_field {
    GW_F_REPO = 0,
    GW_F_CATEGORY,
    GW_F_PRIORITY,
    GW_F_STATE,
    GW_F_TYPE,
    GW_F_TEAM,
    GW_F_COUNT
};

/* What filters look at for one issue (strings lower-case, borrowed). */
struct gw_sel {
    const char *repo;
    const char *team; /* "" = none */
    int category, priority, state, type;
};

/* Add one value to a field (already URL-/JSON-decoded). 0 or DAI_EINVAL with
 * a message in err naming the field and value. */
DAI_MUST_CHECK int gw_match_add(struct gw_match *m, enum gw_field f, const char *val,
                                size_t len, char *err, size_t errlen);
/* Split a comma-separated list and add each item (empty items rejected). */
DAI_MUST_CHECK int gw_match_add_csv(struct gw_match *m, enum gw_field f, const char *csv,
                                    char *err, size_t errlen);
bool gw_match_empty(const struct gw_match *m);
bool gw_match_sel(const struct gw_match *m, const struct gw_sel *s);
void gw_match_clear(struct gw_match *m);
/* New JSON object describing the filter ({"repos":[...],...}); NULL on OOM. */
json_t *gw_match_to_json(const struct gw_match *m);
const char *gw_state_name(int s);
const char *gw_type_name(int t);
int gw_state_parse(const char *s);
int gw_type_parse(const char *s);

/* ==== query.c: GET /api/issues parameters and cursors ==================== */

#define GW_LIMIT_DEFAULT 50
#define GW_LIMIT_MAX 500

struct gw_query {
    struct gw_match m;
    char q[GW_MAX_Q + 1]; /* lower-case title substring */
    size_t qlen;
    uint64_t qsig[2];
    bool has_since;
    int64_t since_ms;
    unsigned limit;
    bool has_cursor;
    int64_t cur_ms;
    uint64_t cur_hash;
};

void gw_query_init(struct gw_query *q);
void gw_query_clear(struct gw_query *q);
/* Apply one query-string argument. Unknown names, bad values, empty values
 * → DAI_EINVAL with a message. */
DAI_MUST_CHECK int gw_query_arg(struct gw_query *q, const char *name, const char *value,
                                char *err, size_t errlen);
/* Opaque cursor text for a position (out holds GW_CURSOR_MAX bytes). */
#define GW_CURSOR_MAX 48
void gw_cursor_encode(int64_t ms, uint64_t hash, char out[GW_CURSOR_MAX]);
DAI_MUST_CHECK int gw_cursor_decode(const char *s, int64_t *ms, uint64_t *hash);

/* ==== store.c: the view ================================================== */

struct gw_store_limits {
    size_t max_body;    /* subject/comment body bytes kept (UTF-8 safe cut) */
    size_t max_event;   /* stored event JSON cap after the cut */
    unsigned history;   /* classification history entries per issue */
    size_t max_issues;  /* the least recently updated issue is evicted beyond this */
};

enum gw_apply_kind {
    GW_APPLY_UPDATED = 0, /* new or changed issue */
    GW_APPLY_REMOVED,     /* action "deleted": the issue left the view */
};

/* The outcome of applying one event; pointers are borrowed from the store and
 * valid until the next gw_store_apply (only the applying thread may read
 * them, and it is the only writer). */
struct gw_applied {
    enum gw_apply_kind kind;
    const char *event;   /* the effective stored event JSON */
    size_t event_len;
    const char *key;
    bool has_before;
    struct gw_sel before, after;
    bool human_kept;     /* an automatic classification was overridden by a human one */
    bool evicted;        /* applying evicted the oldest issue (max_issues) */
};

struct gw_store_stats {
    size_t issues;
    size_t bytes;        /* accounted heap bytes of the view */
    unsigned long long applied, rejected, human_kept, evicted;
};

struct gw_store;

struct gw_store *gw_store_new(const struct gw_store_limits *lim, char *err, size_t errlen);
void gw_store_free(struct gw_store *s);

/* Apply one enriched event (JSON text from issues.enriched). Returns 0 with
 * *out filled, DAI_EPARSE/DAI_ESCHEMA/DAI_ETOOBIG with the reason in err
 * (the event is skipped), or -ENOMEM. Takes the write lock. */
DAI_MUST_CHECK int gw_store_apply(struct gw_store *s, const char *json, size_t len,
                                  struct gw_applied *out, char *err, size_t errlen);

/* Responses, written into out (replacing its content) under the read lock. */
DAI_MUST_CHECK int gw_store_list(struct gw_store *s, const struct gw_query *q,
                                 struct dai_buf *out);
/* {"key","latest","history","human_override"}; DAI_ENOTFOUND if unknown. */
DAI_MUST_CHECK int gw_store_get(struct gw_store *s, const char *repo, long long number,
                                struct dai_buf *out);
DAI_MUST_CHECK int gw_store_stats_json(struct gw_store *s, const char *repo, struct dai_buf *out);
DAI_MUST_CHECK int gw_store_repos_json(struct gw_store *s, struct dai_buf *out);
/* A new copy of an issue's effective latest event (for corrections), or NULL
 * with *rc = DAI_ENOTFOUND / -ENOMEM. */
json_t *gw_store_latest(struct gw_store *s, const char *repo, long long number, int *rc);
void gw_store_get_stats(struct gw_store *s, struct gw_store_stats *st);

/* ==== auth.c: API tokens ================================================= */

enum { GW_SCOPE_READ = 1u << 0, GW_SCOPE_WRITE = 1u << 1 };

struct gw_auth;

/* Parse "name:token:scope+scope,..." (GATEWAY_API_TOKENS form) into auth.
 * 0 or DAI_ECONFIG with a message that never contains a token. */
struct gw_auth *gw_auth_new(void);
void gw_auth_free(struct gw_auth *a);
DAI_MUST_CHECK int gw_auth_add(struct gw_auth *a, const char *name, const char *token,
                               unsigned scopes, char *err, size_t errlen);
DAI_MUST_CHECK int gw_auth_parse_list(struct gw_auth *a, const char *spec, char *err,
                                      size_t errlen);
/* "read+write" / ["read","write"] element parse: scope bit or 0 if unknown. */
unsigned gw_scope_parse(const char *s, size_t n);
size_t gw_auth_count(const struct gw_auth *a);
/* Look a presented token up. Every configured token is compared (SHA-256
 * digests, constant time) so timing does not depend on which one matches.
 * Returns the entry's name (borrowed, valid for a's life) and *scopes, or
 * NULL if unknown. */
const char *gw_auth_check(const struct gw_auth *a, const char *token, size_t len,
                          unsigned *scopes);
/* Token out of an Authorization header value ("Bearer <t>", scheme case-
 * insensitive); NULL if absent or another scheme. *len receives its length. */
const char *gw_auth_bearer(const char *header, size_t *len);

enum gw_authz {
    GW_AUTHZ_OK = 0,
    GW_AUTHZ_MISSING,   /* 401 */
    GW_AUTHZ_INVALID,   /* 401 */
    GW_AUTHZ_FORBIDDEN, /* 403 */
};
/* Decide a request: token may be NULL (none presented). *who receives the
 * token name (or "anonymous" for public reads). */
enum gw_authz gw_auth_decide(const struct gw_auth *a, bool public_read, const char *token,
                             size_t len, unsigned need, const char **who);

/* ==== correction.c: human corrections ==================================== */

#define GW_CORRECTION_MAX_BODY 16384

/* Validate a correction request body against the current effective event and
 * build the event to publish: a copy of latest with classification replaced
 * (source "human", corrected_by = who, confidence 1) and fresh
 * processing_metadata. Returns a new event, or NULL with a 400-worthy
 * message in err. */
json_t *gw_correction_build(const json_t *latest, const char *body, size_t len,
                            const char *who, int64_t now_ms, char *err, size_t errlen);

/* ==== wsmsg.c: client messages =========================================== */

enum gw_wsmsg_type { GW_WSMSG_SUBSCRIBE = 0, GW_WSMSG_PING };

struct gw_wsmsg {
    enum gw_wsmsg_type type;
    struct gw_match filter;  /* subscribe */
    bool has_since;
    uint64_t since;
};

/* Parse one text message. 0, or DAI_EINVAL with a message for an error reply. */
DAI_MUST_CHECK int gw_wsmsg_parse(const char *data, size_t len, struct gw_wsmsg *out, char *err,
                                  size_t errlen);
void gw_wsmsg_clear(struct gw_wsmsg *m);

/* ==== frame.c: shared, pre-framed WebSocket messages ===================== */

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

/* ==== updlog.c: updates with sequence numbers, bounded resume log ======== */

/* One applied event as sent to WebSocket clients. */
struct gw_update {
    uint64_t seq;
    long long received_us;    /* dai_mono_us() when the consumer handed it over */
    struct gw_frame *frame;   /* {"type":"issue_update","seq":N,"data":...} */
    bool has_before;
    char *strs;               /* backing store for the selectors' strings */
    struct gw_sel before, after;
};

/* New update (strings copied); NULL on OOM. frame is stolen. */
struct gw_update *gw_update_new(uint64_t seq, struct gw_frame *frame, const struct gw_sel *before,
                                const struct gw_sel *after);
void gw_update_free(struct gw_update *u);
/* Delivered when the issue matched the filter before or after the update, so
 * a client also learns that an issue left its view. */
bool gw_update_matches(const struct gw_update *u, const struct gw_match *m);

struct gw_updlog {
    struct gw_update **ring;
    size_t cap, head, n;     /* entries ring[head .. head+n) oldest first */
    size_t bytes, max_bytes;
};

DAI_MUST_CHECK int gw_updlog_init(struct gw_updlog *l, size_t max_entries, size_t max_bytes);
void gw_updlog_free(struct gw_updlog *l);
/* Append (steals u), evicting the oldest beyond the bounds. */
void gw_updlog_push(struct gw_updlog *l, struct gw_update *u);
/* Resume: index (0 = oldest) of the first entry with seq > since, n if
 * since is the newest seq, or -1 when updates after since are no longer held
 * (or since is from the future / another process). */
long gw_updlog_resume_index(const struct gw_updlog *l, uint64_t since, uint64_t last_seq);
const struct gw_update *gw_updlog_at(const struct gw_updlog *l, size_t i);

/* ==== session.c: one WebSocket connection's protocol state ============== */

struct gw_session_limits {
    size_t max_message;   /* largest client message (1009 beyond) */
    size_t queue_msgs;    /* data frames queued before 1013 */
    size_t queue_bytes;
};

struct gw_session;

/* I/O hooks so the protocol logic runs over a socket or, in tests, memory.
 * read: like recv(2) (-1 + errno EAGAIN when nothing is there, 0 at EOF);
 * writev: like writev(2). */
struct gw_session_io {
    ssize_t (*read)(void *ud, void *buf, size_t len);
    ssize_t (*writev)(void *ud, const struct iovec *iov, int n);
    /* A complete text message from the client. */
    void (*on_text)(void *ud, const char *data, size_t len);
    void *ud;
};

enum gw_session_state {
    GW_SESS_OPEN = 0,
    GW_SESS_CLOSING,  /* close frame queued or sent; waiting for the peer's */
    GW_SESS_DONE      /* the TCP connection should be closed now */
};

struct gw_session *gw_session_new(const struct gw_session_limits *lim,
                                  const struct gw_session_io *io);
void gw_session_free(struct gw_session *s);
/* Bytes MHD read past the upgrade request; they are parsed before the socket. */
DAI_MUST_CHECK int gw_session_preload(struct gw_session *s, const void *data, size_t len);
/* Read and process everything available. */
void gw_session_on_readable(struct gw_session *s);
/* Write as much as the socket takes. */
void gw_session_on_writable(struct gw_session *s);
/* Queue a data frame (reference taken). DAI_EQUEUEFULL when the bounded
 * queue would overflow — the session then closes itself with 1013 — or
 * DAI_EINVAL when closing. */
DAI_MUST_CHECK int gw_session_send(struct gw_session *s, struct gw_frame *f);
/* Queue a text message (framed here). Same results as gw_session_send. */
DAI_MUST_CHECK int gw_session_send_text(struct gw_session *s, const char *text, size_t len);
/* Protocol ping (keepalive). */
void gw_session_ping(struct gw_session *s);
/* Start the closing handshake with code and reason (queued data dropped when
 * drop_queue, e.g. for 1013). */
void gw_session_close(struct gw_session *s, uint16_t code, const char *reason, bool drop_queue);
enum gw_session_state gw_session_state(const struct gw_session *s);
bool gw_session_want_write(const struct gw_session *s);
size_t gw_session_queued(const struct gw_session *s);
/* Monotonic µs of the last frame received (keepalive/idle decisions). */
long long gw_session_last_rx_us(const struct gw_session *s);
/* The code of the close frame this side queued (0 if none yet). */
uint16_t gw_session_close_code(const struct gw_session *s);
/* Our close frame is fully written (time to half-close the socket). */
bool gw_session_close_sent(const struct gw_session *s);
/* Data frames written completely so far. */
unsigned long long gw_session_frames_sent(const struct gw_session *s);

/* ==== handshake (ws.c): RFC 6455 opening handshake checks ================ */

/* Validate upgrade request headers. 0, or the HTTP status to answer (400,
 * 426) with a message. key must be 24 base64 characters decoding to 16 bytes. */
int gw_ws_check_handshake(const char *method, const char *upgrade, const char *connection,
                          const char *version, const char *key, char *err, size_t errlen);
/* Sec-WebSocket-Accept for key (out holds 29 bytes). */
void gw_ws_accept(const char *key, char out[29]);

/* ==== options.c: configuration ========================================== */

struct gw_config {
    struct dai_common_config common;
    bool public_read;               /* gateway.public_read / GATEWAY_PUBLIC_READ */
    char *api_tokens;               /* gateway.api_tokens / GATEWAY_API_TOKENS (secret) */
    struct dai_strlist cors_origins;/* gateway.cors_origins / GATEWAY_CORS_ORIGINS */
    size_t max_request_body;        /* gateway.max_request_body */
    int corrections_per_minute;     /* gateway.corrections_per_minute (0 = no limit) */
    int correction_timeout_ms;      /* gateway.correction_timeout */
    size_t store_max_body;          /* store.max_body */
    size_t store_max_event;         /* store.max_event */
    int store_history;              /* store.history */
    int store_max_issues;           /* store.max_issues */
    int ws_max_clients;             /* ws.max_clients */
    int ws_queue_messages;          /* ws.queue_messages */
    size_t ws_queue_bytes;          /* ws.queue_bytes */
    size_t ws_max_message;          /* ws.max_message */
    size_t ws_socket_sndbuf;        /* ws.socket_sndbuf (0 = kernel default) */
    int ws_ping_interval_ms;        /* ws.ping_interval */
    int ws_idle_timeout_ms;         /* ws.idle_timeout */
    int ws_close_timeout_ms;        /* ws.close_timeout */
    int ws_batch_delay_ms;          /* ws.batch_delay */
    int ws_resume_entries;          /* ws.resume_entries */
    size_t ws_resume_bytes;         /* ws.resume_bytes */
    /* Built by gw_options_load from the tokens above or gateway.tokens. */
    struct gw_auth *auth;
};

/* Load config (defaults < config/gateway.conf < env < CLI) and the token
 * table. DAI_CONFIG_RUN, DAI_CONFIG_EXITED (--help/--version printed) or
 * DAI_ECONFIG with a message that never contains a token. */
DAI_MUST_CHECK int gw_options_load(struct gw_config *cfg, int argc, char **argv, char *err,
                                   size_t errlen);
void gw_options_free(struct gw_config *cfg);

/* ==== metrics.c ========================================================== */

struct gw_metrics {
    struct dai_metrics *reg;
    struct dai_metric *tracked, *store_bytes, *applied, *rejected, *human_kept, *evicted;
    struct dai_metric *lag, *caught_up, *catchup_seconds;
    struct dai_metric *ws_clients, *ws_connections, *ws_sent, *ws_slow, *ws_closed;
    struct dai_metric *ws_resumes, *ws_fanout;
    struct dai_metric *corrections;
};

DAI_MUST_CHECK int gw_metrics_init(struct gw_metrics *m, struct dai_metrics *reg);

/* ==== fanout.c: the WebSocket event loop ================================ */

struct gw_fanout_options {
    struct gw_session_limits limits;
    int ping_interval_ms, idle_timeout_ms, close_timeout_ms;
    int batch_delay_ms;  /* hold updates this long so several share one write per client */
    unsigned max_clients;
    size_t resume_entries, resume_bytes;
    size_t sndbuf;
    struct gw_metrics *metrics;
};

struct gw_fanout;

/* Start the loop thread. NULL with the reason in err. */
struct gw_fanout *gw_fanout_new(const struct gw_fanout_options *opt, char *err, size_t errlen);
/* Close every session with 1001, wait up to timeout_ms for the goodbyes,
 * stop the thread and release the sockets. Later adoptions are refused.
 * Call before dai_http_stop (MHD must not stop with upgraded sockets open). */
void gw_fanout_stop(struct gw_fanout *f, int timeout_ms);
/* Free after dai_http_stop. NULL is fine. */
void gw_fanout_free(struct gw_fanout *f);
/* From the consumer thread only: number the update, frame it once, hand it
 * to the loop. 0 or -ENOMEM (the update is then lost for WebSocket clients
 * and counted; REST still has it). */
DAI_MUST_CHECK int gw_fanout_publish(struct gw_fanout *f, const struct gw_applied *a);
/* The newest sequence number handed out (any thread). */
uint64_t gw_fanout_last_seq(const struct gw_fanout *f);
/* Sessions connected or being adopted (any thread; for the max_clients check). */
unsigned gw_fanout_clients(const struct gw_fanout *f);

struct gw_ws_start {
    struct gw_match filter;  /* moved in: the caller's copy is emptied */
    bool has_since;
    uint64_t since;
    char who[64];
};

/* From MHD's upgrade callback: take over the socket (urh is an
 * MHD_UpgradeResponseHandle, closed through MHD when the session ends).
 * extra holds bytes MHD read past the request (copied). */
void gw_fanout_adopt(struct gw_fanout *f, int fd, void *urh, const char *extra, size_t extra_len,
                     struct gw_ws_start *start);

/* ==== publish.c: corrections to issues.enriched ========================= */

typedef void (*gw_published_fn)(void *ud, int rc, int32_t partition, int64_t offset,
                                const char *errstr);
struct gw_publisher;

struct gw_publisher *gw_publisher_new(const struct gw_config *cfg, struct dai_metrics *reg,
                                      char *err, size_t errlen);
/* Produce one event (value copied) keyed by key; done runs exactly once, on
 * the producer's poll thread, when the broker acknowledged it or gave up.
 * 0, or DAI_EQUEUEFULL/DAI_EKAFKA (done will not run). */
DAI_MUST_CHECK int gw_publisher_send(struct gw_publisher *p, const char *key, const char *value,
                                     size_t len, gw_published_fn done, void *ud);
void gw_publisher_free(struct gw_publisher *p, int flush_timeout_ms);

/* ==== consume.c: following issues.enriched ============================== */

struct gw_follower;

struct gw_follower *gw_follower_new(const struct gw_config *cfg, struct gw_store *store,
                                    struct gw_fanout *fanout, struct gw_metrics *metrics,
                                    char *err, size_t errlen);
/* Read from the beginning, catch up, then follow until the process stops. */
void gw_follower_run(struct gw_follower *f);
/* Caught up with the end offsets seen at start (any thread). */
bool gw_follower_ready(const struct gw_follower *f, char *why, size_t n);
void gw_follower_free(struct gw_follower *f);

/* ==== rest.c / ws.c: HTTP routes ======================================== */

struct gw_app {
    const struct gw_config *cfg;
    struct gw_store *store;
    struct gw_fanout *fanout;
    struct gw_publisher *publisher;
    struct gw_follower *follower;
    struct gw_metrics *metrics;
    struct gw_ratelimit *limiter;
};

/* The dai_http handlers of the gateway; ud is the struct gw_app. */
void gw_rest_handlers(struct dai_http_handlers *h);
/* GET /ws: validate and upgrade (from on_request, authorised already).
 * May leave a pending start in req->state: free it with gw_ws_pending_free
 * in on_complete. */
void gw_ws_handle(struct gw_app *app, struct dai_http_request *req, const char *who);
void gw_ws_pending_free(void *state);
/* CORS response headers for req into hdrs (at most 3); returns the count. */
size_t gw_cors_headers(const struct gw_config *cfg, struct dai_http_request *req,
                       struct dai_http_header *hdrs);
bool gw_origin_allowed(const struct gw_config *cfg, const char *origin);

/* ==== ratelimit.c: corrections per token ================================ */

struct gw_ratelimit;
struct gw_ratelimit *gw_ratelimit_new(int per_minute);
void gw_ratelimit_free(struct gw_ratelimit *r);
/* True if name may act now (a token bucket per name, burst = per_minute);
 * otherwise *retry_s receives the seconds to wait. Thread-safe. */
bool gw_ratelimit_take(struct gw_ratelimit *r, const char *name, long long now_ms, int *retry_s);

#endif
