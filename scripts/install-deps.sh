#!/usr/bin/env bash
# Install everything the build, the tests and the local broker need on a
# Debian bookworm machine: Debian packages via apt (as root) and the Kafka
# broker's jars via Maven (scripts/kafka-local fetch). Idempotent.
#   --if-missing   only act when something is missing (used by make test/dev)
#   --check        only report what is missing; exit 1 if anything is
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

PACKAGES=(
  build-essential gcc make pkg-config
  librdkafka-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libssl-dev
  libconfig-dev libcmocka-dev libwslay-dev libxxhash-dev
  kcat wrk curl valgrind clang libclang-rt-14-dev chromium docker-compose
  default-jre-headless maven
  python3 python3-pytest python3-websockets python3-jsonschema python3-yaml
)

mode=install
case "${1:-}" in
  --if-missing) mode=if-missing ;;
  --check) mode=check ;;
  ""|--install) ;;
  -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
  *) echo "install-deps: unknown option $1" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  # A virtual/alternative package (default-jre-headless) counts as present
  # when a Java 17+ runtime is already on PATH.
  if [[ $p == default-jre-headless ]] && command -v java >/dev/null 2>&1; then
    continue
  fi
  if [[ $p == maven ]] && command -v mvn >/dev/null 2>&1; then
    continue
  fi
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

jars_ok=1
"$here/kafka-local" fetch --check >/dev/null 2>&1 || jars_ok=0
# The browser test drives Debian's chromium with playwright-core from npm (no browser download).
browser_dir="$here/../tests/browser"
npm_ok=1
[[ -d $browser_dir/node_modules/playwright-core ]] || npm_ok=0

if [[ $mode == check ]]; then
  ((${#missing[@]})) && echo "missing Debian packages: ${missing[*]}"
  ((jars_ok)) || echo "missing: Kafka broker jars (scripts/kafka-local fetch)"
  ((npm_ok)) || echo "missing: tests/browser/node_modules (npm ci --prefix tests/browser)"
  ((${#missing[@]} == 0 && jars_ok && npm_ok)) && { echo "all dependencies present"; exit 0; }
  exit 1
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-deps: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
elif [[ $mode == install ]]; then
  echo "install-deps: Debian packages present"
fi

if ((!jars_ok)) || [[ $mode == install ]]; then
  "$here/kafka-local" fetch
fi

if ((!npm_ok)) || [[ $mode == install ]]; then
  if command -v npm >/dev/null 2>&1; then
    npm ci --prefix "$browser_dir" --no-audit --no-fund --loglevel=error
  else
    echo "install-deps: npm not found; the dashboard browser test needs Node.js 20+ and npm" >&2
    exit 1
  fi
fi
