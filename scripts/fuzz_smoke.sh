#!/usr/bin/env bash
# A bounded fuzz run of every cargo-fuzz target (fuzz/README.md says more).
#
#   bash scripts/fuzz_smoke.sh [SECONDS]      # default 30 seconds per target
#   PLANCK_FUZZ_DEV=1 bash scripts/fuzz_smoke.sh 20
#       # unoptimized, with overflow checks and debug assertions (`cargo fuzz --dev`): builds
#       # in about a third of the time and runs far fewer inputs per second (~1/40). CI uses it: its
#       # run is a smoke test that every target builds and survives fresh inputs; an optimized
#       # build is what a long fuzzing session wants.
#
# Installs cargo-fuzz when it is missing, builds the targets, seeds each corpus from the
# committed seeds plus the repository's own surfaces and scenarios, and runs each target for
# SECONDS. Exits non-zero when a target crashes, naming the input; turn it into a regression
# test (tests/regressions/<target>/, replayed by tests/it/fuzz_regressions.rs) before fixing it.
#
# Why RUSTC_BOOTSTRAP=1: cargo-fuzz builds with `-Zsanitizer=address` and the sanitizer
# coverage passes, which are nightly-only flags. The toolchain here is stable, and
# RUSTC_BOOTSTRAP=1 lets a stable rustc accept them. When even that does not work (a platform
# without AddressSanitizer), the script falls back to `--sanitizer none`, which still finds
# panics, hangs and out-of-memory, just not memory errors (there is no unsafe code in planck:
# `unsafe_code = "forbid"`). When cargo-fuzz cannot be installed or built at all (no network,
# no C++ compiler for libFuzzer), the script says so and exits 0: the regression inputs still
# run under plain `cargo test` (tests/it/fuzz_regressions.rs), so no known crash goes unchecked.
set -uo pipefail

seconds="${1:-30}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo/fuzz" || exit 1
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

say() { printf 'fuzz_smoke: %s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "cargo-fuzz is missing: installing it (cargo install cargo-fuzz --locked)"
  if ! cargo install cargo-fuzz --locked >&2; then
    say "SKIPPED: cargo-fuzz could not be installed (no network?); the regression inputs still run in \`cargo test --test it -- fuzz_regressions::\`"
    exit 0
  fi
fi

targets=(surface_toml surface_dsl engine_commands)
profile=(-O)
if [ "${PLANCK_FUZZ_DEV:-0}" = "1" ]; then
  profile=(--dev)
fi
build_log="$(mktemp)"
build() {
  cargo fuzz build "${profile[@]}" "$@" >"$build_log" 2>&1
  local rc=$?
  if [ "$rc" -ne 0 ] && grep -q "could not compile \`planck" "$build_log"; then
    # A compile error in planck or in the targets is a bug, not an environment problem.
    tail -40 "$build_log" >&2
    say "FAILED: the fuzz targets do not compile"
    exit 1
  fi
  return "$rc"
}
sanitizer=(--sanitizer address)
if ! build "${sanitizer[@]}"; then
  tail -20 "$build_log" >&2
  say "building with AddressSanitizer failed; retrying without a sanitizer (panics and hangs are still found)"
  sanitizer=(--sanitizer none)
  if ! build "${sanitizer[@]}"; then
    tail -20 "$build_log" >&2
    say "SKIPPED: the fuzz targets do not build here (is a C++ compiler installed for libFuzzer?); the regression inputs still run in \`cargo test --test it -- fuzz_regressions::\`"
    exit 0
  fi
fi
rm -f "$build_log"

# Corpora: committed seeds + the repository's surfaces and scenarios (so they stay current).
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  cp -n "$repo"/tests/regressions/"$t"/* "corpus/$t/" 2>/dev/null || true
done
cp -n "$repo"/surfaces/*.toml corpus/surface_toml/ 2>/dev/null || true
cp -n "$repo"/tests/surfaces/broken/*.toml corpus/surface_toml/ 2>/dev/null || true
find "$repo/examples" -name '*.toml' -exec cp -n {} corpus/surface_toml/ \; 2>/dev/null || true
cp -n "$repo"/surfaces/*.surface corpus/surface_dsl/ 2>/dev/null || true
find "$repo/tests" -name '*.surface' -exec cp -n {} corpus/surface_dsl/ \; 2>/dev/null || true

status=0
for t in "${targets[@]}"; do
  extra=()
  case "$t" in
    surface_toml) extra=(-dict=dict/surface_toml.dict -max_len=16384) ;;
    surface_dsl) extra=(-dict=dict/surface_dsl.dict -max_len=16384) ;;
    engine_commands) extra=(-max_len=2048) ;;
  esac
  say "running $t for ${seconds}s (${profile[0]})"
  log="$(mktemp)"
  cargo fuzz run "${profile[@]}" "${sanitizer[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" \
    >"$log" 2>&1
  rc=$?
  execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)"
  say "$t: ${execs:-?} executions, exit code $rc"
  if [ "$rc" -ne 0 ]; then
    tail -60 "$log" >&2
    say "$t CRASHED: copy the input named above (fuzz/artifacts/$t/) to tests/regressions/$t/ and fix it"
    status=1
  fi
  rm -f "$log"
done
exit "$status"
