# gateway/module.mk — the gateway daemon: every gateway/*.c except main.c goes
# into $(BUILD)/libgateway.a (linked by the unit tests too); the binary is
# main.o + that archive + libdispatchai. gateway/web/ holds static files only.

GW_SRCS := $(filter-out gateway/main.c,$(wildcard gateway/*.c))
GW_OBJS := $(GW_SRCS:%.c=$(BUILD)/%.o)
GW_LIB  := $(BUILD)/libgateway.a
GW_BIN  := $(BINDIR)/dispatchai-gateway

$(GW_LIB): $(GW_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(GW_BIN): $(BUILD)/gateway/main.o $(GW_LIB) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(GW_LIB) $(LIBDAI) $(LDLIBS)

.PHONY: gateway
gateway: $(GW_BIN)

DAEMON_BINS += $(GW_BIN)
DAEMON_LIBS += $(GW_LIB)
ALL_OBJS    += $(GW_OBJS) $(BUILD)/gateway/main.o
