#!/usr/bin/env bash
# Makes sure the services the tests use are running on this machine; safe to run again and again.
#   PostgreSQL (127.0.0.1:5432) with pg_stat_statements preloaded, and Redis (127.0.0.1:6379).
# Needs root (it starts system services). Used by .ci/run; run it by hand on a dev machine.
set -euo pipefail

pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$pg_version" ]]; then
  echo "services: PostgreSQL is not installed (apt-get install -y postgresql); PostgreSQL tests will skip" >&2
else
  if ! pg_isready -h 127.0.0.1 -q; then
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
  fi
  for _ in $(seq 1 40); do pg_isready -h 127.0.0.1 -q && break; sleep 0.25; done
  preload=$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "SHOW shared_preload_libraries")
  if [[ "$preload" != *pg_stat_statements* ]]; then
    libs="pg_stat_statements"
    [[ -n "$preload" ]] && libs="$preload,pg_stat_statements"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "ALTER SYSTEM SET shared_preload_libraries = '$libs'"
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main restart
    for _ in $(seq 1 40); do pg_isready -h 127.0.0.1 -q && break; sleep 0.25; done
  fi
  echo "services: PostgreSQL $pg_version ready (shared_preload_libraries: $(psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SHOW shared_preload_libraries'))"
fi

if command -v redis-server >/dev/null; then
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 40); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.25; done
  fi
  echo "services: Redis ready"
else
  echo "services: Redis is not installed (apt-get install -y redis-server)" >&2
fi
