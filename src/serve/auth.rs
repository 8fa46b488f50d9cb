//! Logging in and out, and finding the session of a request.
//!
//! A request is authenticated by `Authorization: Bearer TOKEN` when it carries one, else by
//! the `planck_session` cookie. Either way the principal is the session's: handlers get it
//! from [`Authenticated`] and nowhere else.
//!
//! CSRF (see `docs/serve.md` for the reasoning):
//! - every form POST from a page carries the session's CSRF token in a hidden `csrf` field,
//!   checked in constant time ([`check_form_csrf`]);
//! - a JSON API write authenticated by the cookie must be `Content-Type: application/json`
//!   (which a cross-site form cannot send, and a cross-site script cannot send without a CORS
//!   preflight this service never grants) or carry the token in `X-CSRF-Token`
//!   ([`check_api_csrf`]);
//! - a write authenticated by a bearer token is exempt: browsers never attach it on their own;
//! - `POST /login` has no session yet: it refuses requests a browser marks as cross-site
//!   (`Sec-Fetch-Site`) or whose `Origin` is not this host, so no other site can log a
//!   visitor in under its own account.

use crate::serve::json::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::json;

use crate::serve::AppState;
use crate::serve::error::ApiError;
use crate::serve::pages;
use crate::serve::session::{COOKIE, SessionInfo};

/// The header a cookie-authenticated API client may send its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the request proved its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The `planck_session` cookie.
    Cookie,
    /// `Authorization: Bearer TOKEN`.
    Bearer,
}

/// A request with a live session. Extracting it answers 401 when there is none.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The session.
    pub session: SessionInfo,
    /// How it was proven.
    pub via: Via,
}

/// The session of a request, if it has a live one.
pub fn authenticate(headers: &HeaderMap, state: &AppState) -> Option<Authenticated> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)?;
        return state.sessions().lookup(token).map(|session| Authenticated {
            session,
            via: Via::Bearer,
        });
    }
    let token = cookie_value(headers, COOKIE)?;
    state
        .sessions()
        .lookup(&token)
        .map(|session| Authenticated {
            session,
            via: Via::Cookie,
        })
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(&parts.headers, state).ok_or(ApiError::Unauthenticated)
    }
}

/// A page request with a live session; without one the browser is sent to `/login`.
#[derive(Clone, Debug)]
pub struct PageUser(pub Authenticated);

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        authenticate(&parts.headers, state)
            .map(PageUser)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// Whether the body is declared JSON.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether the body is declared a URL-encoded form.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The CSRF rule for JSON API writes (module docs).
pub fn check_api_csrf(auth: &Authenticated, headers: &HeaderMap) -> Result<(), ApiError> {
    if auth.via == Via::Bearer || is_json(headers) {
        return Ok(());
    }
    match headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        Some(token) if auth.session.csrf_matches(token) => Ok(()),
        Some(_) => Err(ApiError::Csrf("the X-CSRF-Token header does not match the session".into())),
        None => Err(ApiError::Csrf(
            "a write with the session cookie must be Content-Type: application/json or carry X-CSRF-Token"
                .into(),
        )),
    }
}

/// The CSRF rule for form POSTs from pages: the hidden `csrf` field must be the session's.
pub fn check_form_csrf(auth: &Authenticated, field: Option<&str>) -> Result<(), ApiError> {
    match field {
        Some(token) if auth.session.csrf_matches(token) => Ok(()),
        _ => Err(ApiError::Csrf(
            "the form has no valid CSRF token; reload the page and try again".into(),
        )),
    }
}

/// Refuse a login a browser says comes from another site: by `Sec-Fetch-Site` when the
/// browser sends it (every current one does), else by an `Origin` that is not this host
/// (`null`, from a sandboxed frame, included). Tools that send neither (curl) are let through:
/// they carry no victim's browser state.
fn check_login_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.to_str() {
            Ok("same-origin" | "none") => Ok(()),
            _ => Err(ApiError::Csrf("cross-site login refused".into())),
        };
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        if host.is_none() || origin_host != host {
            return Err(ApiError::Csrf(format!(
                "login from origin `{origin}` refused"
            )));
        }
    }
    Ok(())
}

/// The fields of `POST /login`.
#[derive(Deserialize)]
pub struct LoginFields {
    /// The login.
    pub login: String,
    /// The password.
    pub password: String,
}

/// `POST /login`: form or JSON fields `login` and `password`.
///
/// A JSON login answers `{"token", "csrf", "principal", "expires_in"}` (use the token as a
/// bearer token) and sets the cookie; a form login sets the cookie and redirects to `/`. A
/// refused login answers 401 `login_failed` (the form is shown again), the same for an
/// unknown login and a wrong password.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match login_inner(&state, &headers, &body).await {
        Ok(response) => response,
        Err(err) if !is_json(&headers) && matches!(err, ApiError::LoginFailed) => {
            let page = pages::login_page(&state, Some(err.to_string()));
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
        Err(err) => err.into_response(),
    }
}

async fn login_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    check_login_origin(headers)?;
    let json = is_json(headers);
    let fields: LoginFields = if json {
        serde_json::from_slice(body).map_err(|err| {
            ApiError::BadRequest(format!(
                "the login body is not {{\"login\", \"password\"}}: {err}"
            ))
        })?
    } else if is_form(headers) {
        serde_urlencoded::from_bytes(body).map_err(|err| {
            ApiError::BadRequest(format!(
                "the login form needs `login` and `password`: {err}"
            ))
        })?
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send the login as application/json or application/x-www-form-urlencoded".into(),
        ));
    };
    let principal = state
        .check_password(fields.login.clone(), fields.password)
        .await?;
    let Some(principal) = principal else {
        tracing::info!(login = fields.login.as_str(), "login refused");
        return Err(ApiError::LoginFailed);
    };
    let (token, session) = state
        .sessions()
        .open(&fields.login, principal)
        .map_err(|err| ApiError::Unavailable(err.to_string()))?;
    tracing::info!(
        login = fields.login.as_str(),
        principal = session.principal.id.as_str(),
        "login"
    );
    let cookie = session_cookie(state, &token);
    let mut response = if json {
        Json(json!({
            "token": token,
            "csrf": session.csrf,
            "principal": session.principal,
            "expires_in": state.sessions().options().idle.as_secs(),
        }))
        .into_response()
    } else {
        Redirect::to("/").into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

fn session_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    let max_age = state.sessions().options().absolute;
    Cookie::build((COOKIE, token.to_string()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.sessions().options().secure_cookie)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
}

fn clear_cookie(state: &AppState) -> Cookie<'static> {
    Cookie::build((COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.sessions().options().secure_cookie)
        .max_age(cookie::time::Duration::ZERO)
        .build()
}

/// `POST /logout`: ends the session. A form post (with its `csrf` field) is redirected to
/// `/login`; anything else answers 204.
pub async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let form = is_form(&headers);
    if form {
        #[derive(Deserialize)]
        struct Fields {
            csrf: Option<String>,
        }
        let fields: Fields = serde_urlencoded::from_bytes(&body)
            .map_err(|err| ApiError::BadRequest(err.to_string()))?;
        check_form_csrf(&auth, fields.csrf.as_deref())?;
    } else {
        check_api_csrf(&auth, &headers)?;
    }
    state.sessions().close(&auth.session.key);
    tracing::info!(principal = auth.session.principal.id.as_str(), "logout");
    let mut response = if form {
        Redirect::to("/login").into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&clear_cookie(&state).to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_origin_rules() {
        let mut h = HeaderMap::new();
        assert!(check_login_origin(&h).is_ok());
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(check_login_origin(&h).is_err());
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(check_login_origin(&h).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(check_login_origin(&h).is_err());
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(check_login_origin(&h).is_err());
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(
            check_login_origin(&h).is_ok(),
            "the browser's own word wins"
        );
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(check_login_origin(&h).is_err());
    }
}
