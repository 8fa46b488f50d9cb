//! Time as an input: the [`Clock`] trait, the system clock and a settable clock for tests.
//!
//! The engine reads the time once per decision through a `Clock` and passes it to the pure core
//! as a value. [`SystemClock`] is the only place in planck that reads the system time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::spine::Millis;

/// A source of the current time, in unix milliseconds (UTC).
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Millis;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the system clock"
    )]
    fn now(&self) -> Millis {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(elapsed) => Millis::try_from(elapsed.as_millis()).unwrap_or(Millis::MAX),
            Err(before) => {
                Millis::try_from(before.duration().as_millis()).map_or(Millis::MIN, |ms| -ms)
            }
        }
    }
}

/// A clock that only moves when told to. Clones share one time, so a test can hold a clone
/// and move the engine's clock.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: Millis) -> Self {
        ManualClock {
            now: Arc::new(AtomicI64::new(start)),
        }
    }

    /// Set the time to `ms`.
    pub fn set(&self, ms: Millis) {
        self.now.store(ms, Ordering::SeqCst);
    }

    /// Move the time forward by `ms` (backward when negative) and return the new time.
    pub fn advance(&self, ms: Millis) -> Millis {
        let previous = self.now.fetch_add(ms, Ordering::SeqCst);
        previous.saturating_add(ms)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Millis {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Millis {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_time() {
        let a = ManualClock::new(10);
        let b = a.clone();
        b.advance(5);
        assert_eq!(a.now(), 15);
        a.set(100);
        assert_eq!(b.now(), 100);
        assert!(SystemClock.now() > 1_600_000_000_000);
    }
}
