# classifier/offline: the offline classifier library (libcls_offline.a, linked
# by the classifier daemon and the unit tests), its training tool, and the
# train-model / cv-model / eval-model targets. DATA=... overrides the CSV.

CLS_OFFLINE_SRCS := classifier/offline/csv.c classifier/offline/featurize.c \
                    classifier/offline/learn.c classifier/offline/lexicon.c \
                    classifier/offline/model.c classifier/offline/offline.c \
                    classifier/offline/signals.c classifier/offline/tokenize.c
CLS_OFFLINE_OBJS := $(CLS_OFFLINE_SRCS:%.c=$(BUILD)/%.o)
CLS_OFFLINE_LIB  := $(BUILD)/libcls_offline.a
CLS_TRAIN_OBJS   := $(BUILD)/classifier/offline/train.o $(BUILD)/classifier/offline/trainset.o
CLS_TRAIN_BIN    := $(BUILD)/tools/dispatchai-train
CLS_MODEL        ?= classifier/model/offline-model.bin
DATA             ?= ../shared/data/issues-labeled-train.csv

DAEMON_LIBS += $(CLS_OFFLINE_LIB)
TOOL_BINS   += $(CLS_TRAIN_BIN)
ALL_OBJS    += $(CLS_OFFLINE_OBJS) $(CLS_TRAIN_OBJS)

$(CLS_OFFLINE_LIB): $(CLS_OFFLINE_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The trainer needs the offline library, libm and, from libdispatchai, only
# leaf modules (utf8.o): nothing of the daemons' libraries is linked in.
$(CLS_TRAIN_BIN): $(CLS_TRAIN_OBJS) $(CLS_OFFLINE_LIB) $(LIBDAI)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

# The unit test finds the committed model through a compiled-in absolute path.
$(BUILD)/tests/unit/test_offline.o: CPPFLAGS += -Iclassifier/offline \
    -DCLS_TEST_MODEL='"$(abspath $(CLS_MODEL))"'

.PHONY: train-model cv-model eval-model
train-model: $(CLS_TRAIN_BIN)
	@echo "command: $(CLS_TRAIN_BIN) train --data $(DATA) --out $(CLS_MODEL) $(TRAIN_ARGS)"
	$(CLS_TRAIN_BIN) train --data $(DATA) --out $(CLS_MODEL) $(TRAIN_ARGS)

# Cross-validation of the training recipe on DATA (the honest figure for the
# data the model is trained on).
cv-model: $(CLS_TRAIN_BIN)
	$(CLS_TRAIN_BIN) eval --data $(DATA) $(CV_ARGS)

# The shipped model through `dispatchai-classifier eval`, as the daemon runs it;
# point DATA at labelled issues the model was not trained on for a held-out figure.
eval-model: $(CLS_BIN)
	$(CLS_BIN) eval --offline --data $(DATA) --offline.model=$(CLS_MODEL) $(EVAL_ARGS)
