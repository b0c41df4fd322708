# DispatchAI — one non-recursive Makefile for the shared library, the three
# daemons and their tests. Each daemon directory adds its own rules through a
# `module.mk` fragment so the daemons can grow without editing this file.

BUILD   ?= build
BINDIR  ?= bin
ifeq ($(origin CC),default)
CC := gcc
endif
PYTHON  ?= /usr/bin/python3

PKGS := rdkafka libmicrohttpd jansson libcurl libconfig openssl libxxhash

OPTFLAGS ?= -O2 -g
SANFLAGS ?=
DAI_CFLAGS   := -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Wno-format-nonliteral -Werror \
                -MMD -MP -pthread $(OPTFLAGS) $(SANFLAGS) $(EXTRA_CFLAGS)
DAI_CPPFLAGS := -D_GNU_SOURCE -Icommon/include $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DAI_LDFLAGS  := -pthread $(SANFLAGS)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwslay -lm

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
DAI_CPPFLAGS += -DDAI_VERSION='"$(VERSION)"'

include mk/flags.mk

LIBDAI      := $(BUILD)/libdispatchai.a
COMMON_SRCS := $(wildcard common/src/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/%.o)

# Filled in by the module fragments.
DAEMON_BINS :=
TOOL_BINS   :=
DAEMON_LIBS :=
ALL_OBJS    := $(COMMON_OBJS)

.PHONY: all deps test test-unit test-integration sanitize clean \
        dev dev-down dev-clean dev-status dev-logs fuzz bench
.DEFAULT_GOAL := all

include $(sort $(wildcard */module.mk */*/module.mk))
include mk/install.mk

all: $(DAEMON_BINS) $(TOOL_BINS) unit-bins

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIBDAI): $(COMMON_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# ---- unit tests: tests/unit/test_<module>.c, one cmocka binary each -------
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Shared test support (fixture loading) linked into every unit test.
UNIT_SUPPORT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/unit/support/*.c))
ALL_OBJS += $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(UNIT_SUPPORT_OBJS)

# Daemon archives come before libdispatchai so the linker only pulls in the
# objects a test actually needs.
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_SUPPORT_OBJS) $(DAEMON_LIBS) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_SUPPORT_OBJS) $(DAEMON_LIBS) $(LIBDAI) $(LDLIBS) -lcmocka

.PHONY: unit-bins
unit-bins: $(UNIT_BINS)

deps:
	@scripts/install-deps.sh --if-missing

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory fuzz-regress
	@$(MAKE) --no-print-directory test-integration

test-unit: $(UNIT_BINS)
	@scripts/run-unit-tests $(UNIT_BINS)

# Integration and end-to-end tests drive the real daemons (from $(BINDIR)) and
# a real Kafka broker started by the tests themselves.
test-integration: $(DAEMON_BINS) $(TOOL_BINS)
	DAI_BIN_DIR=$(abspath $(BINDIR)) DAI_TOOL_DIR=$(abspath $(BUILD))/tests $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration tests/e2e $(PYTEST_ARGS)

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san BINDIR=build-san/bin OPTFLAGS="-O1 -g" \
	    SANFLAGS="$(SAN)" all test-unit fuzz-regress
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp) \
	    $(MAKE) --no-print-directory BUILD=build-san BINDIR=build-san/bin OPTFLAGS="-O1 -g" \
	    SANFLAGS="$(SAN)" test-integration

# Every build folder: the default build, the sanitizer, thread-sanitizer and
# fuzz builds, and the binaries.
clean:
	rm -rf build build-san build-tsan build-fuzz bin

-include $(ALL_OBJS:.o=.d)
