//! The request layer: `submit_request`, the one command that makes a case.
//!
//! This module owns judging a new request: that the case id is still free, which surface the
//! request names (`slug` for the highest active version, `slug@N` for exactly version N) and
//! that it takes new requests, the arguments and the intake contract, and the rules `on`
//! `submit_request`, judged against the case as the request would leave it. Its event pins the
//! surface (slug, version and fingerprint) for the case's whole life. It never judges a case
//! that exists (every other command goes through the case and pin gates of `spine::gates`),
//! never treats `routing_origin` as an assignment, and echoes at most a short prefix of a
//! surface name it cannot find.

use serde_json::{Value, json};

use crate::policy::check_intake;
use crate::spine::case::SurfacePin;
use crate::spine::catalog::Catalog;
use crate::spine::command::CommandBody;
use crate::spine::decide::Ctx;
use crate::spine::gates::payload::{check_intake_size, text};
use crate::spine::gates::rules::run_rules;
use crate::spine::gates::{ok, reject};
use crate::spine::limits;
use crate::spine::operator::{OPERATOR_STREAM_PREFIX, is_operator_stream};
use crate::spine::trace::{Trace, gate};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};
use crate::surface::Surface;
use crate::surface::ast::Status;

/// `submit_request`: creates the Request and its governance Task (`open`). A body that did not
/// parse is still judged in precedence order: the surface it names, if any, before the payload.
pub(super) fn submit_request<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    gate(
        cx.trace,
        "case",
        if case.exists() {
            reject(
                Code::CaseExists,
                format!("case `{}` already exists", case.id),
            )
        } else {
            ok()
        },
        || format!("case id `{}` is free", cx.command.case),
    )?;
    let (requested, intake, photos, routing_origin) = match &cx.command.body {
        CommandBody::SubmitRequest {
            surface,
            intake,
            photos,
            routing_origin,
        } => (surface, intake, photos, routing_origin),
        CommandBody::Malformed { error, raw, .. } => {
            // (2) still outranks (3): judge the surface named in the raw arguments, if any.
            if let Some(requested) = raw.get("surface").and_then(Value::as_str) {
                resolve_for_new(cx, requested)?;
            }
            return gate(
                cx.trace,
                "payload",
                reject(Code::PayloadInvalid, error.clone()),
                String::new,
            )
            .map(|()| Vec::new());
        }
        _ => return Err(Rejection::new(Code::PayloadInvalid, "not a submit_request")),
    };
    let surface = resolve_for_new(cx, requested)?;
    // (3) Arguments, then the intake contract.
    let payload = text("case", &cx.command.case, limits::MAX_ID_LEN, true)
        .and_then(|()| {
            if is_operator_stream(&cx.command.case) {
                return reject(
                    Code::PayloadInvalid,
                    format!(
                        "a case id may not start with `{OPERATOR_STREAM_PREFIX}`: the prefix names operator streams"
                    ),
                );
            }
            Ok(())
        })
        .and_then(|()| {
            routing_origin.as_deref().map_or(Ok(()), |r| {
                text("routing_origin", r, limits::MAX_TEXT_LEN, false)
            })
        })
        .and_then(|()| {
            if photos.len() > limits::MAX_PHOTOS {
                return reject(
                    Code::PayloadInvalid,
                    format!("at most {} photos are allowed", limits::MAX_PHOTOS),
                );
            }
            photos
                .iter()
                .try_for_each(|p| text("photos", p, limits::MAX_REF_LEN, true))
        });
    gate(cx.trace, "payload", payload, || {
        "the arguments are well formed".into()
    })?;
    let intake_result = check_intake_size(intake).and_then(|()| {
        check_intake(surface.intake(), intake, photos.len()).map_err(|problems| {
            let messages: Vec<&str> = problems.iter().map(|(_, m)| m.as_str()).collect();
            let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
            Rejection::new(Code::IntakeInvalid, messages.join("; "))
                .with_detail(json!({ "fields": fields }))
        })
    });
    gate(cx.trace, "intake", intake_result, || {
        format!("the intake meets `{}`'s intake contract", surface.slug())
    })?;
    let event = Event::RequestSubmitted {
        surface: SurfacePin {
            slug: surface.slug().to_string(),
            version: surface.version(),
            fingerprint: surface.fingerprint_hex().to_string(),
        },
        intake: intake.clone(),
        photos: photos.clone(),
        routing_origin: routing_origin.clone(),
        by: cx.principal.id.clone(),
        at: cx.now,
    };
    if !surface.rules_on(CommandKind::SubmitRequest).is_empty() {
        let prospective = crate::spine::evolve(case.clone(), &event);
        run_rules(
            cx,
            surface,
            &prospective,
            None,
            &[CommandKind::SubmitRequest],
        )?;
    }
    Ok(vec![event])
}

/// (2) The surface a new request names, which must be registered and active.
fn resolve_for_new<'a, C: Catalog, T: Trace>(
    cx: &mut Ctx<'a, C, T>,
    requested: &str,
) -> Result<&'a Surface, Rejection> {
    let catalog = cx.catalog;
    // `slug` asks for the highest active version; `slug@N` pins exactly version N.
    let chosen = match requested.split_once('@') {
        Some((slug, v)) => v.parse::<u32>().ok().and_then(|v| catalog.exact(slug, v)),
        None => catalog
            .latest_active(requested)
            .or_else(|| catalog.latest(requested)),
    };
    let result = match chosen {
        None => {
            // Echo at most a short prefix of what was asked for: it comes from outside.
            let shown = shorten(requested, limits::MAX_ID_LEN);
            Err(Rejection::new(
                Code::UnknownSurface,
                format!("no surface `{shown}` is registered"),
            )
            .with_detail(json!({ "surface": shown })))
        }
        Some(s) if s.status() != Status::Active => reject(
            Code::SurfaceInactive,
            format!(
                "surface `{}` is {}: it takes no new requests",
                s.key(),
                s.status()
            ),
        ),
        Some(_) => ok(),
    };
    gate(cx.trace, "surface", result, || {
        format!("`{requested}` resolves to an active surface")
    })?;
    chosen.ok_or_else(|| Rejection::new(Code::UnknownSurface, "no such surface"))
}

/// At most `max` bytes of `text` (cut on a character boundary), with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or(""))
}
