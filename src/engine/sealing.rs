//! Sensitive intake: sealed under a per-case key when a request is submitted, opened on every
//! read (`"<erased>"` once the key is destroyed).

use super::{Engine, EngineError, catalog};
use crate::audit::{StoredEvent, sealed};
use crate::host::{Clock, Store, Transport};
use crate::spine::{Event, SurfacePin};

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
    /// Seal the sensitive intake fields of a `request_submitted` among `events` under a new
    /// key of the case: the sealed copy of `events` and the key, to be stored together.
    /// `None` (nothing copied, no key) when no event carries a field the pinned surface
    /// declares sensitive, so `events` are stored as they are.
    pub(super) fn seal_sensitive(
        &self,
        case_id: &str,
        pin: &SurfacePin,
        events: &[Event],
    ) -> Result<Option<(Vec<Event>, sealed::CaseKey)>, EngineError> {
        let Some(surface) = catalog::pinned(&self.registry, pin) else {
            return Ok(None);
        };
        let fields = &surface.intake().sensitive;
        let carries = |event: &Event| {
            matches!(event, Event::RequestSubmitted { intake, .. }
                if fields.iter().any(|f| intake.contains_key(f)))
        };
        if !events.iter().any(carries) {
            return Ok(None);
        }
        let fail = |source| EngineError::Seal {
            case: case_id.to_string(),
            source,
        };
        let key = sealed::CaseKey::generate().map_err(fail)?;
        let mut sealed_events = events.to_vec();
        for event in &mut sealed_events {
            if let Event::RequestSubmitted { intake, .. } = event
                && fields.iter().any(|f| intake.contains_key(f))
            {
                sealed::seal_intake(&key, case_id, fields, intake).map_err(fail)?;
            }
        }
        Ok(Some((sealed_events, key)))
    }

    /// The case's stored events with every sealed intake value opened with the case's key
    /// (`"<erased>"` once the key is destroyed): what decisions, views and rules read.
    pub(super) fn load_opened(&self, case_id: &str) -> Result<Vec<StoredEvent>, EngineError> {
        let mut stored = self.store.load(case_id)?;
        self.open_sealed(case_id, &mut stored)?;
        Ok(stored)
    }

    /// Open, in place, the sealed intake values of `events` (only a `request_submitted`
    /// carries intake); the key is read only when one is sealed.
    pub(super) fn open_sealed(
        &self,
        case_id: &str,
        events: &mut [StoredEvent],
    ) -> Result<(), EngineError> {
        let mut key: Option<Option<sealed::CaseKey>> = None;
        for event in events {
            if let Event::RequestSubmitted { intake, .. } = &mut event.payload
                && intake.values().any(sealed::is_sealed)
            {
                if key.is_none() {
                    let bytes = self.store.case_key(case_id)?;
                    key = Some(bytes.and_then(|b| sealed::CaseKey::from_bytes(&b).ok()));
                }
                sealed::open_intake(key.as_ref().and_then(Option::as_ref), case_id, intake);
            }
        }
        Ok(())
    }

    /// The sensitive fields a `submit_request` for `surface` (a slug or `slug@version`) may
    /// carry: those of every registered version it could resolve to.
    pub(super) fn sensitive_fields(&self, surface: &str) -> Vec<String> {
        let slug = surface.split('@').next().unwrap_or(surface);
        let mut fields: Vec<String> = self
            .registry
            .iter()
            .filter(|s| s.slug() == slug)
            .flat_map(|s| s.intake().sensitive.iter().cloned())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        fields
    }
}
