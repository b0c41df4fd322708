/* Unit tests for the opening-handshake checks of gateway/ws.c: RFC 6455's
 * Sec-WebSocket-Accept example, and the status every malformed handshake
 * gets (400, 405, 426). */
#include "../../gateway/ws.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static int check(const char *method, const char *up, const char *conn, const char *ver,
                 const char *key)
{
    char err[200] = "";
    int st = gw_ws_check_handshake(method, up, conn, ver, key, err, sizeof(err));

    if (st)
        assert_true(strlen(err) > 0);
    return st;
}

static void test_gw_ws_accept_rfc_example(void **state)
{
    char out[29];

    (void)state;
    gw_ws_accept(KEY, out); /* RFC 6455 section 1.3 */
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_gw_ws_handshake_checks(void **state)
{
    (void)state;
    assert_int_equal(check("GET", "websocket", "Upgrade", "13", KEY), 0);
    assert_int_equal(check("GET", "WebSocket", "keep-alive, Upgrade", "13", KEY), 0);
    assert_int_equal(check("POST", "websocket", "Upgrade", "13", KEY), 405);
    assert_int_equal(check("GET", NULL, "Upgrade", "13", KEY), 426);
    assert_int_equal(check("GET", "h2c", "Upgrade", "13", KEY), 400);
    assert_int_equal(check("GET", "websocket", "keep-alive", "13", KEY), 400);
    assert_int_equal(check("GET", "websocket", NULL, "13", KEY), 400);
    assert_int_equal(check("GET", "websocket", "Upgradeish", "13", KEY), 400);
    assert_int_equal(check("GET", "websocket", "Upgrade", "8", KEY), 426);
    assert_int_equal(check("GET", "websocket", "Upgrade", NULL, KEY), 426);
    assert_int_equal(check("GET", "websocket", "Upgrade", "13", NULL), 400);
    assert_int_equal(check("GET", "websocket", "Upgrade", "13", "short=="), 400);
    assert_int_equal(check("GET", "websocket", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ"), 400);
    assert_int_equal(check("GET", "websocket", "Upgrade", "13", "d!hlIHNhbXBsZSBub25jZQ=="), 400);
}

static void test_gw_ws_token_in_a_subprotocol(void **state)
{
    size_t n = 0;
    const char *t;

    (void)state;
    t = gw_ws_protocol_token("dispatchai.v1, dispatchai.token.abc-123_XYZ.~", &n);
    assert_non_null(t);
    assert_int_equal(n, 13);
    assert_memory_equal(t, "abc-123_XYZ.~", 13);
    t = gw_ws_protocol_token("dispatchai.token.first ,dispatchai.v1", &n);
    assert_non_null(t);
    assert_int_equal(n, 5);
    assert_null(gw_ws_protocol_token("dispatchai.v1", &n));
    assert_null(gw_ws_protocol_token("dispatchai.token.", &n));
    assert_null(gw_ws_protocol_token("xdispatchai.token.abc", &n));
    assert_null(gw_ws_protocol_token(NULL, &n));
    assert_true(gw_ws_protocol_offered("chat, dispatchai.v1"));
    assert_false(gw_ws_protocol_offered("dispatchai.v10"));
    assert_false(gw_ws_protocol_offered("dispatchai.token.x"));
    assert_false(gw_ws_protocol_offered(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_ws_accept_rfc_example),
        cmocka_unit_test(test_gw_ws_token_in_a_subprotocol),
        cmocka_unit_test(test_gw_ws_handshake_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
