#!/usr/bin/env bash
# Start the local services the tests and `kv run` use when they do not answer:
# - PostgreSQL on 127.0.0.1:5432 (the tests use database `test` with trust auth);
# - Mosquitto on 127.0.0.1:1883 (the MQTT data hub's default broker; the MQTT tests start
#   their own broker on a free port, so they do not depend on this one).
# Idempotent; does nothing for a service that is up.
set -euo pipefail

listening() {  # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    return 0
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "PostgreSQL is down: starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 20); do
      pg_isready -h 127.0.0.1 -p 5432 -q && return 0
      sleep 0.5
    done
  fi
  echo "PostgreSQL on 127.0.0.1:5432 is not available; its tests will be skipped (or fail under CI)." >&2
}

ensure_mosquitto() {
  if listening 127.0.0.1 1883; then
    return 0
  fi
  local broker
  broker=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  if [ ! -x "$broker" ]; then
    echo "Mosquitto is not installed (apt-get install mosquitto); MQTT tests need its binary." >&2
    return 0
  fi
  echo "Mosquitto is down: starting it on 127.0.0.1:1883"
  # without a config file, mosquitto 2 listens on the loopback interface only
  "$broker" -d -p 1883 || true
  for _ in $(seq 1 20); do
    listening 127.0.0.1 1883 && return 0
    sleep 0.25
  done
  echo "Mosquitto on 127.0.0.1:1883 did not start." >&2
}

ensure_postgres
ensure_mosquitto
