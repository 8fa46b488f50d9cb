//! The JSON API of docs/serve.md.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /api/cases/{case}/commands/{command}` | the receipt (200; a duplicate carries `Idempotent-Replayed: true`), or the rejection with the status of [`status_for`] |
//! | `GET /api/cases/{case}` | `{view, history, verify_failure}` |
//! | `GET /api/cases?surface&job&phase&assignee&owner&limit&after` | `{cases, next}` (admin, observer, system) |
//! | `GET /api/desk` | the session principal's desk, with the moves allowed now |
//! | `GET /api/queue` | the governance queue (admin, observer, system) |
//! | `GET /api/cases/{case}/explain?command=NAME&args=JSON` | every check, in order, and the verdict |
//! | `GET /api/feed?after=POSITION` | the global feed as server-sent events (staff; [`super::feed`]) |
//! | `GET /healthz` | `{"status": "ok", "in_flight": N}`, no session needed |
//!
//! Reads: admins, observers and the system see every case; anyone else sees the cases they
//! submitted, are assigned or own. A case they may not see answers 404, like a missing one.

use crate::serve::json::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::{CaseView, Receipt};
use crate::policy::{Principal, Role};
use crate::serve::AppState;
use crate::serve::auth::{Authenticated, check_api_csrf};
use crate::serve::error::ApiError;
use crate::serve::query::ListFilter;
use crate::serve::status::status_for;
use crate::spine::{Command, CommandBody, CommandKind};

/// The header carrying an idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Whether `principal` reads every case (admin, observer, system).
pub fn is_staff(principal: &Principal) -> bool {
    principal.has(Role::Admin) || principal.has(Role::Observer) || principal.has(Role::System)
}

/// Whether `principal` may see `view`.
pub fn may_see(principal: &Principal, view: &CaseView) -> bool {
    let me = Some(principal.id.as_str());
    is_staff(principal)
        || view.submitted_by == principal.id
        || view.assignee.as_deref() == me
        || view.owner.as_deref() == me
}

/// A command parsed from a route and a body, or why the route names no command.
pub fn parse_command(case: &str, name: &str, body: &[u8]) -> Result<Command, ApiError> {
    let kind = CommandKind::parse(name).ok_or_else(|| unknown_command(name))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Command::from_json(case, name, &Value::Null).map_err(|_| unknown_command(name));
    }
    // A body that is not JSON, or not an object, is the command's problem: the engine answers
    // it in the order of docs/commands.md (a forbidden role first, then `payload_invalid`).
    let malformed = |error: String| {
        Command::new(
            case,
            CommandBody::Malformed {
                kind,
                error,
                raw: Value::Null,
            },
        )
    };
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(err) => return Ok(malformed(format!("the body is not JSON: {err}"))),
    };
    let Value::Object(mut object) = value else {
        return Ok(malformed(
            "the body must be a JSON object: {\"args\": {…}}".to_string(),
        ));
    };
    // Only `args` is read; anything else in the body (a `principal`, say) changes nothing.
    let args = object.remove("args").unwrap_or(Value::Null);
    Command::from_json(case, name, &args).map_err(|_| unknown_command(name))
}

fn unknown_command(name: &str) -> ApiError {
    ApiError::NotFound {
        code: "unknown_command",
        message: format!("`{name}` is not a command"),
        detail: json!({ "commands": CommandKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>() }),
    }
}

/// The idempotency key of a request, if it has one.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get(IDEMPOTENCY_KEY)
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| ApiError::BadRequest("the Idempotency-Key header is not text".into()))
        })
        .transpose()
}

/// The HTTP answer for a receipt.
pub fn receipt_response(receipt: &Receipt) -> Response {
    match receipt {
        Receipt::Rejected(rejection) => {
            (status_for(rejection.code), Json(rejection)).into_response()
        }
        Receipt::Duplicate(_) => {
            let mut response = (StatusCode::OK, Json(receipt)).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Receipt::Applied { .. } => (StatusCode::OK, Json(receipt)).into_response(),
    }
}

/// `POST /api/cases/{case}/commands/{command}`.
pub async fn command(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((case, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    check_api_csrf(&auth, &headers)?;
    let command = parse_command(&case, &name, &body)?;
    let key = idempotency_key(&headers)?;
    let receipt = state
        .backend()
        .execute(auth.session.principal, command, key)
        .await?;
    Ok(receipt_response(&receipt))
}

/// `GET /api/cases/{case}`.
pub async fn get_case(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(case): Path<String>,
) -> Result<Response, ApiError> {
    let detail = state.backend().case(case.clone()).await?;
    match detail {
        Some(detail) if may_see(&auth.session.principal, &detail.view) => {
            Ok(Json(detail).into_response())
        }
        _ => Err(ApiError::case_not_found(&case)),
    }
}

/// `GET /api/cases?…`.
pub async fn list_cases(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    require_staff(&auth.session.principal, "list every case")?;
    let filter = parse_filter(query.as_deref().unwrap_or(""))?;
    Ok(Json(state.backend().list(filter).await?).into_response())
}

/// The filter of a query string.
pub fn parse_filter(query: &str) -> Result<ListFilter, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|err| ApiError::BadRequest(format!("the query does not parse: {err}")))?;
    ListFilter::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|err| ApiError::BadRequest(err.to_string()))
}

/// 403 `forbidden` unless `principal` is staff ([`is_staff`]); `what` says what was refused.
pub fn require_staff(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if is_staff(principal) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "only an admin, an observer or the system may {what}"
        )))
    }
}

/// `GET /api/desk`.
pub async fn desk(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    Ok(Json(state.backend().desk(auth.session.principal).await?).into_response())
}

/// `GET /api/queue`.
pub async fn queue(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    require_staff(&auth.session.principal, "read the governance queue")?;
    Ok(Json(json!({ "queue": state.backend().queue().await? })).into_response())
}

/// The query of `GET /api/cases/{case}/explain`.
#[derive(Deserialize)]
pub struct ExplainQuery {
    /// The command's name.
    pub command: String,
    /// Its arguments, as JSON text.
    pub args: Option<String>,
}

/// `GET /api/cases/{case}/explain?command=NAME&args=JSON`.
pub async fn explain(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(case): Path<String>,
    Query(query): Query<ExplainQuery>,
) -> Result<Response, ApiError> {
    let principal = auth.session.principal;
    let command = explain_command(&case, &query)?;
    if !is_staff(&principal)
        && let Some(view) = state.backend().view(case.clone()).await?
        && !may_see(&principal, &view)
    {
        return Err(ApiError::case_not_found(&case));
    }
    Ok(Json(state.backend().explain(principal, command).await?).into_response())
}

/// The command an explain query names.
pub fn explain_command(case: &str, query: &ExplainQuery) -> Result<Command, ApiError> {
    let args = match query.args.as_deref().map(str::trim) {
        None | Some("") => Value::Null,
        Some(text) => serde_json::from_str(text)
            .map_err(|err| ApiError::BadRequest(format!("`args` is not JSON: {err}")))?,
    };
    Command::from_json(case, &query.command, &args).map_err(|_| unknown_command(&query.command))
}

/// `GET /healthz`: liveness, and how many engine calls are running.
pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ok", "in_flight": state.backend().in_flight() }))
}
