/* Text for return codes: negative errno values and the DAI_E* domain codes
 * from err.h. Owns nothing else; callers decide whether and where to log. */
#include <dispatchai/err.h>

#include <string.h>

const char *dai_strerror(int rc)
{
    const char *s;

    switch (rc) {
    case 0: return "success";
    case DAI_EINVAL: return "invalid argument or value";
    case DAI_ECONFIG: return "invalid configuration";
    case DAI_EBADSIG: return "signature missing, malformed or wrong";
    case DAI_ETOOBIG: return "input exceeds a configured limit";
    case DAI_EPARSE: return "input is not well-formed";
    case DAI_EKAFKA: return "Kafka broker or client error";
    case DAI_ETIMEOUT: return "deadline passed";
    case DAI_ENOTFOUND: return "not found";
    case DAI_ESCHEMA: return "event violates the schema";
    case DAI_EQUEUEFULL: return "queue is full";
    case DAI_EAUTH: return "missing or unknown credentials";
    case DAI_EREFUSED: return "refused for good (retrying cannot succeed)";
    case DAI_ETXN_RETRY: return "transaction operation failed, retriable";
    case DAI_ETXN_ABORT: return "transaction must be aborted";
    case DAI_ETXN_FATAL: return "transactional producer is unusable";
    default: break;
    }
    if (rc < 0 && rc > -1000) {
        /* strerrordesc_np returns static text and, unlike strerror, never
         * formats into a shared buffer, so it is safe from any thread. */
        s = strerrordesc_np(-rc);
        if (s)
            return s;
    }
    return "unknown error";
}
