build-tsan/common/src/json.o: common/src/json.c \
 common/include/dispatchai/json.h common/include/dispatchai/err.h
common/include/dispatchai/json.h:
common/include/dispatchai/err.h:
