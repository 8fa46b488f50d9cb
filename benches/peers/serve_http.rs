//! `planck serve` over HTTP, driven the way the durable peer (Restate) is driven: N clients at
//! once, each running whole peer lifecycles (the 11 commands) on fresh cases, one command after
//! another, each a `POST /api/cases/{case}/commands/{command}` with the bearer token of the
//! principal who sends it, awaited before the next. Every answer is checked (200, `applied`).
//!
//! Each level starts the real binary (`planck serve`, the bench build) on a fresh SQLite
//! database on an ephemeral loopback port, with the `peer-lifecycle` surface and a users file of
//! three logins, logs the three principals in, runs a warm-up (not counted), then the measured
//! run, and stops the server with SIGTERM. Request logs are off (`RUST_LOG=warn`): the figure
//! is the service, not a terminal printing a line per request.
//!
//! The key `durable_serve_http` holds one object per level, like `durable_group_commit`.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use planck::policy::{Principal, Role};
use planck::serve::users::add_user;
use serde_json::{Value, json};

use crate::support::{self, Step};

/// The concurrency levels (the Restate driver's).
pub const LEVELS: [usize; 3] = [1, 16, 64];

/// A running `planck serve`, stopped with SIGTERM (then killed) when dropped.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The logins of the bench's users file: (login, principal id, role).
pub const LOGINS: [(&str, &str, Role); 3] = [
    ("ava", "client-ava", Role::Client),
    ("kim", "admin-kim", Role::Admin),
    ("lee", "op-lee", Role::Operator),
];

/// Start `planck serve` in `dir` (database, surfaces and users file made there).
pub fn start(dir: &Path) -> Service {
    let surfaces = dir.join("surfaces");
    std::fs::create_dir_all(&surfaces).unwrap();
    std::fs::write(
        surfaces.join("peer-lifecycle.toml"),
        support::PEER_LIFECYCLE,
    )
    .unwrap();
    let users = dir.join("users.toml");
    for (login, id, role) in LOGINS {
        add_user(&users, login, id, &[role], &format!("bench-{login}")).unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_planck"))
        .arg("serve")
        .arg("--db")
        .arg(dir.join("planck.db"))
        .arg("--surfaces")
        .arg(&surfaces)
        .arg("--users")
        .arg(&users)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    std::thread::spawn(move || for _ in stdout.lines() {});
    let base = first
        .trim()
        .strip_prefix("planck serve: listening on ")
        .unwrap_or_else(|| panic!("planck serve did not start: {first:?}"))
        .to_string();
    Service { child, base }
}

/// An HTTP agent that keeps its connection and reports every status as a response.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Log `login` in; its bearer token.
pub fn token(service: &Service, login: &str) -> String {
    let mut response = agent()
        .post(&format!("{}/login", service.base))
        .content_type("application/json")
        .send(json!({ "login": login, "password": format!("bench-{login}") }).to_string())
        .unwrap();
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// One step of the lifecycle as HTTP: the command name, the JSON body, the principal's token.
struct Request {
    command: &'static str,
    body: String,
    token: String,
}

fn requests(service: &Service, steps: &[Step]) -> Vec<Request> {
    let tokens: Vec<(String, String)> = LOGINS
        .iter()
        .map(|(login, id, _)| (id.to_string(), token(service, login)))
        .collect();
    let token_of = |who: &Principal| {
        tokens
            .iter()
            .find(|(id, _)| *id == who.id)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    steps
        .iter()
        .map(|s| Request {
            command: s.body.kind().as_str(),
            body: json!({ "args": s.body.args_json() }).to_string(),
            token: token_of(&s.who),
        })
        .collect()
}

/// One client: lifecycles on fresh cases until `run_for` has passed; each command's latency.
fn client(base: &str, requests: &[Request], run_for: Duration) -> Vec<Duration> {
    let agent = agent();
    let end = Instant::now() + run_for;
    let mut latencies = Vec::with_capacity(4096);
    loop {
        let case = support::fresh_case("h");
        for r in requests {
            if Instant::now() >= end {
                return latencies;
            }
            let url = format!("{base}/api/cases/{case}/commands/{}", r.command);
            let start = Instant::now();
            let mut response = agent
                .post(&url)
                .header("authorization", format!("Bearer {}", r.token))
                .content_type("application/json")
                .send(r.body.as_str())
                .unwrap();
            let body = response.body_mut().read_to_string().unwrap();
            latencies.push(start.elapsed());
            assert_eq!(response.status().as_u16(), 200, "{}: {body}", r.command);
            assert!(
                body.starts_with(r#"{"outcome":"applied""#),
                "{}: {body}",
                r.command
            );
        }
    }
}

fn run(
    base: &str,
    requests: &[Request],
    clients: usize,
    run_for: Duration,
) -> (Vec<Duration>, Duration) {
    let barrier = Barrier::new(clients + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    client(base, requests, run_for)
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

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((p / 100.0) * sorted.len() as f64) as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Every level, as the JSON the table reads.
pub fn figures(quick: bool) -> Vec<(&'static str, Value)> {
    let (warmup, run_for) = if quick {
        (Duration::from_millis(300), Duration::from_secs(1))
    } else {
        (Duration::from_secs(1), Duration::from_secs(5))
    };
    let steps = support::lifecycle("peer-lifecycle");
    let mut levels = Vec::with_capacity(LEVELS.len());
    for clients in LEVELS {
        let dir = tempfile::tempdir().unwrap();
        let service = start(dir.path());
        let requests = requests(&service, &steps);
        run(&service.base, &requests, clients, warmup);
        let (mut latencies, elapsed) = run(&service.base, &requests, clients, run_for);
        drop(service);
        latencies.sort_unstable();
        let seconds = elapsed.as_secs_f64();
        eprintln!(
            "planck serve, {clients} client(s): {:.0} commands/s, p50 {:.2} ms, p99 {:.2} ms",
            latencies.len() as f64 / seconds,
            percentile_ms(&latencies, 50.0),
            percentile_ms(&latencies, 99.0)
        );
        levels.push(json!({
            "clients": clients,
            "commands": latencies.len(),
            "seconds": seconds,
            "commands_per_s": latencies.len() as f64 / seconds,
            "p50_ms": percentile_ms(&latencies, 50.0),
            "p99_ms": percentile_ms(&latencies, 99.0),
            "max_ms": percentile_ms(&latencies, 100.0),
        }));
    }
    vec![("durable_serve_http", Value::Array(levels))]
}
