#!/usr/bin/env bash
# Start the local PostgreSQL server when it does not answer (the tests use database `test` on
# 127.0.0.1:5432 with trust auth). Idempotent; does nothing when the server is up.
set -euo pipefail

if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "PostgreSQL is down: starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 20); do
    pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
    sleep 0.5
  done
fi
echo "PostgreSQL on 127.0.0.1:5432 is not available; its tests will be skipped (or fail under CI)." >&2
