#!/usr/bin/env bash
# planck beside its peers, back to back on this machine: XState v5 (Node), a compiled Rust FSM
# (statig, the floor for a state machine) and raw rusqlite inserts (the floor for the durable
# store). Prints one line per figure: planck, the peer, the ratio, the issue's target.
#
# Needs: cargo, node and npm (XState is installed into benches/peers/node_modules on first run).
# Usage: benches/peers/run.sh [--quick] [--markdown]
#   --quick     shorter rounds (for a smoke test; figures are noisier)
#   --markdown  print the table as Markdown (what BENCHMARKS.md holds)
# The raw JSON of each side is left in $PLANCK_PEERS_OUT (default: a temporary directory).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
quick=()
table=()
xstate_args=(20000 7)
statig_args=(1000000 7)
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick); xstate_args=(5000 3); statig_args=(200000 3) ;;
    --markdown) table=(--markdown) ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

command -v node >/dev/null || { echo "run.sh needs node (20 or later) and npm" >&2; exit 2; }
if [ ! -f "$here/node_modules/xstate/package.json" ]; then
  echo "installing xstate@5 into benches/peers/node_modules ..." >&2
  npm install --prefix "$here" --no-audit --no-fund --loglevel=error >&2
fi

out="${PLANCK_PEERS_OUT:-$(mktemp -d)}"
mkdir -p "$out"

echo "building and running planck's figures (cargo bench --bench peers) ..." >&2
(cd "$root" && cargo bench --quiet --bench peers -- --json "${quick[@]}") > "$out/planck.json"

echo "running XState v5 ..." >&2
node "$here/xstate.mjs" "${xstate_args[@]}" > "$out/xstate.json"

echo "building and running the statig floor ..." >&2
(cd "$here/rust-fsm" && cargo run --quiet --release -- "${statig_args[@]}") > "$out/statig.json"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), node $(node --version)" >&2
node "$here/table.mjs" "$out/planck.json" "$out/xstate.json" "$out/statig.json" "${table[@]}"
echo "raw figures: $out" >&2
