//! Delivering signals: the [`Transport`] trait and two small implementations.
//!
//! The engine hands a signal to the transport only after the append that wrote it (to the
//! outbox, in the same transaction as the events that emitted it) has committed. Delivery is at
//! least once: a signal whose publish failed stays pending and is offered again, so a consumer
//! may see a signal twice and must drop repeats by [`StoredSignal::id`], which never changes.
//! A transport never decides anything and never writes to the store.

use std::sync::{Arc, Mutex, PoisonError};

pub use crate::audit::StoredSignal;

/// Where signals go: a queue, a webhook, a log. Implemented by hosts.
pub trait Transport: Send + Sync {
    /// Deliver one signal. Return an error to leave it pending; it will be offered again.
    fn publish(&self, signal: &StoredSignal) -> Result<(), TransportError>;
}

/// Why a signal could not be delivered. The signal stays pending.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        TransportError {
            message: message.into(),
            source: None,
        }
    }

    /// An error that keeps the underlying cause.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        TransportError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Drops every signal (for hosts that read signals from the case instead).
#[derive(Clone, Copy, Debug, Default)]
pub struct NullTransport;

impl Transport for NullTransport {
    fn publish(&self, _signal: &StoredSignal) -> Result<(), TransportError> {
        Ok(())
    }
}

/// Keeps every delivered signal in memory, in delivery order (for tests). Clones share the list.
#[derive(Clone, Debug, Default)]
pub struct MemoryTransport {
    delivered: Arc<Mutex<Vec<StoredSignal>>>,
}

impl MemoryTransport {
    /// An empty transport.
    pub fn new() -> Self {
        MemoryTransport::default()
    }

    /// Every signal delivered so far, oldest first.
    pub fn delivered(&self) -> Vec<StoredSignal> {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Remove and return every signal delivered so far.
    pub fn take(&self) -> Vec<StoredSignal> {
        std::mem::take(
            &mut *self
                .delivered
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Transport for MemoryTransport {
    fn publish(&self, signal: &StoredSignal) -> Result<(), TransportError> {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(signal.clone());
        Ok(())
    }
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn publish(&self, signal: &StoredSignal) -> Result<(), TransportError> {
        (**self).publish(signal)
    }
}

impl<T: Transport + ?Sized> Transport for &T {
    fn publish(&self, signal: &StoredSignal) -> Result<(), TransportError> {
        (**self).publish(signal)
    }
}
