/* The HTTP answer to a publish that failed: the one place that decides
 * whether GitHub is told to retry (503 + Retry-After) or that retrying the
 * same delivery cannot help (413/500). Pure; webhook.c writes the answer. */
#include "ingress.h"

#include <errno.h>

void ing_answer_for(int rc, struct ing_answer *a)
{
    a->retry_after = true;
    a->status = 503;
    switch (rc) {
    case DAI_EQUEUEFULL:
        a->reason = ING_R_OVERLOADED;
        a->message = "the producer queue is full";
        return;
    case DAI_ETIMEOUT:
        a->reason = ING_R_TIMEOUT;
        a->message = "the broker did not acknowledge the delivery in time";
        return;
    case -ECANCELED:
        a->reason = ING_R_SHUTTING_DOWN;
        a->message = "the ingress is shutting down";
        return;
    case DAI_ETOOBIG:
        a->retry_after = false;
        a->status = 413;
        a->reason = ING_R_PUBLISH_TOO_LARGE;
        a->message = "the event is larger than the broker accepts";
        return;
    case DAI_EREFUSED:
        a->retry_after = false;
        a->status = 500;
        a->reason = ING_R_PUBLISH_REFUSED;
        a->message = "the broker refuses the delivery (check the topic and its permissions)";
        return;
    case -ENOMEM:
        /* Memory comes back; a redelivery may well succeed. */
        a->reason = ING_R_INTERNAL;
        a->message = "out of memory";
        return;
    default:
        /* DAI_EKAFKA and anything unforeseen: the broker may take it later. */
        a->reason = ING_R_BROKER;
        a->message = "the broker did not take the delivery";
        return;
    }
}
