//! `GET /api/feed?after=POSITION`: the global feed (docs/queries.md) as server-sent events.
//!
//! The stream starts after a cursor: the `Last-Event-ID` header when the client sends one (a
//! browser's `EventSource` does on reconnecting), else the `after` query parameter, else 0
//! (from the first event). It reads the store's feed [`PAGE`] events at a time and sends each
//! event as one SSE event: `id` is the event's global position, `data` is `{position, event}`
//! (an entry of `planck feed --format json`), no `event` name (so `EventSource.onmessage` gets
//! every one). The feed's promise makes resuming exact: continuing after the last position
//! received misses nothing and repeats nothing.
//!
//! When nothing is new the stream waits for the next command applied by this service, or
//! [`POLL`] (commits by other processes, such as another instance on the same PostgreSQL
//! database or the ticker, show up at the next poll), sending a keep-alive comment every
//! [`KEEP_ALIVE`]. Only staff (admin, observer, system) may read it: it holds every case.
//!
//! The stream ends, and never holds the server up: when shutdown begins; when its session
//! ends (logout or expiry: each read renews the session, as a request would); when the client
//! goes away; and after a failed read, which it reports first as an event named `feed_error`
//! (`{code, message}`), so a client reconnects with `Last-Event-ID` and loses nothing.
//!
//! Bounded: the body is pulled, so the next page is read only after the previous one was
//! handed to the connection (a slow client holds at most one page); at most [`MAX_STREAMS`]
//! streams are open at once (503 `unavailable` past that).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, StreamExt as _};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_util::sync::CancellationToken;

use crate::host::FeedEntry;
use crate::serve::AppState;
use crate::serve::api::require_staff;
use crate::serve::auth::Authenticated;
use crate::serve::error::ApiError;

/// Events read from the store at a time (and the most a stream holds in memory).
pub const PAGE: usize = 100;

/// How long a stream with nothing new waits before reading again, unless a command applied by
/// this service wakes it first.
pub const POLL: Duration = Duration::from_secs(1);

/// The longest a stream stays silent: a comment line (`:`) keeps proxies from closing it.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a client should wait before reconnecting (the SSE `retry` field, sent first).
pub const RETRY: Duration = Duration::from_secs(2);

/// The most feed streams open at once.
pub const MAX_STREAMS: usize = 64;

/// The header a reconnecting `EventSource` sends with the last `id` it received.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// The name of the event a stream sends before it ends on a failed read.
pub const ERROR_EVENT: &str = "feed_error";

/// The query of `GET /api/feed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Start after this position (0, the default: from the first event).
    pub after: Option<String>,
}

/// `GET /api/feed?after=POSITION`.
pub async fn feed(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_staff(&auth.session.principal, "read the feed")?;
    let Query(query) =
        query.map_err(|err| ApiError::BadRequest(format!("the query does not parse: {err}")))?;
    let after = cursor(&headers, query.after.as_deref())?;
    let permit = state.feed_streams().try_acquire_owned().map_err(|_| {
        ApiError::Unavailable(format!(
            "{MAX_STREAMS} feed streams are open already; try again later"
        ))
    })?;
    let follow = Follow {
        commits: state.backend().commits(),
        stopping: state.stopping().clone(),
        state,
        session: auth.session.key,
        after,
        pending: VecDeque::new(),
        started: false,
        failed: false,
        _permit: permit,
    };
    let stopping = follow.stopping.clone();
    let events = stream::unfold(follow, next).take_until(stopping.cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Where a stream starts: `Last-Event-ID` when present, else `after`, else 0.
pub fn cursor(headers: &HeaderMap, after: Option<&str>) -> Result<u64, ApiError> {
    if let Some(value) = headers.get(LAST_EVENT_ID) {
        let text = value.to_str().unwrap_or_default().trim();
        return text.parse().map_err(|_| {
            ApiError::BadRequest(format!(
                "`Last-Event-ID: {text}`: expected a feed position (a whole number)"
            ))
        });
    }
    match after.map(str::trim) {
        None | Some("") => Ok(0),
        Some(text) => text.parse().map_err(|_| {
            ApiError::BadRequest(format!(
                "`after={text}`: expected a feed position (a whole number)"
            ))
        }),
    }
}

/// One open stream.
struct Follow {
    state: AppState,
    /// The session's key, renewed on every read.
    session: String,
    /// The last position sent.
    after: u64,
    /// Read, not sent yet (at most [`PAGE`]).
    pending: VecDeque<FeedEntry>,
    commits: watch::Receiver<u64>,
    stopping: CancellationToken,
    /// Whether the `retry` field was sent.
    started: bool,
    /// A read failed and was reported: end.
    failed: bool,
    _permit: OwnedSemaphorePermit,
}

/// The next event of the stream, or `None` when it ends (module docs).
async fn next(mut follow: Follow) -> Option<(Result<Event, Infallible>, Follow)> {
    if !follow.started {
        follow.started = true;
        return Some((Ok(Event::default().retry(RETRY)), follow));
    }
    loop {
        if follow.failed || follow.stopping.is_cancelled() {
            return None;
        }
        if let Some(entry) = follow.pending.pop_front() {
            follow.after = entry.position;
            let event = match serde_json::to_string(&entry) {
                Ok(data) => Event::default().id(entry.position.to_string()).data(data),
                Err(err) => failed(&mut follow, &err.to_string()),
            };
            return Some((Ok(event), follow));
        }
        if !follow.state.sessions().renew(&follow.session) {
            return None;
        }
        // Mark the commits seen before reading, so one that lands during the read wakes the
        // wait below instead of being lost.
        follow.commits.borrow_and_update();
        match follow.state.backend().feed(follow.after, PAGE).await {
            Ok(page) if !page.is_empty() => follow.pending = page.into(),
            Ok(_) => {
                tokio::select! {
                    () = follow.stopping.cancelled() => return None,
                    changed = follow.commits.changed() => {
                        if changed.is_err() {
                            // The backend is gone: only polling is left.
                            tokio::time::sleep(POLL).await;
                        }
                    }
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            Err(err) => {
                let event = failed(&mut follow, &err.to_string());
                return Some((Ok(event), follow));
            }
        }
    }
}

/// Log a failed read and the `feed_error` event that reports it; the stream ends after it.
fn failed(follow: &mut Follow, detail: &str) -> Event {
    tracing::error!(error = %detail, after = follow.after, "the feed stream failed");
    follow.failed = true;
    let body = json!({
        "code": "internal",
        "message": format!(
            "reading the feed failed after position {}; reconnect with Last-Event-ID to resume",
            follow.after
        ),
    });
    Event::default().event(ERROR_EVENT).data(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_cursor_prefers_last_event_id() {
        let mut headers = HeaderMap::new();
        assert_eq!(cursor(&headers, None).unwrap(), 0);
        assert_eq!(cursor(&headers, Some("")).unwrap(), 0);
        assert_eq!(cursor(&headers, Some("12")).unwrap(), 12);
        assert!(cursor(&headers, Some("-1")).is_err());
        assert!(cursor(&headers, Some("x")).is_err());
        headers.insert(LAST_EVENT_ID, HeaderValue::from_static("40"));
        assert_eq!(cursor(&headers, Some("12")).unwrap(), 40);
        headers.insert(LAST_EVENT_ID, HeaderValue::from_static("forty"));
        assert!(cursor(&headers, Some("12")).is_err());
    }
}
