build-tsan/gateway/static.o: gateway/static.c gateway/static.h \
 common/include/dispatchai/err.h common/include/dispatchai/http.h \
 common/include/dispatchai/json.h common/include/dispatchai/metrics.h
gateway/static.h:
common/include/dispatchai/err.h:
common/include/dispatchai/http.h:
common/include/dispatchai/json.h:
common/include/dispatchai/metrics.h:
