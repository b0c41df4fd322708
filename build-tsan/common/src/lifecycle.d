build-tsan/common/src/lifecycle.o: common/src/lifecycle.c \
 common/include/dispatchai/lifecycle.h common/include/dispatchai/err.h \
 common/include/dispatchai/log.h
common/include/dispatchai/lifecycle.h:
common/include/dispatchai/err.h:
common/include/dispatchai/log.h:
