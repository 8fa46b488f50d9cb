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
use crate::host::QueueNeed;
use crate::policy::{Principal, Role};
use crate::serve::AppState;
use crate::serve::api::{ExplainQuery, explain_command, is_staff, parse_filter};
use crate::serve::auth::{Authenticated, PageUser, authenticate, check_form_csrf};
use crate::serve::backend::BackendError;
use crate::serve::error::ApiError;
use crate::serve::session::{Flash, random_token};
use crate::serve::views::{self, Known};
use crate::spine::{Command, OperatorProfile, Rejection};

/// The page templates, compiled once.
pub fn templates() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.add_filter("ticks", ticks);
    env.add_template("base.html", include_str!("templates/base.html"))?;
    env.add_template("macros.html", include_str!("templates/macros.html"))?;
    env.add_template("login.html", include_str!("templates/login.html"))?;
    env.add_template("error.html", include_str!("templates/error.html"))?;
    env.add_template("desk.html", include_str!("templates/desk.html"))?;
    env.add_template("admin.html", include_str!("templates/admin.html"))?;
    env.add_template("case.html", include_str!("templates/case.html"))?;
    Ok(env)
}

/// The `ticks` filter: text whose `quoted` parts (the engine's messages quote names in
/// backticks) are shown as code, everything escaped. An unpaired backtick stays as it is.
fn ticks(text: &str) -> minijinja::Value {
    let parts: Vec<&str> = text.split('`').collect();
    let pairs = parts.len().saturating_sub(1) / 2;
    let mut html = String::with_capacity(text.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 && i.div_ceil(2) <= pairs {
            html.push_str("<code>");
            escape_into(&mut html, part);
            html.push_str("</code>");
        } else {
            // An odd part past the last pair follows an unpaired backtick.
            if i % 2 == 1 {
                html.push('`');
            }
            escape_into(&mut html, part);
        }
    }
    minijinja::Value::from_safe_string(html)
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
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
    let views: Vec<_> = desk.active.iter().map(|j| j.view.clone()).collect();
    let steps = match state
        .backend()
        .run(move |e| views::lifecycles(e, &views))
        .await
    {
        Ok(steps) => steps,
        Err(err) => return error_page(&state, Some(&auth), &err.into()),
    };
    render(
        &state,
        "desk.html",
        context! {
            page => "desk",
            user => ser(&user_ctx(&auth)),
            csrf => auth.session.csrf.clone(),
            nonce => nonce(),
            flash => ser(&state.sessions().take_flash(&auth.session.key)),
            desk => ser(&desk),
            steps => ser(&steps),
            known => ser(&Known::now()),
        },
    )
}

/// The governance queue as the admin desk shows it: what needs a decision now.
struct Queue {
    /// Tasks open for review.
    review: Vec<Value>,
    /// Tasks approved with no Job yet: to assign and hand off.
    handoff: Vec<Value>,
    /// Cases with a move waiting for an approval (once the governance layer has them).
    approvals: Vec<Value>,
}

impl Queue {
    /// Sort the engine's queue by what each case waits for. A case with a pending approval is
    /// listed with the approvals (and still shown under its Task's need, when it has one).
    fn split(queue: &[crate::engine::QueueItem]) -> Queue {
        let mut split = Queue {
            review: Vec::new(),
            handoff: Vec::new(),
            approvals: Vec::new(),
        };
        for item in queue {
            let Ok(value) = serde_json::to_value(item) else {
                continue;
            };
            match item.need {
                QueueNeed::Review => split.review.push(value),
                QueueNeed::Assign | QueueNeed::HandOff => split.handoff.push(value),
                QueueNeed::Approval => split.approvals.push(value),
            }
        }
        split
    }
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
    let queue = Queue::split(&queue);
    let profiles = match state.backend().operators().await {
        Ok(profiles) => profiles,
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
            page => "admin",
            known => ser(&Known::now()),
            operators => ser(&operators(&state, &profiles)),
            user => ser(&user_ctx(&auth)),
            csrf => auth.session.csrf.clone(),
            nonce => nonce(),
            flash => ser(&state.sessions().take_flash(&auth.session.key)),
            review => ser(&queue.review),
            handoff => ser(&queue.handoff),
            approvals => ser(&queue.approvals),
            cases => ser(&cases),
            next => next,
            next_query => next_query,
            filtered => filtered,
            query => query_map,
            list_error => list_error,
        },
    )
}

/// The query of a case page: an explanation when `command` is given.
#[derive(Debug, Default, serde::Deserialize)]
struct CaseQuery {
    command: Option<String>,
    args: Option<String>,
    /// Whom to judge as: `me` (the default), `owner`, `assignee` or `submitter`.
    #[serde(rename = "as")]
    judged_as: Option<String>,
}

/// An operator as the admin desk lists them: a login of the users file with the operator role,
/// a profile of the operator directory, or both.
#[derive(Serialize)]
struct OperatorRow {
    id: String,
    /// The login of the users file, when there is one.
    login: Option<String>,
    /// The profile's display name, when the directory has one.
    name: Option<String>,
    /// `active` or `suspended` from the directory; `None` when the directory has no profile.
    status: Option<&'static str>,
    /// Why the operator is suspended.
    reason: Option<String>,
    /// The surfaces the profile binds them to (empty: every surface).
    surfaces: Vec<String>,
    /// What their access is, in words.
    access: String,
}

/// The operators: the logins of the users file that hold the operator role, joined with the
/// profiles of the operator directory (a profile without a login is listed too: it can be
/// assigned work nobody can log in to do).
fn operators(state: &AppState, profiles: &[OperatorProfile]) -> Vec<OperatorRow> {
    let users = state.users().all();
    let mut rows: Vec<OperatorRow> = users
        .iter()
        .filter(|u| u.principal.has(Role::Operator))
        .map(|u| OperatorRow {
            id: u.principal.id.clone(),
            login: Some(u.login.clone()),
            name: None,
            status: None,
            reason: None,
            surfaces: Vec::new(),
            access: String::new(),
        })
        .collect();
    for profile in profiles {
        let at = match rows.iter().position(|r| r.id == profile.id) {
            Some(at) => at,
            None => {
                rows.push(OperatorRow {
                    id: profile.id.clone(),
                    login: None,
                    name: None,
                    status: None,
                    reason: None,
                    surfaces: Vec::new(),
                    access: String::new(),
                });
                rows.len() - 1
            }
        };
        if let Some(row) = rows.get_mut(at) {
            row.name = Some(profile.name.clone());
            row.status = Some(profile.status.as_str());
            row.reason = profile.suspended_reason.clone();
            row.surfaces = profile.surfaces.clone();
        }
    }
    for row in &mut rows {
        row.access = match (row.login.is_some(), row.status) {
            (true, Some("active")) => "may log in; active in the directory".to_string(),
            (true, Some(_)) => "may log in; suspended: may not be assigned, claim or act \
                                on surfaces that require registered operators"
                .to_string(),
            (true, None) => "may log in; not in the operator directory".to_string(),
            (false, Some(status)) => format!("{status} in the directory; no login"),
            (false, None) => String::new(),
        };
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows
}

/// A choice of the explain form's "as" field.
#[derive(Serialize)]
struct AsOption {
    key: &'static str,
    text: String,
}

/// `GET /admin/cases/{case}[?command=NAME&args=JSON&as=WHO]`: one case, its next step judged
/// as whoever would take it, and an explanation when asked. `as` judges the command as the
/// case's owner, assignee or submitter (with the roles they acted with) instead of the session
/// principal, as `planck explain --as` does: explain writes nothing, and staff read every case.
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
    let me = auth.session.principal.clone();
    let query: CaseQuery = query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let view = &detail.view;
    let mut as_options = vec![AsOption {
        key: "me",
        text: format!("me ({})", me.id),
    }];
    let people = [
        ("owner", "the owner", view.owner.as_deref(), Role::Operator),
        (
            "assignee",
            "the assignee",
            view.assignee.as_deref(),
            Role::Operator,
        ),
        (
            "submitter",
            "the submitter",
            Some(view.submitted_by.as_str()),
            Role::Client,
        ),
    ];
    let mut judged_as = me.clone();
    for (key, text, id, fallback) in people {
        if let Some(id) = id {
            as_options.push(AsOption {
                key,
                text: format!("{text} ({id})"),
            });
            if query.judged_as.as_deref() == Some(key) {
                judged_as = views::principal_in(&detail.history, id, fallback);
            }
        }
    }
    let (mut explanation, mut explain_error) = (None, None);
    if let Some(command) = &query.command {
        let q = ExplainQuery {
            command: command.clone(),
            args: query.args.clone(),
        };
        match explain_command(&case, &q) {
            Ok(command) => match state.backend().explain(judged_as.clone(), command).await {
                Ok(e) => explanation = Some(e),
                Err(err) => return error_page(&state, Some(&auth), &err.into()),
            },
            Err(err) => explain_error = Some(err.to_string()),
        }
    }
    let (page_view, history) = (detail.view.clone(), detail.history.clone());
    let admin = me.clone();
    let computed = state
        .backend()
        .run(move |e| {
            let steps = views::lifecycle(e, &page_view);
            views::next_steps(e, &admin, &page_view, &history).map(|next| (steps, next))
        })
        .await;
    let (steps, next_steps) = match computed {
        Ok(Ok(pair)) => pair,
        Ok(Err(err)) => return error_page(&state, Some(&auth), &BackendError::from(err).into()),
        Err(err) => return error_page(&state, Some(&auth), &err.into()),
    };
    render(
        &state,
        "case.html",
        context! {
            page => "case",
            known => ser(&Known::now()),
            operators => ser(&operators(&state, &[])),
            user => ser(&user_ctx(&auth)),
            csrf => auth.session.csrf.clone(),
            nonce => nonce(),
            flash => ser(&state.sessions().take_flash(&auth.session.key)),
            v => ser(&detail.view),
            steps => ser(&steps),
            next_steps => ser(&next_steps),
            history => ser(&views::history_rows(&detail.history)),
            verify_failure => detail.verify_failure,
            explanation => ser(&explanation),
            explain_error => explain_error,
            explain_command => query.command,
            explain_args => query.args,
            explain_as => query.judged_as.unwrap_or_else(|| "me".into()),
            explained_as => judged_as.id,
            as_options => ser(&as_options),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_show_quoted_names_as_code_and_escape_the_rest() {
        let html = |t: &str| ticks(t).to_string();
        assert_eq!(
            html("moving to `in_progress` needs <more>"),
            "moving to <code>in_progress</code> needs &lt;more&gt;"
        );
        assert_eq!(html("a `b` c `d"), "a <code>b</code> c `d");
        assert_eq!(html("`<x>`"), "<code>&lt;x&gt;</code>");
        assert_eq!(html("plain"), "plain");
    }
}
