# scripts/module.mk — the local stack and the Kafka tooling (`make dev`, `make kafka-…`).
# The work is done by scripts/dev-stack (native stack or docker compose) and
# scripts/kafka-tool (rpk in the dispatchai-redpanda container, rpk on PATH, or kcat plus
# Kafka's own CLI); these recipes only pass the make variables along.

.PHONY: kafka-create-topics kafka-topics kafka-console kafka-describe kafka-group replay

# `make dev`: dependencies first; the native stack needs the daemons built from source,
# docker mode builds its own image. dev-stack prints where everything is once all are ready.
dev: deps
	@mode=$$(scripts/dev-stack mode) && \
	if [ "$$mode" = native ]; then $(MAKE) --no-print-directory $(DAEMON_BINS); fi && \
	DEV_MODE=$$mode DAI_BIN_DIR=$(abspath $(BINDIR)) scripts/dev-stack start

dev-down:
	@scripts/dev-stack stop

dev-clean:
	@scripts/dev-stack clean

dev-status:
	@scripts/dev-stack status

dev-logs:
	@scripts/dev-stack logs

kafka-create-topics:
	@scripts/kafka-tool create-topics

kafka-topics:
	@scripts/kafka-tool topics

# make kafka-console TOPIC=issues.raw [N=10] [FOLLOW=1] [UNCOMMITTED=1]
kafka-console:
	@test -n '$(TOPIC)' || { echo 'usage: make kafka-console TOPIC=issues.raw [N=10] [FOLLOW=1]' >&2; exit 2; }
	@scripts/kafka-tool console '$(TOPIC)' '$(or $(N),10)'

# make kafka-describe TOPIC=issues.enriched
kafka-describe:
	@test -n '$(TOPIC)' || { echo 'usage: make kafka-describe TOPIC=issues.raw' >&2; exit 2; }
	@scripts/kafka-tool describe '$(TOPIC)'

# make kafka-group [GROUP=dispatchai-classifier]
kafka-group:
	@scripts/kafka-tool group '$(or $(GROUP),dispatchai-classifier)'

# make replay TOPIC=issues.raw FROM=<offset|earliest|latest|time|age> GROUP=dispatchai-classifier [DRY_RUN=1]
replay:
	@test -n '$(TOPIC)' -a -n '$(FROM)' -a -n '$(GROUP)' || \
	  { echo 'usage: make replay TOPIC=issues.raw FROM=<offset|earliest|latest|2024-05-01T10:00:00Z|6h> GROUP=dispatchai-classifier [DRY_RUN=1]' >&2; exit 2; }
	@scripts/kafka-tool replay '$(TOPIC)' '$(FROM)' '$(GROUP)'
