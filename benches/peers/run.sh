#!/usr/bin/env bash
# planck beside its peers, back to back on this machine: XState v5 (Node), a compiled Rust FSM
# (statig, the floor for a state machine), raw rusqlite inserts (the floor for the durable
# store) and Restate (a durable peer: restate/run.sh). Prints one line per figure: planck, the
# peer, the ratio, the issue's target.
#
# Needs: cargo, node and npm (XState is installed into benches/peers/node_modules on first run;
# Restate's pinned packages, ~225 MB with the server binary, into benches/peers/restate/).
# Usage: benches/peers/run.sh [--quick] [--markdown] [--restate | --no-restate]
#   --quick       shorter rounds (for a smoke test; figures are noisier). Leaves Restate out
#                 unless --restate is given: its first run downloads the server package.
#   --markdown    print the table as Markdown (what BENCHMARKS.md holds)
#   --restate     run the Restate peer (the default without --quick)
#   --no-restate  leave it out (its rows then say "not run")
#   --debug-build planck's side from the unoptimized test build (`cargo test --bench peers`),
#                 which reuses a `cargo test` build instead of a release one: a smoke test of
#                 every side (CI runs it with --quick); its figures are not measurements, and
#                 the table says so instead of judging the targets.
# The raw JSON of each side is left in $PLANCK_PEERS_OUT (default: a temporary directory).
# $PLANCK_PEERS_CARGO_ARGS is passed to cargo (e.g. `--features postgres`, to reuse a build made with it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
quick=()
table=()
restate=
cargo_cmd=bench
xstate_args=(20000 7)
statig_args=(1000000 7)
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick); xstate_args=(5000 3); statig_args=(200000 3) ;;
    --markdown) table+=(--markdown) ;;
    --restate) restate=1 ;;
    --no-restate) restate=0 ;;
    --debug-build) cargo_cmd=test; table+=(--debug-build) ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Restate runs by default in a full run, and only on request in a quick one.
if [ -z "$restate" ]; then
  if [ ${#quick[@]} -eq 0 ]; then restate=1; else restate=0; fi
fi

command -v node >/dev/null || { echo "run.sh needs node (20 or later) and npm" >&2; exit 2; }
if [ ! -f "$here/node_modules/xstate/package.json" ]; then
  echo "installing xstate@5 into benches/peers/node_modules ..." >&2
  npm install --prefix "$here" --no-audit --no-fund --loglevel=error >&2
fi

out="${PLANCK_PEERS_OUT:-$(mktemp -d)}"
mkdir -p "$out"

echo "building and running planck's figures (cargo $cargo_cmd --bench peers) ..." >&2
read -r -a cargo_args <<< "${PLANCK_PEERS_CARGO_ARGS:-}"
(cd "$root" && cargo "$cargo_cmd" --quiet "${cargo_args[@]}" --bench peers -- --json "${quick[@]}") > "$out/planck.json"

echo "running XState v5 ..." >&2
node "$here/xstate.mjs" "${xstate_args[@]}" > "$out/xstate.json"

echo "building and running the statig floor ..." >&2
(cd "$here/rust-fsm" && cargo run --quiet --release -- "${statig_args[@]}") > "$out/statig.json"

restate_json=()
if [ "$restate" = 1 ]; then
  echo "running Restate (benches/peers/restate/run.sh) ..." >&2
  RESTATE_PEER_OUT="$out/restate" bash "$here/restate/run.sh" "${quick[@]}" > "$out/restate.json"
  restate_json=("$out/restate.json")
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), node $(node --version)" >&2
node "$here/table.mjs" "$out/planck.json" "$out/xstate.json" "$out/statig.json" "${restate_json[@]}" "${table[@]}"
echo "raw figures: $out" >&2
