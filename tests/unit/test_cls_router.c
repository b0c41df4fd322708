/* Unit tests for classifier/router.c: which actions classify, the text hash
 * and the classify/reuse/unseen decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../classifier/router.h"
#include <dispatchai/dai.h>

static void test_cls_router_classifying_actions(void **state)
{
    (void)state;
    assert_true(cls_router_is_classifying("issue", "opened", NULL));
    assert_true(cls_router_is_classifying("issue", "reopened", NULL));
    assert_true(cls_router_is_classifying("issue", "edited", NULL));
    assert_true(cls_router_is_classifying("pull_request", "opened", NULL));
    assert_true(cls_router_is_classifying("pull_request", "edited", NULL));
    assert_true(cls_router_is_classifying("pull_request", "reopened", NULL));
    assert_false(cls_router_is_classifying("issue", "closed", NULL));
    assert_false(cls_router_is_classifying("issue", "labeled", NULL));
    assert_false(cls_router_is_classifying("issue", "assigned", NULL));
    assert_false(cls_router_is_classifying("pull_request", "synchronize", NULL));
    assert_false(cls_router_is_classifying("issue_comment", "created", NULL));
    /* a comment being edited is not the issue being edited */
    assert_false(cls_router_is_classifying("issue_comment", "edited", NULL));
    assert_false(cls_router_is_classifying(NULL, "opened", NULL));
    assert_false(cls_router_is_classifying("issue", NULL, NULL));
}

static void test_cls_router_edited_needs_text_change(void **state)
{
    json_t *title = json_pack("[s]", "title");
    json_t *body = json_pack("[ss]", "milestone", "body");
    json_t *other = json_pack("[s]", "milestone");
    json_t *empty = json_array();

    (void)state;
    assert_true(cls_router_is_classifying("issue", "edited", title));
    assert_true(cls_router_is_classifying("issue", "edited", body));
    assert_false(cls_router_is_classifying("issue", "edited", other));
    assert_false(cls_router_is_classifying("pull_request", "edited", empty));
    /* changes only matter for edits */
    assert_true(cls_router_is_classifying("issue", "opened", other));
    json_decref(title);
    json_decref(body);
    json_decref(other);
    json_decref(empty);
}

static void test_cls_router_text_hash(void **state)
{
    (void)state;
    assert_true(cls_text_hash("a", "b") == cls_text_hash("a", "b"));
    assert_true(cls_text_hash("ab", "c") != cls_text_hash("a", "bc"));
    assert_true(cls_text_hash("title", "") == cls_text_hash("title", NULL));
    assert_true(cls_text_hash("title", "body") != cls_text_hash("title", "body."));
    assert_true(cls_text_hash("Title", "body") != cls_text_hash("title", "body"));
}

static void test_cls_router_decide(void **state)
{
    (void)state;
    /* never classified */
    assert_int_equal(cls_router_decide(true, false, 0, 7), CLS_ROUTE_CLASSIFY);
    assert_int_equal(cls_router_decide(false, false, 0, 7), CLS_ROUTE_UNSEEN);
    /* same text: reuse whatever the action */
    assert_int_equal(cls_router_decide(true, true, 7, 7), CLS_ROUTE_REUSE);
    assert_int_equal(cls_router_decide(false, true, 7, 7), CLS_ROUTE_REUSE);
    /* changed text: classify only on a classifying action */
    assert_int_equal(cls_router_decide(true, true, 7, 8), CLS_ROUTE_CLASSIFY);
    assert_int_equal(cls_router_decide(false, true, 7, 8), CLS_ROUTE_REUSE);
    assert_string_equal(cls_route_name(CLS_ROUTE_UNSEEN), "unseen");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_router_classifying_actions),
        cmocka_unit_test(test_cls_router_edited_needs_text_change),
        cmocka_unit_test(test_cls_router_text_hash),
        cmocka_unit_test(test_cls_router_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
