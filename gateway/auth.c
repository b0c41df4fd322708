/* API tokens: the table built from gateway.tokens or GATEWAY_API_TOKENS, and
 * the per-request decision (401 missing/unknown, 403 missing scope). Only
 * SHA-256 digests of tokens are kept, and a lookup compares the presented
 * token's digest with every entry in constant time, so neither timing nor a
 * memory dump of the table gives a token away. Never logs. */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN_MIN GW_TOKEN_MIN
#define TOKEN_MAX 512
#define NAME_MAX_LEN 63

struct entry {
    char name[NAME_MAX_LEN + 1];
    unsigned char digest[SHA256_DIGEST_LENGTH];
    unsigned scopes;
};

struct gw_auth {
    struct entry *v;
    size_t n, cap;
};

struct gw_auth *gw_auth_new(void)
{
    return calloc(1, sizeof(struct gw_auth));
}

void gw_auth_free(struct gw_auth *a)
{
    if (!a)
        return;
    OPENSSL_cleanse(a->v, a->cap * sizeof(*a->v));
    free(a->v);
    free(a);
}

size_t gw_auth_count(const struct gw_auth *a)
{
    return a ? a->n : 0;
}

unsigned gw_scope_parse(const char *s, size_t n)
{
    if (n == 4 && memcmp(s, "read", 4) == 0)
        return GW_SCOPE_READ;
    if (n == 5 && memcmp(s, "write", 5) == 0)
        return GW_SCOPE_WRITE;
    return 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@'))
            return false;
    }
    return true;
}

static bool token_ok(const char *s, size_t n)
{
    if (n < TOKEN_MIN || n > TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static int add_n(struct gw_auth *a, const char *name, size_t nlen, const char *token,
                 size_t tlen, unsigned scopes, char *err, size_t errlen)
{
    unsigned char d[SHA256_DIGEST_LENGTH];

    if (!name_ok(name, nlen)) {
        snprintf(err, errlen, "token name \"%.*s\": use 1-%d of [A-Za-z0-9._@-]",
                 (int)(nlen > 40 ? 40 : nlen), name, NAME_MAX_LEN);
        return DAI_ECONFIG;
    }
    if (!token_ok(token, tlen)) {
        snprintf(err, errlen, "token of \"%.*s\": must be %d-%d printable characters without "
                 "spaces", (int)nlen, name, TOKEN_MIN, TOKEN_MAX);
        return DAI_ECONFIG;
    }
    if (!scopes) {
        snprintf(err, errlen, "token \"%.*s\": no scope (read, write)", (int)nlen, name);
        return DAI_ECONFIG;
    }
    SHA256((const unsigned char *)token, tlen, d);
    for (size_t i = 0; i < a->n; i++) {
        if (strlen(a->v[i].name) == nlen && memcmp(a->v[i].name, name, nlen) == 0) {
            snprintf(err, errlen, "token name \"%.*s\" is used twice", (int)nlen, name);
            return DAI_ECONFIG;
        }
        if (CRYPTO_memcmp(a->v[i].digest, d, sizeof(d)) == 0) {
            snprintf(err, errlen, "tokens \"%s\" and \"%.*s\" are the same", a->v[i].name,
                     (int)nlen, name);
            return DAI_ECONFIG;
        }
    }
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 8;
        struct entry *nv = calloc(ncap, sizeof(*nv));

        if (!nv)
            return -ENOMEM;
        if (a->n)
            memcpy(nv, a->v, a->n * sizeof(*nv));
        OPENSSL_cleanse(a->v, a->cap * sizeof(*a->v));
        free(a->v);
        a->v = nv;
        a->cap = ncap;
    }
    memcpy(a->v[a->n].name, name, nlen);
    a->v[a->n].name[nlen] = '\0';
    memcpy(a->v[a->n].digest, d, sizeof(d));
    a->v[a->n].scopes = scopes;
    a->n++;
    OPENSSL_cleanse(d, sizeof(d));
    return 0;
}

int gw_auth_add(struct gw_auth *a, const char *name, const char *token, unsigned scopes,
                char *err, size_t errlen)
{
    return add_n(a, name ? name : "", name ? strlen(name) : 0, token ? token : "",
                 token ? strlen(token) : 0, scopes, err, errlen);
}

/* "read+write" → bits; 0 and a message if a scope is unknown or empty. */
static unsigned parse_scopes(const char *s, size_t n, char *err, size_t errlen)
{
    unsigned bits = 0;
    size_t i = 0;

    while (i <= n) {
        size_t j = i;
        unsigned b;

        while (j < n && s[j] != '+')
            j++;
        b = gw_scope_parse(s + i, j - i);
        if (!b) {
            snprintf(err, errlen, "unknown scope \"%.*s\" (read, write)",
                     (int)(j - i > 20 ? 20 : j - i), s + i);
            return 0;
        }
        bits |= b;
        i = j + 1;
    }
    return bits;
}

int gw_auth_parse_list(struct gw_auth *a, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;
    unsigned idx = 0;

    while (*p) {
        const char *end = strchr(p, ',');
        const char *c1, *c2;
        size_t len;
        unsigned scopes;
        int rc;

        if (!end)
            end = p + strlen(p);
        len = (size_t)(end - p);
        idx++;
        /* Items are name:token:scopes; tokens may not contain ':' or ','. */
        c1 = memchr(p, ':', len);
        c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
        if (len == 0 || !c1 || !c2 || memchr(c2 + 1, ':', (size_t)(end - c2 - 1))) {
            snprintf(err, errlen, "item %u: expected name:token:scope[+scope]", idx);
            return DAI_ECONFIG;
        }
        scopes = parse_scopes(c2 + 1, (size_t)(end - c2 - 1), err, errlen);
        if (!scopes)
            return DAI_ECONFIG;
        rc = add_n(a, p, (size_t)(c1 - p), c1 + 1, (size_t)(c2 - c1 - 1), scopes, err, errlen);
        if (rc)
            return rc;
        p = *end ? end + 1 : end;
    }
    return 0;
}

const char *gw_auth_check(const struct gw_auth *a, const char *token, size_t len,
                          unsigned *scopes)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    size_t idx = 0, found = 0;

    *scopes = 0;
    if (!a || !token)
        return NULL;
    SHA256((const unsigned char *)token, len, d);
    /* No early exit and no branch on the result: every entry is compared and
     * the match (if any) is selected with masks. */
    for (size_t i = 0; i < a->n; i++) {
        size_t eq = (size_t)(CRYPTO_memcmp(a->v[i].digest, d, sizeof(d)) == 0);
        size_t m = (size_t)0 - eq;

        idx = (idx & ~m) | (i & m);
        found |= eq;
    }
    OPENSSL_cleanse(d, sizeof(d));
    if (!found)
        return NULL;
    *scopes = a->v[idx].scopes;
    return a->v[idx].name;
}

const char *gw_auth_bearer(const char *h, size_t *len)
{
    const char *t, *end;

    if (!h || strncasecmp(h, "bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    t = h + 6;
    while (*t == ' ' || *t == '\t')
        t++;
    end = t + strlen(t);
    while (end > t && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == t)
        return NULL;
    *len = (size_t)(end - t);
    return t;
}

enum gw_authz gw_auth_decide(const struct gw_auth *a, bool public_read, const char *token,
                             size_t len, unsigned need, const char **who)
{
    unsigned scopes;
    const char *name;

    *who = "anonymous";
    if (!token) {
        if (need == GW_SCOPE_READ && public_read)
            return GW_AUTHZ_OK;
        return GW_AUTHZ_MISSING;
    }
    /* A presented token is always checked, even for public reads: a wrong
     * token is a client bug worth a 401, not something to ignore. */
    name = gw_auth_check(a, token, len, &scopes);
    if (!name)
        return GW_AUTHZ_INVALID;
    *who = name;
    if ((scopes & need) != need)
        return GW_AUTHZ_FORBIDDEN;
    return GW_AUTHZ_OK;
}
