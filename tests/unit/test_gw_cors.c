/* Unit tests for gateway/cors.c: which browser origins may open /ws — by
 * default only loopback pages at the gateway's own port, plus listed CORS
 * origins and configured public URLs; never an origin because the Host
 * header agrees with it (DNS rebinding), never "null" or other schemes. */
#include "../../gateway/cors.h"
#include "../../gateway/options.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void config(struct gw_config *c, char **cors, size_t n_cors, char **urls, size_t n_urls,
                   char *bind)
{
    memset(c, 0, sizeof(*c));
    c->common.http_port = 8002;
    c->common.http_bind = bind;
    c->cors_origins.v = cors;
    c->cors_origins.n = n_cors;
    c->public_urls.v = urls;
    c->public_urls.n = n_urls;
}

static void test_gw_cors_ws_default_allows_only_loopback_at_our_port(void **state)
{
    struct gw_config c;
    char bind[] = "0.0.0.0";

    (void)state;
    config(&c, NULL, 0, NULL, 0, bind);
    assert_true(gw_ws_origin_allowed(&c, "http://127.0.0.1:8002"));
    assert_true(gw_ws_origin_allowed(&c, "http://localhost:8002"));
    assert_true(gw_ws_origin_allowed(&c, "http://LOCALHOST:8002"));
    assert_true(gw_ws_origin_allowed(&c, "http://[::1]:8002"));
    assert_false(gw_ws_origin_allowed(&c, "http://evil.example"));
    /* What a DNS-rebinding page sends (its Host header says the same). */
    assert_false(gw_ws_origin_allowed(&c, "http://evil.example:8002"));
    assert_false(gw_ws_origin_allowed(&c, "http://127.0.0.1:9999"));
    assert_false(gw_ws_origin_allowed(&c, "http://localhost.evil.example:8002"));
    assert_false(gw_ws_origin_allowed(&c, "http://127.0.0.1:80020"));
    assert_false(gw_ws_origin_allowed(&c, "https://127.0.0.1:8002"));
    assert_false(gw_ws_origin_allowed(&c, "null"));
    assert_false(gw_ws_origin_allowed(&c, "file://"));
    assert_false(gw_ws_origin_allowed(&c, ""));
}

static void test_gw_cors_ws_public_urls_and_listed_origins(void **state)
{
    struct gw_config c;
    char u0[] = "https://Triage.Example.com:443/dashboard/", u1[] = "http://10.0.0.5:8080";
    char o0[] = "https://dash.example";
    char *urls[] = {u0, u1}, *cors[] = {o0};

    (void)state;
    config(&c, cors, 1, urls, 2, NULL);
    assert_true(gw_ws_origin_allowed(&c, "https://triage.example.com"));
    assert_true(gw_ws_origin_allowed(&c, "http://10.0.0.5:8080"));
    assert_true(gw_ws_origin_allowed(&c, "https://dash.example"));
    assert_false(gw_ws_origin_allowed(&c, "http://triage.example.com"));
    assert_false(gw_ws_origin_allowed(&c, "https://triage.example.com.evil.example"));
    assert_false(gw_ws_origin_allowed(&c, "http://10.0.0.5:8081"));
    assert_true(gw_ws_origin_allowed(&c, "http://127.0.0.1:8002"));
}

static void test_gw_cors_ws_bind_address_and_wildcard(void **state)
{
    struct gw_config c;
    char bind[] = "192.168.1.7", star[] = "*";
    char *cors[] = {star};

    (void)state;
    config(&c, NULL, 0, NULL, 0, bind);
    assert_true(gw_ws_origin_allowed(&c, "http://192.168.1.7:8002"));
    assert_false(gw_ws_origin_allowed(&c, "http://192.168.1.8:8002"));
    config(&c, cors, 1, NULL, 0, bind); /* the operator's explicit choice */
    assert_true(gw_ws_origin_allowed(&c, "https://anything.example"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_cors_ws_default_allows_only_loopback_at_our_port),
        cmocka_unit_test(test_gw_cors_ws_public_urls_and_listed_origins),
        cmocka_unit_test(test_gw_cors_ws_bind_address_and_wildcard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
