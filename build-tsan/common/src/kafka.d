build-tsan/common/src/kafka.o: common/src/kafka.c \
 common/include/dispatchai/kafka.h common/include/dispatchai/config.h \
 common/include/dispatchai/err.h common/include/dispatchai/metrics.h \
 common/include/dispatchai/json.h common/include/dispatchai/lifecycle.h \
 common/include/dispatchai/log.h
common/include/dispatchai/kafka.h:
common/include/dispatchai/config.h:
common/include/dispatchai/err.h:
common/include/dispatchai/metrics.h:
common/include/dispatchai/json.h:
common/include/dispatchai/lifecycle.h:
common/include/dispatchai/log.h:
