build-tsan/common/src/config.o: common/src/config.c \
 common/include/dispatchai/config.h common/include/dispatchai/err.h \
 common/include/dispatchai/log.h
common/include/dispatchai/config.h:
common/include/dispatchai/err.h:
common/include/dispatchai/log.h:
