# classifier/module.mk — the classifier daemon (issues.raw -> issues.enriched).
# Everything but main.o goes into libclassifier.a so unit tests link the same
# code. The offline classifier (classifier/offline/, classifier/model/) is a
# separate module whose archive is CLS_OFFLINE_LIB; its fragment is included
# after this one (sorted order), hence the second expansion below.

CLS_SRCS := $(filter-out classifier/main.c,$(wildcard classifier/*.c))
CLS_OBJS := $(CLS_SRCS:%.c=$(BUILD)/%.o)
CLS_LIB  := $(BUILD)/libclassifier.a
CLS_BIN  := $(BINDIR)/dispatchai-classifier

$(CLS_LIB): $(CLS_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(CLS_BIN): $(BUILD)/classifier/main.o $(CLS_LIB) $$(CLS_OFFLINE_LIB) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/classifier/main.o $(CLS_LIB) $(CLS_OFFLINE_LIB) $(LIBDAI) $(LDLIBS)

.PHONY: classifier
classifier: $(CLS_BIN)

DAEMON_LIBS += $(CLS_LIB)
DAEMON_BINS += $(CLS_BIN)
ALL_OBJS    += $(CLS_OBJS) $(BUILD)/classifier/main.o
