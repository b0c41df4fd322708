# syntax=docker/dockerfile:1
# DispatchAI daemons — one image for all three (ingress, classifier, gateway); the
# container's command picks the daemon. Built by `docker compose build` (docker-compose.yml).
#
# Stage 1 builds the daemons with the same Debian packages and Makefile as a developer's
# machine; stage 2 carries only the binaries, their runtime libraries and config/.

# ---- build ------------------------------------------------------------------------------
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config python3 \
      librdkafka-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libssl-dev \
      libconfig-dev libwslay-dev libcmocka-dev libxxhash-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the daemons: the tests run on developer machines and in CI, not in the image.
# (python3 is for scripts/gen-web-assets, which embeds the gateway's dashboard.)
RUN make -j"$(nproc)" bin/dispatchai-ingress bin/dispatchai-classifier bin/dispatchai-gateway \
 && strip --strip-debug bin/dispatchai-*

# ---- runtime ----------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librdkafka1 libmicrohttpd12 libjansson4 libcurl4 libssl3 libconfig9 libwslay1 libxxhash0 \
      ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 dispatchai \
 && useradd --system --uid 10001 --gid dispatchai --home-dir /var/lib/dispatchai \
      --shell /usr/sbin/nologin dispatchai \
 && install -d -o dispatchai -g dispatchai -m 0750 /var/lib/dispatchai
COPY --from=build /src/bin/dispatchai-ingress /src/bin/dispatchai-classifier \
                  /src/bin/dispatchai-gateway /usr/local/bin/
# The daemons read ./config/<daemon>.conf (and the classifier its prompt and offline model)
# relative to their working directory; this is the same layout as a checkout.
COPY --from=build /src/config/ /opt/dispatchai/config/
COPY --from=build /src/classifier/model/ /opt/dispatchai/classifier/model/
COPY VERSION /opt/dispatchai/VERSION
WORKDIR /opt/dispatchai
USER dispatchai:dispatchai
ENV LOG_FORMAT=json
EXPOSE 8000 8001 8002
STOPSIGNAL SIGTERM
# compose sets a healthcheck per daemon; this default covers `docker run` of the ingress.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS -o /dev/null "${DAI_READY_URL:-http://127.0.0.1:8000/ready}" || exit 1
# tini reaps and forwards SIGTERM, so `docker stop` gets the daemons' graceful drain.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["dispatchai-ingress"]
