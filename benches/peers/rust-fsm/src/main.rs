//! The compiled Rust FSM floor: the same five-phase lifecycle as planck's `peer-lifecycle`
//! surface and the XState peer (queued → claimed → arrived → in_progress → complete, a guard
//! on completion), written with `statig`, run as N machines × 4 transitions.
//!
//! What it isolates: the cheapest a transition can be in Rust (an enum match, no allocation,
//! no audit, no rules language). Prints one JSON object (transitions/s, median of the rounds).
//!
//! Usage: cargo run --release -- [machines] [rounds]

use std::hint::black_box;
use std::time::Instant;

use statig::prelude::*;

/// Shared storage: who owns the job and how many `after` items the service event holds.
#[derive(Default)]
pub struct Lifecycle {
    owner: Option<u32>,
    evidence_after: u32,
}

/// The commands.
pub enum Event {
    Claim { operator: u32 },
    AdvanceArrived,
    AdvanceInProgress,
    Complete,
}

#[state_machine(initial = "State::queued()")]
impl Lifecycle {
    #[state]
    fn queued(&mut self, event: &Event) -> Outcome<State> {
        match event {
            Event::Claim { operator } => {
                self.owner = Some(*operator);
                Transition(State::claimed())
            }
            _ => Handled,
        }
    }

    #[state]
    fn claimed(event: &Event) -> Outcome<State> {
        match event {
            Event::AdvanceArrived => Transition(State::arrived()),
            _ => Handled,
        }
    }

    #[state]
    fn arrived(event: &Event) -> Outcome<State> {
        match event {
            Event::AdvanceInProgress => Transition(State::in_progress()),
            _ => Handled,
        }
    }

    #[state]
    fn in_progress(&mut self, event: &Event) -> Outcome<State> {
        match event {
            // The guard on completion: the `after` evidence must be there.
            Event::Complete if self.evidence_after >= 1 => Transition(State::complete()),
            _ => Handled,
        }
    }

    #[state]
    fn complete(event: &Event) -> Outcome<State> {
        let _ = event;
        Handled
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let machines: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let events = [
        Event::Claim { operator: 7 },
        Event::AdvanceArrived,
        Event::AdvanceInProgress,
        Event::Complete,
    ];
    let mut send_ns = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        let mut fleet: Vec<_> = (0..machines)
            .map(|_| {
                let mut sm = Lifecycle {
                    owner: None,
                    evidence_after: 1,
                }
                .uninitialized_state_machine()
                .init();
                black_box(&mut sm);
                sm
            })
            .collect();
        let start = Instant::now();
        for event in &events {
            for sm in fleet.iter_mut() {
                sm.handle(black_box(event));
            }
        }
        let elapsed = start.elapsed().as_nanos() as f64;
        let done = fleet
            .iter()
            .filter(|sm| matches!(sm.state(), State::Complete {}))
            .count();
        assert_eq!(done, machines, "every machine completes");
        if round > 0 {
            send_ns.push(elapsed);
        }
    }
    send_ns.sort_by(f64::total_cmp);
    let median = send_ns[send_ns.len() / 2];
    let transitions = (machines * events.len()) as f64;
    println!(
        "{{\"peer\":\"statig\",\"version\":\"0.4\",\"machines\":{machines},\"transitions_per_machine\":{},\"transitions_per_s\":{},\"ns_per_transition\":{}}}",
        events.len(),
        transitions / (median / 1e9),
        median / transitions
    );
}
