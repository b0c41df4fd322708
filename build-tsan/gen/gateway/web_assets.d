build-tsan/gen/gateway/web_assets.o: build-tsan/gen/gateway/web_assets.c \
 gateway/static.h common/include/dispatchai/err.h
gateway/static.h:
common/include/dispatchai/err.h:
