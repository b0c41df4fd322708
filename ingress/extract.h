/* The ingress's strict JSON extractor (extract.c): one validating pass over
 * a GitHub payload that records where the few fields we need are, without
 * building a tree. Kept in its own header so the fuzz driver and the unit
 * tests can use it without the rest of the daemon. */
#ifndef DISPATCHAI_INGRESS_EXTRACT_H
#define DISPATCHAI_INGRESS_EXTRACT_H

#include <dispatchai/err.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deeper documents are rejected; GitHub payloads nest about 6 levels. */
#define ING_JSON_MAX_DEPTH 64

enum ing_jtype {
    ING_JT_ABSENT = 0,
    ING_JT_NULL,
    ING_JT_FALSE,
    ING_JT_TRUE,
    ING_JT_NUMBER,
    ING_JT_STRING,
    ING_JT_OBJECT,
    ING_JT_ARRAY
};

enum {
    ING_JF_ESCAPED = 1u << 0, /* a string holding at least one backslash escape */
    ING_JF_INT = 1u << 1      /* a number written as an integer (no fraction/exponent) */
};

/* Where a value is inside the document. Strings: off/len cover the raw
 * (still escaped, already validated) bytes between the quotes, so they can be
 * copied verbatim into another JSON document. Other values: the whole value. */
struct ing_span {
    uint32_t off;
    uint32_t len;
    uint8_t type;  /* enum ing_jtype */
    uint8_t flags; /* ING_JF_* */
};

/* A compiled set of dotted paths ("repository.owner.login"). Immutable after
 * creation, so one set is shared by every thread. */
struct ing_jpaths;

/* New path set for paths[0..n) (each path's span lands in spans[i]) or NULL
 * with the reason in err (empty segment, too many paths, OOM). */
struct ing_jpaths *ing_jpaths_new(const char *const *paths, size_t n, char *err, size_t errlen);
void ing_jpaths_free(struct ing_jpaths *p);
size_t ing_jpaths_count(const struct ing_jpaths *p);

/* Validate data[0..len) as one JSON document whose top value is an object
 * (RFC 8259 grammar, strict UTF-8, depth <= ING_JSON_MAX_DEPTH) and fill
 * spans[0..count) with the paths' values (ING_JT_ABSENT when not present;
 * with duplicate keys the last one wins, as in jansson). Like jansson, \u0000
 * and unpaired surrogate escapes are rejected, so every string we copy out
 * parses again downstream. Documents must be smaller than 4 GiB. Returns 0 or
 * DAI_EPARSE with "offset N: reason" in err. Thread-safe; never allocates. */
DAI_MUST_CHECK int ing_json_extract(const struct ing_jpaths *p, const char *data, size_t len,
                                    struct ing_span *spans, char *err, size_t errlen);

/* Walk a validated array or object span: *pos starts at 0; each call yields
 * the next element (objects also yield the member's key as a string span)
 * and returns true, or false at the end. Only for spans produced by
 * ing_json_extract on the same data. */
bool ing_json_array_next(const char *data, const struct ing_span *arr, uint32_t *pos,
                         struct ing_span *elem);
bool ing_json_object_next(const char *data, const struct ing_span *obj, uint32_t *pos,
                          struct ing_span *key, struct ing_span *val);

/* Longest escaped key decoded to compare against a path segment. */
#define ING_JSON_MAX_KEY 128

/* The value of the 4 hex digits at p (a \uXXXX escape's) into *out: 0, or
 * DAI_EPARSE if one is not hex. Shared by the scanner and the string decoder. */
DAI_MUST_CHECK int ing_json_hex4(const unsigned char *p, unsigned long *out);

/* Decode a string span into out (NUL-terminated UTF-8). Returns the length,
 * or DAI_ETOOBIG when it does not fit, DAI_EINVAL when s is not a string. */
DAI_MUST_CHECK int ing_json_unescape(const char *data, const struct ing_span *s, char *out,
                                     size_t n);
/* True when the string span decodes to exactly lit. */
bool ing_json_str_eq(const char *data, const struct ing_span *s, const char *lit);
/* An integer-syntax number span that fits in long long: 0, else DAI_EINVAL. */
DAI_MUST_CHECK int ing_json_int(const char *data, const struct ing_span *s, long long *out);

#endif
