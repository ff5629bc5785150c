#!/usr/bin/env bash
# The Herald demo in one command: `bash examples/demo/run.sh`, then open the URL it prints.
# Starts `herald serve` (examples/demo/herald.toml), the demo backend and the demo workers (Python,
# written with clients/python), and stops them all on Ctrl-C.
#
# Environment: DEMO_EDGE_ADDR (default 127.0.0.1:8090), DEMO_CORE_ADDR (127.0.0.1:50061),
# (port 0 picks a free one), DEMO_STATE_DIR (where the SQLite store and the logs go; default a new
# temporary folder), DEMO_ADMIN_SECRET (the admin console's secret, default herald-demo-admin; empty disables it),
# DEMO_WORKERS=0 (start no worker: tasks stay queued),
# HERALD_BIN (default: target/debug/herald, built when missing), PYTHON (default: .venv/bin/python,
# created with the package when missing).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
EDGE_ADDR="${DEMO_EDGE_ADDR:-127.0.0.1:8090}"
CORE_ADDR="${DEMO_CORE_ADDR:-127.0.0.1:50061}"
STATE_DIR="${DEMO_STATE_DIR:-$(mktemp -d -t herald-demo.XXXXXX)}"
SECRET="herald-demo-secret"
ADMIN_SECRET="${DEMO_ADMIN_SECRET-herald-demo-admin}"
HERALD_BIN="${HERALD_BIN:-target/debug/herald}"
PYTHON="${PYTHON:-.venv/bin/python}"
mkdir -p "$STATE_DIR"

if [[ ! -x "$HERALD_BIN" ]]; then
  echo "building herald..."
  cargo build -q -p herald-server --bins
fi
# The demo imports the package from clients/python (always the checked-out code); .venv brings grpcio
# and protobuf.
export PYTHONPATH="$PWD/clients/python${PYTHONPATH:+:$PYTHONPATH}"
if [[ ! -x "$PYTHON" ]] || ! "$PYTHON" -c 'import grpc, google.protobuf' 2>/dev/null; then
  echo "installing the Python package and its dependencies into .venv..."
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check ./clients/python
  rm -rf clients/python/build
  PYTHON=.venv/bin/python
fi

# The page loads socket.io-client's browser bundle from web/vendor/ (an npm install puts it in
# tests/node or clients/js; nothing is fetched at run time).
BUNDLE=""
for dir in tests/node clients/js; do
  if [[ -f "$dir/node_modules/socket.io-client/dist/socket.io.min.js" ]]; then
    BUNDLE="$dir/node_modules/socket.io-client/dist/socket.io.min.js"
    break
  fi
done
if [[ -z "$BUNDLE" ]]; then
  echo "installing socket.io-client in clients/js..."
  (cd clients/js && npm ci --no-audit --no-fund --loglevel=error)
  BUNDLE="clients/js/node_modules/socket.io-client/dist/socket.io.min.js"
fi
mkdir -p examples/demo/web/vendor
cp "$BUNDLE" examples/demo/web/vendor/socket.io.min.js

PIDS=()
stop() {
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

HERALD_AUTH_HS256_SECRET="$SECRET" HERALD_EDGE_ADMIN_SECRET="$ADMIN_SECRET" HERALD_CORE_LISTEN="$CORE_ADDR" HERALD_EDGE_LISTEN="$EDGE_ADDR" \
  HERALD_STORE_URL="sqlite://$STATE_DIR/herald.db" \
  "$HERALD_BIN" serve --config examples/demo/herald.toml >"$STATE_DIR/herald.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do
  grep -q "edge listening" "$STATE_DIR/herald.log" && break
  if ! kill -0 "${PIDS[0]}" 2>/dev/null; then
    echo "herald did not start:" >&2
    cat "$STATE_DIR/herald.log" >&2
    exit 1
  fi
  sleep 0.1
done
# The addresses herald bound (port 0 in DEMO_*_ADDR picks free ones).
CORE_ADDR="$(sed -n 's/^herald core listening on //p' "$STATE_DIR/herald.log" | head -1)"
EDGE_ADDR="$(sed -n 's/^herald edge listening on //p' "$STATE_DIR/herald.log" | head -1)"

"$PYTHON" examples/demo/backend.py --url "$CORE_ADDR" --secret "$SECRET" >"$STATE_DIR/backend.log" 2>&1 &
PIDS+=($!)
WORKERS="${DEMO_WORKERS:-1}"
if [[ "$WORKERS" != 0 ]]; then
  "$PYTHON" examples/demo/workers.py --url "$CORE_ADDR" >"$STATE_DIR/workers.log" 2>&1 &
  PIDS+=($!)
fi

# Ready once the backend handles both namespaces and both workers are welcomed.
for _ in $(seq 1 600); do
  if [[ "$(grep -c "demo-backend handling" "$STATE_DIR/backend.log" 2>/dev/null)" -ge 2 &&
    ("$WORKERS" == 0 || "$(grep -c "welcomed" "$STATE_DIR/workers.log" 2>/dev/null)" -ge 2) ]]; then
    break
  fi
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "a demo process did not start:" >&2
      tail -n 20 "$STATE_DIR"/*.log >&2
      exit 1
    fi
  done
  sleep 0.1
done

echo "Herald demo: http://$EDGE_ADDR/  (open it in two windows, pick alice and bob)"
if [[ -n "$ADMIN_SECRET" ]]; then
  echo "Admin console: http://$EDGE_ADDR/admin/  (admin secret: $ADMIN_SECRET)"
fi
echo "Logs in $STATE_DIR (herald.log, backend.log, workers.log); Ctrl-C stops everything."
wait -n "${PIDS[@]}" || true
echo "a demo process stopped; see the logs in $STATE_DIR" >&2
exit 1
