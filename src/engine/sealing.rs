//! Sensitive intake: sealed under a per-case key when a request is submitted, opened on every
//! read (`"<erased>"` once the key is destroyed).

use super::{Engine, EngineError, catalog};
use crate::audit::{StoredEvent, sealed};
use crate::host::{Clock, Store, Transport};
use crate::spine::{Event, SurfacePin};

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
    /// Seal the sensitive intake fields of a `request_submitted` among `events` under a new
    /// key of the case, returned to be stored with them; `events` unchanged (and no key) when
    /// the pinned surface declares none.
    pub(super) fn seal_sensitive(
        &self,
        case_id: &str,
        pin: &SurfacePin,
        mut events: Vec<Event>,
    ) -> Result<(Vec<Event>, Option<sealed::CaseKey>), EngineError> {
        let Some(surface) = catalog::pinned(&self.registry, pin) else {
            return Ok((events, None));
        };
        let fields = &surface.intake().sensitive;
        let mut key = None;
        for event in &mut events {
            if let Event::RequestSubmitted { intake, .. } = event
                && fields.iter().any(|f| intake.contains_key(f))
            {
                let fail = |source| EngineError::Seal {
                    case: case_id.to_string(),
                    source,
                };
                if key.is_none() {
                    key = Some(sealed::CaseKey::generate().map_err(fail)?);
                }
                if let Some(key) = &key {
                    sealed::seal_intake(key, case_id, fields, intake).map_err(fail)?;
                }
            }
        }
        Ok((events, key))
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
