// Reads the JSON that planck's peers bench, the XState peer, the statig peer and (optionally)
// the Restate peer printed, and prints one line per figure: planck, the peer (or the target),
// the ratio, and whether the issue's target holds. With --markdown, prints the same as a
// Markdown table.
//
// Usage: node benches/peers/table.mjs planck.json xstate.json statig.json [restate.json] [--markdown]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const markdown = args.includes('--markdown');
// planck's side ran unoptimized (run.sh --debug-build): a smoke test, so no target is judged.
const debugBuild = args.includes('--debug-build');
const [planckFile, xstateFile, statigFile, restateFile] = args.filter((a) => !a.startsWith('--'));
const read = (f) => JSON.parse(readFileSync(f, 'utf8').trim().split('\n').pop());
const p = read(planckFile);
const x = read(xstateFile);
const s = read(statigFile);
const rs = restateFile ? read(restateFile) : null;

const fmt = (v, unit) => {
  if (typeof v === 'string') return v;
  if (v === undefined || Number.isNaN(v)) return 'n/a';
  if (unit === 'µs' || unit === 'ns') return `${v.toFixed(v < 10 ? 2 : 0)} ${unit}`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M${unit}`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k${unit}`;
  return `${v.toFixed(1)} ${unit}`;
};

// [figure, planck value, unit, peer name, peer value, ratio, target text, met]
const rows = [];
const add = (figure, pv, unit, peerName, peerV, ratio, target, met) =>
  rows.push({ figure, planck: fmt(pv, unit), peer: `${peerName}: ${fmt(peerV, unit)}`, ratio, target, met });
const r = (a, b) => a / b;

add('decide + evolve, whole lifecycle (cmd/s vs transitions/s)', p.decide_evolve_per_s, '/s', 'XState v5', x.transitions_per_s,
  r(p.decide_evolve_per_s, x.transitions_per_s), '≥ 40×', r(p.decide_evolve_per_s, x.transitions_per_s) >= 40);
add('decide + evolve vs compiled FSM floor', p.decide_evolve_per_s, '/s', 'statig', s.transitions_per_s,
  r(p.decide_evolve_per_s, s.transitions_per_s), 'floor', null);
add('Engine::execute on MemoryStore (cmd/s)', p.engine_memory_per_s, '/s', 'XState v5', x.transitions_per_s,
  r(p.engine_memory_per_s, x.transitions_per_s), '≥ 5×', r(p.engine_memory_per_s, x.transitions_per_s) >= 5);
add('advance with a Rhai rule vs without (time)', p.guarded_advance_ns, 'ns', 'unguarded', p.unguarded_advance_ns,
  r(p.guarded_advance_ns, p.unguarded_advance_ns), '≤ 2×', r(p.guarded_advance_ns, p.unguarded_advance_ns) <= 2);
add('  … the rule run by the Rhai interpreter', p.rhai_guarded_advance_ns, 'ns', 'unguarded', p.unguarded_advance_ns,
  r(p.rhai_guarded_advance_ns, p.unguarded_advance_ns), 'info', null);
add('SqliteStore FULL, one case at a time (rows/s)', p.sqlite_store_full_rows_per_s, '/s', 'raw rusqlite, 1 row/tx', p.sqlite_floor_full_rows_per_s,
  r(p.sqlite_store_full_rows_per_s, p.sqlite_floor_full_rows_per_s), '≥ 0.8×', r(p.sqlite_store_full_rows_per_s, p.sqlite_floor_full_rows_per_s) >= 0.8);
add(`group commit FULL, ${p.sqlite_threads} threads (rows/s)`, p.sqlite_group_full_threads_rows_per_s, '/s', 'SqliteStore 1 at a time', p.sqlite_store_full_rows_per_s,
  r(p.sqlite_group_full_threads_rows_per_s, p.sqlite_store_full_rows_per_s), '≥ 5×', r(p.sqlite_group_full_threads_rows_per_s, p.sqlite_store_full_rows_per_s) >= 5);
add(`  … vs raw rusqlite, ${p.sqlite_threads} rows/tx (ceiling)`, p.sqlite_group_full_threads_rows_per_s, '/s', 'raw rusqlite', p.sqlite_floor_full_group_rows_per_s,
  r(p.sqlite_group_full_threads_rows_per_s, p.sqlite_floor_full_group_rows_per_s), '≥ 0.8×', r(p.sqlite_group_full_threads_rows_per_s, p.sqlite_floor_full_group_rows_per_s) >= 0.8);
add(`group commit FULL, ${p.sqlite_many_threads} threads (rows/s)`, p.sqlite_group_full_many_threads_rows_per_s, '/s', 'SqliteStore 1 at a time', p.sqlite_store_full_rows_per_s,
  r(p.sqlite_group_full_many_threads_rows_per_s, p.sqlite_store_full_rows_per_s), '≥ 5×', r(p.sqlite_group_full_many_threads_rows_per_s, p.sqlite_store_full_rows_per_s) >= 5);
add(`  … vs raw rusqlite, ${p.sqlite_many_threads} rows/tx (ceiling)`, p.sqlite_group_full_many_threads_rows_per_s, '/s', 'raw rusqlite', p.sqlite_floor_full_batched_rows_per_s,
  r(p.sqlite_group_full_many_threads_rows_per_s, p.sqlite_floor_full_batched_rows_per_s), '≥ 0.8×', r(p.sqlite_group_full_many_threads_rows_per_s, p.sqlite_floor_full_batched_rows_per_s) >= 0.8);
add(`  plain SqliteStore, ${p.sqlite_threads} threads (rows/s)`, p.sqlite_store_full_threads_rows_per_s, '/s', 'SqliteStore 1 at a time', p.sqlite_store_full_rows_per_s,
  r(p.sqlite_store_full_threads_rows_per_s, p.sqlite_store_full_rows_per_s), 'info', null);
add('SqliteStore NORMAL, one case at a time (rows/s)', p.sqlite_store_normal_rows_per_s, '/s', 'SqliteStore FULL', p.sqlite_store_full_rows_per_s,
  r(p.sqlite_store_normal_rows_per_s, p.sqlite_store_full_rows_per_s), 'info', null);
add('raw rusqlite FULL, 64 rows/tx (rows/s)', p.sqlite_floor_full_batched_rows_per_s, '/s', 'raw rusqlite, 1 row/tx', p.sqlite_floor_full_rows_per_s,
  r(p.sqlite_floor_full_batched_rows_per_s, p.sqlite_floor_full_rows_per_s), 'info', null);
add('Engine::execute on SqliteStore FULL (cmd/s)', p.engine_sqlite_full_per_s, '/s', 'XState v5', x.transitions_per_s,
  r(p.engine_sqlite_full_per_s, x.transitions_per_s), 'info', null);
add(`Engine on group commit FULL, ${p.sqlite_threads} threads (cmd/s)`, p.engine_sqlite_group_threads_per_s, '/s', 'Engine on SqliteStore FULL', p.engine_sqlite_full_per_s,
  r(p.engine_sqlite_group_threads_per_s, p.engine_sqlite_full_per_s), 'info', null);
// Durable commands beside Restate: commands/s per concurrency level, and the latency of one
// command (p50 / p99) on the line below; the latency ratio is Restate's p50 over planck's.
const levelOf = (levels, n) => (levels ?? []).find((l) => l.clients === n);
const ms = (v) => (v === undefined ? 'n/a' : `${v.toFixed(v < 10 ? 2 : 0)}`);
const durable = (figure, mine, n, target) => {
  const theirs = rs ? levelOf(rs.levels, n) : undefined;
  const peer = `Restate, ${n} client${n === 1 ? '' : 's'}`;
  const ratio = mine && theirs ? mine.commands_per_s / theirs.commands_per_s : NaN;
  const goal = Number(target.match(/[\d.]+/)?.[0]);
  const met = Number.isNaN(goal) || Number.isNaN(ratio) ? null : ratio >= goal;
  rows.push({
    figure,
    planck: mine ? fmt(mine.commands_per_s, '/s') : 'pending',
    peer: `${peer}: ${theirs ? fmt(theirs.commands_per_s, '/s') : 'not run'}`,
    ratio,
    target,
    met,
  });
  rows.push({
    figure: '  … latency of one command (p50 / p99)',
    planck: mine ? `${ms(mine.p50_ms)} / ${ms(mine.p99_ms)} ms` : 'pending',
    peer: `Restate: ${theirs ? `${ms(theirs.p50_ms)} / ${ms(theirs.p99_ms)} ms` : 'not run'}`,
    ratio: mine && theirs ? theirs.p50_ms / mine.p50_ms : NaN,
    target: 'info (Restate p50 ÷ planck p50)',
    met: null,
  });
};
durable('durable commands, 1 client: Engine on SqliteStore FULL (cmd/s)', levelOf(p.durable_sqlite_full, 1), 1, '≥ 20×');
durable('durable commands, 16 clients: Engine on group commit FULL (cmd/s)', levelOf(p.durable_group_commit, 16), 16, 'info');
durable('durable commands, 64 clients: Engine on group commit FULL (cmd/s)', levelOf(p.durable_group_commit, 64), 64, '≥ 20×');
// The slot for `planck serve` over HTTP at 64 clients: planck.json's `durable_serve_http` (a list
// of levels like the others) once that figure is measured; "pending" until then.
durable('durable commands, 64 clients: planck serve over HTTP (cmd/s)', levelOf(p.durable_serve_http, 64), 64, '≥ 20×');

add('envelope digest per event (canonical JSON + SHA-256)', p.envelope_digest_ns, 'ns', 'XState transition', x.ns_per_transition,
  r(p.envelope_digest_ns, x.ns_per_transition), 'info', null);
add('  … of which SHA-256 over the bytes', p.sha256_ns, 'ns', `${Math.round(p.envelope_bytes)} B canonical`, p.envelope_digest_ns,
  r(p.sha256_ns, p.envelope_digest_ns), 'info', null);
add('verify (events/s)', p.verify_events_per_s, '/s', 'target', 500000,
  r(p.verify_events_per_s, 500000), '≥ 1× of 500k/s', p.verify_events_per_s >= 500000);
add('compile, slowest shipped surface', p.compile_shipped_worst_us, 'µs', 'target', 100,
  r(p.compile_shipped_worst_us, 100), '< 100 µs', p.compile_shipped_worst_us < 100);
add('compile per phase, 10,000 vs 100 phases', p.compile_per_phase_10000_us, 'µs', '100 phases', p.compile_per_phase_100_us,
  r(p.compile_per_phase_10000_us, p.compile_per_phase_100_us), '≤ 2× (n log n)', r(p.compile_per_phase_10000_us, p.compile_per_phase_100_us) <= 2);

const ratioText = (v) => (Number.isNaN(v) ? 'n/a' : (v < 0.01 ? v.toExponential(1) : v.toFixed(2)) + '×');
const mark = (met) => (met === null ? '' : debugBuild ? '(debug build)' : met ? 'met' : 'MISSED');
if (debugBuild) {
  console.log('planck ran from an unoptimized test build: a smoke test of every side, not a measurement');
}
if (markdown) {
  console.log('| figure | planck | peer / baseline | ratio | target | |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    console.log(`| ${row.figure.trim()} | ${row.planck} | ${row.peer} | ${ratioText(row.ratio)} | ${row.target} | ${mark(row.met)} |`);
  }
} else {
  const w = Math.max(...rows.map((row) => row.figure.length));
  for (const row of rows) {
    console.log(
      `${row.figure.padEnd(w)}  ${row.planck.padStart(12)}  ${row.peer.padEnd(36)}  ${ratioText(row.ratio).padStart(9)}  ${row.target.padEnd(16)} ${mark(row.met)}`,
    );
  }
}
