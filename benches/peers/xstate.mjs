// The XState v5 peer: the same five-phase lifecycle planck's `peer-lifecycle` surface declares
// (queued → claimed → arrived → in_progress → complete, with a guard on completion), run as
// N actors × 4 transitions. Prints one JSON object on stdout (transitions/s, medians of ROUNDS).
//
// What it isolates: XState's own `actor.send` → guard → transition → snapshot cost. Creating and
// starting the actors is timed separately (`lifecycle_per_s` includes it), so the headline
// `transitions_per_s` is the figure most favourable to XState.
//
// Usage: node benches/peers/xstate.mjs [actors] [rounds]
import { createActor, createMachine, assign } from 'xstate';

const ACTORS = Number(process.argv[2] ?? 20000);
const ROUNDS = Number(process.argv[3] ?? 7);

const lifecycle = createMachine(
  {
    id: 'service_event',
    initial: 'queued',
    context: { owner: null, evidence: { after: 0 } },
    states: {
      queued: {
        on: { CLAIM: { target: 'claimed', actions: 'setOwner' } },
      },
      claimed: { on: { ADVANCE_ARRIVED: { target: 'arrived' } } },
      arrived: { on: { ADVANCE_IN_PROGRESS: { target: 'in_progress' } } },
      in_progress: {
        on: {
          ATTACH: { actions: 'attach' },
          COMPLETE: { target: 'complete', guard: 'hasAfterEvidence' },
        },
      },
      complete: { type: 'final' },
    },
  },
  {
    actions: {
      setOwner: assign({ owner: ({ event }) => event.operator }),
      attach: assign({
        evidence: ({ context, event }) => ({
          ...context.evidence,
          [event.category]: (context.evidence[event.category] ?? 0) + 1,
        }),
      }),
    },
    guards: {
      hasAfterEvidence: ({ context }) => context.evidence.after >= 1,
    },
  },
);

// The four phase transitions; the evidence the guard reads is put in the initial context so
// that every timed `send` is a transition (as in planck's figure).
const EVENTS = [
  { type: 'CLAIM', operator: 'op-lee' },
  { type: 'ADVANCE_ARRIVED' },
  { type: 'ADVANCE_IN_PROGRESS' },
  { type: 'COMPLETE', outcome: 'delivered' },
];

function startActors(n) {
  const actors = new Array(n);
  for (let i = 0; i < n; i++) {
    actors[i] = createActor(lifecycle, {
      snapshot: lifecycle.resolveState({
        value: 'queued',
        context: { owner: null, evidence: { after: 1 } },
      }),
    }).start();
  }
  return actors;
}

function round() {
  const t0 = process.hrtime.bigint();
  const actors = startActors(ACTORS);
  const t1 = process.hrtime.bigint();
  for (const event of EVENTS) {
    for (let i = 0; i < ACTORS; i++) actors[i].send(event);
  }
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < ACTORS; i++) {
    if (actors[i].getSnapshot().value !== 'complete') {
      throw new Error(`actor ${i} did not complete: ${actors[i].getSnapshot().value}`);
    }
  }
  return { start_ns: Number(t1 - t0), send_ns: Number(t2 - t1) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

round(); // warm-up: let V8 optimize
const rounds = Array.from({ length: ROUNDS }, round);
const transitions = ACTORS * EVENTS.length;
const sendNs = median(rounds.map((r) => r.send_ns));
const totalNs = median(rounds.map((r) => r.start_ns + r.send_ns));
console.log(
  JSON.stringify({
    peer: 'xstate',
    version: (await import('xstate/package.json', { with: { type: 'json' } })).default.version,
    node: process.version,
    actors: ACTORS,
    transitions_per_actor: EVENTS.length,
    transitions_per_s: transitions / (sendNs / 1e9),
    ns_per_transition: sendNs / transitions,
    lifecycle_per_s: ACTORS / (totalNs / 1e9),
  }),
);
