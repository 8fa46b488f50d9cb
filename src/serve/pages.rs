//! The desks as server-rendered pages (no JavaScript): `/login`, `/desk` (the operator desk),
//! `/admin` (the governance queue and the cases), `/admin/cases/{case}` (one case: its
//! layers, history, verify status and an explain form).
//!
//! Every action is an HTML form that POSTs to `/desk/cases/{case}/{command}` or
//! `/admin/cases/{case}/{command}` with the session's CSRF token; the command runs as the
//! session's principal and the browser is redirected back with a flash message (the
//! rejection's message when refused). Each page render carries a random `nonce`; a form's
//! idempotency key is derived from it and the form's content, so a form sent twice (a double
//! click, a resubmitted POST) runs once and says so.
//!
//! Each page says what it shows. Task (governance), Job (work) and ServiceEvent (execution)
//! states are always labelled as what they are.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{Environment, context};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::audit::sha256_hex;
use crate::engine::Receipt;
use crate::policy::Principal;
use crate::serve::AppState;
use crate::serve::api::{ExplainQuery, explain_command, is_staff, parse_filter};
use crate::serve::auth::{Authenticated, PageUser, authenticate, check_form_csrf};
use crate::serve::error::ApiError;
use crate::serve::session::{Flash, random_token};
use crate::spine::{Command, Rejection};

/// The page templates, compiled once.
pub fn templates() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.add_template("base.html", include_str!("templates/base.html"))?;
    env.add_template("login.html", include_str!("templates/login.html"))?;
    env.add_template("error.html", include_str!("templates/error.html"))?;
    env.add_template("desk.html", include_str!("templates/desk.html"))?;
    env.add_template("admin.html", include_str!("templates/admin.html"))?;
    env.add_template("case.html", include_str!("templates/case.html"))?;
    Ok(env)
}

/// Who is looking, as the header shows it.
#[derive(Serialize)]
struct UserCtx {
    login: String,
    id: String,
    roles: Vec<&'static str>,
    staff: bool,
}

fn user_ctx(auth: &Authenticated) -> UserCtx {
    let principal: &Principal = &auth.session.principal;
    UserCtx {
        login: auth.session.login.clone(),
        id: principal.id.clone(),
        roles: principal.roles.iter().map(|r| r.as_str()).collect(),
        staff: is_staff(principal),
    }
}

/// A serializable value for a template.
fn ser<T: Serialize>(value: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

fn render(state: &AppState, name: &str, ctx: minijinja::Value) -> Response {
    match state
        .templates()
        .get_template(name)
        .and_then(|t| t.render(ctx))
    {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            tracing::error!(template = name, error = %err, "page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>500</h1><p>The page did not render.</p>".to_string()),
            )
                .into_response()
        }
    }
}

fn error_page(state: &AppState, auth: Option<&Authenticated>, err: &ApiError) -> Response {
    let mut response = render(
        state,
        "error.html",
        context! {
            status => err.status().as_u16(),
            message => err.to_string(),
            user => ser(&auth.map(user_ctx)),
            csrf => auth.map(|a| a.session.csrf.clone()),
        },
    );
    *response.status_mut() = err.status();
    response
}

fn nonce() -> String {
    random_token().unwrap_or_default()
}

/// `GET /`: the desk that fits the session (admin desk for staff), or the login form.
pub async fn home(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Redirect {
    match authenticate(&headers, &state) {
        Some(auth) if is_staff(&auth.session.principal) => Redirect::to("/admin"),
        Some(_) => Redirect::to("/desk"),
        None => Redirect::to("/login"),
    }
}

/// `GET /login`.
pub async fn login_form(State(state): State<AppState>) -> Response {
    login_page(&state, None)
}

/// The login page, with an error when a login was refused.
pub fn login_page(state: &AppState, error: Option<String>) -> Response {
    render(state, "login.html", context! { error => error })
}

/// `GET /desk`: the session principal's desk.
pub async fn desk(State(state): State<AppState>, PageUser(auth): PageUser) -> Response {
    let desk = match state.backend().desk(auth.session.principal.clone()).await {
        Ok(desk) => desk,
        Err(err) => return error_page(&state, Some(&auth), &err.into()),
    };
    render(
        &state,
        "desk.html",
        context! {
            user => ser(&user_ctx(&auth)),
            csrf => auth.session.csrf.clone(),
            nonce => nonce(),
            flash => ser(&state.sessions().take_flash(&auth.session.key)),
            desk => ser(&desk),
        },
    )
}

/// `GET /admin`: the governance queue and the cases (filters as `GET /api/cases`).
pub async fn admin(
    State(state): State<AppState>,
    PageUser(auth): PageUser,
    RawQuery(query): RawQuery,
) -> Response {
    if !is_staff(&auth.session.principal) {
        let err = ApiError::Forbidden("the admin desk is for admins and observers".into());
        return error_page(&state, Some(&auth), &err);
    }
    let queue = match state.backend().queue().await {
        Ok(queue) => queue,
        Err(err) => return error_page(&state, Some(&auth), &err.into()),
    };
    // Empty fields of the filter form mean "any".
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let filtered = pairs.iter().any(|(k, _)| k != "after");
    let query_text = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    let (cases, next, list_error) = match parse_filter(&query_text) {
        Ok(filter) => match state.backend().list(filter).await {
            Ok(page) => (page.cases, page.next, None),
            Err(err) => return error_page(&state, Some(&auth), &err.into()),
        },
        Err(err) => (Vec::new(), None, Some(err.to_string())),
    };
    let next_query = next.as_ref().map(|cursor| {
        let mut pairs: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "after")
            .cloned()
            .collect();
        pairs.push(("after".to_string(), cursor.clone()));
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    });
    let query_map: std::collections::BTreeMap<String, String> = pairs.into_iter().collect();
    render(
        &state,
        "admin.html",
        context! {
            user => ser(&user_ctx(&auth)),
            csrf => auth.session.csrf.clone(),
            nonce => nonce(),
            flash => ser(&state.sessions().take_flash(&auth.session.key)),
            queue => ser(&queue),
            cases => ser(&cases),
            next => next,
            next_query => next_query,
            filtered => filtered,
            query => query_map,
            list_error => list_error,
        },
    )
}

/// `GET /admin/cases/{case}[?command=NAME&args=JSON]`: one case, and an explanation when asked.
pub async fn admin_case(
    State(state): State<AppState>,
    PageUser(auth): PageUser,
    Path(case): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if !is_staff(&auth.session.principal) {
        let err = ApiError::Forbidden("case pages are for admins and observers".into());
        return error_page(&state, Some(&auth), &err);
    }
    let detail = match state.backend().case(case.clone()).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return error_page(&state, Some(&auth), &ApiError::case_not_found(&case)),
        Err(err) => return error_page(&state, Some(&auth), &err.into()),
    };
    let explain: Option<ExplainQuery> = query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str(q).ok());
    let (mut explanation, mut explain_error) = (None, None);
    if let Some(q) = &explain {
        match explain_command(&case, q) {
            Ok(command) => {
                match state
                    .backend()
                    .explain(auth.session.principal.clone(), command)
                    .await
                {
                    Ok(e) => explanation = Some(e),
                    Err(err) => return error_page(&state, Some(&auth), &err.into()),
                }
            }
            Err(err) => explain_error = Some(err.to_string()),
        }
    }
    render(
        &state,
        "case.html",
        context! {
            user => ser(&user_ctx(&auth)),
            csrf => auth.session.csrf.clone(),
            nonce => nonce(),
            flash => ser(&state.sessions().take_flash(&auth.session.key)),
            v => ser(&detail.view),
            history => ser(&detail.history),
            verify_failure => detail.verify_failure,
            explanation => ser(&explanation),
            explain_error => explain_error,
            explain_command => explain.as_ref().map(|q| q.command.clone()),
            explain_args => explain.as_ref().and_then(|q| q.args.clone()),
        },
    )
}

/// `POST /desk/cases/{case}/{command}`: a form from the operator desk.
pub async fn desk_form(
    State(state): State<AppState>,
    PageUser(auth): PageUser,
    Path((case, command)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    run_form(&state, &auth, &case, &command, &body, |_| {
        "/desk".to_string()
    })
    .await
}

/// `POST /admin/cases/{case}/{command}`: a form from the admin desk or a case page.
pub async fn admin_form(
    State(state): State<AppState>,
    PageUser(auth): PageUser,
    Path((case, command)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let case_page = format!(
        "/admin/cases/{}",
        utf8_percent_encode(&case, NON_ALPHANUMERIC)
    );
    run_form(
        &state,
        &auth,
        &case,
        &command,
        &body,
        move |back| match back {
            Some("case") => case_page,
            _ => "/admin".to_string(),
        },
    )
    .await
}

/// Check the form's CSRF token, run its command as the session's principal, leave a flash
/// message and redirect to where the form came from.
async fn run_form(
    state: &AppState,
    auth: &Authenticated,
    case: &str,
    name: &str,
    body: &[u8],
    back: impl FnOnce(Option<&str>) -> String,
) -> Response {
    let fields: Vec<(String, String)> = match serde_urlencoded::from_bytes(body) {
        Ok(fields) => fields,
        Err(err) => {
            return error_page(state, Some(auth), &ApiError::BadRequest(err.to_string()));
        }
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Err(err) = check_form_csrf(auth, field("csrf")) {
        tracing::warn!(
            principal = auth.session.principal.id.as_str(),
            "form without a valid CSRF token refused"
        );
        return error_page(state, Some(auth), &err);
    }
    let target = back(field("back"));
    let mut args = Map::new();
    for (key, value) in &fields {
        if matches!(key.as_str(), "csrf" | "nonce" | "back") || value.trim().is_empty() {
            continue;
        }
        let value = match (key.as_str(), value.trim().parse::<i64>()) {
            ("amount_minor", Ok(n)) => Value::from(n),
            _ => Value::String(value.trim().to_string()),
        };
        args.insert(key.clone(), value);
    }
    let args = Value::Object(args);
    let Ok(command) = Command::from_json(case, name, &args) else {
        let err = ApiError::NotFound {
            code: "unknown_command",
            message: format!("`{name}` is not a command"),
            detail: Value::Null,
        };
        return error_page(state, Some(auth), &err);
    };
    let key = field("nonce").filter(|n| !n.is_empty()).map(|nonce| {
        let digest = sha256_hex(format!("{nonce}\n{case}\n{name}\n{args}").as_bytes());
        format!("form-{}", digest.get(..40).unwrap_or(&digest))
    });
    let flash = match state
        .backend()
        .execute(auth.session.principal.clone(), command, key)
        .await
    {
        Ok(Receipt::Applied { .. }) => Flash {
            kind: "ok",
            text: format!("`{name}` applied to case `{case}`."),
        },
        Ok(Receipt::Duplicate(_)) => Flash {
            kind: "ok",
            text: format!(
                "`{name}` on case `{case}` was already applied (the form was sent twice)."
            ),
        },
        Ok(Receipt::Rejected(Rejection { code, message, .. })) => Flash {
            kind: "refused",
            text: format!("`{name}` refused ({code}): {message}"),
        },
        Err(err) => {
            tracing::error!(error = %err, "form command failed");
            Flash {
                kind: "error",
                text: "the service failed; the command was not applied".to_string(),
            }
        }
    };
    state.sessions().set_flash(&auth.session.key, flash);
    Redirect::to(&target).into_response()
}
