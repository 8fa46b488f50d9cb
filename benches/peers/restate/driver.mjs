// The Restate peer's driver: N clients at once, each running whole case lifecycles (the 11
// commands of service.mjs, the same as planck's peers bench) one command after another, each
// awaited before the next: a durable, acknowledged command (the ingress answers once the
// invocation completed, its state change in Restate's log). Every answer is checked (the
// case's version and phase after each command), so a refused or lost command stops the run.
//
// Per concurrency level: a warm-up run (not counted), then a measured run of `seconds` (or
// `max` commands, whichever comes first); clients stop starting commands when it ends and the
// last in-flight command is counted. Prints one JSON object on stdout: commands/s, p50 and p99
// latency (ms) per level, the versions, and the server's durability settings as configured.
//
// Usage: node driver.mjs --ingress URL --admin URL [--clients 1,16,64] [--seconds 10]
//                        [--warmup 2] [--max 1000000] [--timeout-ms 30000] [--config FILE]
//                        [--network TEXT]
import { readFileSync } from 'node:fs';
import * as clients from '@restatedev/restate-sdk-clients';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const INGRESS = opt('ingress');
const ADMIN = opt('admin');
const LEVELS = opt('clients', '1,16,64').split(',').map(Number);
const SECONDS = Number(opt('seconds', '10'));
const WARMUP = Number(opt('warmup', '2'));
const MAX = Number(opt('max', '1000000'));
const TIMEOUT_MS = Number(opt('timeout-ms', '30000'));
const CONFIG = opt('config');
const NETWORK = opt('network', 'not stated');
if (!INGRESS || !ADMIN || LEVELS.some((n) => !Number.isInteger(n) || n < 1) || !(SECONDS > 0)) {
  console.error('usage: node driver.mjs --ingress URL --admin URL [--clients 1,16,64] [--seconds S] [--warmup S] [--max N] [--config FILE]');
  process.exit(2);
}

const client = { id: 'client-ava', roles: ['client'] };
const admin = { id: 'admin-kim', roles: ['admin'] };
const lee = { id: 'op-lee', roles: ['operator'] };

// The lifecycle: [handler, argument, phase expected after it].
const LIFECYCLE = [
  ['submitRequest', { by: client, surface: 'peer-lifecycle', intake: { contact: 'ava@example.com' }, photos: [] }, null],
  ['approveTask', { by: admin }, null],
  ['assignTask', { by: admin, operator: 'op-lee' }, null],
  ['createJob', { by: admin }, 'queued'],
  ['claimJob', { by: lee }, 'claimed'],
  ['advance', { by: lee, to: 'arrived' }, 'arrived'],
  ['advance', { by: lee, to: 'in_progress' }, 'in_progress'],
  ['attachEvidence', { by: lee, category: 'after', reference: 's3://ev/after.jpg' }, 'in_progress'],
  ['completeServiceEvent', { by: lee, outcome: 'delivered' }, 'complete'],
  ['completeJob', { by: lee }, 'complete'],
  ['recordSettlement', { by: admin, status: 'captured', amount_minor: 12500, currency: 'USD' }, 'complete'],
];

// No client-side retries: a failed command fails the run instead of hiding in the latency.
const ingress = clients.connect({ url: INGRESS, retry: false });
const callOpts = clients.rpc.opts({ timeout: TIMEOUT_MS });
let runSeq = 0;

/** One run: `n` clients until `seconds` have passed or `max` commands were sent. */
async function run(n, seconds, max) {
  const run = `r${process.pid}-${runSeq++}`;
  const latencies = [];
  let sent = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const one = async (c) => {
    for (let k = 0; ; k++) {
      const key = `${run}-c${c}-${k}`;
      for (let i = 0; i < LIFECYCLE.length; i++) {
        if (performance.now() >= end || sent >= max) return;
        sent++;
        const [handler, parameter, phase] = LIFECYCLE[i];
        const t0 = performance.now();
        const out = await ingress.call({ service: 'PeerCase', handler, key, parameter, opts: callOpts });
        latencies.push(performance.now() - t0);
        if (out?.version !== i + 1 || out?.phase !== phase) {
          throw new Error(`${key} ${handler}: expected version ${i + 1}, phase ${phase}; got ${JSON.stringify(out)}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: n }, (_, c) => one(c)));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return {
    clients: n,
    commands: latencies.length,
    seconds: elapsed,
    commands_per_s: latencies.length / elapsed,
    p50_ms: pct(50),
    p99_ms: pct(99),
    max_ms: latencies[latencies.length - 1],
  };
}

/** The durability-relevant keys of the server's effective configuration (its --dump-config). */
function durability(file) {
  if (!file) return undefined;
  const wanted = new Set([
    'default-replication',
    'bifrost.default-provider',
    'bifrost.local.rocksdb-disable-wal',
    'bifrost.local.rocksdb-disable-wal-fsync',
    'log-server.rocksdb-disable-wal-fsync',
    'worker.storage.rocksdb-disable-wal',
    'worker.storage.rocksdb-disable-wal-fsync',
    'metadata-server.rocksdb-disable-wal',
    'metadata-server.rocksdb-disable-wal-fsync',
  ]);
  const out = {};
  let section = '';
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const s = line.match(/^\[([^\]]+)\]\s*$/);
    if (s) {
      section = `${s[1]}.`;
      continue;
    }
    const kv = line.match(/^([A-Za-z0-9_-]+)\s*=\s*(.+)$/);
    if (kv && wanted.has(section + kv[1])) out[section + kv[1]] = JSON.parse(kv[2].replace(/^"(.*)"$/, '"$1"'));
  }
  return out;
}

const pkg = (name) => JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
const serverVersion = await fetch(`${ADMIN}/version`, { signal: AbortSignal.timeout(5000) })
  .then((r) => r.json())
  .then((v) => v.version)
  .catch(() => 'unknown');

const levels = [];
for (const n of LEVELS) {
  console.error(`restate: ${n} client(s): warm-up ${WARMUP} s, then ${SECONDS} s ...`);
  if (WARMUP > 0) await run(n, WARMUP, MAX);
  const level = await run(n, SECONDS, MAX);
  console.error(
    `restate: ${n} client(s): ${level.commands_per_s.toFixed(0)} commands/s, p50 ${level.p50_ms.toFixed(2)} ms, p99 ${level.p99_ms.toFixed(2)} ms`,
  );
  levels.push(level);
}
console.log(
  JSON.stringify({
    peer: 'restate',
    version: serverVersion,
    server_package: pkg('@restatedev/restate-server'),
    sdk: pkg('@restatedev/restate-sdk'),
    sdk_clients: pkg('@restatedev/restate-sdk-clients'),
    node: process.version,
    lifecycle_commands: LIFECYCLE.length,
    seconds_per_level: SECONDS,
    warmup_s: WARMUP,
    durability: durability(CONFIG),
    network: NETWORK,
    levels,
  }),
);
