//! The background work of a host: the escalation ticker and the outbox dispatcher.
//!
//! Both run an engine of their own over the same store and surfaces, with the real transport
//! (the engine answering requests never publishes). Each loop waits for its interval (the
//! dispatcher also wakes when a request leaves a new signal pending), runs one round on the
//! blocking pool, and stops when cancelled, after the round it is in: an escalation either
//! committed or was never started; a signal is either marked delivered or still pending.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::host::{Clock, Store, StoredSignal, Transport, TransportError};
use crate::serve::backend::ServeEngine;
use crate::surface::registry::Registry;

/// What the background loops need (built by [`super::Server::bind`]).
pub struct Background {
    /// The surfaces.
    pub registry: Arc<Registry>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Where signals go; `None` leaves them pending.
    pub transport: Option<Arc<dyn Transport>>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Woken when a request leaves a signal pending.
    pub wake: Arc<Notify>,
    /// The ticker's interval.
    pub tick_every: Duration,
    /// The dispatcher's interval.
    pub dispatch_every: Duration,
}

/// A transport that delivers nothing: without a configured transport signals stay pending.
struct KeepPending;

impl Transport for KeepPending {
    fn publish(&self, _signal: &StoredSignal) -> Result<(), TransportError> {
        Err(TransportError::new(
            "no transport configured; the signal stays pending",
        ))
    }
}

/// The running loops.
pub struct Workers(JoinSet<()>);

impl Workers {
    /// Wait until every loop has stopped.
    pub async fn wait(mut self) {
        while let Some(joined) = self.0.join_next().await {
            if let Err(err) = joined {
                tracing::error!(error = %err, "a background loop failed");
            }
        }
    }
}

impl Background {
    /// Start the ticker and (with a transport) the dispatcher; they stop when `stop` is
    /// cancelled.
    pub fn spawn(self, stop: CancellationToken) -> Workers {
        let transport: Arc<dyn Transport> = match &self.transport {
            Some(t) => Arc::clone(t),
            None => {
                tracing::info!("no transport: signals stay pending in the outbox");
                Arc::new(KeepPending)
            }
        };
        let engine: Arc<ServeEngine> = Arc::new(Engine::new(
            Arc::clone(&self.registry),
            Arc::clone(&self.store),
            transport,
            Arc::clone(&self.clock),
        ));
        let mut set = JoinSet::new();
        set.spawn(ticker(Arc::clone(&engine), self.tick_every, stop.clone()));
        if self.transport.is_some() {
            set.spawn(dispatcher(engine, self.dispatch_every, self.wake, stop));
        }
        Workers(set)
    }
}

async fn ticker(engine: Arc<ServeEngine>, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
        let engine = Arc::clone(&engine);
        match tokio::task::spawn_blocking(move || engine.tick()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "escalation tick failed; next tick retries")
            }
            Err(err) => tracing::error!(error = %err, "escalation tick did not finish"),
        }
    }
    tracing::debug!("ticker stopped");
}

async fn dispatcher(
    engine: Arc<ServeEngine>,
    every: Duration,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    // Deliver what a previous run left pending first.
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                () = stop.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(every) => {}
            }
        }
        first = false;
        let engine = Arc::clone(&engine);
        match tokio::task::spawn_blocking(move || engine.deliver_pending()).await {
            // A failure is logged by the engine; what failed stays pending for the next round.
            Ok(_) => {}
            Err(err) => tracing::error!(error = %err, "signal delivery did not finish"),
        }
    }
    tracing::debug!("dispatcher stopped");
}
