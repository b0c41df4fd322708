/* Error codes shared by every DispatchAI module.
 * Functions that can fail return 0 on success and a negative value on failure:
 * -errno for OS/resource errors, DAI_E* (<= -1000) for domain errors. */
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
