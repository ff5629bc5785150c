#!/usr/bin/env bash
# THE command that runs every check and test of the repository: `bash tests/run.sh`.
# Needs Rust (cargo, rustfmt, clippy), Node 20+ (node, npm) and Python 3.11; installs the npm
# packages and a Python venv itself, and starts local PostgreSQL/Redis if they are stopped.
# Works from any cwd.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"
NODE_DIR="$REPO_ROOT/tests/node"
export HERALD_BIN="${HERALD_BIN:-$REPO_ROOT/target/debug/herald}"

declare -a STEP_NAMES=()
declare -a STEP_RESULTS=()
FAILED=0

header() {
  printf '\n==================== %s ====================\n' "$1"
}

record() {
  STEP_NAMES+=("$1")
  STEP_RESULTS+=("$2")
  if [[ "$2" == FAIL* || "$2" == "NOT RUN"* ]]; then
    FAILED=$((FAILED + 1))
  fi
}

# step NAME COMMAND...: runs the command, records ok/FAIL with its duration; never exits.
# (Commands run as an `if` condition, where errexit is off: step functions return their status.)
step() {
  local name="$1"
  shift
  header "$name"
  local start=$SECONDS
  if "$@"; then
    record "$name" "ok ($((SECONDS - start))s)"
    return 0
  else
    local rc=$?
    record "$name" "FAIL (exit $rc, $((SECONDS - start))s)"
    return 1
  fi
}

# not_run NAME WHY: a step that could not run counts as a failure.
not_run() {
  header "$1"
  echo "not run: $2"
  record "$1" "NOT RUN ($2)"
}

require_tools() {
  local missing=0
  for tool in cargo node npm openssl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "missing tool: $tool" >&2
      missing=1
    fi
  done
  if command -v node >/dev/null 2>&1; then
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if ((major < 20)); then
      echo "Node 20 or newer is needed, found $(node --version)" >&2
      missing=1
    fi
  fi
  return "$missing"
}

# npm ci in tests/node when node_modules is missing or package-lock.json changed since the last ci.
node_deps() {
  local stamp="$NODE_DIR/node_modules/.herald-lock.sha256"
  local want
  want="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
  if [[ -d "$NODE_DIR/node_modules" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "tests/node/node_modules is up to date with package-lock.json"
    return 0
  fi
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) || return 1
  echo "$want" >"$stamp"
}

buf_lint() {
  "$NODE_DIR/node_modules/.bin/buf" lint || return 1
  echo "buf lint: no issues"
}

node_tests() {
  echo "HERALD_BIN=$HERALD_BIN"
  # The file list is expanded by the shell (Node 20's --test takes no globs).
  node --test --test-reporter=spec "$NODE_DIR"/*.test.js
}

# Debian's Chromium for the browser suite (playwright-core drives it; nothing else is downloaded).
chromium_present() {
  [[ -x "${HERALD_CHROMIUM:-/usr/bin/chromium}" ]] && return 0
  echo "installing chromium with apt-get"
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
}

browser_tests() {
  # The demo (examples/demo/run.sh) and the admin console in headless Chromium.
  node --test --test-concurrency=1 --test-reporter=spec "$REPO_ROOT"/tests/browser/*.test.js
}

# The guarantees checker (tests/checker/README.md): three fixed seeds, a few seconds of load each.
guarantees_checker() {
  node "$REPO_ROOT/tests/checker/check.js" --seed 1 --runs 3 --seconds 6 --settle-seconds 20
}

# The same checks against two cores on Redis, each with its edge (clients recover through the other).
guarantees_checker_cluster() {
  node "$REPO_ROOT/tests/checker/check.js" --cores 2 --seed 11 --runs 2 --seconds 6 --settle-seconds 20
}

# The same on a private three-master Redis Cluster (broker.cluster = true, sharded pub/sub).
guarantees_checker_redis_cluster() {
  node "$REPO_ROOT/tests/checker/check.js" --cores 2 --redis-cluster --seed 21 --runs 2 --seconds 6 --settle-seconds 20
}

python_tests() {
  # PostgreSQL is part of the suite here: its tests fail rather than skip when it is missing.
  HERALD_TEST_REQUIRE_POSTGRES=1 bash "$REPO_ROOT/tests/python/run.sh"
}

# The TLS tests make their certificates with the openssl CLI (tests/node/tls.test.js).
if ! command -v openssl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -qq openssl >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq openssl) || true
fi

TOOLS_OK=1
step "tools (cargo, node >= 20, npm, openssl)" require_tools || TOOLS_OK=0

step "services (PostgreSQL, Redis)" bash "$REPO_ROOT/tests/services.sh" || true

if ((TOOLS_OK)); then
  step "cargo fmt --all -- --check" cargo fmt --all -- --check || true
  step "cargo clippy --workspace --all-targets -- -D warnings" \
    cargo clippy --workspace --all-targets -- -D warnings || true
  BUILD_OK=1
  step "cargo build --workspace --bins" cargo build --workspace --bins || BUILD_OK=0
  step "cargo test --workspace" cargo test --workspace || true

  NPM_OK=1
  step "npm ci (tests/node)" node_deps || NPM_OK=0
  if ((NPM_OK)); then
    step "buf lint (proto/)" buf_lint || true
  else
    not_run "buf lint (proto/)" "npm ci failed"
  fi

  if ((BUILD_OK && NPM_OK)); then
    step "node --test tests/node/*.test.js" node_tests || true
  elif ((BUILD_OK)); then
    not_run "node --test tests/node/*.test.js" "npm ci failed"
  else
    not_run "node --test tests/node/*.test.js" "cargo build failed"
  fi

  if ((BUILD_OK && NPM_OK)); then
    step "guarantees checker (tests/checker, seeds 1-3)" guarantees_checker || true
    step "guarantees checker on two cores on Redis (seeds 11-12)" guarantees_checker_cluster || true
    step "guarantees checker on two cores on a Redis Cluster (seeds 21-22)" guarantees_checker_redis_cluster || true
  else
    not_run "guarantees checker (tests/checker, seeds 1-3)" "cargo build or npm ci failed"
    not_run "guarantees checker on two cores on Redis (seeds 11-12)" "cargo build or npm ci failed"
    not_run "guarantees checker on two cores on a Redis Cluster (seeds 21-22)" "cargo build or npm ci failed"
  fi
else
  not_run "everything else" "required tools are missing"
fi

if ((TOOLS_OK)) && [[ "${BUILD_OK:-0}" == 1 ]]; then
  step "Python tests (clients/python, tests/python)" python_tests || true
else
  not_run "Python tests (clients/python, tests/python)" "cargo build failed"
fi

if ((TOOLS_OK)) && [[ "${BUILD_OK:-0}" == 1 && "${NPM_OK:-0}" == 1 ]]; then
  if step "chromium (apt-get when missing)" chromium_present; then
    step "browser tests (tests/browser, Playwright + Chromium)" browser_tests || true
  else
    not_run "browser tests (tests/browser, Playwright + Chromium)" "chromium is missing"
  fi
else
  not_run "browser tests (tests/browser, Playwright + Chromium)" "cargo build or npm ci failed"
fi

header "summary"
for i in "${!STEP_NAMES[@]}"; do
  printf '  %-60s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}"
done
echo
if ((FAILED > 0)); then
  echo "tests/run.sh: FAILED ($FAILED of ${#STEP_NAMES[@]} steps did not succeed)"
  exit 1
fi
echo "tests/run.sh: all ${#STEP_NAMES[@]} steps succeeded"
