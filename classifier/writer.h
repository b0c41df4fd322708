/* Writing one finished job (writer.c): render it, put the tracing and
 * dead-letter headers on it, produce it into the open transaction, and count
 * and log the outcome. Transaction boundaries stay with consume.c. */
#ifndef DISPATCHAI_CLS_WRITER_H
#define DISPATCHAI_CLS_WRITER_H

#include "metrics.h"
#include "options.h"
#include "pipeline.h"

#include <dispatchai/buf.h>
#include <dispatchai/err.h>
#include <dispatchai/kafka.h>

struct cls_writer {
    const struct cls_config *cfg;     /* borrowed */
    struct cls_metrics *m;            /* borrowed */
    struct dai_producer *producer;    /* borrowed, transactional */
    struct dai_buf out;               /* scratch for the rendered value (owned) */
};

/* Produce job to issues.enriched (or the dead-letter topic) with the same key
 * as the raw event. An enriched event over kafka.max_message_bytes becomes a
 * dead letter, and one whose payload does not fit either is written without
 * it. 0 or the producer's error (the caller aborts the transaction). */
DAI_MUST_CHECK int cls_writer_produce(struct cls_writer *w, struct cls_job *job);
/* Count and log a written job; key is the issue key or "-". */
void cls_writer_log(struct cls_writer *w, const struct cls_job *job, const char *key);
void cls_writer_free(struct cls_writer *w);

#endif
