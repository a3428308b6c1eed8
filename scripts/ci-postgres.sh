#!/usr/bin/env bash
# Provides a PostgreSQL server for the tests of internal/storage/postgres (and anything
# else that takes CHORUS_TEST_POSTGRES_DSN): installs Debian's postgresql package if it
# is missing, starts the cluster, creates the role and the test database if they do not
# exist yet, and exports CHORUS_TEST_POSTGRES_DSN. Idempotent; needs root.
#
#   source scripts/ci-postgres.sh          # exports CHORUS_TEST_POSTGRES_DSN (what .ci/run does)
#   eval "$(scripts/ci-postgres.sh)"       # the same from a script that runs it
#
# Progress goes to stderr; stdout is only the export line. Override the names with
# CHORUS_PG_USER, CHORUS_PG_PASSWORD and CHORUS_PG_DB (defaults chorus, chorus,
# chorus_test). The role is not a superuser: it owns the test database, which is all
# the tests need.

chorus_pg_setup() (
  set -euo pipefail
  user=${CHORUS_PG_USER:-chorus}
  pass=${CHORUS_PG_PASSWORD:-chorus}
  db=${CHORUS_PG_DB:-chorus_test}
  log() { echo "ci-postgres: $*" >&2; }
  if [ "$(id -u)" != 0 ]; then
    log "must run as root (installs packages, starts the server)"; exit 1
  fi
  cd /   # the postgres user may not be able to enter the caller's directory

  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >/dev/null
  fi

  # The first cluster, created if the package made none.
  read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1) || true
  if [ -z "${version:-}" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    log "creating cluster $version main"
    pg_createcluster "$version" main >&2
    read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
  fi
  if [ "$status" != online ]; then
    log "starting cluster $version $cluster (port $port)"
    pg_ctlcluster "$version" "$cluster" start >&2
  fi
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
  done
  pg_isready -q -h 127.0.0.1 -p "$port" || { log "server on port $port did not become ready"; exit 1; }

  psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtAX "$@"; }
  if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
    log "creating role $user"
    psql_admin -c "CREATE ROLE \"$user\" LOGIN PASSWORD '$pass'"
  fi
  if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    log "creating database $db"
    psql_admin -c "CREATE DATABASE \"$db\" OWNER \"$user\" ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0"
  fi
  echo "postgres://$user:$pass@127.0.0.1:$port/$db?sslmode=disable"
)

if chorus_pg_dsn=$(chorus_pg_setup); then
  export CHORUS_TEST_POSTGRES_DSN="$chorus_pg_dsn"
  echo "export CHORUS_TEST_POSTGRES_DSN='$chorus_pg_dsn'"
  unset chorus_pg_dsn
  unset -f chorus_pg_setup
else
  unset chorus_pg_dsn
  unset -f chorus_pg_setup
  echo "ci-postgres: failed to provide a PostgreSQL server" >&2
  # return when sourced, exit when run
  return 1 2>/dev/null || exit 1
fi
