//! [`WebhookTransport`]: signals POSTed as signed JSON to the host's URLs (feature `webhook`).
//!
//! Each signal is sent as the JSON of its [`StoredSignal`] (`id`, `case_id`, `kind`, `at`,
//! `payload`, `event_id`, `event_digest`) with these headers:
//!
//! | header | value |
//! | --- | --- |
//! | `Content-Type` | `application/json` |
//! | `Planck-Signal-Id` | the signal's stable id (`<case>:<kind>:<n>`): a receiver drops repeats by it |
//! | `Planck-Timestamp` | when this attempt was signed, in unix seconds |
//! | `Planck-Signature` | `v1=` and the lowercase hex HMAC-SHA256, keyed with the shared secret, over the bytes `<timestamp>.<body>` |
//!
//! A receiver recomputes the HMAC over the timestamp header, a `.`, and the raw body; compares
//! it in constant time; and rejects a timestamp too far from its own clock (five minutes is
//! usual), which makes a captured request useless to replay later. The timestamp is inside
//! the signed bytes, so it cannot be changed without breaking the signature.
//!
//! Delivery is at least once. One [`Transport::publish`] tries each URL up to
//! [`WebhookOptions::attempts`] times, waiting [`WebhookOptions::backoff`] after the first
//! failure and twice as long after each next one (capped at [`WebhookOptions::max_backoff`]).
//! A URL answering 2xx has the signal; any other answer, a redirect included, or a network
//! failure is a failed attempt. When any URL still fails, the publish fails and the signal
//! stays pending in the outbox: the engine offers it again later, to every URL, so a receiver
//! can see one signal more than once and must drop repeats by its id.
//!
//! The transport only moves bytes: it never decides anything and never touches the store.

use std::thread;
use std::time::Duration;

use hmac::{KeyInit as _, Mac as _};

use crate::audit::StoredSignal;
use crate::host::{Clock, Transport, TransportError};

/// The header carrying the signal's stable id.
pub const SIGNAL_ID_HEADER: &str = "Planck-Signal-Id";
/// The header carrying the signing time (unix seconds).
pub const TIMESTAMP_HEADER: &str = "Planck-Timestamp";
/// The header carrying the signature: `v1=<hex HMAC-SHA256 over "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "Planck-Signature";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How a [`WebhookTransport`] retries and how long it waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookOptions {
    /// Attempts per URL in one publish (at least 1).
    pub attempts: u32,
    /// The wait after the first failed attempt; doubled after each next one.
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// The longest one request may take, connection included.
    pub timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            attempts: 4,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a webhook transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No URL was given.
    #[error("a webhook transport needs at least one URL")]
    NoUrl,
    /// A URL is not `http://` or `https://`.
    #[error("`{url}` is not an http:// or https:// URL")]
    BadUrl {
        /// The URL as given.
        url: String,
    },
    /// The secret is empty.
    #[error("the webhook secret is empty")]
    EmptySecret,
}

/// Delivers each signal to every configured URL as signed JSON. See the module docs.
pub struct WebhookTransport<C: Clock> {
    urls: Vec<String>,
    secret: Vec<u8>,
    options: WebhookOptions,
    agent: ureq::Agent,
    clock: C,
}

impl<C: Clock> std::fmt::Debug for WebhookTransport<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTransport")
            .field("urls", &self.urls)
            .field("secret", &"<redacted>")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<C: Clock> WebhookTransport<C> {
    /// A transport POSTing to `urls`, signing with `secret`, timestamping with `clock`.
    pub fn new(
        urls: Vec<String>,
        secret: impl Into<Vec<u8>>,
        options: WebhookOptions,
        clock: C,
    ) -> Result<Self, WebhookError> {
        if urls.is_empty() {
            return Err(WebhookError::NoUrl);
        }
        if let Some(url) = urls
            .iter()
            .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(WebhookError::BadUrl { url: url.clone() });
        }
        let secret = secret.into();
        if secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(options.timeout))
            .user_agent(concat!("planck-webhook/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(WebhookTransport {
            urls,
            secret,
            options: WebhookOptions {
                attempts: options.attempts.max(1),
                ..options
            },
            agent: ureq::Agent::new_with_config(config),
            clock,
        })
    }

    /// The URLs signals go to.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Deliver `body` to `url`, retrying with backoff. Returns the last failure.
    fn deliver(&self, url: &str, signal_id: &str, body: &[u8]) -> Result<(), TransportError> {
        let mut wait = self.options.backoff;
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(url, signal_id, body) {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            tracing::warn!(
                url,
                signal = signal_id,
                attempt,
                of = self.options.attempts,
                error = %failure,
                "webhook attempt failed"
            );
            if attempt >= self.options.attempts {
                return Err(failure);
            }
            thread::sleep(wait);
            wait = (wait * 2).min(self.options.max_backoff);
            attempt += 1;
        }
    }

    fn attempt(&self, url: &str, signal_id: &str, body: &[u8]) -> Result<(), TransportError> {
        let timestamp = (self.clock.now() / 1000).to_string();
        let signature = sign(&self.secret, &timestamp, body);
        let response = self
            .agent
            .post(url)
            .header(SIGNAL_ID_HEADER, signal_id)
            .header(TIMESTAMP_HEADER, timestamp.as_str())
            .header(SIGNATURE_HEADER, signature.as_str())
            .content_type("application/json")
            .send(body)
            .map_err(|err| TransportError::with_source(format!("POST {url} failed"), err))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(TransportError::new(format!(
                "POST {url} answered {}",
                status.as_u16()
            )))
        }
    }
}

impl<C: Clock> Transport for WebhookTransport<C> {
    fn publish(&self, signal: &StoredSignal) -> Result<(), TransportError> {
        let body = serde_json::to_vec(signal).map_err(|err| {
            TransportError::with_source("the signal could not be serialized", err)
        })?;
        let mut failure = None;
        for url in &self.urls {
            if let Err(err) = self.deliver(url, &signal.id, &body) {
                failure = Some(err);
            }
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// The signature header's value for `body` signed at `timestamp` (unix seconds, as sent in
/// the timestamp header): `v1=` and the hex HMAC-SHA256 over `<timestamp>.<body>`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `signature` (a header value) is `body` signed at `timestamp` with `secret`,
/// compared in constant time. What a Rust receiver calls; check the timestamp's age too.
pub fn verify_signature(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_mac) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_mac) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_bind_the_timestamp() {
        let sig = sign(b"secret", "1700000000", b"{\"id\":\"a\"}");
        assert!(sig.starts_with("v1="));
        assert!(verify_signature(
            b"secret",
            "1700000000",
            b"{\"id\":\"a\"}",
            &sig
        ));
        assert!(!verify_signature(
            b"secret",
            "1700000001",
            b"{\"id\":\"a\"}",
            &sig
        ));
        assert!(!verify_signature(
            b"other",
            "1700000000",
            b"{\"id\":\"a\"}",
            &sig
        ));
        assert!(!verify_signature(
            b"secret",
            "1700000000",
            b"{\"id\":\"b\"}",
            &sig
        ));
        assert!(!verify_signature(b"secret", "1700000000", b"{}", "v1=zz"));
    }

    #[test]
    fn known_vector() {
        // The same bytes through Python's hmac module: an independent implementation.
        let sig = sign(b"secret", "1700000000", b"{\"id\":\"a\"}");
        assert_eq!(
            sig,
            "v1=24d16fb59a06bae8d031d22eb88b663480215741cc94a5cd046993fa9ea6ac23"
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        let clock = crate::host::ManualClock::new(0);
        assert!(matches!(
            WebhookTransport::new(vec![], "s", WebhookOptions::default(), clock.clone()),
            Err(WebhookError::NoUrl)
        ));
        assert!(matches!(
            WebhookTransport::new(
                vec!["ftp://x".into()],
                "s",
                WebhookOptions::default(),
                clock.clone()
            ),
            Err(WebhookError::BadUrl { .. })
        ));
        assert!(matches!(
            WebhookTransport::new(
                vec!["http://x".into()],
                "",
                WebhookOptions::default(),
                clock
            ),
            Err(WebhookError::EmptySecret)
        ));
    }
}
