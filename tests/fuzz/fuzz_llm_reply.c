/* Fuzz the classifier's LLM reply handling: the chat-completion envelope and
 * the assistant content parser/validator. The oracle: an accepted verdict
 * only holds values of our vocabulary and ranges. */
#include "../../classifier/offline/offline.h"
#include "../../classifier/verdict.h"
#include <dispatchai/dai.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(const struct dai_classification *c, const struct cls_teams *teams)
{
    bool team_ok = c->suggested_assignee[0] == '\0';

    if ((unsigned)c->category >= DAI_CAT_COUNT || (unsigned)c->priority >= DAI_PRIO_COUNT ||
        (unsigned)c->effort >= DAI_EFFORT_COUNT || c->n_tags > DAI_MAX_TAGS ||
        !(c->confidence >= 0.0 && c->confidence <= 1.0))
        abort();
    for (size_t i = 0; i < teams->n; i++)
        team_ok |= strcmp(c->suggested_assignee, teams->v[i].name) == 0;
    if (!team_ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct cls_team team_list[] = {
        {.name = "team-backend"}, {.name = "team-frontend"}, {.name = "team-security"}};
    const struct cls_teams teams = {team_list, 3};
    struct cls_completion comp;
    struct dai_classification c;
    char err[256], msg[128];

    memset(&comp, 0, sizeof(comp));
    /* The whole input as an assistant message's content. */
    if (cls_verdict_parse((const char *)data, size, &teams, &c, err, sizeof(err)) == 0)
        check(&c, &teams);
    /* And as a response body: envelope first, then its content. */
    if (cls_verdict_completion((const char *)data, size, &comp, err, sizeof(err)) == 0) {
        if (comp.content &&
            cls_verdict_parse(comp.content, strlen(comp.content), &teams, &c, err,
                              sizeof(err)) == 0)
            check(&c, &teams);
    }
    cls_completion_free(&comp);
    cls_verdict_error_message((const char *)data, size, msg, sizeof(msg));
    return 0;
}
