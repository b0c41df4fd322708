/* The classifier's metric families, registered once at start (names and
 * help texts in one table-like place, documented in docs/classifier.md).
 * Updating them is the job of the modules that observe the events. */
#include "metrics.h"

#include <dispatchai/metrics.h>

#include <errno.h>
#include <string.h>

int cls_metrics_init(struct cls_metrics *m, struct dai_metrics *reg)
{
    const double *b = dai_latency_buckets;
    size_t nb = dai_latency_buckets_n;

    memset(m, 0, sizeof(*m));
    m->reg = reg;
    if (!reg)
        return 0;
    m->consumed = dai_metric_counter(reg, "dai_classifier_consumed_total",
                                     "Raw events consumed from the raw topic", NULL);
    m->classified = dai_metric_counter(reg, "dai_classifier_classified_total",
                                       "Events given a new classification",
                                       "source,category");
    m->reused = dai_metric_counter(reg, "dai_classifier_reused_total",
                                   "Events that carried the issue's latest classification "
                                   "without a new one",
                                   NULL);
    m->dlq = dai_metric_counter(reg, "dai_classifier_dlq_total",
                                "Raw events sent to the dead-letter topic", "reason");
    m->produced = dai_metric_counter(reg, "dai_classifier_produced_total",
                                     "Messages written (inside transactions)", "topic");
    m->llm_latency = dai_metric_histogram(reg, "dai_classifier_llm_request_duration_seconds",
                                          "Duration of one LLM HTTP request", NULL, b, nb);
    m->llm_requests = dai_metric_counter(reg, "dai_classifier_llm_requests_total",
                                         "LLM HTTP requests by outcome", "outcome");
    m->llm_errors = dai_metric_counter(reg, "dai_classifier_llm_errors_total",
                                       "Failed LLM requests by kind", "kind");
    m->llm_tokens = dai_metric_counter(reg, "dai_classifier_llm_tokens_total",
                                       "Tokens reported in the LLM's usage object", "kind");
    m->llm_in_flight = dai_metric_gauge(reg, "dai_classifier_llm_in_flight",
                                        "LLM classifications submitted and not finished", NULL);
    m->circuit_state = dai_metric_gauge(reg, "dai_classifier_circuit_state",
                                        "LLM circuit breaker: 0 closed, 1 open, 2 half-open",
                                        NULL);
    m->fallbacks = dai_metric_counter(reg, "dai_classifier_offline_fallbacks_total",
                                      "LLM-bound classifications done offline instead",
                                      "reason");
    m->lag = dai_metric_gauge(reg, "dai_classifier_consumer_lag",
                              "Raw messages behind the partition end (end - committed)",
                              "partition");
    m->buffered = dai_metric_gauge(reg, "dai_classifier_buffered_events",
                                   "Raw events consumed and not yet written out", NULL);
    m->txn = dai_metric_counter(reg, "dai_classifier_transactions_total",
                                "Kafka transactions by outcome", "outcome");
    m->txn_duration = dai_metric_histogram(reg, "dai_classifier_transaction_commit_seconds",
                                           "Time to send offsets and commit", NULL, b, nb);
    m->event_latency = dai_metric_histogram(reg, "dai_classifier_event_duration_seconds",
                                            "Consume to produce time of one event", NULL, b,
                                            nb);
    m->state_keys = dai_metric_gauge(reg, "dai_classifier_state_keys",
                                     "Issues with a known latest classification", NULL);
    m->state_rebuilt = dai_metric_counter(reg, "dai_classifier_state_records_read_total",
                                          "Enriched records read back to rebuild the state",
                                          NULL);
    m->takeover = dai_metric_histogram(reg, "dai_classifier_takeover_seconds",
                                       "Time from a partition assignment to its state read "
                                       "back (before its first event)",
                                       NULL, b, nb);
    if (!m->consumed || !m->classified || !m->reused || !m->dlq || !m->produced ||
        !m->llm_latency || !m->llm_requests || !m->llm_errors || !m->llm_tokens ||
        !m->llm_in_flight || !m->circuit_state || !m->fallbacks || !m->lag || !m->buffered ||
        !m->txn || !m->txn_duration || !m->event_latency || !m->state_keys ||
        !m->state_rebuilt || !m->takeover)
        return -ENOMEM;
    return 0;
}
