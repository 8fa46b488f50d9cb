//! What the durable figures share (`durable.rs`, `serve_http.rs`), driven the way the Restate
//! driver drives its peer: N clients started together, each running whole lifecycles on fresh
//! cases one command after another, every command timed on its own; a level reported as
//! commands per second and the p50 / p99 / max latency of one command.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support;

/// The concurrency levels (the Restate driver's).
pub const LEVELS: [usize; 3] = [1, 16, 64];

/// The warm-up (not counted) and the measured run of one level.
pub fn durations(quick: bool) -> (Duration, Duration) {
    if quick {
        (Duration::from_millis(300), Duration::from_secs(1))
    } else {
        (Duration::from_secs(1), Duration::from_secs(5))
    }
}

/// What one client sends, in order: whole lifecycles (`steps`) on fresh cases
/// (`support::fresh_case(prefix)`), one step after another, until `run_for` has passed.
pub struct Schedule<'a, T> {
    prefix: &'a str,
    steps: &'a [T],
    end: Instant,
    case: String,
    at: usize,
}

impl<'a, T> Schedule<'a, T> {
    /// A schedule that ends `run_for` from now.
    pub fn new(prefix: &'a str, steps: &'a [T], run_for: Duration) -> Self {
        Schedule {
            prefix,
            steps,
            end: Instant::now() + run_for,
            case: String::new(),
            at: steps.len(),
        }
    }

    /// The next step and the case it is for; `None` once the time is up.
    pub fn next_step(&mut self) -> Option<(&str, &'a T)> {
        if Instant::now() >= self.end {
            return None;
        }
        if self.at >= self.steps.len() {
            self.case = support::fresh_case(self.prefix);
            self.at = 0;
        }
        let step = self.steps.get(self.at)?;
        self.at += 1;
        Some((&self.case, step))
    }
}

/// One client on its own thread: its [`Schedule`]. `step` sends one step on a case, checks
/// the answer and returns how long the command took; every command's latency.
pub fn client<T>(
    prefix: &str,
    steps: &[T],
    run_for: Duration,
    mut step: impl FnMut(&str, &T) -> Duration,
) -> Vec<Duration> {
    let mut schedule = Schedule::new(prefix, steps, run_for);
    let mut latencies = Vec::with_capacity(4096);
    while let Some((case, s)) = schedule.next_step() {
        latencies.push(step(case, s));
    }
    latencies
}

/// `clients` threads let go at once, each running `client`: every command's latency and the
/// wall time.
pub fn run(clients: usize, client: impl Fn() -> Vec<Duration> + Sync) -> (Vec<Duration>, Duration) {
    let barrier = Barrier::new(clients + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let (client, barrier) = (&client, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    client()
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let latencies: Vec<Duration> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        (latencies, start.elapsed())
    })
}

/// `clients` tasks on one thread (a current-thread tokio runtime), started together, each
/// running `client()`: every command's latency and the wall time. One thread drives every
/// connection, as the Restate driver (one node process) drives its peer, so the load generator
/// takes a small share of the machine it shares with the service instead of a thread per
/// client.
pub fn run_async<F: Future<Output = Vec<Duration>>>(
    clients: usize,
    client: impl Fn() -> F,
) -> (Vec<Duration>, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let start = Instant::now();
        let latencies = futures_util::future::join_all((0..clients).map(|_| client())).await;
        (latencies.into_iter().flatten().collect(), start.elapsed())
    })
}

/// The `p`-th percentile (0–100) of sorted latencies, in ms (the Restate driver's rule).
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((p / 100.0) * sorted.len() as f64) as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// One level as the JSON object the table reads, from every command's latency and the wall
/// time of the measured run.
pub fn level(clients: usize, mut latencies: Vec<Duration>, elapsed: Duration) -> Value {
    latencies.sort_unstable();
    let seconds = elapsed.as_secs_f64();
    json!({
        "clients": clients,
        "commands": latencies.len(),
        "seconds": seconds,
        "commands_per_s": latencies.len() as f64 / seconds,
        "p50_ms": percentile_ms(&latencies, 50.0),
        "p99_ms": percentile_ms(&latencies, 99.0),
        "max_ms": percentile_ms(&latencies, 100.0),
    })
}
