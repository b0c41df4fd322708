/* The configured teams (teams.c): loaded from the config file into the view
 * the offline classifier, the prompt and the verdict read. */
#ifndef DISPATCHAI_CLS_TEAMS_H
#define DISPATCHAI_CLS_TEAMS_H

#include "offline/offline.h"

#include <dispatchai/config.h>
#include <dispatchai/err.h>

#include <stddef.h>

/* Owned storage behind a struct cls_teams view. */
struct cls_team_set {
    struct cls_teams view;     /* what the offline classifier and the prompt read */
    struct cls_team *teams;
    char **strings;            /* every string we strdup'd, freed together */
    size_t n_strings;
    const char **ptrs;         /* the keyword/label/path arrays */
};

/* Read the "teams" list from the config file (NULL doc = no teams). Names
 * must be unique, 1..63 chars of [A-Za-z0-9._-]. 0 or DAI_ECONFIG + err. */
DAI_MUST_CHECK int cls_teams_load(const struct dai_config_doc *doc, struct cls_team_set *out,
                                  char *err, size_t errlen);
void cls_teams_free(struct cls_team_set *t);
/* The configured spelling of a team name matched case-insensitively (and
 * ignoring a "team-" / "@" prefix the LLM may add), or NULL. Borrowed. */
const char *cls_teams_match(const struct cls_teams *t, const char *name);

#endif
