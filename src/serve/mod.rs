//! `planck serve`: planck as an HTTP service (feature `serve`). The reference host.
//!
//! What it owns: sessions ([`session`]) for the logins of a users file ([`users`]), the JSON
//! API and the status of each refusal ([`api`], [`status`]), the operator and admin desks as
//! server-rendered pages ([`pages`]), and the background work of a host: the escalation
//! ticker and the outbox dispatcher ([`background`]), and the global feed as server-sent
//! events ([`feed`]). It never judges a command: every write
//! is [`Engine::execute`](crate::engine::Engine::execute) with the principal of the request's
//! session, never one named in a body.
//!
//! How blocking work is kept off the async runtime: the engine (store calls, folds) and
//! argon2 run on tokio's blocking pool, through [`backend::Backend`], the one layer handlers
//! call. Its [`TaskTracker`] lets shutdown wait for every engine call that started.
//!
//! Shutdown ([`Server::run`] with a future such as [`shutdown_signal`], SIGTERM or SIGINT):
//! stop accepting connections; let every request in flight finish (for at most the request
//! timeout plus [`SHUTDOWN_SLACK`], then close what is left); wait for every engine call
//! that started (one whose client went away included); then stop the ticker and the
//! dispatcher after the round they are in. Feed streams end as soon as shutdown begins, so an
//! open one never holds it up. A command therefore either committed (and its
//! client got the answer, unless it left) or never started. Signals left pending are delivered
//! by the next run.
//!
//! Signals: the engine answering requests never publishes inline (a webhook's retries would
//! hold the request). It leaves new signals pending in the outbox and wakes the dispatcher,
//! which delivers them with the configured transport. Without a transport signals stay
//! pending in the outbox, for a later run that has one.
//!
//! See `docs/serve.md` for running it, the users file, sessions and CSRF, the routes, the
//! status mapping, webhooks and tracing.

pub mod api;
pub mod auth;
pub mod backend;
pub mod background;
pub mod error;
pub mod feed;
pub mod json;
pub mod pages;
pub mod query;
pub mod session;
pub mod status;
pub mod telemetry;
pub mod users;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::engine::Engine;
use crate::host::{Clock, Store, StoredSignal, Transport, TransportError};
use crate::policy::Principal;
use crate::surface::registry::Registry;

use backend::{Backend, ServeEngine};
use error::ApiError;
use session::{SessionOptions, Sessions};
use users::Users;

/// The default listening address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The largest request body accepted (1 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// After a shutdown signal, connections get the request timeout plus this to finish before
/// they are closed (commands they started still finish).
pub const SHUTDOWN_SLACK: Duration = Duration::from_secs(5);

/// How many password checks may run at once (each takes about 19 MiB and tens of ms).
pub const LOGIN_PERMITS: usize = 4;

/// Everything [`Server::bind`] needs.
pub struct Config {
    /// Where to listen (port 0 picks a free one; see [`Server::local_addr`]).
    pub listen: SocketAddr,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The surfaces.
    pub registry: Arc<Registry>,
    /// Who may log in.
    pub users: Users,
    /// Where signals go (a [`crate::host::WebhookTransport`]); `None` leaves them pending.
    pub transport: Option<Arc<dyn Transport>>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Session lifetimes and the cookie's `Secure` flag.
    pub sessions: SessionOptions,
    /// How often the escalation ticker runs.
    pub tick_every: Duration,
    /// How often the dispatcher retries pending signals (it also wakes on every new one).
    pub dispatch_every: Duration,
    /// The longest a request may take before it answers 408 (its command, if started, still
    /// finishes: retry with the same `Idempotency-Key` to learn the outcome).
    pub request_timeout: Duration,
    /// Run commands on the async runtime and await their commits
    /// ([`Engine::execute_async`]) instead of running each on a blocking thread that waits for
    /// its commit. Only for a store whose reads are local and which commits on a thread of its
    /// own ([`crate::host::GroupCommitSqliteStore`], which `planck serve --db` opens); `false`
    /// for any other (PostgreSQL: its reads are network round trips).
    pub await_commits: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("users", &self.users)
            .field("sessions", &self.sessions)
            .field("tick_every", &self.tick_every)
            .field("dispatch_every", &self.dispatch_every)
            .field("request_timeout", &self.request_timeout)
            .field("await_commits", &self.await_commits)
            .finish_non_exhaustive()
    }
}

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound or served.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The store's index needed a rebuild and it failed.
    #[error("cannot rebuild the index: {0}")]
    Index(String),
    /// The page templates do not compile (a bug).
    #[error("the page templates do not load: {0}")]
    Templates(String),
    /// Telemetry could not be set up.
    #[error("cannot set up tracing: {0}")]
    Telemetry(String),
}

/// The state every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    backend: Backend,
    sessions: Sessions,
    users: Users,
    login_permits: Semaphore,
    feed_streams: Arc<Semaphore>,
    templates: minijinja::Environment<'static>,
    stopping: CancellationToken,
}

impl AppState {
    /// The layer to the engine.
    pub fn backend(&self) -> &Backend {
        &self.0.backend
    }

    /// The session table.
    pub fn sessions(&self) -> &Sessions {
        &self.0.sessions
    }

    /// The logins of the users file.
    pub fn users(&self) -> &Users {
        &self.0.users
    }

    /// The permits of open feed streams ([`feed::MAX_STREAMS`]).
    pub fn feed_streams(&self) -> Arc<Semaphore> {
        Arc::clone(&self.0.feed_streams)
    }

    /// Cancelled when shutdown begins: long answers (feed streams) end on it.
    pub fn stopping(&self) -> &CancellationToken {
        &self.0.stopping
    }

    /// The page templates.
    pub fn templates(&self) -> &minijinja::Environment<'static> {
        &self.0.templates
    }

    /// Check a password off the runtime, at most [`LOGIN_PERMITS`] at a time.
    pub async fn check_password(
        &self,
        login: String,
        password: String,
    ) -> Result<Option<Principal>, ApiError> {
        let _permit = self
            .0
            .login_permits
            .acquire()
            .await
            .map_err(|_| ApiError::Unavailable("the service is stopping".into()))?;
        let state = self.clone();
        Ok(self
            .backend()
            .run(move |_| state.0.users.verify(&login, &password))
            .await?)
    }
}

/// The transport of the engine that answers requests: it never publishes inline. It wakes
/// the dispatcher and leaves the signal pending (a publish "failure" is how a transport says
/// so), so a request never waits for a webhook.
struct Handoff(Arc<Notify>);

impl Transport for Handoff {
    fn publish(&self, _signal: &StoredSignal) -> Result<(), TransportError> {
        self.0.notify_one();
        Err(TransportError::new("left pending for the dispatcher"))
    }
}

/// A bound service, ready to run.
pub struct Server {
    listener: TcpListener,
    router: Router,
    tasks: TaskTracker,
    grace: Duration,
    background: background::Background,
    stopping: CancellationToken,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Bind the address and build the service. Starts nothing yet.
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: config.listen.to_string(),
                    source,
                })?;
        let wake = Arc::new(Notify::new());
        let engine: Arc<ServeEngine> = Arc::new(Engine::new(
            Arc::clone(&config.registry),
            Arc::clone(&config.store),
            Arc::new(Handoff(Arc::clone(&wake))),
            Arc::clone(&config.clock),
        ));
        // A database from an older planck gets its index before the first query
        // (docs/queries.md): the engine has the surfaces to compute every row.
        let indexing = Arc::clone(&engine);
        tokio::task::spawn_blocking(move || indexing.ensure_index())
            .await
            .map_err(|e| ServeError::Index(e.to_string()))?
            .map_err(|e| ServeError::Index(e.to_string()))?;
        let tasks = TaskTracker::new();
        let backend = Backend::new(engine, tasks.clone()).awaiting_commits(config.await_commits);
        let background = background::Background {
            registry: Arc::clone(&config.registry),
            store: Arc::clone(&config.store),
            transport: config.transport.clone(),
            clock: Arc::clone(&config.clock),
            wake,
            tick_every: config.tick_every,
            dispatch_every: config.dispatch_every,
        };
        let stopping = CancellationToken::new();
        let state = AppState(Arc::new(Inner {
            backend,
            sessions: Sessions::new(config.sessions, Arc::clone(&config.clock)),
            users: config.users,
            login_permits: Semaphore::new(LOGIN_PERMITS),
            feed_streams: Arc::new(Semaphore::new(feed::MAX_STREAMS)),
            templates: pages::templates().map_err(|e| ServeError::Templates(e.to_string()))?,
            stopping: stopping.clone(),
        }));
        let router = router(state, config.request_timeout);
        Ok(Server {
            listener,
            router,
            tasks,
            grace: config.request_timeout + SHUTDOWN_SLACK,
            background,
            stopping,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener
            .local_addr()
            .map_err(|source| ServeError::Listen {
                addr: String::from("the bound socket"),
                source,
            })
    }

    /// Serve until `shutdown` completes, then stop gracefully (module docs).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let addr = self.local_addr()?;
        let stop_background = CancellationToken::new();
        let workers = self.background.spawn(stop_background.clone());
        tracing::info!(%addr, "planck serve listening");
        let stopping = self.stopping;
        {
            let stopping = stopping.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopping.cancel();
            });
        }
        // TCP_NODELAY on every connection: an answer goes out at once instead of waiting for
        // the client's acknowledgement of the previous segment (Nagle's algorithm), which
        // otherwise costs a request/response exchange milliseconds.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "could not set TCP_NODELAY");
            }
        });
        let serve = axum::serve(listener, self.router)
            .with_graceful_shutdown(stopping.clone().cancelled_owned())
            .into_future();
        // Connections get `grace` to finish once shutdown begins; past it they are closed.
        // Engine calls they started are still waited for below.
        let grace = self.grace;
        let served = tokio::select! {
            served = serve => served,
            () = async {
                stopping.cancelled().await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "connections still open after the grace period; closing them");
                Ok(())
            }
        };
        tracing::info!("no longer accepting; waiting for engine calls in flight");
        self.tasks.close();
        self.tasks.wait().await;
        stop_background.cancel();
        workers.wait().await;
        tracing::info!("stopped");
        served.map_err(|source| ServeError::Listen {
            addr: addr.to_string(),
            source,
        })
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

/// Every route, with request tracing, a body limit, a timeout and security headers.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let api = Router::new()
        .route("/api/cases", get(api::list_cases))
        .route("/api/cases/{case}", get(api::get_case))
        .route("/api/cases/{case}/commands/{command}", post(api::command))
        .route("/api/cases/{case}/explain", get(api::explain))
        .route("/api/desk", get(api::desk))
        .route("/api/queue", get(api::queue))
        .route("/api/feed", get(feed::feed))
        .route("/healthz", get(api::healthz));
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/desk", get(pages::desk))
        .route("/desk/cases/{case}/{command}", post(pages::desk_form))
        .route("/admin", get(pages::admin))
        .route("/admin/cases/{case}", get(pages::admin_case))
        .route("/admin/cases/{case}/{command}", post(pages::admin_form))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ));
    Router::new()
        .merge(api)
        .merge(pages)
        .fallback(|| async {
            ApiError::NotFound {
                code: "not_found",
                message: "no such route".to_string(),
                detail: serde_json::Value::Null,
            }
        })
        .with_state(state)
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static(auth::CSRF_HEADER),
        ]))
}
