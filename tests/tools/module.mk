# Test tools: small CLIs over the common library that the integration tests
# drive as processes. kafka_roundtrip produces/consumes through dai_producer /
# dai_consumer (tests/integration/test_kafka_roundtrip.py).

KAFKA_ROUNDTRIP := $(BUILD)/tests/kafka_roundtrip

$(KAFKA_ROUNDTRIP): $(BUILD)/tests/tools/kafka_roundtrip.o $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBDAI) $(LDLIBS)

TOOL_BINS += $(KAFKA_ROUNDTRIP)
ALL_OBJS  += $(BUILD)/tests/tools/kafka_roundtrip.o
