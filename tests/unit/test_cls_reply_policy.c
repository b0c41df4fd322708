/* Unit tests for classifier/reply_policy.c: how a reply is judged (valid,
 * invalid, cut at max_tokens) and the retry that follows — every retry
 * changes the request, and the sequence ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../classifier/reply_policy.h"

static void test_cls_reply_kind(void **state)
{
    (void)state;
    assert_int_equal(cls_reply_kind_of(0, "stop"), CLS_REPLY_OK);
    /* a reply that validated is taken even if the server says it was cut */
    assert_int_equal(cls_reply_kind_of(0, "length"), CLS_REPLY_OK);
    assert_int_equal(cls_reply_kind_of(-1, "length"), CLS_REPLY_CUT);
    assert_int_equal(cls_reply_kind_of(-1, "stop"), CLS_REPLY_INVALID);
    assert_int_equal(cls_reply_kind_of(-1, ""), CLS_REPLY_INVALID);
    assert_int_equal(cls_reply_kind_of(-1, NULL), CLS_REPLY_INVALID);
    assert_string_equal(cls_reply_kind_name(CLS_REPLY_CUT), "length");
    assert_string_equal(cls_reply_kind_name(CLS_REPLY_INVALID), "invalid_reply");
}

/* Apply the steps as the client does; returns how many retries were made. */
static int run(enum cls_reply_kind always, int max_tokens, enum cls_reply_step *steps, int n)
{
    struct cls_reply_history h = {.max_tokens = max_tokens};
    int i;

    for (i = 0; i < n; i++) {
        steps[i] = cls_reply_next(always, &h);
        switch (steps[i]) {
        case CLS_STEP_REPAIR: h.repaired = true; break;
        case CLS_STEP_DECISION_ONLY: h.decision_only = true; break;
        case CLS_STEP_MORE_TOKENS:
            h.tokens_raised = true;
            h.max_tokens = cls_reply_more_tokens(h.max_tokens);
            break;
        default: return i;
        }
    }
    return i;
}

static void test_cls_reply_cut_gets_smaller_then_longer(void **state)
{
    enum cls_reply_step s[8];

    (void)state;
    /* cut every time: ask for less, then allow more, then give up; never
     * the same request twice and never a repair echoing the cut text */
    assert_int_equal(run(CLS_REPLY_CUT, 400, s, 8), 2);
    assert_int_equal(s[0], CLS_STEP_DECISION_ONLY);
    assert_int_equal(s[1], CLS_STEP_MORE_TOKENS);
    assert_int_equal(s[2], CLS_STEP_GIVE_UP);
    /* max_tokens not sent: no number to raise, so only the smaller answer */
    assert_int_equal(run(CLS_REPLY_CUT, 0, s, 8), 1);
    assert_int_equal(s[0], CLS_STEP_DECISION_ONLY);
    assert_int_equal(s[1], CLS_STEP_GIVE_UP);
}

static void test_cls_reply_invalid_gets_one_repair(void **state)
{
    enum cls_reply_step s[8];
    struct cls_reply_history h = {.decision_only = true, .tokens_raised = true};

    (void)state;
    assert_int_equal(run(CLS_REPLY_INVALID, 400, s, 8), 1);
    assert_int_equal(s[0], CLS_STEP_REPAIR);
    assert_int_equal(s[1], CLS_STEP_GIVE_UP);
    /* after the length retries, a wrong value still gets its repair */
    assert_int_equal(cls_reply_next(CLS_REPLY_INVALID, &h), CLS_STEP_REPAIR);
    assert_int_equal(cls_reply_next(CLS_REPLY_OK, &h), CLS_STEP_ACCEPT);
}

static void test_cls_reply_more_tokens(void **state)
{
    struct cls_reply_history h = {.decision_only = true, .max_tokens = CLS_REPLY_MAX_TOKENS_CAP};

    (void)state;
    assert_int_equal(cls_reply_more_tokens(400), 800);
    assert_int_equal(cls_reply_more_tokens(0), 0);
    assert_int_equal(cls_reply_more_tokens(CLS_REPLY_MAX_TOKENS_CAP - 1),
                     CLS_REPLY_MAX_TOKENS_CAP);
    /* at the cap there is nothing more to give */
    assert_int_equal(cls_reply_next(CLS_REPLY_CUT, &h), CLS_STEP_GIVE_UP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_reply_kind),
        cmocka_unit_test(test_cls_reply_cut_gets_smaller_then_longer),
        cmocka_unit_test(test_cls_reply_invalid_gets_one_repair),
        cmocka_unit_test(test_cls_reply_more_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
