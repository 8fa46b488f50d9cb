//! `planck serve`: run planck as an HTTP service (docs/serve.md, docs/serve.md).
//!
//! Parses the flags, opens the store (SQLite by default, PostgreSQL with `--postgres`), loads
//! the surfaces and the users file, installs the tracing subscriber, then hands everything to
//! [`planck::serve::Server`] on a tokio runtime and waits for SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use planck::host::{Clock, Store, SystemClock, Transport, WebhookOptions, WebhookTransport};
use planck::serve::session::SessionOptions;
use planck::serve::telemetry::{self, LogFormat};
use planck::serve::users::Users;
use planck::serve::{Config, DEFAULT_LISTEN, Server, shutdown_signal};
use planck::surface::registry::Registry;

use crate::cli::{CliError, EXIT_OK, EXIT_UNREADABLE, print_diagnostics_to_stderr};

/// Examples shown by `planck serve --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck serve --db planck.db --surfaces surfaces --users examples/serve/users.toml
  planck serve --db planck.db --surfaces surfaces --users users.toml --listen 127.0.0.1:9000
  planck serve --postgres postgres://planck@127.0.0.1/planck --surfaces surfaces --users users.toml
  planck serve --db planck.db --surfaces surfaces --users users.toml \\
      --webhook https://hooks.example.com/planck --webhook-secret-file secret.txt

It listens on loopback unless told otherwise; put a TLS-terminating proxy in front of any other
address and pass --secure-cookies. SIGTERM or Ctrl-C stops it gracefully: no new connections,
commands in flight finish. Logs go to stdout (RUST_LOG filters them). See docs/serve.md.

Exit codes: 0 stopped cleanly, 2 a file, the store or the address could not be opened.";

/// Arguments of `planck serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database (created if missing)
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "postgres",
        conflicts_with = "postgres"
    )]
    pub db: Option<PathBuf>,
    /// A PostgreSQL URL instead of --db (needs a planck built with `--features postgres`)
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// The PostgreSQL schema holding planck's tables (with --postgres)
    #[arg(
        long,
        value_name = "NAME",
        default_value = "public",
        requires = "postgres"
    )]
    pub postgres_schema: String,
    /// Surface files or directories of them
    #[arg(long = "surfaces", value_name = "DIR", required = true)]
    pub surfaces: Vec<PathBuf>,
    /// The users file (`planck users add` writes it)
    #[arg(long, value_name = "FILE")]
    pub users: PathBuf,
    /// Where to listen
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// POST every signal to this URL (repeatable); signed with the --webhook-secret-file
    #[arg(long = "webhook", value_name = "URL", requires = "webhook_secret_file")]
    pub webhooks: Vec<String>,
    /// The file holding the webhook signing secret (its bytes, surrounding whitespace trimmed)
    #[arg(long, value_name = "FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Attempts per webhook URL in one delivery round (backoff doubles from 250ms)
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub webhook_attempts: u32,
    /// How often the escalation ticker runs (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub tick_every: Duration,
    /// How often pending signals are retried (new ones go at once)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub dispatch_every: Duration,
    /// A session unused this long ends
    #[arg(long, value_name = "DURATION", default_value = "12h", value_parser = parse_duration)]
    pub session_idle: Duration,
    /// A request taking longer answers 408 (its command still finishes)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Mark the session cookie Secure (HTTPS only): use it behind a TLS proxy
    #[arg(long)]
    pub secure_cookies: bool,
    /// How log lines look on stdout
    #[arg(long, value_enum, default_value_t = LogFormatArg::Compact)]
    pub log_format: LogFormatArg,
    /// Also export spans over OTLP (OTEL_EXPORTER_OTLP_* variables; needs `--features otel`)
    #[arg(long)]
    pub otlp: bool,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// One readable line per event
    Compact,
    /// One JSON object per line
    Json,
}

/// `30s`, `5m`, `12h`, `500ms`, `1d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s, 5m, 12h"))?;
    let ms = match unit {
        "ms" => n,
        "s" | "" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        "d" => n.saturating_mul(86_400_000),
        _ => return Err(format!("`{text}`: the unit must be ms, s, m, h or d")),
    };
    if ms == 0 {
        return Err("a duration must be more than zero".to_string());
    }
    Ok(Duration::from_millis(ms))
}

/// Run `planck serve`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let users = match Users::load(&args.users) {
        Ok(users) => users,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    if users.is_empty() {
        eprintln!(
            "warning: `{}` lists no users; add one with `planck users add`",
            args.users.display()
        );
    }
    let mut registry = Registry::new();
    let report = registry.load_paths(&args.surfaces);
    let mut failed = false;
    for file in report.failures() {
        failed = true;
        match &file.source {
            Some(source) => print_diagnostics_to_stderr(source, &file.diagnostics),
            None => eprintln!("error: cannot load `{}`", file.path.display()),
        }
    }
    if failed {
        eprintln!("error: a surface did not load; fix it or leave it out of --surfaces");
        return Ok(EXIT_UNREADABLE);
    }
    if registry.is_empty() {
        eprintln!("error: no surface found in the --surfaces paths");
        return Ok(EXIT_UNREADABLE);
    }
    let store = match open_store(args) {
        Ok(store) => store,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let transport = match webhook(args, &clock) {
        Ok(transport) => transport,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    let format = match args.log_format {
        LogFormatArg::Compact => LogFormat::Compact,
        LogFormatArg::Json => LogFormat::Json,
    };
    // Before the runtime: the OTLP exporter starts threads of its own.
    let _telemetry = match telemetry::init(format, args.otlp) {
        Ok(t) => t,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    if !args.listen.ip().is_loopback() && !args.secure_cookies {
        eprintln!(
            "warning: listening on {} without --secure-cookies: session cookies would cross the network in clear; put TLS in front and pass --secure-cookies",
            args.listen
        );
    }
    // The store's last reference is dropped after the runtime: a PostgreSQL connection owns a
    // runtime of its own, which may not be dropped inside an async context.
    let keep_store = Arc::clone(&store);
    // The SQLite database's reads are local and its commits have a writer thread of their
    // own: commands await their commits on the runtime. PostgreSQL's reads go over the network,
    // so its commands run on blocking threads.
    let await_commits = args.postgres.is_none();
    let config = Config {
        listen: args.listen,
        store,
        registry: Arc::new(registry),
        users,
        transport,
        clock,
        sessions: SessionOptions {
            idle: args.session_idle,
            secure_cookie: args.secure_cookies,
            ..SessionOptions::default()
        },
        tick_every: args.tick_every,
        dispatch_every: args.dispatch_every,
        request_timeout: args.request_timeout,
        await_commits,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    let result = runtime.block_on(async move {
        let server = Server::bind(config).await?;
        let addr = server.local_addr()?;
        // A stable line for people and scripts (tests read the port from it).
        println!("planck serve: listening on http://{addr}");
        server.run(shutdown_signal()).await
    });
    drop(runtime);
    drop(keep_store);
    match result {
        Ok(()) => Ok(EXIT_OK),
        Err(err) => {
            eprintln!("error: {err}");
            Ok(EXIT_UNREADABLE)
        }
    }
}

fn open_store(args: &Args) -> Result<Arc<dyn Store>, String> {
    if let Some(url) = &args.postgres {
        return open_postgres(url, &args.postgres_schema);
    }
    let Some(db) = &args.db else {
        return Err("give --db PATH or --postgres URL".to_string());
    };
    // Group commit: a service answers many requests at once, and commands of different cases
    // that arrive together share one commit (one fsync) instead of queueing for one each; a
    // lone command commits at once. Same schema, file and behaviour as `SqliteStore`.
    planck::host::GroupCommitSqliteStore::open(db)
        .map(|s| Arc::new(s) as Arc<dyn Store>)
        .map_err(|err| format!("cannot open the database `{}`: {err}", db.display()))
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str, schema: &str) -> Result<Arc<dyn Store>, String> {
    let options = planck::host::PostgresOptions {
        schema: schema.to_string(),
        ..planck::host::PostgresOptions::default()
    };
    planck::host::PostgresStore::connect_with(url, options)
        .map(|s| Arc::new(s) as Arc<dyn Store>)
        .map_err(|err| format!("cannot connect to PostgreSQL: {err}"))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_url: &str, _schema: &str) -> Result<Arc<dyn Store>, String> {
    Err("this planck was built without PostgreSQL support; rebuild it with `cargo build --features postgres`, or use --db PATH".to_string())
}

fn webhook(args: &Args, clock: &Arc<dyn Clock>) -> Result<Option<Arc<dyn Transport>>, String> {
    if args.webhooks.is_empty() {
        return Ok(None);
    }
    let Some(path) = &args.webhook_secret_file else {
        return Err("--webhook needs --webhook-secret-file".to_string());
    };
    let secret = std::fs::read(path)
        .map_err(|err| format!("cannot read the webhook secret `{}`: {err}", path.display()))?;
    let secret = secret.trim_ascii().to_vec();
    let options = WebhookOptions {
        attempts: args.webhook_attempts,
        ..WebhookOptions::default()
    };
    WebhookTransport::new(args.webhooks.clone(), secret, options, Arc::clone(clock))
        .map(|t| Some(Arc::new(t) as Arc<dyn Transport>))
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("s").is_err());
    }
}
