/* Error codes shared by every DispatchAI module, and the one result
 * convention of the project (common and the daemons alike):
 *
 * - A function that can fail returns int: 0 on success, a negative value on
 *   failure: -errno for OS and resource errors (-ENOMEM), DAI_E* (<= -1000)
 *   for domain errors. Nothing else: never a length, an index, a count, an
 *   HTTP status or a positive "special" value. dai_strerror() gives the text;
 *   a message for people goes into a caller's char *err, size_t errlen.
 * - What the function produces comes back through out-parameters (a length
 *   through size_t *len, the matching index through size_t *which, a parsed
 *   value through T *out), written only on success unless documented.
 * - Constructors return a pointer or NULL (with the reason in err); a
 *   predicate that cannot fail returns bool; an accessor or a counter that
 *   cannot fail returns its value directly (dai_http_status, dai_producer_outq_len).
 * - Mark fallible functions DAI_MUST_CHECK. Callbacks follow the same rule:
 *   0 to go on, a negative code to stop (dai_http_arg_fn, dai_partitions_fn).
 *
 * Why: a status that is sometimes a value makes every caller remember which
 * range means what, and the compiler cannot help; one rule lets a newcomer
 * read any `if (rc)` the same way (as curl's single CURLcode does). */
#ifndef DISPATCHAI_ERR_H
#define DISPATCHAI_ERR_H

#define DAI_MUST_CHECK __attribute__((warn_unused_result))
#define DAI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

enum {
    DAI_EINVAL = -1000,    /* invalid argument or value */
    DAI_ECONFIG = -1001,   /* invalid configuration */
    DAI_EBADSIG = -1002,   /* signature missing, malformed or wrong */
    DAI_ETOOBIG = -1003,   /* input exceeds a configured cap */
    DAI_EPARSE = -1004,    /* input is not well-formed */
    DAI_EKAFKA = -1005,    /* broker or client error */
    DAI_ETIMEOUT = -1006,  /* deadline passed */
    DAI_ENOTFOUND = -1007, /* no such thing */
    DAI_ESCHEMA = -1008,   /* well-formed but violates the event schema */
    DAI_EQUEUEFULL = -1009, /* a bounded queue is full */
    DAI_EAUTH = -1010,      /* missing or unknown credentials */
    DAI_EREFUSED = -1011,   /* refused for good: retrying the same input cannot succeed */
    /* Kafka transaction outcomes, so callers can choose retry/abort/exit. */
    DAI_ETXN_RETRY = -1100, /* retriable: call the same operation again */
    DAI_ETXN_ABORT = -1101, /* the transaction must be aborted, then redone */
    DAI_ETXN_FATAL = -1102  /* the producer is unusable (fenced or fatal error) */
};

/* Text for any return code (negative errno or DAI_E*). Never NULL; static storage. */
const char *dai_strerror(int rc);

#endif
