//! `GET /api/feed` of `planck serve`, against the running binary: who may read it, events in
//! position order with their position as the SSE `id`, resuming from `?after` and from
//! `Last-Event-ID`, a new command's events arriving on an open stream, and a stream ending on
//! logout and on SIGTERM without holding the shutdown up.

#![cfg(feature = "serve")]

use std::io::{BufRead as _, BufReader};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::serve::{Client, Server, assert_refused, queued_job, submit};

/// How long a test waits for something that should come at once: generous, never a measure.
const PATIENCE: Duration = Duration::from_secs(30);

/// What an open stream delivers.
#[derive(Debug)]
enum Sse {
    /// An event: its `id`, its `event` name (`None`: a message) and its data.
    Event {
        id: Option<String>,
        name: Option<String>,
        data: String,
    },
    /// The server closed the stream.
    End,
}

/// An open stream, read on a thread of its own.
struct Stream {
    events: mpsc::Receiver<Sse>,
}

impl Stream {
    /// Open `path` as `client` and check the head of the answer.
    fn open(client: &Client<'_>, path: &str, headers: &[(&str, &str)]) -> Stream {
        let response = client.open(path, headers);
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let reader = BufReader::new(response.into_body().into_reader());
            let (mut id, mut name, mut data) = (None, None, Vec::new());
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if line.is_empty() {
                    if !data.is_empty() {
                        let event = Sse::Event {
                            id: id.take(),
                            name: name.take(),
                            data: data.join("\n"),
                        };
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    (id, name, data) = (None, None, Vec::new());
                } else if let Some(value) = line.strip_prefix("id: ") {
                    id = Some(value.to_string());
                } else if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_string());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push(value.to_string());
                }
                // `retry:` and `:` keep-alive comments carry no event.
            }
            let _ = tx.send(Sse::End);
        });
        Stream { events: rx }
    }

    /// The next feed entry: `(position, event)`, checked against its SSE `id`.
    fn next_entry(&self) -> (u64, Value) {
        match self.events.recv_timeout(PATIENCE) {
            Ok(Sse::Event { id, name, data }) => {
                assert_eq!(name, None, "{data}");
                let entry: Value = serde_json::from_str(&data).unwrap();
                let position = entry["position"].as_u64().unwrap();
                assert_eq!(id, Some(position.to_string()), "the id is the position");
                (position, entry["event"].clone())
            }
            other => panic!("expected a feed entry, got {other:?}"),
        }
    }

    /// The next `n` entries.
    fn take(&self, n: usize) -> Vec<(u64, Value)> {
        (0..n).map(|_| self.next_entry()).collect()
    }

    /// Wait for the server to close the stream (entries before the end are an error).
    fn expect_end(&self) {
        match self.events.recv_timeout(PATIENCE) {
            Ok(Sse::End) => {}
            other => panic!("expected the stream to end, got {other:?}"),
        }
    }
}

/// How many events an applied command's receipt says were appended.
fn appended(reply: &crate::serve::Reply) -> usize {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["detail"]["events"].as_array().unwrap().len()
}

/// Two cases: `ev-1` up to a queued job, `ev-2` submitted. Returns how many events they hold.
fn two_cases(server: &Server) -> usize {
    let ava = Client::login(server, "ava");
    let kim = Client::login(server, "kim");
    queued_job(&ava, &kim, "ev-1");
    appended(&submit(&ava, "ev-2"));
    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    planck::host::Store::feed(&store, 0, 1000).unwrap().len()
}

#[test]
fn the_feed_is_for_staff_with_a_session() {
    let server = Server::start(&[]);
    assert_refused(
        &Client::anonymous(&server).get("/api/feed"),
        401,
        "unauthenticated",
    );
    for login in ["lee", "ava"] {
        assert_refused(
            &Client::login(&server, login).get("/api/feed"),
            403,
            "forbidden",
        );
    }
    let kim = Client::login(&server, "kim");
    assert_refused(&kim.get("/api/feed?after=minus-one"), 400, "bad_request");
    assert_refused(&kim.get("/api/feed?since=3"), 400, "bad_request");
    let r = kim.get_with("/api/feed", &[("last-event-id", "x")]);
    assert_refused(&r, 400, "bad_request");
}

#[test]
fn an_admin_reads_every_event_in_position_order_and_resumes_from_a_cursor() {
    let server = Server::start(&[]);
    let total = two_cases(&server);
    assert!(total >= 5, "{total}");
    let kim = Client::login(&server, "kim");

    let all = Stream::open(&kim, "/api/feed", &[]).take(total);
    let positions: Vec<u64> = all.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=total as u64).collect::<Vec<_>>());
    // Each case's events in sequence order, every event once.
    for case in ["ev-1", "ev-2"] {
        let seqs: Vec<u64> = all
            .iter()
            .filter(|(_, e)| e["case_id"] == case)
            .map(|(_, e)| e["seq"].as_u64().unwrap())
            .collect();
        assert!(!seqs.is_empty());
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "{case}");
    }
    assert_eq!(all[0].1["event_type"], "request_submitted", "{}", all[0].1);

    // `?after`: only what came later.
    let cut = 3;
    let later = Stream::open(&kim, &format!("/api/feed?after={cut}"), &[]);
    let rest = later.take(total - cut as usize);
    assert_eq!(
        rest.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        (cut + 1..=total as u64).collect::<Vec<_>>()
    );
    assert_eq!(rest, all[cut as usize..].to_vec());

    // `Last-Event-ID` (what a reconnecting EventSource sends) wins over `?after`.
    let resumed = Stream::open(
        &kim,
        "/api/feed?after=0",
        &[("last-event-id", &(total - 1).to_string())],
    );
    assert_eq!(resumed.next_entry(), all[total - 1]);
}

#[test]
fn a_new_command_appears_on_an_open_stream() {
    let server = Server::start(&[]);
    let total = two_cases(&server) as u64;
    let kim = Client::login(&server, "kim");
    let ava = Client::login(&server, "ava");

    // Opened at the end of the feed: nothing to send yet.
    let stream = Stream::open(&kim, &format!("/api/feed?after={total}"), &[]);
    let reply = kim.command("ev-2", "approve_task", json!({}));
    let events = appended(&reply);
    let entries = stream.take(events);
    assert_eq!(entries[0].0, total + 1);
    assert_eq!(entries[0].1["case_id"], "ev-2");
    assert_eq!(
        entries[0].1["event_type"],
        reply.json()["detail"]["events"][0]["event_type"]
    );

    // Another case, later still.
    let events = appended(&submit(&ava, "ev-3"));
    let entries = stream.take(events);
    assert!(entries.iter().all(|(_, e)| e["case_id"] == "ev-3"));
    assert!(entries[0].0 > total + 1);
}

#[test]
fn a_stream_ends_with_its_session() {
    let server = Server::start(&[]);
    two_cases(&server);
    let kim = Client::login(&server, "kim");
    let stream = Stream::open(&kim, "/api/feed?after=1000", &[]);
    assert_eq!(kim.logout().status, 204);
    stream.expect_end();
    assert_refused(&kim.get("/api/feed"), 401, "unauthenticated");
}

#[test]
fn an_open_stream_does_not_hold_shutdown() {
    // A request timeout far above the wait below: the server stops in time only because the
    // stream ends when shutdown begins, not because the grace period ran out.
    let mut server = Server::start(&["--request-timeout", "600s"]);
    let total = two_cases(&server);
    let kim = Client::login(&server, "kim");
    let stream = Stream::open(&kim, "/api/feed", &[]);
    assert_eq!(stream.take(total).len(), total);
    server.terminate();
    stream.expect_end();
    let status = server.wait_exit(PATIENCE);
    assert!(status.success(), "{status}: {}", server.logs());
}
