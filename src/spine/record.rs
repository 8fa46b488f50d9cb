//! The Record seal: how a completed ServiceEvent becomes a sealed [`Record`].
//!
//! This module owns composing the Record's body (the case, its pinned surface, the owner, the
//! phases, the evidence and the outcome) and its digest, exactly `audit::digest_of(body)`.
//! `complete_service_event` seals the Record in the decision that completes the ServiceEvent,
//! and `audit::verify` recomposes it with [`compose_record`] to check the stored seal, so both
//! go through this one function. It never reads a clock (the completion time is an input),
//! never judges whether the case may complete (the service event layer of `spine::decide` does)
//! and never changes the case it reads. The Record's types live with the other layers in
//! [`crate::spine::case`].

use crate::audit::digest_of;
use crate::spine::case::{
    Case, EvidenceItem, Millis, PhaseEntry, Record, RecordBody, ServiceEvent, SurfacePin,
};
use crate::spine::{Rejection, RejectionCode as Code};

/// Compose the Record from a completed ServiceEvent and seal it with its digest.
pub fn compose_record(case: &Case, completed_at: Millis) -> Result<Record, Rejection> {
    let Some(se) = case.service_event.as_ref() else {
        return Err(Rejection::new(
            Code::InvalidState,
            "a record needs a completed service event",
        ));
    };
    seal_record(case, se.clone(), completed_at)
}

/// [`compose_record`] with the ServiceEvent given apart from the case (the rest of the body
/// comes from `case`).
pub(super) fn seal_record(
    case: &Case,
    se: ServiceEvent,
    completed_at: Millis,
) -> Result<Record, Rejection> {
    let Some(request) = case.request.as_ref() else {
        return Err(Rejection::new(
            Code::InvalidState,
            "a record needs a completed service event",
        ));
    };
    let body = RecordBody {
        case: case.id.clone(),
        surface: request.surface.clone(),
        operator: case.owner().unwrap_or("").to_string(),
        phases: se.history,
        evidence: se.evidence,
        outcome: se.outcome,
        completed_at,
    };
    let digest = record_digest(&body).map_err(|e| {
        Rejection::new(
            Code::InvalidState,
            format!("the record could not be serialized: {e}"),
        )
    })?;
    Ok(Record { body, digest })
}

/// The Record seal: exactly `digest_of(body)` (the canonical form sorts keys whatever the
/// field order), written from a view whose fields are declared in key order so that the
/// canonical writer has nothing to reorder. The exhaustive destructurings stop the build when
/// a field is added to the Record's types and not here.
fn record_digest(body: &RecordBody) -> Result<String, serde_json::Error> {
    #[derive(serde::Serialize)]
    struct Pin<'a> {
        fingerprint: &'a str,
        slug: &'a str,
        version: u32,
    }
    #[derive(serde::Serialize)]
    struct Phase<'a> {
        at: Millis,
        phase: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Item<'a> {
        at: Millis,
        by: &'a str,
        category: &'a str,
        reference: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        case: &'a str,
        completed_at: Millis,
        evidence: Items<'a>,
        operator: &'a str,
        outcome: Option<&'a str>,
        phases: Phases<'a>,
        surface: Pin<'a>,
    }
    /// The evidence, written as a list of [`Item`]s straight from the slice (no copy).
    struct Items<'a>(&'a [EvidenceItem]);
    impl serde::Serialize for Items<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(|item| {
                let EvidenceItem {
                    category,
                    reference,
                    by,
                    at,
                } = item;
                Item {
                    at: *at,
                    by,
                    category,
                    reference,
                }
            }))
        }
    }
    /// The phases, written as a list of [`Phase`]s straight from the slice (no copy).
    struct Phases<'a>(&'a [PhaseEntry]);
    impl serde::Serialize for Phases<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(|entry| {
                let PhaseEntry { phase, at } = entry;
                Phase { at: *at, phase }
            }))
        }
    }
    let RecordBody {
        case,
        surface,
        operator,
        phases,
        evidence,
        outcome,
        completed_at,
    } = body;
    let SurfacePin {
        slug,
        version,
        fingerprint,
    } = surface;
    let view = Body {
        case,
        completed_at: *completed_at,
        evidence: Items(evidence),
        operator,
        outcome: outcome.as_deref(),
        phases: Phases(phases),
        surface: Pin {
            fingerprint,
            slug,
            version: *version,
        },
    };
    digest_of(&view)
}
