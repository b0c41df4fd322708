/* API tokens: parsing the configured table, constant-time lookups, Bearer
 * headers, and the access decision per request. Read-only after start, so any
 * thread may check. */
#ifndef DISPATCHAI_GW_AUTH_H
#define DISPATCHAI_GW_AUTH_H

#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>

enum { GW_SCOPE_READ = 1u << 0, GW_SCOPE_WRITE = 1u << 1 };

/* Shortest token accepted in the configuration: 16 characters make guessing
 * hopeless next to the per-address throttle of failed attempts. */
#define GW_TOKEN_MIN 16

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

#endif
