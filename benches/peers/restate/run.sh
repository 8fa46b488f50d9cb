#!/usr/bin/env bash
# The Restate peer: a durable command per request, side by side with planck's durable figures.
#
# Installs the pinned npm packages (package-lock.json) into benches/peers/restate/node_modules
# if missing, starts restate-server (from the npm package @restatedev/restate-server) on a fresh
# temporary data directory with every listener on 127.0.0.1, starts the PeerCase service
# endpoint (service.mjs) on 127.0.0.1, registers it through the admin API, runs the driver
# (driver.mjs: 1, 16 and 64 clients, each command awaited before the next) and prints the
# driver's JSON on stdout. Everything it started is stopped by PID on exit; every wait is
# bounded and fails with a message.
#
# Durability: Restate's defaults, written out in the config file below and never weakened: the
# replicated loglet (replication 1 on this single node) on the node's log-server, whose RocksDB
# WAL is fsynced (`rocksdb-disable-wal-fsync = false`); the ingress answers a call once the
# invocation's journal and state changes are in that log. The effective values (from the
# server's own --dump-config) are copied into the JSON under "durability".
#
# Network: restate-server asks GitHub for its latest release once at start (unconditionally;
# no setting turns it off). So after installing, the script re-runs itself inside a fresh network
# namespace that has only a loopback interface (`unshare --net`, as root or with
# `--map-root-user`): the server, the endpoint and the driver can then reach 127.0.0.1 and
# nothing else. Where a namespace cannot be made, it runs without one and says so (the check
# then fails or succeeds on its own; it does not touch the measured path).
#
# Usage: benches/peers/restate/run.sh [--quick] [--seconds S] [--warmup S] [--clients 1,16,64]
#                                     [--no-netns]
#   --quick     3 s per level after a 1 s warm-up (default: 10 s after 2 s)
#   --no-netns  do not make a network namespace
# Environment: RESTATE_PEER_OUT=DIR keeps the config, the effective config and the logs there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seconds=10
warmup=2
levels=1,16,64
netns=1
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --no-netns) netns=0 ;;
    --quick) seconds=3; warmup=1 ;;
    --seconds) seconds="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --clients) levels="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "restate: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v node >/dev/null || die "needs node (20 or later) and npm"
command -v curl >/dev/null || die "needs curl"
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "the pinned server package is linux-x64 only"

server_bin="$here/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server"
if [ ! -x "$server_bin" ] || [ ! -f "$here/node_modules/@restatedev/restate-sdk-clients/package.json" ]; then
  log "installing the pinned packages into benches/peers/restate/node_modules (the server is ~225 MB) ..."
  # SCARF_ANALYTICS=false: the server package's install-time analytics dependency stays quiet.
  (cd "$here" && SCARF_ANALYTICS=false timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2) \
    || die "npm ci failed"
fi

# Everything below runs inside a loopback-only network namespace when one can be made.
if [ "$netns" = 1 ] && [ -z "${PLANCK_RESTATE_NETNS:-}" ]; then
  unshare_args=(--net)
  [ "$(id -u)" = 0 ] || unshare_args+=(--map-root-user)
  if command -v unshare >/dev/null && command -v ip >/dev/null \
    && unshare "${unshare_args[@]}" true 2>/dev/null; then
    log "entering a loopback-only network namespace (unshare ${unshare_args[*]})"
    PLANCK_RESTATE_NETNS=1 exec unshare "${unshare_args[@]}" bash "${BASH_SOURCE[0]}" "${args[@]}"
  fi
  log "warning: no network namespace could be made (needs unshare and ip): running on the host's network"
fi
if [ -n "${PLANCK_RESTATE_NETNS:-}" ]; then
  ip link set lo up || die "could not bring up loopback in the network namespace"
  network="loopback-only network namespace"
else
  network="host network, listeners on 127.0.0.1"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/planck-restate.XXXXXX")"
server_pid=""
service_pid=""
driver_pid=""
stop_pid() { # stop_pid PID NAME: SIGTERM, wait up to 20 s, then SIGKILL
  local pid="$1" name="$2" i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  log "$name (pid $pid) did not stop within 20 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_pid "$driver_pid" "the driver"
  stop_pid "$service_pid" "the service endpoint"
  stop_pid "$server_pid" "restate-server"
  if [ -n "${RESTATE_PEER_OUT:-}" ]; then
    mkdir -p "$RESTATE_PEER_OUT"
    cp "$tmp"/restate.toml "$tmp"/effective.toml "$tmp"/*.log "$RESTATE_PEER_OUT"/ 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -s "$tmp/register.json" ]; then
    log "the admin API's last answer to the registration: $(head -c 2000 "$tmp/register.json")"
  fi
  if [ "$rc" -ne 0 ] && [ -f "$tmp/server.log" ]; then
    log "last lines of the server log:"
    tail -n 20 "$tmp/server.log" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Four free loopback ports (the OS picks them; released just before use).
read -r fabric_port admin_port ingress_port service_port < <(node -e '
  const net = require("node:net");
  (async () => {
    const ports = [];
    const servers = [];
    for (let i = 0; i < 4; i++) {
      const s = net.createServer();
      await new Promise((ok, err) => { s.once("error", err); s.listen(0, "127.0.0.1", ok); });
      ports.push(s.address().port);
      servers.push(s);
    }
    servers.forEach((s) => s.close());
    console.log(ports.join(" "));
  })();
')
[ -n "$service_port" ] || die "could not find four free ports on 127.0.0.1"

cat > "$tmp/restate.toml" <<EOF
# restate-server configuration for planck's peer benchmark (written by benches/peers/restate/run.sh).
# Every listener on loopback; a fresh data directory; durability as Restate ships it.
node-name = "planck-bench"
cluster-name = "planck-bench"
base-dir = "$tmp/data"
listen-mode = "tcp"
bind-ip = "127.0.0.1"
bind-port = $fabric_port
disable-telemetry = true
# Durability: Restate's defaults, spelled out (one node, so replication 1).
default-replication = 1

[admin]
bind-port = $admin_port

[ingress]
bind-port = $ingress_port

[bifrost]
default-provider = "replicated"

[log-server]
rocksdb-disable-wal-fsync = false

[worker.storage]
rocksdb-disable-wal = false
EOF
"$server_bin" --config-file "$tmp/restate.toml" --dump-config > "$tmp/effective.toml" 2>/dev/null \
  || die "restate-server rejected its configuration ($tmp/restate.toml)"
log "$("$server_bin" --version), $network, data in $tmp/data, admin 127.0.0.1:$admin_port, ingress 127.0.0.1:$ingress_port"
log "durability: default-provider = replicated (replication 1), log-server RocksDB WAL fsync on (Restate's default)"

"$server_bin" --config-file "$tmp/restate.toml" --no-logo > "$tmp/server.log" 2>&1 &
server_pid=$!

admin="http://127.0.0.1:$admin_port"
ingress="http://127.0.0.1:$ingress_port"
wait_for() { # wait_for SECONDS WHAT COMMAND...: poll every 0.25 s until SECONDS have passed
  local limit="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + limit))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || die "restate-server exited while waiting for $what"
    sleep 0.25
  done
  die "$what not ready within $limit s"
}
wait_for 60 "the admin API" curl -sf --max-time 2 "$admin/health"
wait_for 60 "the ingress" curl -sf --max-time 2 "$ingress/restate/health"

# RESTATE_LOGGING=WARN: the SDK's default (INFO) prints two lines per invocation.
RESTATE_LOGGING=WARN node "$here/service.mjs" "$service_port" > "$tmp/service.log" 2>&1 &
service_pid=$!
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
deadline=$((SECONDS + 20))
until port_open "$service_port"; do
  kill -0 "$service_pid" 2>/dev/null || die "the service endpoint exited: $(cat "$tmp/service.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "the service endpoint did not listen within 20 s"
  sleep 0.25
done

register() { # the admin API's answer is kept in register.json (shown if it never succeeds)
  local code
  code="$(curl -s -o "$tmp/register.json" -w '%{http_code}' --max-time 10 -X POST "$admin/deployments" \
    -H 'content-type: application/json' -d "{\"uri\": \"http://127.0.0.1:$service_port\"}")"
  [ "${code:0:1}" = 2 ]
}
wait_for 30 "the deployment's registration" register
# The ingress learns the new service shortly after: wait until it routes to PeerCase (a
# refused command answers 4xx but not 404).
routed() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$ingress/PeerCase/probe/approveTask" \
    -H 'content-type: application/json' -d '{"by": {"id": "admin-kim", "roles": ["admin"]}}')"
  [ "$code" != "404" ] && [ "$code" != "000" ] && [ "${code:0:1}" != "5" ]
}
wait_for 30 "the ingress route to PeerCase" routed
log "PeerCase registered; running the driver (clients $levels, ${seconds} s per level after ${warmup} s warm-up)"

# In the background and waited for, so that a signal reaches the traps at once.
node "$here/driver.mjs" --ingress "$ingress" --admin "$admin" --clients "$levels" \
  --seconds "$seconds" --warmup "$warmup" --config "$tmp/effective.toml" --network "$network" &
driver_pid=$!
wait "$driver_pid"
