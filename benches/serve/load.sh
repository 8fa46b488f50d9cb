#!/usr/bin/env bash
# A load test of `planck serve` on loopback with wrk (Debian's package), bounded in time.
#
# It builds planck (release), writes a users file (`planck users add`, passwords on stdin: an
# admin, a client and K operators), pre-creates N auto-detailing cases, case i assigned to and
# claimed by operator i mod K (`planck run` on a generated scenario, into a fresh SQLite
# database), starts `planck serve` on a free loopback port with request logs off, logs everyone
# in for bearer tokens, then runs wrk at each connection count with each workload:
#
# - `commands` (benches/serve/attach.lua): every request an applied command (one evidence
#   reference attached to one of the cases, as its owner): commands per second;
# - `mixed` (benches/serve/mix.lua): what operators do at once: 45 % commands (40 applied
#   writes, 5 refused with 409), 20 % case views, 10 % desks as JSON, 10 % desk pages, 10 %
#   explain, 5 % health checks.
#
# Then it measures the pages' time to first byte (curl) over those cases, stops the server by
# PID (SIGTERM) and verifies the database (`planck verify`). Prints one JSON line per run.
#
# Usage: benches/serve/load.sh [--seconds S] [--connections 16,64,256] [--cases N]
#                              [--operators K] [--workloads commands,mixed]
# Needs: cargo, wrk, curl. Not run by CI (about 20 s per run, plus the build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds=10
connections=16,64,256
cases=256
operators=16
workloads=commands,mixed
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --cases) cases="$2"; shift ;;
    --operators) operators="$2"; shift ;;
    --workloads) workloads="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "load: $*" >&2; }
die() { log "error: $*"; exit 1; }
command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"
command -v curl >/dev/null || die "needs curl"

log "building planck (release) ..."
(cd "$root" && cargo build --release --quiet --bin planck) || die "the build failed"
planck="$root/target/release/planck"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/planck-load.XXXXXX")"
server_pid=""
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

users=("kim admin-kim admin" "ava client-ava client")
for k in $(seq 0 $((operators - 1))); do users+=("op$k op-$k operator"); done
log "writing the users file ($((operators + 2)) logins, argon2) ..."
for who in "${users[@]}"; do
  set -- $who
  echo "load-$1" | "$planck" users add "$tmp/users.toml" "$1" --id "$2" --role "$3" >/dev/null
done

log "pre-creating $cases claimed cases (planck run) ..."
{
  echo 'name = "load: claimed cases"'
  echo '[principals]'
  echo 'client = { id = "client-ava", roles = ["client"] }'
  echo 'admin = { id = "admin-kim", roles = ["admin"] }'
  for k in $(seq 0 $((operators - 1))); do
    echo "op$k = { id = \"op-$k\", roles = [\"operator\"] }"
  done
  for i in $(seq 0 $((cases - 1))); do
    k=$((i % operators))
    cat <<STEPS
[[step]]
as = "client"
command = "submit_request"
case = "load-$i"
args = { surface = "auto-detailing", intake = { contact = "ava@example.com", vehicle = "van $i", service_address = "1 Main St", preferred_timing = "Mon am" }, photos = ["a.jpg", "b.jpg"] }
[[step]]
as = "admin"
command = "approve_task"
case = "load-$i"
[[step]]
as = "admin"
command = "assign_task"
case = "load-$i"
args = { operator = "op-$k" }
[[step]]
as = "admin"
command = "create_job"
case = "load-$i"
[[step]]
as = "op$k"
command = "claim_job"
case = "load-$i"
STEPS
  done
} > "$tmp/seed.toml"
"$planck" run "$tmp/seed.toml" --surfaces "$root/surfaces" --db "$tmp/planck.db" > /dev/null \
  || die "planck run could not pre-create the cases"

# The seeded database, copied fresh for every run so every run starts from the same cases
# (commands append to them: a case's history would otherwise grow from run to run).
mkdir "$tmp/seed"
mv "$tmp"/planck.db* "$tmp/seed/"

start_server() { # start_server: a fresh copy of the seeded database, a server on it, logins
  rm -f "$tmp"/planck.db*
  cp "$tmp"/seed/planck.db* "$tmp/"
  RUST_LOG=warn "$planck" serve --db "$tmp/planck.db" --surfaces "$root/surfaces" \
    --users "$tmp/users.toml" --listen 127.0.0.1:0 > "$tmp/serve.out" 2> "$tmp/serve.err" &
  server_pid=$!
  base=""
  for _ in $(seq 1 100); do
    base="$(sed -n 's/^planck serve: listening on //p' "$tmp/serve.out" | head -n1)"
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || die "planck serve exited: $(cat "$tmp/serve.err")"
    sleep 0.1
  done
  [ -n "$base" ] || die "planck serve did not start within 10 s"
  kim="$(login kim)"
  [ -n "$kim" ] || die "could not log in"
  tokens=""
  for k in $(seq 0 $((operators - 1))); do
    t="$(login "op$k")"
    [ -n "$t" ] || die "could not log in op$k"
    tokens="${tokens:+$tokens,}$t"
  done
  op0="${tokens%%,*}"
}
stop_server() { # stop_server: SIGTERM by PID, wait, then verify every chain of the database
  kill -TERM "$server_pid"
  for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$server_pid" 2>/dev/null && die "planck serve did not stop within 30 s of SIGTERM"
  server_pid=""
  "$planck" verify --db "$tmp/planck.db" > "$tmp/verify.out" \
    || die "verify failed: $(tail -n 5 "$tmp/verify.out")"
}
login() { curl -sf --max-time 10 -H 'content-type: application/json' \
  -d "{\"login\": \"$1\", \"password\": \"load-$1\"}" "$base/login" | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/'; }

log "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -r -a levels <<< "$connections"
IFS=, read -r -a kinds <<< "$workloads"
for w in "${kinds[@]}"; do
  case "$w" in
    commands) script="$here/attach.lua" ;;
    mixed) script="$here/mix.lua" ;;
    *) die "unknown workload: $w (commands, mixed)" ;;
  esac
  for c in "${levels[@]}"; do
    start_server
    threads=$(( c < 2 ? 1 : 2 ))
    log "wrk on $base: $w, $c connections, $threads threads, ${seconds} s ..."
    out="$(PLANCK_TOKENS="$tokens" PLANCK_CASES="$cases" timeout $((seconds + 30)) \
      wrk -t"$threads" -c"$c" -d"${seconds}s" --timeout 10s -s "$script" "$base" | tail -n1)"
    echo "{\"workload\": \"$w\", \"connections\": $c, \"load_average\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"wrk\": $out}"
    stop_server
  done
done

ttfb() { # ttfb TOKEN PATH: the median of 7 times to first byte, in ms
  for _ in 1 2 3 4 5 6 7; do
    curl -s -o /dev/null --max-time 30 -H "authorization: Bearer $1" -w '%{time_starttransfer}\n' "$base$2"
  done | sort -n | sed -n 4p | awk '{printf "%.1f", $1 * 1000}'
}
start_server
echo "{\"pages_ttfb_ms\": {\"cases\": $cases, \"desk\": $(ttfb "$op0" /desk), \"admin\": $(ttfb "$kim" /admin), \"case\": $(ttfb "$kim" /admin/cases/load-7), \"api_cases\": $(ttfb "$kim" '/api/cases?limit=50')}}"
stop_server
log "every run: the server stopped on SIGTERM and planck verify passed"
