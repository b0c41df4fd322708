build-tsan/common/src/events.o: common/src/events.c \
 common/include/dispatchai/events.h common/include/dispatchai/err.h \
 common/include/dispatchai/json.h
common/include/dispatchai/events.h:
common/include/dispatchai/err.h:
common/include/dispatchai/json.h:
