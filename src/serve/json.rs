//! [`Json`]: a JSON response body.
//!
//! axum's own `Json` comes with its `json` feature, which turns on serde_json's `raw_value`
//! for the whole crate graph; that makes every `serde_json::Value` deserialization deeper in
//! stack and breaks planck's promise that a hostile, deeply nested intake is refused rather
//! than overflowing a thread's stack (`tests/limits_hostile.rs`). Request bodies are read as
//! bytes and parsed by the handlers; responses go through this type.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Serialize the value as the response body, `Content-Type: application/json`.
#[derive(Clone, Copy, Debug)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            Err(err) => {
                tracing::error!(error = %err, "a response did not serialize");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                    r#"{"code":"internal","message":"the response did not serialize","detail":null}"#,
                )
                    .into_response()
            }
        }
    }
}
