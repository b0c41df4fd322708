# Test tools: small CLIs over the common library that the integration tests
# drive as processes. kafka_roundtrip produces/consumes through dai_producer /
# dai_consumer (tests/integration/test_kafka_roundtrip.py).

KAFKA_ROUNDTRIP := $(BUILD)/tests/kafka_roundtrip

$(KAFKA_ROUNDTRIP): $(BUILD)/tests/tools/kafka_roundtrip.o $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBDAI) $(LDLIBS)

TOOL_BINS += $(KAFKA_ROUNDTRIP)
ALL_OBJS  += $(BUILD)/tests/tools/kafka_roundtrip.o

# github_call drives the common GitHub client against tests/fake_github
# (tests/integration/test_github_client.py).
GITHUB_CALL := $(BUILD)/tests/github_call

$(GITHUB_CALL): $(BUILD)/tests/tools/github_call.o $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBDAI) $(LDLIBS)

TOOL_BINS += $(GITHUB_CALL)
ALL_OBJS  += $(BUILD)/tests/tools/github_call.o
