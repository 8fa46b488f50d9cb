//! Helpers shared by the reliability, race, crash and PostgreSQL tests.
#![allow(dead_code, reason = "some serve only PostgreSQL tests or none yet")]

/// Print `line` so that it shows in a plain `cargo test` run: straight to the process's
/// stderr, past the test harness's output capture (which only catches `print!` and friends).
pub fn loud(line: &str) {
    use std::io::Write;
    let bar = "!".repeat(line.chars().count().min(100));
    let _ = writeln!(std::io::stderr(), "\n{bar}\n{line}\n{bar}");
}

/// The PostgreSQL URL from `PLANCK_PG_URL`, or `None` after printing a loud SKIPPED line
/// (the tests then return without failing: no server is configured here).
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("PLANCK_PG_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            loud(&format!(
                "SKIPPED: PLANCK_PG_URL not set — PostgreSQL tests did not run ({test}); start a server with `eval \"$(bash scripts/ci_postgres.sh start)\"`"
            ));
            None
        }
    }
}

/// A schema name no other test (in this process or another) uses.
pub fn unique_schema(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    use std::hash::{BuildHasher, Hasher};
    // A random salt (the std hasher is randomly keyed), so reused pids never collide.
    let salt = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % 1_000_000;
    format!(
        "planck_t_{tag}_{}_{}_{salt}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub mod races;

#[cfg(feature = "postgres")]
pub mod pg {
    use planck::host::{PostgresOptions, PostgresStore};

    /// A store on a schema of its own, dropped (with everything in it) when the guard goes.
    pub struct Scratch {
        pub url: String,
        pub schema: String,
        pub store: PostgresStore,
    }

    impl Scratch {
        pub fn new(url: &str, tag: &str) -> Scratch {
            let schema = super::unique_schema(tag);
            let store = open(url, &schema);
            Scratch {
                url: url.to_string(),
                schema,
                store,
            }
        }

        /// Another handle (another pool of connections) on the same schema.
        pub fn reopen(&self) -> PostgresStore {
            open(&self.url, &self.schema)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if let Err(e) = self.store.drop_schema() {
                eprintln!("could not drop schema {}: {e}", self.schema);
            }
        }
    }

    pub fn open(url: &str, schema: &str) -> PostgresStore {
        PostgresStore::connect_with(
            url,
            PostgresOptions {
                schema: schema.to_string(),
                ..PostgresOptions::default()
            },
        )
        .unwrap_or_else(|e| {
            panic!(
                "connecting to {url} (schema {schema}): {e} ({:?})",
                std::error::Error::source(&e)
            )
        })
    }
}

use std::path::{Path, PathBuf};
use std::sync::Arc;

use planck::engine::{Engine, Receipt};
use planck::host::{ManualClock, MemoryTransport, Store};
use planck::policy::{Principal, Role};
use planck::spine::Command;
use planck::surface::registry::Registry;
use serde_json::{Value, json};

/// A surface where any operator may claim (`ownership = "open"`) and completion needs no
/// evidence: the shape the claim races need.
pub const RACE_OPEN: &str = r#"
[surface]
slug = "race-open"
name = "Race Open"
spec = "surface-runtime-spec-v0.01"
version = 1

[execution]
ownership = "open"

[[phase]]
id = "queued"
label = "Queued"
[[phase]]
id = "claimed"
label = "Claimed"
[[phase]]
id = "working"
label = "Working"
[[phase]]
id = "complete"
label = "Complete"

[intake]
required = ["contact"]

[[escalation]]
phase = "working"
after = "1h"
signal = "working_long"
"#;

/// The start of every test clock: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

/// The shipped surfaces plus [`RACE_OPEN`].
pub fn registry() -> Arc<Registry> {
    let mut registry = Registry::new();
    let report = registry.load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces"));
    assert!(report.is_ok(), "the shipped surfaces do not load");
    let (def, diags) = planck::surface::toml::parse(RACE_OPEN);
    assert!(diags.is_empty(), "{diags:#?}");
    let surface = planck::surface::compile(&def)
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .surface;
    registry.register(surface).unwrap();
    Arc::new(registry)
}

pub fn client() -> Principal {
    Principal::new("client-ava", [Role::Client])
}
pub fn admin() -> Principal {
    Principal::new("admin-kim", [Role::Admin])
}
pub fn system() -> Principal {
    Principal::new("system-pay", [Role::System])
}
pub fn operator(i: usize) -> Principal {
    Principal::new(format!("op-{i}"), [Role::Operator])
}

/// A command from its name and JSON arguments.
pub fn cmd(case: &str, name: &str, args: Value) -> Command {
    Command::from_json(case, name, &args).unwrap_or_else(|e| panic!("{e}"))
}

/// Where a test keeps its cases: a SQLite file or a PostgreSQL schema. Each `open` is a new
/// handle (a new connection, as another process would have).
#[derive(Clone, Debug)]
pub enum StoreSpec {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database and schema.
    Postgres { url: String, schema: String },
}

/// Append conflicts seen by every store handle this process opened through [`StoreSpec`]:
/// proof that the races really raced (the losers hit the expected-version check).
pub static CONFLICTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A store that counts the conflicts its appends run into.
struct Counting(Arc<dyn Store>);

impl Store for Counting {
    fn load(&self, case: &str) -> Result<Vec<planck::host::StoredEvent>, planck::host::StoreError> {
        self.0.load(case)
    }
    fn load_after(
        &self,
        case: &str,
        after: u64,
    ) -> Result<Vec<planck::host::StoredEvent>, planck::host::StoreError> {
        self.0.load_after(case, after)
    }
    fn append(
        &self,
        append: &planck::host::Append<'_>,
    ) -> Result<planck::host::Committed, planck::host::StoreError> {
        let result = self.0.append(append);
        if result.as_ref().is_err_and(|e| e.is_conflict()) {
            CONFLICTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        result
    }
    forward_except_load_and_append!(0);
}

impl StoreSpec {
    /// A new handle, counting its conflicts in [`CONFLICTS`].
    pub fn open(&self) -> Arc<dyn Store> {
        Arc::new(Counting(self.open_raw()))
    }

    /// A new handle.
    pub fn open_raw(&self) -> Arc<dyn Store> {
        match self {
            #[cfg(feature = "sqlite")]
            StoreSpec::Sqlite(path) => {
                Arc::new(planck::host::SqliteStore::open(path).unwrap_or_else(|e| panic!("{e}")))
            }
            #[cfg(not(feature = "sqlite"))]
            StoreSpec::Sqlite(_) => panic!("built without the `sqlite` feature"),
            #[cfg(feature = "postgres")]
            StoreSpec::Postgres { url, schema } => Arc::new(pg::open(url, schema)),
            #[cfg(not(feature = "postgres"))]
            StoreSpec::Postgres { .. } => panic!("built without the `postgres` feature"),
        }
    }

    /// As one string, to hand to a child process.
    pub fn encode(&self) -> String {
        match self {
            StoreSpec::Sqlite(path) => format!("sqlite\t{}", path.display()),
            StoreSpec::Postgres { url, schema } => format!("postgres\t{url}\t{schema}"),
        }
    }

    pub fn decode(text: &str) -> StoreSpec {
        let parts: Vec<&str> = text.split('\t').collect();
        match parts.as_slice() {
            ["sqlite", path] => StoreSpec::Sqlite(PathBuf::from(path)),
            ["postgres", url, schema] => StoreSpec::Postgres {
                url: url.to_string(),
                schema: schema.to_string(),
            },
            _ => panic!("not a store spec: {text}"),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            StoreSpec::Sqlite(_) => "SQLite file",
            StoreSpec::Postgres { .. } => "PostgreSQL",
        }
    }
}

/// One engine instance on its own store handle, with a transport that keeps what it delivered.
pub type TestEngine = Engine<Arc<dyn Store>, MemoryTransport, ManualClock>;

pub fn engine_on(spec: &StoreSpec, registry: &Arc<Registry>) -> TestEngine {
    Engine::new(
        registry.clone(),
        spec.open(),
        MemoryTransport::new(),
        ManualClock::new(T0),
    )
}

/// Run a command that must apply.
pub fn must_apply(engine: &TestEngine, who: &Principal, command: Command) {
    let receipt = engine
        .execute(who, &command, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        receipt.is_applied(),
        "{} {:?} was not applied: {receipt:?}",
        who.id,
        command.body
    );
}

/// Submit, approve, assign `op-0` and create the Job of `case` on `slug`.
pub fn prepare_job(engine: &TestEngine, case: &str, slug: &str) {
    let intake = match slug {
        "event-coordination" => {
            json!({"contact": "a@x", "event_details": "40 guests", "preferred_timing": "Sat"})
        }
        _ => json!({"contact": "a@x"}),
    };
    must_apply(
        engine,
        &client(),
        cmd(
            case,
            "submit_request",
            json!({"surface": slug, "intake": intake}),
        ),
    );
    must_apply(engine, &admin(), cmd(case, "approve_task", Value::Null));
    must_apply(
        engine,
        &admin(),
        cmd(case, "assign_task", json!({"operator": "op-0"})),
    );
    must_apply(engine, &admin(), cmd(case, "create_job", Value::Null));
}

/// [`prepare_job`], then `owner` claims and advances to the phase before the last.
pub fn prepare_completion(engine: &TestEngine, case: &str, owner: &Principal) {
    prepare_job(engine, case, "race-open");
    must_apply(engine, owner, cmd(case, "claim_job", Value::Null));
    must_apply(
        engine,
        owner,
        cmd(case, "advance", json!({"to": "working"})),
    );
}

/// A receipt as one line for a child process to print: outcome and code.
pub fn receipt_line(receipt: &Receipt) -> String {
    json!({
        "outcome": receipt.outcome(),
        "code": receipt.code().map(|c| c.as_str()),
        "events": receipt.events().len(),
    })
    .to_string()
}
