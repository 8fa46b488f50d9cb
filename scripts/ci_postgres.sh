#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback, for the PostgreSQL tests (feature `postgres`).
#
#   bash scripts/ci_postgres.sh start   # prints `export PLANCK_PG_URL=...` on stdout
#   bash scripts/ci_postgres.sh stop    # stops the server and removes its data directory
#   bash scripts/ci_postgres.sh status  # says whether the throwaway server is running
#
# Typical use:
#
#   eval "$(bash scripts/ci_postgres.sh start)"
#   cargo test --features postgres --test it -- postgres_
#   bash scripts/ci_postgres.sh stop
#
# `start` finds the server binaries in /usr/lib/postgresql/<version>/bin (or on PATH); when
# there are none it installs them from the Debian packages (`apt-get install -y postgresql`).
# It creates a fresh data directory under ${TMPDIR:-/tmp}, initializes a cluster that trusts
# local connections (it listens on 127.0.0.1 only, on a free port), starts the server as the
# `postgres` OS user when run as root (the server refuses to run as root), creates the
# database `planck` and prints the URL. Only the export line goes to stdout, so the output can
# be `eval`ed or written to a file and sourced; everything else goes to stderr.
#
# The server's state (data directory, port, binaries) is kept in $PLANCK_PG_STATE (default:
# target/ci_postgres.state beside this repository's Cargo.toml), which `stop` reads.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
state="${PLANCK_PG_STATE:-$repo/target/ci_postgres.state}"
database="${PLANCK_PG_DATABASE:-planck}"

log() { printf 'ci_postgres: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

find_bindir() {
  local dir
  # Highest installed version first.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

install_server() {
  log "no PostgreSQL server binaries found: installing the Debian package \`postgresql\`"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install PostgreSQL yourself (apt-get install postgresql)"
    sudo="sudo -n"
  fi
  command -v apt-get >/dev/null 2>&1 || die "no apt-get: install PostgreSQL server binaries yourself"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# Run a command as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

port_free() {
  # Nothing answers on the port (bash's /dev/tcp; no extra tools needed).
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  if [ -f "$state" ]; then
    # shellcheck disable=SC1090
    . "$state"
    if [ -n "${PG_BINDIR:-}" ] && as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATADIR" status >/dev/null 2>&1; then
      log "already running on port $PG_PORT (data directory $PG_DATADIR)"
      echo "export PLANCK_PG_URL=postgres://postgres@127.0.0.1:$PG_PORT/$database"
      return 0
    fi
    log "removing the state of a server that is no longer running"
    [ -n "${PG_DATADIR:-}" ] && rm -rf "$PG_DATADIR"
    rm -f "$state"
  fi

  local bindir
  if ! bindir="$(find_bindir)"; then
    install_server
    bindir="$(find_bindir)" || die "PostgreSQL was installed but no initdb/pg_ctl was found"
  fi
  log "using $bindir ($("$bindir/postgres" --version))"

  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    log "creating the \`postgres\` OS user"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  fi

  local datadir
  datadir="$(mktemp -d "${TMPDIR:-/tmp}/planck-pg.XXXXXX")"
  chmod 700 "$datadir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$datadir"

  as_owner "$bindir/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$datadir.initdb.log" 2>&1 || {
      as_owner "$bindir/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 --no-locale \
        >"$datadir.initdb.log" 2>&1 || { cat "$datadir.initdb.log" >&2; die "initdb failed"; }
    }
  rm -f "$datadir.initdb.log"

  local port started=""
  for _ in $(seq 1 20); do
    port=$(( 20000 + (RANDOM % 20000) ))
    port_free "$port" || continue
    # Sockets go in the data directory: no /var/run/postgresql needed.
    if as_owner "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >&2; then
      started=1
      break
    fi
    log "port $port did not work, trying another"
  done
  [ -n "$started" ] || { cat "$datadir/server.log" >&2 || true; rm -rf "$datadir"; die "the server did not start"; }

  mkdir -p "$(dirname "$state")"
  {
    echo "PG_BINDIR=$bindir"
    echo "PG_DATADIR=$datadir"
    echo "PG_PORT=$port"
  } >"$state"

  as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$database" >&2
  log "PostgreSQL is running on 127.0.0.1:$port (data directory $datadir); stop it with: bash scripts/ci_postgres.sh stop"
  echo "export PLANCK_PG_URL=postgres://postgres@127.0.0.1:$port/$database"
}

stop() {
  if [ ! -f "$state" ]; then
    log "no throwaway server is recorded in $state: nothing to stop"
    return 0
  fi
  # shellcheck disable=SC1090
  . "$state"
  if as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATADIR" status >/dev/null 2>&1; then
    as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATADIR" -m fast -w stop >&2 || true
  fi
  rm -rf "$PG_DATADIR"
  rm -f "$state"
  log "stopped and removed $PG_DATADIR"
}

status() {
  if [ ! -f "$state" ]; then
    log "not running"
    return 1
  fi
  # shellcheck disable=SC1090
  . "$state"
  as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATADIR" status >&2
  echo "export PLANCK_PG_URL=postgres://postgres@127.0.0.1:$PG_PORT/$database"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
