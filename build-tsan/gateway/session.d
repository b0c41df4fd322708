build-tsan/gateway/session.o: gateway/session.c gateway/gateway.h \
 common/include/dispatchai/dai.h common/include/dispatchai/config.h \
 common/include/dispatchai/err.h common/include/dispatchai/events.h \
 common/include/dispatchai/hmac.h common/include/dispatchai/http.h \
 common/include/dispatchai/json.h common/include/dispatchai/metrics.h \
 common/include/dispatchai/kafka.h common/include/dispatchai/lifecycle.h \
 common/include/dispatchai/log.h
gateway/gateway.h:
common/include/dispatchai/dai.h:
common/include/dispatchai/config.h:
common/include/dispatchai/err.h:
common/include/dispatchai/events.h:
common/include/dispatchai/hmac.h:
common/include/dispatchai/http.h:
common/include/dispatchai/json.h:
common/include/dispatchai/metrics.h:
common/include/dispatchai/kafka.h:
common/include/dispatchai/lifecycle.h:
common/include/dispatchai/log.h:
