/* Umbrella header for the DispatchAI common library. */
#ifndef DISPATCHAI_DAI_H
#define DISPATCHAI_DAI_H

#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/config.h>
#include <dispatchai/err.h>
#include <dispatchai/events.h>
#include <dispatchai/hash.h>
#include <dispatchai/hex.h>
#include <dispatchai/hmac.h>
#include <dispatchai/http.h>
#include <dispatchai/json.h>
#include <dispatchai/kafka.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>
#include <dispatchai/map.h>
#include <dispatchai/metrics.h>
#include <dispatchai/ratelimit.h>
#include <dispatchai/utf8.h>

#endif
