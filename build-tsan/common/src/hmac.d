build-tsan/common/src/hmac.o: common/src/hmac.c \
 common/include/dispatchai/hmac.h common/include/dispatchai/err.h
common/include/dispatchai/hmac.h:
common/include/dispatchai/err.h:
