build-tsan/common/src/log.o: common/src/log.c \
 common/include/dispatchai/json.h common/include/dispatchai/err.h \
 common/include/dispatchai/log.h
common/include/dispatchai/json.h:
common/include/dispatchai/err.h:
common/include/dispatchai/log.h:
