/* Small jansson helpers: typed getters with defaults, dotted-path lookup,
 * compact serialisation into a capped dai_buf, and the JSON string writer. */
#ifndef DISPATCHAI_JSON_H
#define DISPATCHAI_JSON_H

#include <dispatchai/buf.h>
#include <dispatchai/err.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Append s (NUL-terminated, valid UTF-8) as a quoted JSON string: '"', '\\'
 * and control characters escaped, everything else as is. */
DAI_MUST_CHECK int dai_buf_append_jstr(struct dai_buf *b, const char *s);

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
/* A NUL inside a string (the escape \u0000) is read as U+FFFD, the rule for
 * every daemon (docs/events.md, "NUL in text"). */
json_t *dai_json_parse(const char *data, size_t len, char *err, size_t errlen);

/* Replace every \u0000 escape of JSON text with \ufffd, in place: same
 * length, so spans into the text stay valid. An escaped backslash before
 * "u0000" ("\\u0000", literal text) is left alone. Returns the count. */
size_t dai_json_replace_nul(char *text, size_t len);

#endif
