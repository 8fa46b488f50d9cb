//! Sessions: random 256-bit tokens kept server-side, each bound to one principal.
//!
//! A token is 32 bytes from the operating system's random source, sent to the client as 64 hex
//! characters (in the `planck_session` cookie, or as `Authorization: Bearer TOKEN`). The server
//! keeps only the SHA-256 of each token, so the session table holds no usable credential, and
//! a lookup hashes first, so no comparison runs on the secret itself.
//!
//! A session ends when it has been idle for [`SessionOptions::idle`], when it is older than
//! [`SessionOptions::absolute`], or at `POST /logout`. Each session also holds its CSRF token
//! (another 32 random bytes; see `docs/serve.md`) and at most one flash message for the next
//! page. Sessions live in memory: a restart logs everyone out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use subtle::ConstantTimeEq as _;

use crate::audit::sha256_hex;
use crate::host::Clock;
use crate::policy::Principal;
use crate::spine::Millis;

/// The name of the session cookie.
pub const COOKIE: &str = "planck_session";

/// The most sessions kept at once; a login past it (after dropping expired ones) is refused.
pub const MAX_SESSIONS: usize = 100_000;

/// How long sessions live and how the cookie is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// A session unused this long ends (default 12 hours).
    pub idle: Duration,
    /// A session this old ends however busy it is (default 7 days).
    pub absolute: Duration,
    /// Whether the cookie carries the `Secure` flag (sent over HTTPS only). Turn it on whenever
    /// the service is reached over HTTPS (behind a TLS-terminating proxy).
    pub secure_cookie: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            idle: Duration::from_secs(12 * 3600),
            absolute: Duration::from_secs(7 * 24 * 3600),
            secure_cookie: false,
        }
    }
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The operating system's random source failed.
    #[error("no randomness for a session token: {0}")]
    Random(String),
    /// Too many live sessions.
    #[error("too many open sessions; try again later")]
    Full,
}

/// A message shown once on the next page (the outcome of a form).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Flash {
    /// `ok` or `refused` (or `error`).
    pub kind: &'static str,
    /// What to say.
    pub text: String,
}

/// What a request authenticated by a session knows.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The principal every command of this session runs as.
    pub principal: Principal,
    /// The login used.
    pub login: String,
    /// The session's CSRF token (hex).
    pub csrf: String,
    /// The key the session is stored under (SHA-256 of the token, hex).
    pub key: String,
}

impl SessionInfo {
    /// Whether `given` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, given: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes()))
    }
}

#[derive(Debug)]
struct Session {
    principal: Principal,
    login: String,
    csrf: String,
    created: Millis,
    last_seen: Millis,
    flash: Option<Flash>,
}

/// The session table.
pub struct Sessions {
    table: Mutex<HashMap<String, Session>>,
    options: SessionOptions,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes, as hex.
pub fn random_token() -> Result<String, SessionError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| SessionError::Random(err.to_string()))?;
    Ok(hex::encode(bytes))
}

fn millis(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}

impl Sessions {
    /// An empty table.
    pub fn new(options: SessionOptions, clock: Arc<dyn Clock>) -> Self {
        Sessions {
            table: Mutex::new(HashMap::new()),
            options,
            clock,
        }
    }

    /// The options.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Open a session for `principal`; returns the token (give it to the client once) and the
    /// session.
    pub fn open(
        &self,
        login: &str,
        principal: Principal,
    ) -> Result<(String, SessionInfo), SessionError> {
        let token = random_token()?;
        let csrf = random_token()?;
        let key = sha256_hex(token.as_bytes());
        let now = self.clock.now();
        let mut table = self.table();
        // Sessions nobody uses again are dropped here (logins are few: each costs an argon2
        // check), so the table holds live sessions only.
        self.purge(&mut table, now);
        if table.len() >= MAX_SESSIONS {
            return Err(SessionError::Full);
        }
        table.insert(
            key.clone(),
            Session {
                principal: principal.clone(),
                login: login.to_string(),
                csrf: csrf.clone(),
                created: now,
                last_seen: now,
                flash: None,
            },
        );
        Ok((
            token,
            SessionInfo {
                principal,
                login: login.to_string(),
                csrf,
                key,
            },
        ))
    }

    /// The live session of `token`, touched (its idle time starts again); `None` when there is
    /// none or it expired (an expired one is dropped).
    pub fn lookup(&self, token: &str) -> Option<SessionInfo> {
        let key = sha256_hex(token.as_bytes());
        let now = self.clock.now();
        let mut table = self.table();
        let session = table.get_mut(&key)?;
        if self.expired(session, now) {
            table.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(SessionInfo {
            principal: session.principal.clone(),
            login: session.login.clone(),
            csrf: session.csrf.clone(),
            key,
        })
    }

    /// Whether the session stored under `key` is still live, touched as a request would touch
    /// it (an expired one is dropped). A long answer (the feed's stream) asks this as it goes,
    /// so it ends when its session does (logout, expiry).
    pub fn renew(&self, key: &str) -> bool {
        let now = self.clock.now();
        let mut table = self.table();
        let Some(session) = table.get_mut(key) else {
            return false;
        };
        if self.expired(session, now) {
            table.remove(key);
            return false;
        }
        session.last_seen = now;
        true
    }

    /// End the session stored under `key`.
    pub fn close(&self, key: &str) {
        self.table().remove(key);
    }

    /// Leave a message for the session's next page.
    pub fn set_flash(&self, key: &str, flash: Flash) {
        if let Some(session) = self.table().get_mut(key) {
            session.flash = Some(flash);
        }
    }

    /// Take the session's message, if any.
    pub fn take_flash(&self, key: &str) -> Option<Flash> {
        self.table().get_mut(key).and_then(|s| s.flash.take())
    }

    /// How many sessions are held (expired ones included until dropped).
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop every expired session.
    pub fn purge_expired(&self) {
        let now = self.clock.now();
        let mut table = self.table();
        self.purge(&mut table, now);
    }

    fn purge(&self, table: &mut HashMap<String, Session>, now: Millis) {
        table.retain(|_, s| !self.expired(s, now));
    }

    fn expired(&self, session: &Session, now: Millis) -> bool {
        now.saturating_sub(session.last_seen) >= millis(self.options.idle)
            || now.saturating_sub(session.created) >= millis(self.options.absolute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::ManualClock;
    use crate::policy::Role;

    #[test]
    fn sessions_expire_when_idle_and_when_old() {
        let clock = ManualClock::new(0);
        let sessions = Sessions::new(
            SessionOptions {
                idle: Duration::from_secs(10),
                absolute: Duration::from_secs(25),
                secure_cookie: false,
            },
            Arc::new(clock.clone()),
        );
        let (token, info) = sessions
            .open("kim", Principal::new("admin-kim", [Role::Admin]))
            .unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(token, info.csrf);
        assert!(
            !sessions.table().contains_key(&token),
            "only the hash is kept"
        );
        clock.advance(9_000);
        assert!(sessions.lookup(&token).is_some());
        clock.advance(9_000);
        assert!(sessions.lookup(&token).is_some(), "touched, so still live");
        clock.advance(9_000);
        assert!(
            sessions.lookup(&token).is_none(),
            "27 s old: past the absolute limit"
        );

        let (token, _) = sessions
            .open("kim", Principal::new("admin-kim", [Role::Admin]))
            .unwrap();
        let key = sha256_hex(token.as_bytes());
        clock.advance(6_000);
        assert!(sessions.renew(&key));
        clock.advance(6_000);
        assert!(
            sessions.lookup(&token).is_some(),
            "12 s since the login, 6 s since the renewal: renewing touched it"
        );
        clock.advance(10_000);
        assert!(sessions.lookup(&token).is_none(), "idle 10 s");
        assert!(!sessions.renew(&key));
        assert!(sessions.lookup("not a token").is_none());
    }

    #[test]
    fn csrf_and_flash() {
        let sessions = Sessions::new(SessionOptions::default(), Arc::new(ManualClock::new(0)));
        let (token, info) = sessions
            .open("lee", Principal::new("op-lee", [Role::Operator]))
            .unwrap();
        assert!(info.csrf_matches(&info.csrf));
        assert!(!info.csrf_matches(""));
        assert!(!info.csrf_matches(&token));
        sessions.set_flash(
            &info.key,
            Flash {
                kind: "ok",
                text: "done".into(),
            },
        );
        assert_eq!(sessions.take_flash(&info.key).unwrap().text, "done");
        assert!(sessions.take_flash(&info.key).is_none());
        assert!(sessions.renew(&info.key));
        sessions.close(&info.key);
        assert!(sessions.lookup(&token).is_none());
        assert!(!sessions.renew(&info.key));
    }
}
