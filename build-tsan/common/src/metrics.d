build-tsan/common/src/metrics.o: common/src/metrics.c \
 common/include/dispatchai/metrics.h common/include/dispatchai/err.h \
 common/include/dispatchai/json.h
common/include/dispatchai/metrics.h:
common/include/dispatchai/err.h:
common/include/dispatchai/json.h:
