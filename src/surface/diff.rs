//! What changed between two versions of a surface (`planck diff`): identity, posture
//! (`[execution]`), phases (added, removed, relabelled, role changed), transitions (added,
//! removed, requirements or rule changed; implied ones included), evidence, intake, rules and
//! escalations. Compares two compiled surfaces, so a default written out or left implicit,
//! and the TOML or DSL form, are no change. Pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::spine::migration::PhaseRole;
use crate::surface::inspect::{approval_names, requires_names, rule_name};
use crate::surface::model::RuleTrigger;
use crate::surface::{PhaseId, Surface};

/// Whether something was added, removed or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// In both, different.
    Changed,
}

/// One change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// What: `phase \`arrived\``, `claim`, `in_progress -> complete`.
    pub what: String,
    /// The old value (for removed and changed).
    pub old: Option<String>,
    /// The new value (for added and changed).
    pub new: Option<String>,
}

/// The changes of one part of the surface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Section {
    /// `surface`, `execution`, `phases`, `transitions`, `evidence`, `intake`, `rules`,
    /// `escalations`.
    pub name: &'static str,
    /// Its changes, in the order of the surfaces.
    pub changes: Vec<Change>,
}

/// Everything that changed from `old` to `new`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SurfaceDiff {
    /// `slug@version` of the old surface.
    pub old: String,
    /// `slug@version` of the new one.
    pub new: String,
    /// Every section, changed or not.
    pub sections: Vec<Section>,
}

impl SurfaceDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.sections.iter().all(|s| s.changes.is_empty())
    }
}

fn added(what: String, new: impl Into<String>) -> Change {
    Change {
        kind: ChangeKind::Added,
        what,
        old: None,
        new: Some(new.into()),
    }
}

fn removed(what: String, old: impl Into<String>) -> Change {
    Change {
        kind: ChangeKind::Removed,
        what,
        old: Some(old.into()),
        new: None,
    }
}

fn changed(what: impl Into<String>, old: impl Into<String>, new: impl Into<String>) -> Change {
    Change {
        kind: ChangeKind::Changed,
        what: what.into(),
        old: Some(old.into()),
        new: Some(new.into()),
    }
}

/// Push a `changed` when the two values differ.
fn compare(out: &mut Vec<Change>, what: &str, old: impl ToString, new: impl ToString) {
    let (old, new) = (old.to_string(), new.to_string());
    if old != new {
        out.push(changed(what, old, new));
    }
}

/// `[a, b]`.
fn list(items: &[impl AsRef<str>]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", items.join(", "))
}

/// An entry of one version or both, matched by key.
enum Pair<'a, K, V> {
    /// Only in the old version.
    Removed(&'a K, &'a V),
    /// In both: the key, the old value, the new one.
    Both(&'a K, &'a V, &'a V),
    /// Only in the new version.
    Added(&'a K, &'a V),
}

/// Match keyed entries of both versions: removed ones in old order, then the others in new
/// order.
fn keyed<'a, K: Ord, V>(old: &'a [(K, V)], new: &'a [(K, V)]) -> Vec<Pair<'a, K, V>> {
    let old_map: BTreeMap<&K, &V> = old.iter().map(|(k, v)| (k, v)).collect();
    let new_map: BTreeMap<&K, &V> = new.iter().map(|(k, v)| (k, v)).collect();
    let mut out: Vec<Pair<'a, K, V>> = old
        .iter()
        .filter(|(k, _)| !new_map.contains_key(k))
        .map(|(k, v)| Pair::Removed(k, v))
        .collect();
    for (k, v) in new {
        out.push(match old_map.get(k) {
            Some(was) => Pair::Both(k, was, v),
            None => Pair::Added(k, v),
        });
    }
    out
}

/// What changed from `old` to `new`.
pub fn diff(old: &Surface, new: &Surface) -> SurfaceDiff {
    let mut sections = Vec::new();

    let mut surface = Vec::new();
    compare(&mut surface, "slug", old.slug(), new.slug());
    compare(&mut surface, "name", old.name(), new.name());
    compare(&mut surface, "spec", old.spec(), new.spec());
    compare(&mut surface, "version", old.version(), new.version());
    compare(&mut surface, "status", old.status(), new.status());
    sections.push(Section {
        name: "surface",
        changes: surface,
    });

    let (a, b) = (old.execution(), new.execution());
    let mut execution = Vec::new();
    compare(&mut execution, "claim", a.claim, b.claim);
    compare(&mut execution, "ownership", a.ownership, b.ownership);
    compare(&mut execution, "record", a.record, b.record);
    compare(
        &mut execution,
        "payment_timing",
        a.payment_timing,
        b.payment_timing,
    );
    compare(
        &mut execution,
        "completed_visible",
        a.completed_visible,
        b.completed_visible,
    );
    compare(&mut execution, "operators", a.operators, b.operators);
    sections.push(Section {
        name: "execution",
        changes: execution,
    });

    sections.push(Section {
        name: "phases",
        changes: phases(old, new),
    });
    sections.push(Section {
        name: "transitions",
        changes: transitions(old, new),
    });
    sections.push(Section {
        name: "evidence",
        changes: evidence(old, new),
    });
    sections.push(Section {
        name: "intake",
        changes: intake(old, new),
    });
    sections.push(Section {
        name: "rules",
        changes: rules(old, new),
    });
    sections.push(Section {
        name: "escalations",
        changes: escalations(old, new),
    });
    SurfaceDiff {
        old: old.key(),
        new: new.key(),
        sections,
    }
}

fn phase_entries(s: &Surface) -> Vec<(String, (String, PhaseRole))> {
    s.phases()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let role = PhaseRole::of(s, PhaseId(u32::try_from(i).unwrap_or(u32::MAX)));
            (p.id.clone(), (p.label.clone(), role))
        })
        .collect()
}

fn phases(old: &Surface, new: &Surface) -> Vec<Change> {
    let mut out = Vec::new();
    let (a, b) = (phase_entries(old), phase_entries(new));
    for pair in keyed(&a, &b) {
        match pair {
            Pair::Removed(id, (label, role)) => out.push(removed(
                format!("phase `{id}`"),
                format!("{label:?} ({})", role.as_str()),
            )),
            Pair::Both(id, (was_label, was_role), (label, role)) => {
                if was_label != label {
                    out.push(changed(
                        format!("phase `{id}` label"),
                        format!("{was_label:?}"),
                        format!("{label:?}"),
                    ));
                }
                if was_role != role {
                    out.push(changed(
                        format!("phase `{id}` role"),
                        was_role.as_str(),
                        role.as_str(),
                    ));
                }
            }
            Pair::Added(id, (label, role)) => out.push(added(
                format!("phase `{id}`"),
                format!("{label:?} ({})", role.as_str()),
            )),
        }
    }
    let order = |s: &Surface| s.phases().iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    let (a, b) = (order(old), order(new));
    let common_a: Vec<&String> = a.iter().filter(|p| b.contains(p)).collect();
    let common_b: Vec<&String> = b.iter().filter(|p| a.contains(p)).collect();
    if common_a != common_b {
        out.push(changed("phase order", list(&a), list(&b)));
    }
    out
}

/// A transition's `(requires, rule, approval, implicit)`.
type TransitionParts = (Vec<String>, Option<String>, Vec<String>, bool);

/// One transition as `(from, to)` → its parts.
fn transition_entries(s: &Surface) -> Vec<((String, String), TransitionParts)> {
    s.transitions()
        .iter()
        .map(|t| {
            (
                (
                    s.phase_name(t.from).to_string(),
                    s.phase_name(t.to).to_string(),
                ),
                (
                    requires_names(s, t)
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                    rule_name(s, t).map(str::to_string),
                    approval_names(t).into_iter().map(str::to_string).collect(),
                    t.implicit,
                ),
            )
        })
        .collect()
}

fn describe_transition(
    requires: &[String],
    rule: &Option<String>,
    approval: &[String],
    implicit: bool,
) -> String {
    let mut text = String::new();
    if implicit {
        text.push_str("implied");
    }
    if !requires.is_empty() {
        if !text.is_empty() {
            text.push_str(", ");
        }
        let _ = write!(text, "requires {}", list(requires));
    }
    if let Some(rule) = rule {
        if !text.is_empty() {
            text.push_str(", ");
        }
        let _ = write!(text, "guard {rule}");
    }
    if !approval.is_empty() {
        if !text.is_empty() {
            text.push_str(", ");
        }
        let _ = write!(text, "approval by {}", approval.join(" or "));
    }
    if text.is_empty() {
        text.push_str("declared");
    }
    text
}

fn transitions(old: &Surface, new: &Surface) -> Vec<Change> {
    let mut out = Vec::new();
    let name = |(from, to): &(String, String)| format!("{from} -> {to}");
    let (a, b) = (transition_entries(old), transition_entries(new));
    for pair in keyed(&a, &b) {
        match pair {
            Pair::Removed(k, (requires, rule, approval, implicit)) => {
                out.push(removed(
                    name(k),
                    describe_transition(requires, rule, approval, *implicit),
                ));
            }
            Pair::Both(k, (r0, g0, a0, _), (r1, g1, a1, _)) => {
                if a0 != a1 {
                    let roles = |a: &[String]| {
                        if a.is_empty() {
                            "none".to_string()
                        } else {
                            a.join(" or ")
                        }
                    };
                    out.push(changed(
                        format!("{} approval", name(k)),
                        roles(a0),
                        roles(a1),
                    ));
                }
                if r0 != r1 {
                    out.push(changed(format!("{} requires", name(k)), list(r0), list(r1)));
                }
                if g0 != g1 {
                    out.push(changed(
                        format!("{} guard", name(k)),
                        g0.clone().unwrap_or_else(|| "none".into()),
                        g1.clone().unwrap_or_else(|| "none".into()),
                    ));
                }
            }
            Pair::Added(k, (requires, rule, approval, implicit)) => {
                out.push(added(
                    name(k),
                    describe_transition(requires, rule, approval, *implicit),
                ));
            }
        }
    }
    out
}

fn evidence(old: &Surface, new: &Surface) -> Vec<Change> {
    let entries = |s: &Surface| {
        let e = s.evidence();
        e.categories
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let required = i < e.required_count as usize;
                (c.clone(), if required { "required" } else { "optional" })
            })
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    let (a, b) = (entries(old), entries(new));
    for pair in keyed(&a, &b) {
        match pair {
            Pair::Removed(c, kind) => out.push(removed(format!("category `{c}`"), *kind)),
            Pair::Both(c, was, is) => compare(&mut out, &format!("category `{c}`"), was, is),
            Pair::Added(c, kind) => out.push(added(format!("category `{c}`"), *kind)),
        }
    }
    compare(
        &mut out,
        "min_per_category",
        old.evidence().min_per_category,
        new.evidence().min_per_category,
    );
    out
}

fn intake(old: &Surface, new: &Surface) -> Vec<Change> {
    let entries = |s: &Surface| {
        let i = s.intake();
        i.required
            .iter()
            .map(|f| (f.clone(), "required"))
            .chain(i.optional.iter().map(|f| (f.clone(), "optional")))
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    let (a, b) = (entries(old), entries(new));
    for pair in keyed(&a, &b) {
        match pair {
            Pair::Removed(f, kind) => out.push(removed(format!("field `{f}`"), *kind)),
            Pair::Both(f, was, is) => compare(&mut out, &format!("field `{f}`"), was, is),
            Pair::Added(f, kind) => out.push(added(format!("field `{f}`"), *kind)),
        }
    }
    compare(
        &mut out,
        "min_photos",
        old.intake().min_photos,
        new.intake().min_photos,
    );
    out
}

fn trigger(on: RuleTrigger) -> String {
    match on {
        RuleTrigger::Command(kind) => kind.as_str().to_string(),
        RuleTrigger::Transition => "transition".to_string(),
    }
}

fn rules(old: &Surface, new: &Surface) -> Vec<Change> {
    let entries = |s: &Surface| {
        s.rules()
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    (trigger(r.on), r.when.clone(), r.message.clone()),
                )
            })
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    let (a, b) = (entries(old), entries(new));
    for pair in keyed(&a, &b) {
        match pair {
            Pair::Removed(n, (on, when, _)) => {
                out.push(removed(format!("rule `{n}`"), format!("on {on}: {when}")));
            }
            Pair::Both(n, (on0, when0, msg0), (on1, when1, msg1)) => {
                compare(&mut out, &format!("rule `{n}` on"), on0, on1);
                compare(&mut out, &format!("rule `{n}` when"), when0, when1);
                compare(&mut out, &format!("rule `{n}` message"), msg0, msg1);
            }
            Pair::Added(n, (on, when, _)) => {
                out.push(added(format!("rule `{n}`"), format!("on {on}: {when}")));
            }
        }
    }
    out
}

fn escalations(old: &Surface, new: &Surface) -> Vec<Change> {
    let entries = |s: &Surface| {
        s.escalations()
            .iter()
            .map(|e| {
                (
                    (s.phase_name(e.phase).to_string(), e.signal.clone()),
                    e.after.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let name = |(phase, signal): &(String, String)| format!("escalation `{signal}` on `{phase}`");
    let mut out = Vec::new();
    let (a, b) = (entries(old), entries(new));
    for pair in keyed(&a, &b) {
        match pair {
            Pair::Removed(k, after) => out.push(removed(name(k), format!("after {after}"))),
            Pair::Both(k, was, is) => compare(&mut out, &format!("{} after", name(k)), was, is),
            Pair::Added(k, after) => out.push(added(name(k), format!("after {after}"))),
        }
    }
    out
}

/// The diff as JSON.
pub fn to_json(diff: &SurfaceDiff) -> Value {
    serde_json::to_value(diff).unwrap_or(Value::Null)
}

/// The diff as text: one line per change (`+` added, `-` removed, `~` changed), by section;
/// sections without changes are left out.
pub fn to_text(diff: &SurfaceDiff) -> String {
    let mut out = format!("{} -> {}\n", diff.old, diff.new);
    if diff.is_empty() {
        out.push_str("  no changes\n");
        return out;
    }
    for section in diff.sections.iter().filter(|s| !s.changes.is_empty()) {
        let _ = writeln!(out, "{}", section.name);
        for c in &section.changes {
            let line = match c.kind {
                ChangeKind::Added => format!("  + {}: {}", c.what, c.new.as_deref().unwrap_or("")),
                ChangeKind::Removed => {
                    format!("  - {}: {}", c.what, c.old.as_deref().unwrap_or(""))
                }
                ChangeKind::Changed => format!(
                    "  ~ {}: {} -> {}",
                    c.what,
                    c.old.as_deref().unwrap_or(""),
                    c.new.as_deref().unwrap_or("")
                ),
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(src: &str) -> Surface {
        let (def, diags) = crate::surface::toml::parse(src);
        assert!(diags.is_empty(), "{diags:?}");
        crate::surface::compile(&def).unwrap().surface
    }

    const V1: &str = r#"
[surface]
slug = "dd"
name = "D"
spec = "s"
version = 1
[[phase]]
id = "queued"
label = "Queued"
[[phase]]
id = "claimed"
label = "Claimed"
[[phase]]
id = "working"
label = "Working"
[[phase]]
id = "done"
label = "Done"
[evidence]
required_categories = ["after"]
min_per_category = 1
[intake]
required = ["contact"]
[[escalation]]
phase = "claimed"
after = "24h"
signal = "stale"
"#;

    #[test]
    fn every_kind_of_change_is_listed() {
        let v1 = compiled(V1);
        let v2 = compiled(
            &V1.replace(
                "version = 1",
                "version = 2\n[execution]\nclaim = \"optional\"",
            )
            .replace("label = \"Working\"", "label = \"On it\"")
            .replace(
                "[evidence]",
                "[[phase]]\nid = \"review\"\nlabel = \"Review\"\n[evidence]",
            )
            .replace(
                "required_categories = [\"after\"]",
                "required_categories = [\"after\"]\noptional_categories = [\"damage\"]",
            )
            .replace(
                "required = [\"contact\"]",
                "required = [\"contact\"]\noptional = [\"notes\"]",
            )
            .replace("after = \"24h\"", "after = \"12h\""),
        );
        let d = diff(&v1, &v2);
        let text = to_text(&d);
        for line in [
            "~ version: 1 -> 2",
            "~ claim: required -> optional",
            "~ phase `working` label: \"Working\" -> \"On it\"",
            "~ phase `done` role: last -> intermediate",
            "+ phase `review`: \"Review\" (last)",
            "+ done -> review: implied",
            "+ category `damage`: optional",
            "+ field `notes`: optional",
            "~ escalation `stale` on `claimed` after: 24h -> 12h",
        ] {
            assert!(text.contains(line), "no `{line}` in\n{text}");
        }
        assert!(diff(&v1, &v1).is_empty());
        assert!(to_text(&diff(&v1, &v1)).contains("no changes"));
        let json = to_json(&d);
        assert_eq!(json["sections"][1]["name"], "execution");
        assert_eq!(json["sections"][1]["changes"][0]["kind"], "changed");
    }
}
