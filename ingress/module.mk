# ingress: the webhook daemon. Everything but main.o goes into libingress.a
# so the unit tests link the same logic the daemon runs.

INGRESS_SRCS := $(filter-out ingress/main.c,$(wildcard ingress/*.c))
INGRESS_OBJS := $(INGRESS_SRCS:%.c=$(BUILD)/%.o)
INGRESS_LIB  := $(BUILD)/libingress.a
INGRESS_BIN  := $(BINDIR)/dispatchai-ingress

$(INGRESS_LIB): $(INGRESS_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(INGRESS_BIN): $(BUILD)/ingress/main.o $(INGRESS_LIB) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(INGRESS_LIB) $(LIBDAI) $(LDLIBS)

.PHONY: ingress
ingress: $(INGRESS_BIN)

DAEMON_LIBS += $(INGRESS_LIB)
DAEMON_BINS += $(INGRESS_BIN)
ALL_OBJS    += $(INGRESS_OBJS) $(BUILD)/ingress/main.o

# The parsing micro-benchmark run by scripts/bench-ingress (built with `all`
# so it cannot rot).
INGRESS_PARSE_BENCH := $(BUILD)/ingress-parse-bench
$(INGRESS_PARSE_BENCH): $(BUILD)/ingress/tools/parse_bench.o $(INGRESS_LIB) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(INGRESS_LIB) $(LIBDAI) $(LDLIBS)

TOOL_BINS += $(INGRESS_PARSE_BENCH)
ALL_OBJS  += $(BUILD)/ingress/tools/parse_bench.o

# The de-duplication table micro-benchmark run by scripts/bench-dedup (built
# with `all` so it cannot rot). It includes "window.h" unqualified so the
# script can build it against another revision's dedup.c.
INGRESS_DEDUP_BENCH := $(BUILD)/ingress-dedup-bench
$(BUILD)/ingress/tools/dedup_bench.o: CPPFLAGS += -Iingress
$(INGRESS_DEDUP_BENCH): $(BUILD)/ingress/tools/dedup_bench.o $(INGRESS_LIB) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(INGRESS_LIB) $(LIBDAI) $(LDLIBS)

TOOL_BINS += $(INGRESS_DEDUP_BENCH)
ALL_OBJS  += $(BUILD)/ingress/tools/dedup_bench.o

# make redrive [ARGS="--kafka.bootstrap_servers=HOST:PORT ..."]: re-drive the
# ingress's dead letters into the raw topic once the normaliser maps them
# (docs/operations.md, "Dead letters: handling and re-drive").
.PHONY: redrive
redrive: $(INGRESS_BIN)
	$(INGRESS_BIN) redrive $(ARGS)
