//! `planck serve` over HTTP, driven the way the durable peer (Restate) is driven: N clients at
//! once, each running whole peer lifecycles (the 11 commands) on fresh cases, one command after
//! another, each a `POST /api/cases/{case}/commands/{command}` with the bearer token of the
//! principal who sends it, awaited before the next. Every answer is checked (200, `applied`).
//! Every client keeps one HTTP/1.1 connection (hyper), and all of them run as tasks on one
//! thread (`driver::run_async`), as the Restate driver's clients share one node process: the
//! load generator shares the machine's two cores with the server, and a thread per client
//! (the first version of this driver, ureq) took about half of them.
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
use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;
use hyper::header;
use planck::policy::{Principal, Role};
use planck::serve::users::add_user;
use serde_json::{Value, json};

use crate::driver::{self, LEVELS};
use crate::support::{self, Step};

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
    /// `Bearer TOKEN` of the principal who sends it.
    authorization: String,
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
            authorization: format!("Bearer {}", token_of(&s.who)),
        })
        .collect()
}

/// One client: its own keep-alive HTTP/1.1 connection (hyper), each step a request on it,
/// timed from the request's write to the answer's last byte, then checked (200, `applied`).
async fn client(authority: &str, requests: &[Request], run_for: Duration) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, String>(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let mut schedule = driver::Schedule::new("h", requests, run_for);
    let mut latencies = Vec::with_capacity(4096);
    while let Some((case, r)) = schedule.next_step() {
        let request = hyper::Request::post(format!("/api/cases/{case}/commands/{}", r.command))
            .header(header::HOST, authority)
            .header(header::AUTHORIZATION, r.authorization.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .body(r.body.clone())
            .unwrap();
        let start = Instant::now();
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        latencies.push(start.elapsed());
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status.as_u16(), 200, "{}: {body}", r.command);
        assert!(
            body.starts_with(r#"{"outcome":"applied""#),
            "{}: {body}",
            r.command
        );
    }
    drop(sender);
    connection.await.unwrap().unwrap();
    latencies
}

/// Every level, as the JSON the table reads.
pub fn figures(quick: bool) -> Vec<(&'static str, Value)> {
    let (warmup, run_for) = driver::durations(quick);
    let steps = support::lifecycle("peer-lifecycle");
    let mut levels = Vec::with_capacity(LEVELS.len());
    for clients in LEVELS {
        let dir = tempfile::tempdir().unwrap();
        let service = start(dir.path());
        let requests = requests(&service, &steps);
        let authority = service.base.trim_start_matches("http://");
        driver::run_async(clients, || client(authority, &requests, warmup));
        let (latencies, elapsed) =
            driver::run_async(clients, || client(authority, &requests, run_for));
        drop(service);
        let level = driver::level(clients, latencies, elapsed);
        eprintln!(
            "planck serve, {clients} client(s): {:.0} commands/s, p50 {:.2} ms, p99 {:.2} ms",
            level["commands_per_s"].as_f64().unwrap(),
            level["p50_ms"].as_f64().unwrap(),
            level["p99_ms"].as_f64().unwrap()
        );
        levels.push(level);
    }
    vec![("durable_serve_http", Value::Array(levels))]
}
