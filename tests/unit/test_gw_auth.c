/* Unit tests for gateway/auth.c: the token list syntax and its errors (which
 * never echo a token), lookups, the 401/403 decision matrix including public
 * reads, and Bearer parsing. The per-token correction bucket is common's
 * rate limiter (test_ratelimit.c, test_ratelimit_per_minute). */
#include "../../gateway/auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static struct gw_auth *table(void)
{
    struct gw_auth *a = gw_auth_new();
    char err[200];

    assert_non_null(a);
    assert_int_equal(gw_auth_parse_list(a, "ops:s3cret-0123456789:read+write,bot:bot-token-1-abcdef:read,"
                                           "pusher:push-only-9-abcdef:write", err, sizeof(err)), 0);
    assert_int_equal(gw_auth_count(a), 3);
    return a;
}

static void test_gw_auth_lookup(void **state)
{
    struct gw_auth *a = table();
    unsigned scopes;
    const char *who;

    (void)state;
    who = gw_auth_check(a, "s3cret-0123456789", 17, &scopes);
    assert_non_null(who);
    assert_string_equal(who, "ops");
    assert_int_equal(scopes, GW_SCOPE_READ | GW_SCOPE_WRITE);
    who = gw_auth_check(a, "bot-token-1-abcdef", 18, &scopes);
    assert_string_equal(who, "bot");
    assert_int_equal(scopes, GW_SCOPE_READ);
    assert_null(gw_auth_check(a, "s3cret-012345678", 16, &scopes));      /* prefix */
    assert_null(gw_auth_check(a, "s3cret-0123456789!", 18, &scopes));    /* extension */
    assert_null(gw_auth_check(a, "S3CRET-0123456789", 17, &scopes));     /* case matters */
    assert_int_equal(scopes, 0);
    gw_auth_free(a);
}

static void test_gw_auth_list_errors_never_echo_tokens(void **state)
{
    static const char *const bad[] = {
        "ops:s3cret-0123456789",                   /* no scopes */
        "ops:s3cret-0123456789:admin",             /* unknown scope */
        "ops:s3cret-0123456789:read+",             /* empty scope */
        ":s3cret-0123456789:read",                 /* no name */
        "ops:abc:read",                 /* token too short */
        "ops:fifteen-chars-x:read",     /* 15 characters: one short of the minimum */
        "ops:s3cret-0123456789:read,ops:other-1-abcdefghij:read",     /* duplicate name */
        "ops:s3cret-0123456789:read,dev:s3cret-0123456789:write",     /* duplicate token */
        "o p:s3cret-0123456789:read",              /* bad name */
        "ops:s3cret-0123456789:read:extra",        /* too many fields */
        "ops:s3cret-0123456789:read,,",            /* empty item */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_auth *a = gw_auth_new();
        char err[200] = "";

        assert_int_equal(gw_auth_parse_list(a, bad[i], err, sizeof(err)), DAI_ECONFIG);
        assert_true(strlen(err) > 0);
        assert_null(strstr(err, "s3cret-0123456789"));
        assert_null(strstr(err, "other-1-abcdefghij"));
        assert_null(strstr(err, "fifteen-chars"));
        gw_auth_free(a);
    }
}

static void test_gw_auth_tokens_under_16_characters_are_refused(void **state)
{
    struct gw_auth *a = gw_auth_new();
    char err[200] = "";

    (void)state;
    assert_int_equal(gw_auth_add(a, "dash", "fifteen-chars-x", GW_SCOPE_READ, err, sizeof(err)),
                     DAI_ECONFIG);
    assert_non_null(strstr(err, "16"));
    assert_null(strstr(err, "fifteen"));
    assert_int_equal(gw_auth_add(a, "dash", "sixteen-chars-xy", GW_SCOPE_READ, err, sizeof(err)),
                     0);
    gw_auth_free(a);
}

static void test_gw_auth_decisions(void **state)
{
    struct gw_auth *a = table();
    const char *who;

    (void)state;
    /* No token. */
    assert_int_equal(gw_auth_decide(a, false, NULL, 0, GW_SCOPE_READ, &who), GW_AUTHZ_MISSING);
    assert_int_equal(gw_auth_decide(a, true, NULL, 0, GW_SCOPE_READ, &who), GW_AUTHZ_OK);
    assert_string_equal(who, "anonymous");
    assert_int_equal(gw_auth_decide(a, true, NULL, 0, GW_SCOPE_WRITE, &who), GW_AUTHZ_MISSING);
    /* Wrong token: 401 even where reads are public. */
    assert_int_equal(gw_auth_decide(a, true, "nope-nope", 9, GW_SCOPE_READ, &who),
                     GW_AUTHZ_INVALID);
    /* Scopes. */
    assert_int_equal(gw_auth_decide(a, false, "bot-token-1-abcdef", 18, GW_SCOPE_READ, &who),
                     GW_AUTHZ_OK);
    assert_string_equal(who, "bot");
    assert_int_equal(gw_auth_decide(a, false, "bot-token-1-abcdef", 18, GW_SCOPE_WRITE, &who),
                     GW_AUTHZ_FORBIDDEN);
    assert_int_equal(gw_auth_decide(a, false, "push-only-9-abcdef", 18, GW_SCOPE_READ, &who),
                     GW_AUTHZ_FORBIDDEN);
    assert_int_equal(gw_auth_decide(a, false, "push-only-9-abcdef", 18, GW_SCOPE_WRITE, &who),
                     GW_AUTHZ_OK);
    assert_int_equal(gw_auth_decide(a, false, "s3cret-0123456789", 17, GW_SCOPE_WRITE, &who), GW_AUTHZ_OK);
    assert_string_equal(who, "ops");
    gw_auth_free(a);
}

static void test_gw_auth_bearer_parsing(void **state)
{
    size_t n;
    const char *t;

    (void)state;
    t = gw_auth_bearer("Bearer abc123", &n);
    assert_non_null(t);
    assert_int_equal(n, 6);
    assert_memory_equal(t, "abc123", 6);
    t = gw_auth_bearer("bearer   abc123  ", &n);
    assert_non_null(t);
    assert_int_equal(n, 6);
    assert_null(gw_auth_bearer("Basic dXNlcjpwdw==", &n));
    assert_null(gw_auth_bearer("Bearer", &n));
    assert_null(gw_auth_bearer("Bearer    ", &n));
    assert_null(gw_auth_bearer("Bearerabc", &n));
    assert_null(gw_auth_bearer(NULL, &n));
}

static void test_gw_auth_file_entries(void **state)
{
    struct gw_auth *a = gw_auth_new();
    char err[200];
    unsigned sc;

    (void)state;
    assert_int_equal(gw_auth_add(a, "dash", "dashboard-token-01", GW_SCOPE_READ, err, sizeof(err)),
                     0);
    assert_int_equal(gw_auth_add(a, "x", "tiny", GW_SCOPE_READ, err, sizeof(err)), DAI_ECONFIG);
    assert_int_equal(gw_auth_add(a, "y", "with space", GW_SCOPE_READ, err, sizeof(err)),
                     DAI_ECONFIG);
    assert_int_equal(gw_auth_add(a, "z", "no-scopes-token-01", 0, err, sizeof(err)), DAI_ECONFIG);
    assert_int_equal(gw_scope_parse("read", 4), GW_SCOPE_READ);
    assert_int_equal(gw_scope_parse("write", 5), GW_SCOPE_WRITE);
    assert_int_equal(gw_scope_parse("admin", 5), 0);
    assert_string_equal(gw_auth_check(a, "dashboard-token-01", 18, &sc), "dash");
    gw_auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_auth_lookup),
        cmocka_unit_test(test_gw_auth_list_errors_never_echo_tokens),
        cmocka_unit_test(test_gw_auth_tokens_under_16_characters_are_refused),
        cmocka_unit_test(test_gw_auth_decisions),
        cmocka_unit_test(test_gw_auth_bearer_parsing),
        cmocka_unit_test(test_gw_auth_file_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
