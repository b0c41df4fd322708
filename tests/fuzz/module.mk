# Fuzz targets (tests/fuzz/fuzz_<name>.c, each defining LLVMFuzzerTestOneInput).
# - `make fuzz` builds them with clang + libFuzzer + ASan/UBSan into build-fuzz/
#   and runs each for FUZZ_TIME seconds (default 60) on its committed corpus.
# - `make fuzz-regress` (part of `make test`) replays every committed corpus file
#   and every past crash through the gcc build, via a small standalone driver.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_REGRESS_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz-regress/fuzz_%)
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
ALL_OBJS += $(FUZZ_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/fuzz/standalone.o

$(BUILD)/fuzz-regress/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/standalone.o $(DAEMON_LIBS) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/tests/fuzz/standalone.o $(DAEMON_LIBS) $(LIBDAI) $(LDLIBS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(DAEMON_LIBS) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(DAEMON_LIBS) $(LIBDAI) $(LDLIBS)

.PHONY: fuzz fuzz-bins fuzz-regress
TOOL_BINS += $(FUZZ_REGRESS_BINS)

fuzz-bins: $(FUZZ_BINS)

fuzz-regress: $(FUZZ_REGRESS_BINS)
	@scripts/run-fuzz --regress $(BUILD)/fuzz-regress

FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fsanitize=fuzzer-no-link -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
fuzz:
	@scripts/install-deps.sh --if-missing
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz BINDIR=build-fuzz/bin \
	    OPTFLAGS="-O1 -g" SANFLAGS="$(FUZZ_SAN)" fuzz-bins
	@scripts/run-fuzz --fuzz build-fuzz/fuzz $(FUZZ_TIME)
