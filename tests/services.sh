#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis the tests use are up, starting the local
# services when they are installed but stopped. Tests read HERALD_TEST_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/postgres) and HERALD_TEST_REDIS_URL
# (default redis://127.0.0.1:6379).
set -uo pipefail

pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -h 127.0.0.1 -p 5432 -q
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]
  else
    (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null
  fi
}

wait_for() {
  local what="$1" check="$2"
  for _ in $(seq 1 50); do
    if "$check"; then
      echo "$what: up"
      return 0
    fi
    sleep 0.2
  done
  echo "$what: not reachable" >&2
  return 1
}

status=0
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
    echo "PostgreSQL is down; starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  fi
fi
wait_for "PostgreSQL (127.0.0.1:5432)" pg_up || status=1

# The cluster and Redis-fault tests start redis-server processes of their own: install it if missing.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is missing; installing it with apt-get"
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || true
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || true
  fi
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is down; starting it"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
fi
wait_for "Redis (127.0.0.1:6379)" redis_up || status=1
exit "$status"
