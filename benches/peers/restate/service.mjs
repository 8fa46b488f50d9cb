// The Restate peer's service: one Virtual Object per case (keyed by the case id) that runs the
// lifecycle planck's peers bench runs (benches/support/mod.rs, `lifecycle("peer-lifecycle")`),
// one handler per command, 11 commands:
//
//   submitRequest, approveTask, assignTask, createJob, claimJob, advance (arrived),
//   advance (in_progress), attachEvidence (after), completeServiceEvent, completeJob,
//   recordSettlement
//
// Each handler reads the case from Restate's K/V state (one key, `case`), makes the checks
// planck's `decide` makes for that command on the `peer-lifecycle` surface (the sender's role,
// the case's stage, the assignee, the surface's transitions, the evidence rule on
// in_progress → complete, the intake's required field, the settlement's amount and currency),
// refuses with a TerminalError (no retry) or writes the new case back, and returns the case's
// version and phase. `completeServiceEvent` composes the Record and seals it with a SHA-256 over
// its canonical JSON (sorted keys), as planck's does. Time is a fixed instant (planck's bench
// runs on a ManualClock at the same instant), so no handler adds a journal entry for the clock.
//
// Usage: node service.mjs PORT   (listens on 127.0.0.1:PORT, HTTP/2, for restate-server only)
import { createHash } from 'node:crypto';
import * as http2 from 'node:http2';

// The SDK (1.17) calls Promise.withResolvers, which Node has from 22 on; on Node 20 (this
// machine's), the standard definition is added before the SDK loads. Nothing else differs.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
const restate = await import('@restatedev/restate-sdk');

// 2026-01-01T00:00:00Z, the instant planck's bench runs at (benches/support/mod.rs, NOW).
const NOW = 1_767_225_600_000;

// The `peer-lifecycle` surface, as planck's bench declares it.
const SURFACE = {
  slug: 'peer-lifecycle',
  phases: ['queued', 'claimed', 'arrived', 'in_progress', 'complete'],
  transitions: {
    'queued>claimed': null,
    'claimed>arrived': null,
    'arrived>in_progress': null,
    // rule after_photos: case.evidence.after >= 1
    'in_progress>complete': (c) => (c.evidence.after ?? 0) >= 1,
  },
  evidenceCategories: ['after'],
  intakeRequired: ['contact'],
};
const SETTLEMENT_STATUSES = ['pending', 'authorized', 'captured', 'refunded', 'failed'];

const refuse = (message) => {
  throw new restate.TerminalError(message, { errorCode: 409 });
};
const needRole = (who, role) => {
  if (!who || typeof who.id !== 'string' || !Array.isArray(who.roles) || !who.roles.includes(role)) {
    refuse(`${who?.id ?? 'someone'} is not a ${role}`);
  }
};
const nonEmpty = (v, what) => {
  if (typeof v !== 'string' || v.trim() === '') refuse(`${what} is empty`);
};

/** Canonical JSON: object keys sorted, no whitespace (what the Record seal digests). */
function canonical(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .filter((k) => v[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
    .join(',')}}`;
}

/** Run one command on the case: load it, let `step` check and change it, store it back. */
async function command(ctx, step) {
  const c = (await ctx.get('case')) ?? { id: ctx.key, version: 0 };
  step(c);
  c.version += 1;
  c.updated_at = NOW;
  ctx.set('case', c);
  return { version: c.version, phase: c.phase ?? null, stage: c.stage };
}

/** The operator the job is assigned to and claimed by, at the given stage. */
function assignee(c, who) {
  needRole(who, 'operator');
  if (!c.job || c.job.claimed_by !== who.id) refuse(`${who.id} is not the assignee of this job`);
}

const peerCase = restate.object({
  name: 'PeerCase',
  handlers: {
    submitRequest: async (ctx, { by, surface, intake, photos }) =>
      command(ctx, (c) => {
        needRole(by, 'client');
        if (c.request) refuse('the case was already submitted');
        if (surface !== SURFACE.slug) refuse(`unknown surface ${surface}`);
        for (const field of SURFACE.intakeRequired) {
          if (intake == null || intake[field] === undefined || intake[field] === '') refuse(`intake field ${field} is missing`);
        }
        if (!Array.isArray(photos ?? [])) refuse('photos must be a list');
        c.request = { surface, intake, photos: photos ?? [], by: by.id, at: NOW };
        c.stage = 'submitted';
        c.evidence = {};
        c.references = [];
      }),
    approveTask: async (ctx, { by }) =>
      command(ctx, (c) => {
        needRole(by, 'admin');
        if (c.stage !== 'submitted') refuse(`cannot approve a case at stage ${c.stage}`);
        c.task = { approved_by: by.id, assignee: null };
        c.stage = 'approved';
      }),
    assignTask: async (ctx, { by, operator }) =>
      command(ctx, (c) => {
        needRole(by, 'admin');
        if (c.stage !== 'approved') refuse(`cannot assign a case at stage ${c.stage}`);
        nonEmpty(operator, 'operator');
        c.task.assignee = operator;
        c.stage = 'assigned';
      }),
    createJob: async (ctx, { by }) =>
      command(ctx, (c) => {
        needRole(by, 'admin');
        if (c.stage !== 'assigned') refuse(`cannot create a job for a case at stage ${c.stage}`);
        if (c.job) refuse('the job already exists');
        c.job = { operator: c.task.assignee, claimed_by: null, status: 'open' };
        c.phase = SURFACE.phases[0];
        c.stage = 'job_created';
      }),
    claimJob: async (ctx, { by }) =>
      command(ctx, (c) => {
        needRole(by, 'operator');
        if (!c.job || c.job.status !== 'open') refuse('no open job to claim');
        if (c.job.operator !== by.id) refuse(`${by.id} is not the assignee of this job`);
        if (!(`${c.phase}>claimed` in SURFACE.transitions)) refuse(`no transition ${c.phase} → claimed`);
        c.job.claimed_by = by.id;
        c.job.status = 'claimed';
        c.phase = 'claimed';
        c.stage = 'in_service';
      }),
    advance: async (ctx, { by, to }) =>
      command(ctx, (c) => {
        assignee(c, by);
        if (!SURFACE.phases.includes(to)) refuse(`unknown phase ${to}`);
        const key = `${c.phase}>${to}`;
        if (!(key in SURFACE.transitions)) refuse(`no transition ${c.phase} → ${to}`);
        if (to === 'complete') refuse('completion goes through completeServiceEvent');
        const rule = SURFACE.transitions[key];
        if (rule && !rule(c)) refuse('the after photos are missing');
        c.phase = to;
      }),
    attachEvidence: async (ctx, { by, category, reference }) =>
      command(ctx, (c) => {
        assignee(c, by);
        if (c.phase === 'complete') refuse('the service event is complete');
        if (!SURFACE.evidenceCategories.includes(category)) refuse(`unknown evidence category ${category}`);
        nonEmpty(reference, 'reference');
        c.evidence[category] = (c.evidence[category] ?? 0) + 1;
        c.references.push({ category, reference, by: by.id, at: NOW });
      }),
    completeServiceEvent: async (ctx, { by, outcome }) =>
      command(ctx, (c) => {
        assignee(c, by);
        const rule = SURFACE.transitions[`${c.phase}>complete`];
        if (rule === undefined) refuse(`no transition ${c.phase} → complete`);
        if (rule && !rule(c)) refuse('the after photos are missing');
        c.phase = 'complete';
        const body = {
          case_id: c.id,
          surface: c.request.surface,
          request: c.request,
          operator: by.id,
          outcome: outcome ?? null,
          evidence: c.evidence,
          references: c.references,
          completed_at: NOW,
        };
        c.record = { body, digest: createHash('sha256').update(canonical(body)).digest('hex') };
        c.stage = 'service_complete';
      }),
    completeJob: async (ctx, { by }) =>
      command(ctx, (c) => {
        assignee(c, by);
        if (c.stage !== 'service_complete') refuse('the service event is not complete');
        c.job.status = 'complete';
        c.stage = 'job_complete';
      }),
    recordSettlement: async (ctx, { by, status, amount_minor, currency }) =>
      command(ctx, (c) => {
        needRole(by, 'admin');
        if (c.stage !== 'job_complete') refuse(`cannot settle a case at stage ${c.stage}`);
        if (!SETTLEMENT_STATUSES.includes(status)) refuse(`unknown settlement status ${status}`);
        if (!Number.isSafeInteger(amount_minor) || amount_minor < 0) refuse('amount must be a non-negative integer');
        if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) refuse('currency must be three capital letters');
        c.settlement = { status, amount_minor, currency, by: by.id, at: NOW };
        c.stage = 'settled';
      }),
  },
});

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node service.mjs PORT');
  process.exit(2);
}
const server = http2.createServer(restate.createEndpointHandler({ services: [peerCase] }));
server.on('error', (e) => {
  console.error(`service endpoint: ${e.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => console.error(`PeerCase endpoint on 127.0.0.1:${port}`));
// restate-server keeps its HTTP/2 sessions open: exit at once rather than wait for them.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
