/* Command-line classification (jsonl.c): --classify-jsonl. */
#ifndef DISPATCHAI_CLS_JSONL_H
#define DISPATCHAI_CLS_JSONL_H

#include "llm_client.h"
#include "offline/offline.h"

#include <dispatchai/err.h>

#include <stdio.h>

/* --classify-jsonl: one JSON line per input line on out. llm may be NULL
 * (offline). Returns 0 (errors per line are written as error lines). */
DAI_MUST_CHECK int cls_jsonl_run(FILE *in, FILE *out, const struct cls_offline_model *offline,
                                 const struct cls_teams *teams, struct cls_llm *llm,
                                 int window);

#endif
