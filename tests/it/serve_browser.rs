//! The desks driven in a real browser: headless Chromium (Debian's `chromium`) through
//! WebDriver (Debian's `chromedriver`, spoken to with `fantoccini`), against the real
//! `planck serve` binary on an ephemeral loopback port, with the demo users file.
//!
//! The scenario of issue 14: an admin logs in, approves the request, assigns it and creates the
//! Job; the operator logs in, claims it, advances it, attaches the evidence each move needs and
//! completes it; the admin then sees the sealed Record on the case page, with its chain verified.
//! Every step is a click or a keystroke in the page, never a request the test builds itself.
//!
//! On the way it takes a screenshot of each desk (the operator desk, the admin desk and a case
//! page). They always go to a temporary directory and are checked to be PNGs; with
//! `PLANCK_SCREENSHOTS=DIR` set they are also copied there (the README's pictures come from
//! `PLANCK_SCREENSHOTS=docs/screenshots cargo test --test it -- serve_browser`).
//!
//! Without a chromedriver (or a Chromium) on the machine the test prints a loud SKIPPED line and
//! passes, like the PostgreSQL tests; `.ci/run` installs both, so CI really runs it. Paths:
//! `PLANCK_CHROMEDRIVER` and `PLANCK_CHROMIUM`, else `/usr/bin/chromedriver` and
//! `/usr/bin/chromium`, else the first on `PATH`. chromedriver runs on a free loopback port and
//! is killed by its PID; Chromium gets a fresh profile and the flags that keep it off the
//! network (it has none to reach here); every wait is bounded.

#![cfg(feature = "serve")]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::serve::{Client, Server};

/// The whole scenario must finish within this (it takes a few seconds).
const SCENARIO_LIMIT: Duration = Duration::from_secs(240);

/// The flags that let Chromium run headless as root on a machine with no network but loopback
/// (/work/.library/env/machines/rust.md): without the background-networking ones it keeps
/// trying to reach Google's hosts.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--window-size=1280,900",
];

fn find_program(env: &str, default: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    if Path::new(default).is_file() {
        return Some(PathBuf::from(default));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free loopback port; killed by its PID when dropped.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Chromedriver {
    fn start(program: &Path) -> Chromedriver {
        let port = free_port();
        let mut child = Command::new(program)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        // Drain its output so it never blocks on a full pipe.
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            std::thread::spawn(move || for _ in BufReader::new(stream).lines() {});
        }
        let driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = agent
                .get(&format!("{}/status", driver.url))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|body| serde_json::from_str::<Value>(&body).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {} within 30 s",
                driver.url
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Where the screenshots go: always a temporary directory; also `PLANCK_SCREENSHOTS` when set.
struct Shots {
    tmp: tempfile::TempDir,
    keep: Option<PathBuf>,
}

impl Shots {
    /// A full-page screenshot of what the browser shows, as `name`.png.
    async fn take(&self, browser: &Browser, name: &str) {
        // Grow the window until the viewport holds the whole page (the window's outer size
        // is what WebDriver sets, so measure the viewport and make up the difference).
        let measure = |script: &'static str| async move {
            browser
                .execute(script, vec![])
                .await
                .ok()
                .and_then(|v| v.as_u64())
                .unwrap_or(900)
        };
        let mut height = measure("return Math.ceil(document.documentElement.scrollHeight);").await;
        for _ in 0..3 {
            browser
                .set_window_size(1280, height.clamp(600, 6000) as u32)
                .await
                .unwrap();
            let page = measure("return Math.ceil(document.documentElement.scrollHeight);").await;
            let viewport = measure("return window.innerHeight;").await;
            if viewport >= page {
                break;
            }
            height += page - viewport;
        }
        let png = browser.screenshot().await.unwrap();
        browser.set_window_size(1280, 900).await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
        let file = format!("{name}.png");
        std::fs::write(self.tmp.path().join(&file), &png).unwrap();
        if let Some(dir) = &self.keep {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(&file), &png).unwrap();
            eprintln!("screenshot: {}", dir.join(&file).display());
        }
    }
}

async fn find(browser: &Browser, xpath: &str) -> fantoccini::elements::Element {
    match browser.find(Locator::XPath(xpath)).await {
        Ok(element) => element,
        Err(err) => {
            let page = browser.source().await.unwrap_or_default();
            panic!("no element {xpath}: {err}\n{page}");
        }
    }
}

/// Click the element at `xpath` (a button that submits a form) and return the flash message
/// of the page the browser lands on.
async fn click(browser: &Browser, xpath: &str) -> String {
    navigate_by(browser, find(browser, xpath).await).await;
    flash(browser).await
}

/// Click `element` and wait (bounded) until the page it was on has been replaced by a new one
/// that has finished loading: a click may return before the navigation it starts.
async fn navigate_by(browser: &Browser, element: fantoccini::elements::Element) {
    let old = browser.find(Locator::Css("html")).await.unwrap();
    element.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let replaced = old.tag_name().await.is_err();
        let loaded = browser
            .execute("return document.readyState;", vec![])
            .await
            .ok()
            .is_some_and(|v| v == "complete");
        if replaced && loaded {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the click did not lead to a new page within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The flash message shown on the current page ("" when none).
async fn flash(browser: &Browser) -> String {
    match browser.find(Locator::Css("[role=status].flash")).await {
        Ok(element) => element.text().await.unwrap(),
        Err(_) => String::new(),
    }
}

/// The button of the form that POSTs `command` for `case` from `desk` (`desk` or `admin`).
fn button(desk: &str, case: &str, command: &str) -> String {
    format!("//form[@action='/{desk}/cases/{case}/{command}']//button")
}

async fn log_in(browser: &Browser, server: &Server, login: &str) {
    browser.goto(&server.url("/login")).await.unwrap();
    find(browser, "//input[@name='login']")
        .await
        .send_keys(login)
        .await
        .unwrap();
    find(browser, "//input[@name='password']")
        .await
        .send_keys(&format!("demo-{login}"))
        .await
        .unwrap();
    navigate_by(
        browser,
        find(browser, "//form[@action='/login']//button").await,
    )
    .await;
}

async fn log_out(browser: &Browser) {
    navigate_by(
        browser,
        find(browser, "//form[@action='/logout']//button").await,
    )
    .await;
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.path(), "/login");
}

/// The text of the page's main part, lowercased (the style sheet upper-cases some labels, and
/// WebDriver reads text as rendered).
async fn body_text(browser: &Browser) -> String {
    find(browser, "//main")
        .await
        .text()
        .await
        .unwrap()
        .to_lowercase()
}

fn assert_applied(flash: &str, command: &str) {
    assert!(
        flash.contains(&format!("`{command}` applied"))
            || flash.contains(&format!("{command} applied")),
        "expected `{command}` applied, the page said: {flash:?}"
    );
}

fn detailing_intake(vehicle: &str) -> Value {
    json!({
        "surface": "auto-detailing",
        "intake": {
            "contact": "ava@example.com",
            "vehicle": vehicle,
            "service_address": "12 Harbour Road",
            "preferred_timing": "Saturday morning",
        },
        "photos": ["front.jpg", "side.jpg"],
    })
}

/// Cases around the one the browser drives, so each desk has something in every section.
fn seed(server: &Server) {
    let ava = Client::login_with(server, "ava", "demo-ava");
    let kim = Client::login_with(server, "kim", "demo-kim");
    let lee = Client::login_with(server, "lee", "demo-lee");
    let ok = |r: crate::serve::Reply| assert_eq!(r.status, 200, "{}", r.body);
    let event = |details: &str| {
        json!({
            "surface": "event-coordination",
            "intake": { "contact": "ava@example.com", "event_details": details, "preferred_timing": "Sat pm" },
        })
    };
    // Done earlier: completed work on lee's desk.
    ok(ava.command("car-100", "submit_request", detailing_intake("grey estate")));
    for (command, args) in [
        ("approve_task", json!({})),
        ("assign_task", json!({ "operator": "op-lee" })),
        ("create_job", json!({})),
    ] {
        ok(kim.command("car-100", command, args));
    }
    for (command, args) in [
        ("claim_job", json!({})),
        ("advance", json!({ "to": "arrived" })),
        (
            "attach_evidence",
            json!({ "category": "arrival", "ref": "s3://photos/car-100/arrival.jpg" }),
        ),
        (
            "attach_evidence",
            json!({ "category": "before", "ref": "s3://photos/car-100/before.jpg" }),
        ),
        ("advance", json!({ "to": "in_progress" })),
        (
            "attach_evidence",
            json!({ "category": "after", "ref": "s3://photos/car-100/after.jpg" }),
        ),
        (
            "complete_service_event",
            json!({ "outcome": "detailed inside and out" }),
        ),
        ("complete_job", json!({})),
    ] {
        ok(lee.command("car-100", command, args));
    }
    // Under way: lee is on site, the before photo is still missing.
    ok(ava.command(
        "car-101",
        "submit_request",
        detailing_intake("red hatchback"),
    ));
    for (command, args) in [
        ("approve_task", json!({})),
        ("assign_task", json!({ "operator": "op-lee" })),
        ("create_job", json!({})),
    ] {
        ok(kim.command("car-101", command, args));
    }
    for (command, args) in [
        ("claim_job", json!({})),
        ("advance", json!({ "to": "arrived" })),
        (
            "attach_evidence",
            json!({ "category": "arrival", "ref": "s3://photos/car-101/arrival.jpg" }),
        ),
    ] {
        ok(lee.command("car-101", command, args));
    }
    // Waiting for lee to claim it.
    ok(ava.command("ev-200", "submit_request", event("Garden party, 40 guests")));
    for (command, args) in [
        ("approve_task", json!({})),
        ("assign_task", json!({ "operator": "op-lee" })),
        ("create_job", json!({})),
    ] {
        ok(kim.command("ev-200", command, args));
    }
    // In the governance queue: one to review, one approved and assigned, not yet a Job.
    ok(ava.command(
        "ev-201",
        "submit_request",
        event("Company dinner, 120 guests"),
    ));
    ok(ava.command(
        "ev-202",
        "submit_request",
        event("Wedding reception, 80 guests"),
    ));
    ok(kim.command("ev-202", "approve_task", json!({})));
    ok(kim.command("ev-202", "assign_task", json!({ "operator": "op-lee" })));
}

async fn scenario(server: &Server, browser: &Browser, shots: &Shots) {
    let (admin, desk) = ("admin", "desk");
    let case = "car-1";

    // The admin: log in, approve, assign, create the Job.
    log_in(browser, server, "kim").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/admin");
    let text = body_text(browser).await;
    assert!(text.contains("governance queue"), "{text}");
    assert!(text.contains(case), "{text}");
    shots.take(browser, "admin-desk").await;

    // Until the Task is approved the desk offers no hand-off.
    assert!(
        browser
            .find(Locator::XPath(&button(admin, case, "create_job")))
            .await
            .is_err()
    );
    assert_applied(
        &click(browser, &button(admin, case, "approve_task")).await,
        "approve_task",
    );
    find(
        browser,
        &format!("//form[@action='/admin/cases/{case}/assign_task']//input[@name='operator']"),
    )
    .await
    .send_keys("op-lee")
    .await
    .unwrap();
    assert_applied(
        &click(browser, &button(admin, case, "assign_task")).await,
        "assign_task",
    );
    assert_applied(
        &click(browser, &button(admin, case, "create_job")).await,
        "create_job",
    );
    log_out(browser).await;

    // The operator: claim, advance, attach evidence, complete.
    log_in(browser, server, "lee").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/desk");
    let text = body_text(browser).await;
    assert!(text.contains("claimable jobs"), "{text}");
    assert_applied(
        &click(browser, &button(desk, case, "claim_job")).await,
        "claim_job",
    );
    let advance = |to: &str| {
        format!(
            "//form[@action='/desk/cases/{case}/advance'][.//input[@name='to' and @value='{to}']]//button"
        )
    };
    assert_applied(&click(browser, &advance("arrived")).await, "advance");
    // Work may not start before the arrival and before photos: the desk says what is missing,
    // and the move is not offered as a button.
    let text = body_text(browser).await;
    assert!(text.contains("missing evidence"), "{text}");
    assert!(
        browser
            .find(Locator::XPath(&advance("in_progress")))
            .await
            .is_err(),
        "a refused move must not be offered"
    );
    for (category, reference) in [
        ("arrival", "s3://photos/car-1/arrival.jpg"),
        ("before", "s3://photos/car-1/before.jpg"),
    ] {
        let form = format!("//form[@action='/desk/cases/{case}/attach_evidence']");
        find(browser, &format!("{form}//select[@name='category']"))
            .await
            .select_by_value(category)
            .await
            .unwrap();
        find(browser, &format!("{form}//input[@name='ref']"))
            .await
            .send_keys(reference)
            .await
            .unwrap();
        assert_applied(
            &click(browser, &format!("{form}//button")).await,
            "attach_evidence",
        );
    }
    assert_applied(&click(browser, &advance("in_progress")).await, "advance");
    shots.take(browser, "operator-desk").await;
    let form = format!("//form[@action='/desk/cases/{case}/attach_evidence']");
    find(browser, &format!("{form}//select[@name='category']"))
        .await
        .select_by_value("after")
        .await
        .unwrap();
    find(browser, &format!("{form}//input[@name='ref']"))
        .await
        .send_keys("s3://photos/car-1/after.jpg")
        .await
        .unwrap();
    assert_applied(
        &click(browser, &format!("{form}//button")).await,
        "attach_evidence",
    );
    assert_applied(
        &click(browser, &button(desk, case, "complete_service_event")).await,
        "complete_service_event",
    );
    assert_applied(
        &click(browser, &button(desk, case, "complete_job")).await,
        "complete_job",
    );
    let text = body_text(browser).await;
    assert!(text.contains("completed work"), "{text}");
    log_out(browser).await;

    // The admin sees the sealed Record on the case page, and the chain verifies.
    log_in(browser, server, "kim").await;
    navigate_by(
        browser,
        find(browser, &format!("//a[@href='/admin/cases/{case}']")).await,
    )
    .await;
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        format!("/admin/cases/{case}")
    );
    let text = body_text(browser).await;
    assert!(text.contains("record"), "{text}");
    let record = find(browser, "//*[@id='record']")
        .await
        .text()
        .await
        .unwrap();
    assert!(record.contains("sealed"), "{record}");
    let verify = find(browser, "//*[@id='verify']")
        .await
        .text()
        .await
        .unwrap();
    assert!(verify.contains("verifies"), "{verify}");
    // "Why can't this move?": an explanation, as the page's form asks for it.
    find(browser, "//form[@id='explain']//select[@name='command']")
        .await
        .select_by_value("cancel_job")
        .await
        .unwrap();
    find(browser, "//form[@id='explain']//input[@name='args']")
        .await
        .send_keys(r#"{"reason": "client called"}"#)
        .await
        .unwrap();
    navigate_by(
        browser,
        find(browser, "//form[@id='explain']//button").await,
    )
    .await;
    let explained = find(browser, "//*[@id='explanation']")
        .await
        .text()
        .await
        .unwrap();
    assert!(explained.contains("Would be refused"), "{explained}");
    assert!(explained.contains("invalid_state"), "{explained}");
    shots.take(browser, "case-page").await;
}

#[test]
fn the_desks_work_in_a_real_browser() {
    let Some(driver) = find_program(
        "PLANCK_CHROMEDRIVER",
        "/usr/bin/chromedriver",
        "chromedriver",
    ) else {
        eprintln!(
            "SKIPPED: no chromedriver (apt-get install chromium chromium-driver, or set PLANCK_CHROMEDRIVER): the browser test did not run"
        );
        return;
    };
    let Some(chromium) = find_program("PLANCK_CHROMIUM", "/usr/bin/chromium", "chromium") else {
        eprintln!(
            "SKIPPED: no chromium (apt-get install chromium chromium-driver, or set PLANCK_CHROMIUM): the browser test did not run"
        );
        return;
    };
    let users = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/serve/users.toml");
    let server = Server::start_in(tempfile::tempdir().unwrap(), &users, &[]);
    seed(&server);
    let ava = Client::login_with(&server, "ava", "demo-ava");
    let r = ava.command("car-1", "submit_request", detailing_intake("blue van"));
    assert_eq!(r.status, 200, "{}", r.body);

    let chromedriver = Chromedriver::start(&driver);
    let profile = tempfile::tempdir().unwrap();
    let shots = Shots {
        tmp: tempfile::tempdir().unwrap(),
        keep: std::env::var_os("PLANCK_SCREENSHOTS").map(PathBuf::from),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = fantoccini::wd::Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        caps.insert(
            "timeouts".into(),
            json!({ "pageLoad": 30_000, "script": 10_000, "implicit": 0 }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let browser = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&chromedriver.url),
        )
        .await
        .expect("no browser session within 60 s")
        .unwrap_or_else(|e| panic!("no browser session: {e}"));
        let outcome =
            tokio::time::timeout(SCENARIO_LIMIT, scenario(&server, &browser, &shots)).await;
        let _ = tokio::time::timeout(Duration::from_secs(20), browser.close()).await;
        outcome.unwrap_or_else(|_| {
            panic!(
                "the browser scenario took more than {SCENARIO_LIMIT:?}: {}",
                server.logs()
            )
        });
    });
    drop(chromedriver);

    // What the pages did is what the store holds: the Record sealed, the chain intact.
    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    let report = planck::engine::verify_store(&store).unwrap();
    assert!(report.ok(), "{report:?}");
    let events = planck::host::Store::load(&store, "car-1").unwrap();
    assert!(
        events.iter().any(|e| e.event_type == "record_sealed"),
        "{:?}",
        events.iter().map(|e| &e.event_type).collect::<Vec<_>>()
    );
    assert!(events.iter().skip(1).all(|e| e.actor.id != "client-ava"));
}
