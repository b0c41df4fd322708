build-tsan/common/src/err.o: common/src/err.c \
 common/include/dispatchai/err.h
common/include/dispatchai/err.h:
