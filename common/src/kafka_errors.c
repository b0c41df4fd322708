/* Which librdkafka errors are transient and which are final for a message:
 * the one table the daemons' answers rest on (a 503 invites the sender to
 * retry, so it must only be given when a retry can succeed). Pure; no
 * client state. */
#include <dispatchai/kafka.h>

int dai_kafka_err_rc(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return 0;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return DAI_EQUEUEFULL;
    /* The message itself is too big for a client, topic or broker limit. */
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return DAI_ETOOBIG;
    /* The cluster refuses it whatever the timing: a configuration problem
     * (topic name, ACLs, message format) or a record it will never take. */
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
        return DAI_EREFUSED;
    default:
        /* Timeouts, leader moves, a broker down, a topic or partition that
         * does not exist yet (the operator may be creating it), a fatal
         * producer state (the daemon stops and a retry reaches another). */
        return DAI_EKAFKA;
    }
}
