//! `planck serve` tested for real: the binary runs on an ephemeral loopback port and the tests
//! talk HTTP to it (login, commands and every status class, 401, the principal from the
//! session, CSRF, idempotency keys, the desks' forms, graceful shutdown with commands in
//! flight, webhooks signed and retried), then read the SQLite database it wrote.

#![cfg(feature = "serve")]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use planck::host::Store as _;
use planck::policy::Role;
use planck::serve::users::add_user;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// A running server.

pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    logs: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PASSWORDS: &[(&str, &str, &str, Role)] = &[
    ("kim", "admin-kim", "kim-secret", Role::Admin),
    ("lee", "op-lee", "lee-secret", Role::Operator),
    ("max", "op-max", "max-secret", Role::Operator),
    ("ava", "client-ava", "ava-secret", Role::Client),
    ("bo", "client-bo", "bo-secret", Role::Client),
];

pub(crate) fn users_file(dir: &Path) -> PathBuf {
    let path = dir.join("users.toml");
    for (login, id, password, role) in PASSWORDS {
        add_user(&path, login, id, &[*role], password).unwrap();
    }
    path
}

fn surfaces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces")
}

impl Server {
    pub(crate) fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let users = users_file(dir.path());
        Server::start_in(dir, &users, extra)
    }

    pub(crate) fn start_in(dir: tempfile::TempDir, users: &Path, extra: &[&str]) -> Server {
        let db = dir.path().join("planck.db");
        let mut child = Command::new(env!("CARGO_BIN_EXE_planck"))
            .arg("serve")
            .arg("--db")
            .arg(&db)
            .arg("--surfaces")
            .arg(surfaces())
            .arg("--users")
            .arg(users)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let logs = Arc::clone(&logs);
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = line.strip_prefix("planck serve: listening on ") {
                        let _ = tx.send(addr.to_string());
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        {
            let logs = Arc::clone(&logs);
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    logs.lock().unwrap().push(format!("stderr: {line}"));
                }
            });
        }
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start: {:#?}", logs.lock().unwrap());
            }
        };
        Server {
            child,
            base,
            logs,
            dir,
        }
    }

    pub(crate) fn db(&self) -> PathBuf {
        self.dir.path().join("planck.db")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub(crate) fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop: {}",
                self.logs()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP.

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    headers: ureq::http::HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn reply(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = result.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

/// A client holding a bearer token (or nothing).
pub(crate) struct Client<'a> {
    server: &'a Server,
    token: Option<String>,
    agent: ureq::Agent,
}

impl<'a> Client<'a> {
    pub(crate) fn anonymous(server: &'a Server) -> Self {
        Client {
            server,
            token: None,
            agent: agent(),
        }
    }

    pub(crate) fn login(server: &'a Server, login: &str) -> Self {
        let password = PASSWORDS.iter().find(|p| p.0 == login).unwrap().2;
        Client::login_with(server, login, password)
    }

    /// GET `path`: the status, the time until the answer's head arrived, and the body.
    pub(crate) fn time_to_first_byte(&self, path: &str) -> (u16, Duration, String) {
        let mut req = self.agent.get(&self.server.url(path));
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let start = Instant::now();
        let mut response = req.call().unwrap();
        let first_byte = start.elapsed();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), first_byte, body)
    }

    /// Log in with a JSON login and keep the bearer token.
    pub(crate) fn login_with(server: &'a Server, login: &str, password: &str) -> Self {
        let r = reply(
            agent()
                .post(&server.url("/login"))
                .content_type("application/json")
                .send(json!({ "login": login, "password": password }).to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.json();
        assert!(r.header("set-cookie").unwrap().contains("HttpOnly"));
        Client {
            server,
            token: Some(body["token"].as_str().unwrap().to_string()),
            agent: agent(),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    /// GET `path` with extra headers.
    pub(crate) fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.get(&self.server.url(path));
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        reply(req.call())
    }

    /// GET `path` with extra headers and hand back the response unread (a stream's body is
    /// read as it comes).
    pub(crate) fn open(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> ureq::http::Response<ureq::Body> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut req = agent.get(&self.server.url(path));
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.call().unwrap()
    }

    /// POST /logout with the bearer token: the session ends.
    pub(crate) fn logout(&self) -> Reply {
        let mut req = self.agent.post(&self.server.url("/logout"));
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        reply(req.send_empty())
    }

    pub(crate) fn command(&self, case: &str, command: &str, args: Value) -> Reply {
        self.send(case, command, &json!({ "args": args }).to_string(), None)
    }

    fn send(&self, case: &str, command: &str, body: &str, key: Option<&str>) -> Reply {
        let mut req = self
            .agent
            .post(
                &self
                    .server
                    .url(&format!("/api/cases/{case}/commands/{command}")),
            )
            .content_type("application/json");
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        reply(req.send(body.to_string()))
    }
}

fn intake() -> Value {
    json!({ "contact": "ava@example.com", "event_details": "40 guests", "preferred_timing": "Sat pm" })
}

pub(crate) fn submit(client: &Client<'_>, case: &str) -> Reply {
    client.command(
        case,
        "submit_request",
        json!({ "surface": "event-coordination", "intake": intake() }),
    )
}

pub(crate) fn assert_refused(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let body = r.json();
    assert_eq!(body["code"], code, "{}", r.body);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body.get("detail").is_some());
}

/// Submit, approve, assign to `op-lee` and create the job.
pub(crate) fn queued_job(ava: &Client<'_>, kim: &Client<'_>, case: &str) {
    assert_eq!(submit(ava, case).status, 200);
    assert_eq!(kim.command(case, "approve_task", json!({})).status, 200);
    assert_eq!(
        kim.command(case, "assign_task", json!({ "operator": "op-lee" }))
            .status,
        200
    );
    assert_eq!(kim.command(case, "create_job", json!({})).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn commands_answer_receipts_and_each_refusal_its_status() {
    let server = Server::start(&[]);
    let ava = Client::login(&server, "ava");
    let kim = Client::login(&server, "kim");
    let lee = Client::login(&server, "lee");
    let max = Client::login(&server, "max");

    // Applied: the receipt, with the stored events.
    let r = submit(&ava, "ev-1");
    assert_eq!(r.status, 200, "{}", r.body);
    let receipt = r.json();
    assert_eq!(receipt["outcome"], "applied");
    assert_eq!(receipt["detail"]["case"], "ev-1");
    assert_eq!(receipt["detail"]["events"][0]["actor"]["id"], "client-ava");

    // 403: the role, the assignee, the owner.
    assert_refused(
        &ava.command("ev-1", "approve_task", json!({})),
        403,
        "forbidden_role",
    );
    // 404: the case, the surface, the command name.
    assert_refused(
        &kim.command("nope", "approve_task", json!({})),
        404,
        "case_not_found",
    );
    assert_refused(
        &ava.command(
            "ev-2",
            "submit_request",
            json!({ "surface": "no-such", "intake": intake() }),
        ),
        404,
        "unknown_surface",
    );
    assert_refused(
        &kim.command("ev-1", "levitate", json!({})),
        404,
        "unknown_command",
    );
    // 422: the arguments.
    assert_refused(
        &ava.command(
            "ev-2",
            "submit_request",
            json!({ "surface": "event-coordination", "intake": { "contact": "x" } }),
        ),
        422,
        "intake_invalid",
    );
    assert_refused(
        &kim.command("ev-1", "reject_task", json!({ "why": "no" })),
        422,
        "payload_invalid",
    );
    let r = kim.send("ev-1", "approve_task", "{not json", None);
    assert_refused(&r, 422, "payload_invalid");
    // The role outranks a body that does not parse (CONTRACT.md §3).
    assert_refused(
        &ava.send("ev-1", "approve_task", "{not json", None),
        403,
        "forbidden_role",
    );
    // 409: the state.
    assert_refused(
        &kim.command("ev-1", "create_job", json!({})),
        409,
        "task_not_approved",
    );
    assert_eq!(kim.command("ev-1", "approve_task", json!({})).status, 200);
    assert_refused(
        &kim.command("ev-1", "approve_task", json!({})),
        409,
        "invalid_state",
    );
    assert_refused(
        &ava.command(
            "ev-1",
            "submit_request",
            json!({ "surface": "event-coordination", "intake": intake() }),
        ),
        409,
        "case_exists",
    );
    assert_eq!(
        kim.command("ev-1", "assign_task", json!({ "operator": "op-lee" }))
            .status,
        200
    );
    assert_eq!(kim.command("ev-1", "create_job", json!({})).status, 200);
    assert_refused(
        &max.command("ev-1", "claim_job", json!({})),
        403,
        "not_assignee",
    );
    assert_eq!(lee.command("ev-1", "claim_job", json!({})).status, 200);
    assert_refused(
        &max.command("ev-1", "advance", json!({ "to": "arrived" })),
        403,
        "not_owner",
    );
    assert_refused(
        &lee.command("ev-1", "advance", json!({ "to": "complete" })),
        409,
        "no_such_transition",
    );

    // Views.
    let r = kim.get("/api/cases/ev-1");
    assert_eq!(r.status, 200);
    let case = r.json();
    assert_eq!(case["view"]["job"], "claimed");
    assert_eq!(case["view"]["task"], "approved");
    assert_eq!(case["view"]["phase"]["label"], "Confirmed");
    assert!(case["verify_failure"].is_null());
    assert_eq!(
        case["history"].as_array().unwrap().len(),
        case["view"]["version"].as_u64().unwrap() as usize
    );
    assert_eq!(
        lee.get("/api/cases/ev-1").status,
        200,
        "the owner sees the case"
    );
    let bo = Client::login(&server, "bo");
    assert_refused(&bo.get("/api/cases/ev-1"), 404, "case_not_found");
    assert_refused(&bo.get("/api/queue"), 403, "forbidden");
    assert_refused(&bo.get("/api/cases"), 403, "forbidden");

    let desk = lee.get("/api/desk").json();
    assert_eq!(desk["operator"], "op-lee");
    assert_eq!(desk["active"][0]["case"], "ev-1");
    assert_eq!(desk["active"][0]["moves"][0]["to"], "arrived");
    assert_eq!(desk["active"][0]["moves"][0]["allowed"], true);

    assert_eq!(submit(&ava, "ev-2").status, 200);
    // ev-1's Job is claimed: nothing left to review, assign or hand off; ev-2 waits for review.
    let queue = kim.get("/api/queue").json();
    assert_eq!(queue["queue"].as_array().unwrap().len(), 1);
    assert_eq!(queue["queue"][0]["case"], "ev-2");
    assert_eq!(queue["queue"][0]["need"], "review");

    let list = kim.get("/api/cases?job=claimed").json();
    assert_eq!(list["cases"].as_array().unwrap().len(), 1);
    assert_eq!(list["cases"][0]["case"], "ev-1");
    let list = kim.get("/api/cases?limit=1").json();
    assert_eq!(list["cases"][0]["case"], "ev-2", "newest activity first");
    let next = list["next"].as_str().unwrap();
    let list = kim.get(&format!("/api/cases?limit=1&after={next}")).json();
    assert_eq!(list["cases"][0]["case"], "ev-1");
    assert!(list["next"].is_null());
    assert_refused(&kim.get("/api/cases?colour=red"), 400, "bad_request");

    let explained = lee
        .get("/api/cases/ev-1/explain?command=advance&args=%7B%22to%22%3A%22complete%22%7D")
        .json();
    assert_eq!(explained["rejection"]["code"], "no_such_transition");
    assert!(!explained["checks"].as_array().unwrap().is_empty());
    let explained = lee
        .get("/api/cases/ev-1/explain?command=advance&args=%7B%22to%22%3A%22arrived%22%7D")
        .json();
    assert!(explained["rejection"].is_null());

    // The feed is for staff (its stream is tested in `serve_feed`).
    assert_refused(&lee.get("/api/feed"), 403, "forbidden");
    let health = Client::anonymous(&server).get("/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");

    // The engine's spans reach the log: command, case, outcome and rejection code.
    let logs = server.logs();
    assert!(logs.contains("planck.execute"), "{logs}");
    assert!(
        logs.contains("command=\"claim_job\"") || logs.contains("command=claim_job"),
        "{logs}"
    );
    assert!(logs.contains("not_assignee"), "{logs}");
}

#[test]
fn no_session_is_401() {
    let server = Server::start(&[]);
    let anonymous = Client::anonymous(&server);
    assert_refused(&submit(&anonymous, "ev-1"), 401, "unauthenticated");
    assert_refused(&anonymous.get("/api/desk"), 401, "unauthenticated");
    assert_refused(&anonymous.get("/api/cases/ev-1"), 401, "unauthenticated");
    let forged = Client {
        server: &server,
        token: Some("00".repeat(32)),
        agent: agent(),
    };
    assert_refused(&forged.get("/api/desk"), 401, "unauthenticated");

    // Wrong password and unknown login: the same answer.
    for (login, password) in [("kim", "wrong"), ("nobody", "kim-secret")] {
        let r = reply(
            agent()
                .post(&server.url("/login"))
                .content_type("application/json")
                .send(json!({ "login": login, "password": password }).to_string()),
        );
        assert_refused(&r, 401, "login_failed");
        assert_eq!(r.json()["message"], "unknown login or wrong password");
    }

    // After logout the token is dead.
    let kim = Client::login(&server, "kim");
    assert_eq!(kim.get("/api/desk").status, 200);
    let r = reply(
        kim.agent
            .post(&server.url("/logout"))
            .header(
                "authorization",
                format!("Bearer {}", kim.token.as_ref().unwrap()),
            )
            .send_empty(),
    );
    assert_eq!(r.status, 204);
    assert_refused(&kim.get("/api/desk"), 401, "unauthenticated");
    // Nothing was written by any of it.
    assert!(
        planck::host::SqliteStore::open(server.db())
            .unwrap()
            .cases()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_principal_comes_from_the_session_never_from_the_body() {
    let server = Server::start(&[]);
    let ava = Client::login(&server, "ava");
    let claimed_admin = json!({ "id": "admin-kim", "roles": ["admin"] });

    // A body naming another principal: the command still runs as the client.
    let body = json!({
        "args": { "surface": "event-coordination", "intake": intake() },
        "principal": claimed_admin,
        "actor": claimed_admin,
    });
    let r = ava.send("ev-1", "submit_request", &body.to_string(), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["detail"]["events"][0]["actor"]["id"], "client-ava");

    // It does not lend the client an admin's authority either.
    let body = json!({ "args": {}, "principal": claimed_admin });
    assert_refused(
        &ava.send("ev-1", "approve_task", &body.to_string(), None),
        403,
        "forbidden_role",
    );
    // Inside the arguments it is an unknown argument, refused like any other.
    let kim = Client::login(&server, "kim");
    let body = json!({ "args": { "principal": claimed_admin } });
    assert_refused(
        &kim.send("ev-1", "approve_task", &body.to_string(), None),
        422,
        "payload_invalid",
    );

    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    let events = store.load("ev-1").unwrap();
    assert_eq!(events.len(), 1, "only the submission was written");
    assert_eq!(events[0].actor.id, "client-ava");
    assert_eq!(events[0].actor.roles, vec![Role::Client]);
}

#[test]
fn idempotency_key_header_replays_the_first_outcome() {
    let server = Server::start(&[]);
    let ava = Client::login(&server, "ava");
    let body =
        json!({ "args": { "surface": "event-coordination", "intake": intake() } }).to_string();
    let first = ava.send("ev-1", "submit_request", &body, Some("submit-ev-1"));
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["outcome"], "applied");
    assert!(first.header("idempotent-replayed").is_none());
    let again = ava.send("ev-1", "submit_request", &body, Some("submit-ev-1"));
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let again = again.json();
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["detail"], first.json(), "the first outcome, replayed");
    // The same key for another command.
    let other =
        json!({ "args": { "surface": "event-coordination", "intake": intake() } }).to_string();
    assert_refused(
        &ava.send("ev-2", "submit_request", &other, Some("submit-ev-1")),
        422,
        "payload_invalid",
    );
    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    assert_eq!(store.cases().unwrap(), vec!["ev-1".to_string()]);
    assert_eq!(
        store.load("ev-1").unwrap()[0].idempotency_key.as_deref(),
        Some("submit-ev-1")
    );
}

/// A browser-like client: a cookie jar of one cookie, forms, HTML.
struct Browser<'a> {
    server: &'a Server,
    cookie: String,
    agent: ureq::Agent,
}

impl<'a> Browser<'a> {
    fn login(server: &'a Server, login: &str) -> Self {
        let password = PASSWORDS.iter().find(|p| p.0 == login).unwrap().2;
        let r = reply(
            agent()
                .post(&server.url("/login"))
                .content_type("application/x-www-form-urlencoded")
                .send(format!("login={login}&password={password}")),
        );
        assert_eq!(r.status, 303, "{}", r.body);
        let set_cookie = r.header("set-cookie").unwrap();
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        assert!(set_cookie.contains("Path=/"), "{set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        Browser {
            server,
            cookie,
            agent: agent(),
        }
    }

    fn get(&self, path: &str) -> Reply {
        reply(
            self.agent
                .get(&self.server.url(path))
                .header("cookie", &self.cookie)
                .call(),
        )
    }

    fn page(&self, path: &str) -> String {
        let r = self.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        r.body
    }

    fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&");
        reply(
            self.agent
                .post(&self.server.url(path))
                .header("cookie", &self.cookie)
                .content_type("application/x-www-form-urlencoded")
                .send(body),
        )
    }

    /// Post a form and follow the redirect; returns the page shown.
    fn submit(&self, path: &str, fields: &[(&str, &str)]) -> String {
        let r = self.post_form(path, fields);
        assert_eq!(r.status, 303, "{path}: {}", r.body);
        let location = r.header("location").unwrap().to_string();
        self.page(&location)
    }
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

#[test]
fn form_posts_need_the_session_csrf_token() {
    let server = Server::start(&[]);
    let ava = Client::login(&server, "ava");
    assert_eq!(submit(&ava, "ev-1").status, 200);
    let kim = Browser::login(&server, "kim");

    // A forged form (no token, or a wrong one) is refused and writes nothing.
    let r = kim.post_form("/admin/cases/ev-1/approve_task", &[("back", "queue")]);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = kim.post_form(
        "/admin/cases/ev-1/approve_task",
        &[("csrf", &"ab".repeat(32))],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    assert_eq!(store.load("ev-1").unwrap().len(), 1);

    // A cookie-authenticated API write that is not JSON needs the token too.
    let r = reply(
        kim.agent
            .post(&server.url("/api/cases/ev-1/commands/approve_task"))
            .header("cookie", &kim.cookie)
            .content_type("text/plain")
            .send("{\"args\": {}}"),
    );
    assert_refused(&r, 403, "csrf_failed");
    assert_eq!(store.load("ev-1").unwrap().len(), 1);

    // A login a browser marks cross-site is refused.
    let r = reply(
        agent()
            .post(&server.url("/login"))
            .header("sec-fetch-site", "cross-site")
            .content_type("application/x-www-form-urlencoded")
            .send("login=kim&password=kim-secret"),
    );
    assert_refused(&r, 403, "csrf_failed");

    // With the token from the page, the form works.
    let page = kim.page("/admin");
    let csrf = hidden(&page, "csrf");
    let nonce = hidden(&page, "nonce");
    let shown = kim.submit(
        "/admin/cases/ev-1/approve_task",
        &[("csrf", &csrf), ("nonce", &nonce), ("back", "queue")],
    );
    assert!(
        shown.contains("<code>approve_task</code> applied to case <code>ev-1</code>"),
        "{shown}"
    );
    // The same form sent twice runs once.
    let shown = kim.submit(
        "/admin/cases/ev-1/approve_task",
        &[("csrf", &csrf), ("nonce", &nonce), ("back", "queue")],
    );
    assert!(shown.contains("already applied"), "{shown}");
    assert_eq!(store.load("ev-1").unwrap().len(), 2);
}

#[test]
fn the_desks_drive_a_case_through_forms() {
    let server = Server::start(&[]);
    let anonymous = Client::anonymous(&server);
    let r = anonymous.get("/desk");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));
    assert!(anonymous.get("/login").body.contains("name=\"password\""));

    let ava = Client::login(&server, "ava");
    assert_eq!(
        ava.command("car-1", "submit_request", json!({
            "surface": "auto-detailing",
            "intake": { "contact": "ava@example.com", "vehicle": "blue van", "service_address": "1 Main St", "preferred_timing": "Mon am" },
            "photos": ["p1.jpg", "p2.jpg"],
        })).status,
        200
    );

    // The admin desk: approve, assign, create the job.
    let kim = Browser::login(&server, "kim");
    let page = kim.page("/admin");
    assert!(page.contains("Governance queue"));
    assert!(page.contains("car-1"));
    let csrf = hidden(&page, "csrf");
    let form = |page: &str| {
        vec![
            ("csrf".to_string(), csrf.clone()),
            ("nonce".to_string(), hidden(page, "nonce")),
            ("back".to_string(), "queue".to_string()),
        ]
    };
    let as_refs = |v: &Vec<(String, String)>| {
        v.iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    let send = |path: &str, page: &str, extra: &[(&str, &str)]| {
        let mut fields = as_refs(&form(page));
        fields.extend(extra.iter().map(|(a, b)| (a.to_string(), b.to_string())));
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        kim.submit(path, &fields)
    };
    let page = send("/admin/cases/car-1/create_job", &page, &[]);
    assert!(
        page.contains("<code>create_job</code> refused (task_not_approved)"),
        "{page}"
    );
    let page = send("/admin/cases/car-1/approve_task", &page, &[]);
    let page = send(
        "/admin/cases/car-1/assign_task",
        &page,
        &[("operator", "op-lee")],
    );
    let page = send("/admin/cases/car-1/create_job", &page, &[]);
    assert!(page.contains("<code>create_job</code> applied"), "{page}");

    // The operator desk: claim, evidence, advance, complete.
    let lee = Browser::login(&server, "lee");
    let page = lee.page("/desk");
    assert!(page.contains("Claimable Jobs"));
    assert!(page.contains("/desk/cases/car-1/claim_job"));
    let csrf = hidden(&page, "csrf");
    let post = |path: &str, page: &str, extra: &[(&str, &str)]| {
        let nonce = hidden(page, "nonce");
        let mut fields = vec![("csrf", csrf.as_str()), ("nonce", nonce.as_str())];
        fields.extend_from_slice(extra);
        lee.submit(path, &fields)
    };
    let page = post("/desk/cases/car-1/claim_job", &page, &[]);
    assert!(page.contains("<code>claim_job</code> applied"), "{page}");
    assert!(page.contains("Advance to Arrived"), "{page}");
    assert!(page.contains("Missing evidence"), "{page}");
    let page = post("/desk/cases/car-1/advance", &page, &[("to", "arrived")]);
    // Into the work phase needs the arrival and before photos: the move says why not.
    assert!(page.contains("Detailing:"), "{page}");
    let page = post("/desk/cases/car-1/advance", &page, &[("to", "in_progress")]);
    assert!(page.contains("refused (evidence_missing)"), "{page}");
    let page = post(
        "/desk/cases/car-1/attach_evidence",
        &page,
        &[("category", "arrival"), ("ref", "s3://a.jpg")],
    );
    let page = post(
        "/desk/cases/car-1/attach_evidence",
        &page,
        &[("category", "before"), ("ref", "s3://b.jpg")],
    );
    let page = post("/desk/cases/car-1/advance", &page, &[("to", "in_progress")]);
    assert!(page.contains("<code>advance</code> applied"), "{page}");
    let page = post(
        "/desk/cases/car-1/attach_evidence",
        &page,
        &[("category", "after"), ("ref", "s3://c.jpg")],
    );
    let page = post("/desk/cases/car-1/complete_service_event", &page, &[]);
    assert!(
        page.contains("<code>complete_service_event</code> applied"),
        "{page}"
    );
    let page = post("/desk/cases/car-1/complete_job", &page, &[]);
    assert!(page.contains("Completed work"), "{page}");
    assert!(page.contains("sealed"), "{page}");

    // The admin's case page: the sealed record, the history, verify, explain.
    let page = kim.page("/admin/cases/car-1");
    assert!(page.contains("sealed, digest"), "{page}");
    assert!(page.contains("record_sealed"), "{page}");
    assert!(page.contains("Every digest, link and seal"), "{page}");
    let page = kim.page("/admin/cases/car-1?command=cancel_job&args=%7B%22reason%22%3A%22x%22%7D");
    assert!(page.contains("Would be refused"), "{page}");
    // Operators have no admin desk.
    assert_eq!(lee.get("/admin").status, 403);
}

#[test]
fn the_admin_desk_keeps_the_operator_directory() {
    let server = Server::start(&[]);
    let kim = Browser::login(&server, "kim");
    let page = kim.page("/admin");
    // `lee` may log in but has no profile yet: the desk says so and offers to register them.
    assert!(
        page.contains("may log in; not in the operator directory"),
        "{page}"
    );
    assert!(page.contains("/register_operator\""), "{page}");
    let csrf = hidden(&page, "csrf");
    let send = |path: &str, page: &str, extra: &[(&str, &str)]| {
        let nonce = hidden(page, "nonce");
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("nonce", nonce.as_str()),
            ("back", "queue"),
        ];
        fields.extend_from_slice(extra);
        kim.submit(path, &fields)
    };
    let page = send(
        "/admin/cases/operator%3Aop-lee/register_operator",
        &page,
        &[("operator", "op-lee"), ("name", "Lee")],
    );
    assert!(
        page.contains("<code>register_operator</code> applied"),
        "{page}"
    );
    assert!(
        page.contains("may log in; active in the directory"),
        "{page}"
    );
    let page = send(
        "/admin/cases/operator%3Aop-lee/suspend_operator",
        &page,
        &[("operator", "op-lee"), ("reason", "on leave")],
    );
    assert!(
        page.contains("<code>suspend_operator</code> applied"),
        "{page}"
    );
    assert!(page.contains("on leave"), "{page}");
    assert!(page.contains("/reinstate_operator"), "{page}");
    // Through the API, the directory's commands are the admin's: an operator is refused 403.
    let lee = Client::login(&server, "lee");
    let r = lee.command(
        "operator:op-lee",
        "reinstate_operator",
        json!({ "operator": "op-lee" }),
    );
    assert_refused(&r, 403, "forbidden_role");
    let page = send(
        "/admin/cases/operator%3Aop-lee/reinstate_operator",
        &page,
        &[("operator", "op-lee")],
    );
    assert!(
        page.contains("<code>reinstate_operator</code> applied"),
        "{page}"
    );
    assert!(
        page.contains("may log in; active in the directory"),
        "{page}"
    );
}

#[test]
fn graceful_shutdown_lets_commands_in_flight_finish() {
    let mut server = Server::start(&[]);
    let ava = Client::login(&server, "ava");
    let token = ava.token.clone().unwrap();
    assert_eq!(submit(&ava, "warm-up").status, 200);

    // Hold SQLite's write lock so the commands stall inside the engine, in flight.
    let blocker = rusqlite::Connection::open(server.db()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    const N: usize = 6;
    let base = server.base.clone();
    let senders: Vec<_> = (0..N)
        .map(|i| {
            let base = base.clone();
            let token = token.clone();
            thread::spawn(move || {
                let body =
                    json!({ "args": { "surface": "event-coordination", "intake": intake() } });
                reply(
                    agent()
                        .post(&format!(
                            "{base}/api/cases/late-{i}/commands/submit_request"
                        ))
                        .header("authorization", format!("Bearer {token}"))
                        .content_type("application/json")
                        .send(body.to_string()),
                )
            })
        })
        .collect();
    // Wait until all of them are inside the engine.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = Client::anonymous(&server).get("/healthz").json();
        if health["in_flight"].as_u64() == Some(N as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "commands never got in flight: {health}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    server.terminate();
    // The listener closes: a new command is never started.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let refused = agent().get(&server.url("/healthz")).call().is_err();
        if refused {
            break;
        }
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "stopped before its commands finished"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    for sender in senders {
        let r = sender.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["outcome"], "applied");
    }
    let status = server.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}: {}", server.logs());

    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    let cases = store.cases().unwrap();
    assert_eq!(cases.len(), N + 1, "{cases:?}");
    let report = planck::engine::verify_store(&store).unwrap();
    assert!(report.ok(), "{report:?}");
}

// ---------------------------------------------------------------------------------------------
// Webhooks: a receiver on loopback that fails the first requests.

/// Every request the receiver got: its headers and body.
type Seen = Arc<Mutex<Vec<(ureq::http::HeaderMap, Vec<u8>)>>>;

struct Receiver {
    addr: String,
    seen: Seen,
    _runtime: tokio::runtime::Runtime,
}

fn receiver(fail_first: usize) -> Receiver {
    receiver_at("/hook", fail_first)
}

fn receiver_at(path: &str, fail_first: usize) -> Receiver {
    use axum::http::StatusCode;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let seen: Seen = Arc::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::clone(&seen);
    let app = axum::Router::new().route(
        path,
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let state = Arc::clone(&state);
                async move {
                    let mut seen = state.lock().unwrap();
                    seen.push((headers, body.to_vec()));
                    if seen.len() <= fail_first {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            },
        ),
    );
    runtime.spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        addr: format!("http://{addr}{path}"),
        seen,
        _runtime: runtime,
    }
}

fn complete_a_case(server: &Server, case: &str) {
    let ava = Client::login(server, "ava");
    let kim = Client::login(server, "kim");
    let lee = Client::login(server, "lee");
    queued_job(&ava, &kim, case);
    assert_eq!(lee.command(case, "claim_job", json!({})).status, 200);
    assert_eq!(
        lee.command(case, "advance", json!({ "to": "arrived" }))
            .status,
        200
    );
    assert_eq!(
        lee.command(case, "advance", json!({ "to": "in_progress" }))
            .status,
        200
    );
    let r = lee.command(case, "complete_service_event", json!({ "outcome": "done" }));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn webhooks_are_signed_retried_and_delivered_at_least_once() {
    // Five failures: the first round (two attempts) and the next (two more) fail, the third
    // round's first attempt fails and its second succeeds.
    let hook = receiver(5);
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path());
    let secret_file = dir.path().join("secret.txt");
    std::fs::write(&secret_file, "s3cret-for-tests\n").unwrap();
    let mut server = Server::start_in(
        dir,
        &users,
        &[
            "--webhook",
            &hook.addr,
            "--webhook-secret-file",
            secret_file.to_str().unwrap(),
            "--webhook-attempts",
            "2",
            "--dispatch-every",
            "300ms",
        ],
    );
    complete_a_case(&server, "ev-9");

    let deadline = Instant::now() + Duration::from_secs(20);
    let delivered = loop {
        {
            let seen = hook.seen.lock().unwrap();
            if seen.len() >= 6 {
                break seen.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "not delivered: {}",
            server.logs()
        );
        thread::sleep(Duration::from_millis(50));
    };
    // Every attempt is the same signal, signed over "<timestamp>.<body>".
    for (headers, body) in &delivered {
        let get = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_string();
        let signal: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(signal["id"], "ev-9:record:1");
        assert_eq!(signal["kind"], "record");
        assert_eq!(signal["case_id"], "ev-9");
        assert_eq!(get("planck-signal-id"), "ev-9:record:1");
        assert_eq!(get("content-type"), "application/json");
        let timestamp = get("planck-timestamp");
        let signature = get("planck-signature");
        assert!(planck::host::webhook::verify_signature(
            b"s3cret-for-tests",
            &timestamp,
            body,
            &signature
        ));
        // The same check with the hmac crate directly, as a receiver would write it.
        use hmac::{KeyInit as _, Mac as _};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret-for-tests").unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(signature, expected);
        let age = planck::host::Clock::now(&planck::host::SystemClock) / 1000
            - timestamp.parse::<i64>().unwrap();
        assert!((0..60).contains(&age), "{age}");
    }
    // Delivered once accepted: nothing left pending, and no further attempts.
    thread::sleep(Duration::from_millis(800));
    assert_eq!(hook.seen.lock().unwrap().len(), 6);
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(20)).success());
    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    assert!(store.pending_signals(10).unwrap().is_empty());
    let logs = server.logs();
    assert!(logs.contains("webhook attempt failed"), "{logs}");
}

#[test]
fn without_a_webhook_signals_stay_pending() {
    let mut server = Server::start(&[]);
    complete_a_case(&server, "ev-3");
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(20)).success());
    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    let pending = store.pending_signals(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, "ev-3:record:1");
}

#[test]
fn users_add_reads_the_password_from_stdin_and_writes_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_planck"))
        .args(["users", "add"])
        .arg(&path)
        .args([
            "kim",
            "--id",
            "admin-kim",
            "--role",
            "admin",
            "--role",
            "observer",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long passphrase\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("login = \"kim\""), "{text}");
    assert!(text.contains("$argon2id$"), "{text}");
    assert!(!text.contains("a long passphrase"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let users = planck::serve::users::Users::load(&path).unwrap();
    let principal = users.verify("kim", "a long passphrase").unwrap();
    assert_eq!(principal.roles, vec![Role::Admin, Role::Observer]);

    // A malformed users file: serve refuses to start and says where.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[user]]\nlogin = \"kim\"\nroles = \"admin\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_planck"))
        .args(["serve", "--db"])
        .arg(dir.path().join("x.db"))
        .arg("--surfaces")
        .arg(surfaces())
        .arg("--users")
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.toml:3:9:"), "{stderr}");
}

/// The README's `curl` examples, run as written against a server with the demo users file.
#[test]
fn the_readme_curl_examples_work() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: no curl on this machine");
        return;
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("With the service of the third command running")
        .unwrap();
    let block = &readme[start..];
    let block = &block[block.find("```sh\n").unwrap() + 6..];
    let script = &block[..block.find("```").unwrap()];
    let users = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/serve/users.toml");
    let server = Server::start_in(tempfile::tempdir().unwrap(), &users, &[]);
    let script = script.replace("http://127.0.0.1:8080", &server.base);
    let work = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the README says each command prints.
    let expected: Vec<&str> = script
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('{') || l.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let printed: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(printed.len(), expected.len(), "{stdout}");
    for (printed, expected) in printed.iter().zip(&expected) {
        let prefix = expected.trim_end_matches('…');
        assert!(
            printed.starts_with(prefix),
            "printed {printed}\nREADME  {expected}"
        );
    }
}

/// `--otlp`: the engine's spans reach an OTLP/HTTP collector (a stand-in on loopback).
#[cfg(feature = "otel")]
#[test]
fn spans_are_exported_over_otlp() {
    let collector = receiver_at("/v1/traces", 0);
    let endpoint = collector.addr.trim_end_matches("/v1/traces").to_string();
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_planck"))
        .arg("serve")
        .arg("--db")
        .arg(dir.path().join("p.db"))
        .arg("--surfaces")
        .arg(surfaces())
        .arg("--users")
        .arg(&users)
        .args(["--listen", "127.0.0.1:0", "--otlp"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let base = first
        .trim()
        .strip_prefix("planck serve: listening on ")
        .unwrap()
        .to_string();
    thread::spawn(move || for _ in stdout.lines() {});
    let mut server = Server {
        child,
        base,
        logs: Arc::default(),
        dir,
    };
    let ava = Client::login(&server, "ava");
    assert_eq!(submit(&ava, "otel-1").status, 200);
    // Stopping flushes the exporter.
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(30)).success());
    let seen = collector.seen.lock().unwrap();
    assert!(!seen.is_empty(), "no spans reached the collector");
    let (headers, body) = &seen[0];
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/x-protobuf"
    );
    // The protobuf carries the span names as plain bytes.
    let text = String::from_utf8_lossy(body);
    assert!(text.contains("planck.execute"), "{text:?}");
}

/// `--postgres`: the same service over a PostgreSQL store (needs `PLANCK_PG_URL`; without it
/// the test says SKIPPED and passes, like the other PostgreSQL tests).
#[cfg(feature = "postgres")]
#[test]
fn serves_from_postgres() {
    let Ok(url) = std::env::var("PLANCK_PG_URL") else {
        eprintln!(
            "SKIPPED: PLANCK_PG_URL is not set (eval \"$(bash scripts/ci_postgres.sh start)\")"
        );
        return;
    };
    let now = planck::host::Clock::now(&planck::host::SystemClock);
    let schema = format!("serve_{}_{}", std::process::id(), now % 1_000_000_000);
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_planck"))
        .args([
            "serve",
            "--postgres",
            &url,
            "--postgres-schema",
            &schema,
            "--surfaces",
        ])
        .arg(surfaces())
        .arg("--users")
        .arg(&users)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let base = first
        .trim()
        .strip_prefix("planck serve: listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    thread::spawn(move || for _ in stdout.lines() {});
    let server = Server {
        child,
        base,
        logs: Arc::default(),
        dir,
    };
    let ava = Client::login(&server, "ava");
    let kim = Client::login(&server, "kim");
    queued_job(&ava, &kim, "pg-1");
    assert_refused(
        &kim.command("pg-1", "create_job", json!({})),
        409,
        "job_exists",
    );
    let view = kim.get("/api/cases/pg-1").json()["view"].clone();
    assert_eq!(view["job"], "queued");
    let mut server = server;
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}");

    let store = planck::host::PostgresStore::connect_with(
        &url,
        planck::host::PostgresOptions {
            schema,
            ..planck::host::PostgresOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        store.load("pg-1").unwrap().len() as u64,
        view["version"].as_u64().unwrap()
    );
    store.drop_schema().unwrap();
}

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_without_the_feature_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_planck"))
        .args([
            "serve",
            "--postgres",
            "postgres://127.0.0.1/planck",
            "--surfaces",
        ])
        .arg(surfaces())
        .arg("--users")
        .arg(&users)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("built without PostgreSQL support"),
        "{stderr}"
    );
}
