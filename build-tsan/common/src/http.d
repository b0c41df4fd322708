build-tsan/common/src/http.o: common/src/http.c \
 common/include/dispatchai/http.h common/include/dispatchai/err.h \
 common/include/dispatchai/json.h common/include/dispatchai/metrics.h \
 common/include/dispatchai/log.h
common/include/dispatchai/http.h:
common/include/dispatchai/err.h:
common/include/dispatchai/json.h:
common/include/dispatchai/metrics.h:
common/include/dispatchai/log.h:
