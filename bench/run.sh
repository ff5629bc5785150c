#!/usr/bin/env bash
# Builds Herald, the load generator and the peers, then runs the benchmark and prints the table.
#   bash bench/run.sh            # full run: 5 repeats, every scenario (long)
#   bash bench/run.sh --quick    # smoke run: 1 repeat, small sizes
# Any other flags go to `herald-bench run` (see `target/release/herald-bench run --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || echo "warning: fewer than 2 CPUs; server and generator will share a core" >&2

# The generator holds thousands of sockets: raise the soft open-files limit to the hard one.
ulimit -n "$(ulimit -Hn)" || true

echo "== building herald and herald-bench (release)" >&2
cargo build --release -q -p herald-server -p herald-bench

# The peers are built only when the run includes them (`--systems` defaults to all but herald-cluster).
systems="herald,node,socketioxide,floor"
prev=""
for a in "$@"; do
  case "$a" in --systems=*) systems="${a#--systems=}" ;; esac
  [ "$prev" = "--systems" ] && systems="$a"
  prev="$a"
done
wants() { [[ ",$systems," == *",$1,"* ]]; }

if wants socketioxide; then
  echo "== building the socketioxide peer" >&2
  (cd bench/peers/socketioxide && cargo build --release -q --locked)
fi

if wants node; then
  echo "== installing the node peer" >&2
  (cd bench/peers/node && { [ -d node_modules/socket.io ] || npm ci --no-audit --no-fund --loglevel=error; })
fi

if wants herald-cluster; then
  command -v redis-server >/dev/null || { echo "herald-cluster needs redis-server on the PATH" >&2; exit 1; }
fi

# Generator and emitter on CPU 0; each server is started by the generator with `taskset -c 1`.
exec taskset -c 0 target/release/herald-bench run --server-cpu 1 "$@"
