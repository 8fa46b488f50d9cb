//! [`ApiError`]: every answer that is not a receipt or a view, in the rejection's shape.
//!
//! A refused command answers its [`Rejection`](crate::spine::Rejection) (`code`, `message`,
//! `detail`) with the status of [`super::status::status_for`]. Everything else the service
//! refuses (no session, a missing CSRF token, an unknown command name, a bad query) answers
//! the same JSON shape with a code of its own that is not a rejection code: nothing reached the
//! engine.

use crate::serve::json::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::serve::backend::BackendError;

/// A refusal or failure of the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No session, or it expired (401 `unauthenticated`).
    #[error(
        "log in first: POST /login, then send the session cookie or `Authorization: Bearer TOKEN`"
    )]
    Unauthenticated,
    /// Login refused (401 `login_failed`): the same for an unknown login and a wrong password.
    #[error("unknown login or wrong password")]
    LoginFailed,
    /// A cookie-authenticated write without its CSRF token (403 `csrf_failed`).
    #[error("{0}")]
    Csrf(String),
    /// The principal may not read this (403 `forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing there (404, with its code).
    #[error("{message}")]
    NotFound {
        /// `case_not_found`, `unknown_command`, `not_found`.
        code: &'static str,
        /// What is missing.
        message: String,
        /// Extra detail.
        detail: Value,
    },
    /// A malformed request (400 `bad_request`).
    #[error("{0}")]
    BadRequest(String),
    /// A body of a type the route does not take (415 `unsupported_media_type`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Busy (503 `unavailable`).
    #[error("{0}")]
    Unavailable(String),
    /// The engine failed (500 `internal`). The detail goes to the log, not to the client.
    #[error(
        "the service failed; the command was not applied unless a retry with the same Idempotency-Key says so"
    )]
    Internal(String),
}

impl From<BackendError> for ApiError {
    fn from(err: BackendError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

impl ApiError {
    /// The code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::LoginFailed => "login_failed",
            ApiError::Csrf(_) => "csrf_failed",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound { code, .. } => code,
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::LoginFailed => StatusCode::UNAUTHORIZED,
            ApiError::Csrf(_) | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// 404 `case_not_found` for `case` (also what a case the principal may not see answers).
    pub fn case_not_found(case: &str) -> Self {
        ApiError::NotFound {
            code: "case_not_found",
            message: format!("there is no case `{case}`"),
            detail: json!({ "case": case }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let detail = match &self {
            ApiError::NotFound { detail, .. } => detail.clone(),
            _ => Value::Null,
        };
        let body = json!({ "code": self.code(), "message": self.to_string(), "detail": detail });
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unauthenticated) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
