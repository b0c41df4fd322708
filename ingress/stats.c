/* The ingress's metric families (received/accepted/rejected by reason and
 * event, duplicates, ignored, dead letters, late acknowledgements, publish latency,
 * processing time, waiting requests, queue depths) and the reason names they
 * and the error bodies share. Updating them is done where things happen. */
#include "ingress.h"

#include <errno.h>

static const char *const reason_names[ING_R_COUNT] = {
    [ING_R_METHOD] = "method_not_allowed",
    [ING_R_NOT_FOUND] = "not_found",
    [ING_R_MISSING_EVENT] = "missing_event",
    [ING_R_BAD_DELIVERY] = "bad_delivery_id",
    [ING_R_MEDIA_TYPE] = "unsupported_media_type",
    [ING_R_TOO_LARGE] = "payload_too_large",
    [ING_R_RATE_LIMITED] = "rate_limited",
    [ING_R_SIGNATURE] = "bad_signature",
    [ING_R_INVALID_BODY] = "invalid_json",
    [ING_R_OVERLOADED] = "overloaded",
    [ING_R_TIMEOUT] = "publish_timeout",
    [ING_R_BROKER] = "broker_error",
    [ING_R_PUBLISH_TOO_LARGE] = "event_too_large",
    [ING_R_PUBLISH_REFUSED] = "broker_refused",
    [ING_R_SHUTTING_DOWN] = "shutting_down",
    [ING_R_REQUEST_TIMEOUT] = "request_timeout",
    [ING_R_INTERNAL] = "internal",
};

const char *ing_reason_name(enum ing_reason r)
{
    return (unsigned)r < ING_R_COUNT ? reason_names[r] : "ok";
}

/* Publish latency: from handing the message to the producer to the broker's
 * acknowledgement. Finer than the common buckets at the low end, where a
 * healthy local broker answers. */
static const double publish_buckets[] = {0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
                                         0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                         10};
static const double process_buckets[] = {0.000005, 0.00001, 0.00002, 0.00005, 0.0001, 0.0002,
                                         0.0005, 0.001, 0.005, 0.02, 0.1};

int ing_stats_init(struct ing_stats *st, struct dai_metrics *reg)
{
    st->received = dai_metric_counter(reg, "dai_ingress_received_total",
                                      "Webhook deliveries received, by X-GitHub-Event", "event");
    st->accepted = dai_metric_counter(reg, "dai_ingress_accepted_total",
                                      "Deliveries acknowledged by the broker and answered 202",
                                      "event");
    st->rejected = dai_metric_counter(reg, "dai_ingress_rejected_total",
                                      "Deliveries refused, by event and reason", "event,reason");
    st->duplicates = dai_metric_counter(reg, "dai_ingress_duplicates_total",
                                        "Redeliveries of an already acknowledged GUID", "event");
    st->ignored = dai_metric_counter(reg, "dai_ingress_ignored_total",
                                     "Deliveries answered without publishing (ping, other events)",
                                     "event");
    st->dead_letters = dai_metric_counter(reg, "dai_ingress_dead_letters_total",
                                          "Verified deliveries the normaliser could not map, "
                                          "acknowledged on the dead-letter topic", "event");
    st->late_acks = dai_metric_counter(reg, "dai_ingress_late_acks_total",
                                       "Messages acknowledged after their request was answered "
                                       "503 (a redelivery is then a duplicate)", NULL);
    st->publish_latency = dai_metric_histogram(reg, "dai_ingress_publish_latency_seconds",
                                               "Produce to broker acknowledgement", NULL,
                                               publish_buckets,
                                               sizeof(publish_buckets) / sizeof(double));
    st->process_time = dai_metric_histogram(reg, "dai_ingress_process_seconds",
                                            "Signature check, parsing and normalisation of one "
                                            "delivery", NULL, process_buckets,
                                            sizeof(process_buckets) / sizeof(double));
    st->waiting = dai_metric_gauge(reg, "dai_ingress_waiting_requests",
                                   "Requests waiting for the broker's acknowledgement", NULL);
    st->queue_depth = dai_metric_gauge(reg, "dai_ingress_producer_queue_depth",
                                       "Messages in the producer not yet acknowledged", NULL);
    st->work_queue = dai_metric_gauge(reg, "dai_ingress_work_queue_depth",
                                      "Deliveries waiting for a parsing worker", NULL);
    st->dedup_size = dai_metric_gauge(reg, "dai_ingress_dedup_entries",
                                      "Acknowledged delivery GUIDs remembered", NULL);
    st->producer_restarts = dai_metric_counter(reg, "dai_ingress_producer_restarts_total",
                                               "Producers replaced after a fatal producer error",
                                               NULL);
    if (!st->producer_restarts || !st->received || !st->accepted || !st->rejected || !st->duplicates || !st->ignored ||
        !st->dead_letters || !st->late_acks || !st->publish_latency || !st->process_time ||
        !st->waiting || !st->queue_depth || !st->work_queue || !st->dedup_size)
        return -ENOMEM;
    return 0;
}
