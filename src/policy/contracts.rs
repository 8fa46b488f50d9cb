//! The evidence and intake contracts, judged as pure functions.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::surface::{IntakeContract, Surface};

/// A category that does not yet hold enough evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MissingEvidence {
    /// The category.
    pub category: String,
    /// Items it holds.
    pub have: u32,
    /// Items it needs.
    pub need: u32,
}

/// The categories among `categories` holding fewer than `min_per_category` items in `counts`.
pub fn missing_evidence<'a>(
    surface: &Surface,
    categories: impl IntoIterator<Item = &'a str>,
    counts: &BTreeMap<String, u32>,
) -> Vec<MissingEvidence> {
    let need = surface.evidence().min_per_category;
    let mut missing: Vec<MissingEvidence> = Vec::new();
    for category in categories {
        let have = counts.get(category).copied().unwrap_or(0);
        if have < need && !missing.iter().any(|m| m.category == category) {
            missing.push(MissingEvidence {
                category: category.to_string(),
                have,
                need,
            });
        }
    }
    missing
}

/// Whether a JSON value counts as "present and non-empty".
fn non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Judge an intake against the surface's intake contract. `Err` carries the problems found,
/// each as a sentence, and the names of the fields involved.
pub fn check_intake(
    contract: &IntakeContract,
    intake: &BTreeMap<String, Value>,
    photos: usize,
) -> Result<(), Vec<(String, String)>> {
    let mut problems = Vec::new();
    for field in &contract.required {
        match intake.get(field) {
            Some(v) if non_empty(v) => {}
            Some(_) => problems.push((
                field.clone(),
                format!("required intake field `{field}` is empty"),
            )),
            None => problems.push((
                field.clone(),
                format!("required intake field `{field}` is missing"),
            )),
        }
    }
    for field in intake.keys() {
        if !contract.required.contains(field) && !contract.optional.contains(field) {
            problems.push((
                field.clone(),
                format!("intake field `{field}` is not part of this surface"),
            ));
        }
    }
    if (photos as u64) < u64::from(contract.min_photos) {
        problems.push((
            "photos".to_string(),
            format!(
                "the request carries {photos} photos; this surface needs at least {}",
                contract.min_photos
            ),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
