/* Small jansson helpers: typed getters with defaults, dotted-path lookup, and
 * compact serialisation into a reusable, capped byte buffer. */
#ifndef DISPATCHAI_JSON_H
#define DISPATCHAI_JSON_H

#include <dispatchai/err.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A growable byte buffer with a hard cap (max == 0 means no cap). The data is
 * always NUL-terminated after a successful append. Zero-initialise to start. */
struct dai_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

DAI_MUST_CHECK int dai_buf_reserve(struct dai_buf *b, size_t extra); /* 0, -ENOMEM, DAI_ETOOBIG */
DAI_MUST_CHECK int dai_buf_append(struct dai_buf *b, const void *data, size_t len);
DAI_MUST_CHECK int dai_buf_appendf(struct dai_buf *b, const char *fmt, ...) DAI_PRINTF(2, 3);
/* Append s (NUL-terminated, valid UTF-8) as a quoted JSON string: '"', '\\'
 * and control characters escaped, everything else as is. */
DAI_MUST_CHECK int dai_buf_append_jstr(struct dai_buf *b, const char *s);
void dai_buf_reset(struct dai_buf *b);     /* len = 0, keeps memory */
void dai_buf_free(struct dai_buf *b);      /* frees memory, keeps max */
char *dai_buf_take(struct dai_buf *b);     /* new string; the buffer is emptied */

/* Typed getters on an object member; the default when absent, null or of another type. */
const char *dai_json_str(const json_t *obj, const char *key, const char *def); /* borrowed */
long long dai_json_int(const json_t *obj, const char *key, long long def);
double dai_json_real(const json_t *obj, const char *key, double def); /* ints convert */
bool dai_json_bool(const json_t *obj, const char *key, bool def);

/* Member at a dotted path ("repository.owner.login"); borrowed or NULL. */
json_t *dai_json_path(const json_t *root, const char *path);

/* Compact dump (no spaces, keys in insertion order) into b, replacing its
 * content. 0, -ENOMEM or DAI_ETOOBIG. */
DAI_MUST_CHECK int dai_json_dump(const json_t *v, struct dai_buf *b);

/* Parse a JSON document from memory with a nesting-depth and size discipline
 * suitable for untrusted input. New reference or NULL with a message in err.
 * The top level must be an object or array; documents nested deeper than
 * DAI_JSON_MAX_DEPTH arrays/objects are rejected before jansson sees them.
 * The size cap is the caller's (e.g. http.max_body). */
#define DAI_JSON_MAX_DEPTH 64
json_t *dai_json_parse(const char *data, size_t len, char *err, size_t errlen);

/* Format a UNIX time in milliseconds as RFC 3339 UTC ("2026-11-29T10:00:00.123Z").
 * out must hold 32 bytes. */
void dai_rfc3339_ms(long long unix_ms, char out[32]);
long long dai_now_ms(void);        /* wall clock, ms since epoch */
long long dai_mono_us(void);       /* monotonic clock, microseconds */
/* Milliseconds from now until a dai_mono_us() deadline, clamped to 0..1 h
 * (a timeout argument for librdkafka and poll). */
int dai_ms_left(long long deadline_us);

#endif
