//! Whether a case pinned to one version of a surface could move to another: one pure
//! judgement shared by `planck diff --db` and the `migrate_case` command (docs/authoring.md).
//!
//! A case may move only when everything it holds means the same under the new version: it
//! is not sealed (a sealed Record is final truth under the version it was sealed by), it is
//! pinned to the old version, the new version has the same slug and another version number,
//! its phase (the ServiceEvent's, or the first phase while the Job waits) exists in the new
//! version in the same role (first, second and last are positional roles; the phases between
//! are all alike), and every category holding evidence is declared there. Job, Task and
//! Settlement states are the spine's, the same under every surface. A move waiting for
//! approval must exist in the new version with the same approval roles.
//!
//! Pure: no I/O, no clock, never panics.

use std::fmt;

use serde::Serialize;

use crate::policy::Role;
use crate::spine::case::{Case, JobState};
use crate::surface::{PhaseId, Surface};

/// The role a phase's position gives it (docs/commands.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseRole {
    /// The Job waiting to be claimed.
    First,
    /// Entered by the claim.
    Second,
    /// Between the second and the last.
    Intermediate,
    /// Entered only by completing the ServiceEvent.
    Last,
}

impl PhaseRole {
    /// The role of `phase` in `surface`.
    pub fn of(surface: &Surface, phase: PhaseId) -> PhaseRole {
        if phase == surface.first_phase() {
            PhaseRole::First
        } else if phase == surface.last_phase() {
            PhaseRole::Last
        } else if phase == surface.claimed_phase() {
            PhaseRole::Second
        } else {
            PhaseRole::Intermediate
        }
    }

    /// `first`, `second`, `intermediate`, `last`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseRole::First => "first",
            PhaseRole::Second => "second",
            PhaseRole::Intermediate => "intermediate",
            PhaseRole::Last => "last",
        }
    }
}

/// Why a case cannot move to another version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// No request was ever submitted: there is nothing pinned.
    NotSubmitted,
    /// The case is pinned to another surface or version (or another definition of it) than
    /// the one it would move from.
    NotPinned {
        /// `slug@version` the case is pinned to.
        pinned: String,
        /// `slug@version` it would move from.
        from: String,
    },
    /// The target is another surface.
    OtherSlug {
        /// The case's slug.
        slug: String,
        /// The target's slug.
        target: String,
    },
    /// The target is the version the case is already pinned to.
    SameVersion {
        /// That version.
        version: u32,
    },
    /// The Record is sealed: a sealed case never moves.
    Sealed,
    /// The case's phase is not a phase of the target.
    PhaseMissing {
        /// The phase id.
        phase: String,
    },
    /// The case's phase has another role in the target.
    PhaseRoleChanged {
        /// The phase id.
        phase: String,
        /// Its role in the version the case is pinned to.
        was: PhaseRole,
        /// Its role in the target.
        becomes: PhaseRole,
    },
    /// A category holding evidence is not declared by the target.
    CategoryMissing {
        /// The category.
        category: String,
        /// How many items it holds.
        items: u32,
    },
    /// A move waits for approval, and the target does not declare that move with the same
    /// approval roles.
    PendingApprovalChanged {
        /// The phase the move waits in.
        from: String,
        /// The phase it would enter.
        to: String,
        /// The roles it waits for.
        approval: Vec<Role>,
        /// The roles the target's move names (`None`: the target has no such move).
        becomes: Option<Vec<Role>>,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotSubmitted => f.write_str("no request was submitted"),
            Reason::NotPinned { pinned, from } => {
                write!(f, "the case is pinned to `{pinned}`, not to `{from}`")
            }
            Reason::OtherSlug { slug, target } => {
                write!(f, "`{target}` is another surface than `{slug}`")
            }
            Reason::SameVersion { version } => {
                write!(f, "the case is already pinned to version {version}")
            }
            Reason::Sealed => f.write_str("the Record is sealed: a sealed case never moves"),
            Reason::PhaseMissing { phase } => {
                write!(f, "phase `{phase}` is not a phase of the new version")
            }
            Reason::PhaseRoleChanged {
                phase,
                was,
                becomes,
            } => write!(
                f,
                "phase `{phase}` is the {} phase here and the {} phase in the new version",
                was.as_str(),
                becomes.as_str()
            ),
            Reason::CategoryMissing { category, items } => write!(
                f,
                "evidence category `{category}` holds {items} item{} and is not declared by the new version",
                if *items == 1 { "" } else { "s" }
            ),
            Reason::PendingApprovalChanged {
                from,
                to,
                approval,
                becomes,
            } => {
                let roles = |r: &[Role]| {
                    r.iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                };
                match becomes {
                    None => write!(
                        f,
                        "the move `{from}` -> `{to}` waits for approval by {} and the new version has no such move",
                        roles(approval)
                    ),
                    Some(b) if b.is_empty() => write!(
                        f,
                        "the move `{from}` -> `{to}` waits for approval by {} and needs no approval in the new version",
                        roles(approval)
                    ),
                    Some(b) => write!(
                        f,
                        "the move `{from}` -> `{to}` waits for approval by {}; the new version asks {}",
                        roles(approval),
                        roles(b)
                    ),
                }
            }
        }
    }
}

impl Reason {
    /// The reason as JSON: its `reason` code, its fields, and the sentence as `message` (what
    /// `planck diff --db` prints and `migration_unsafe` carries in its detail).
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "message".into(),
                serde_json::Value::String(self.to_string()),
            );
        }
        value
    }
}

/// Whether `case`, pinned to `old`, could move to `new`: `Ok` when everything it holds means
/// the same there, else every reason it does not.
pub fn compatibility(case: &Case, old: &Surface, new: &Surface) -> Result<(), Vec<Reason>> {
    let Some(request) = case.request.as_ref() else {
        return Err(vec![Reason::NotSubmitted]);
    };
    let mut reasons = Vec::new();
    let pin = &request.surface;
    if pin.slug != old.slug()
        || pin.version != old.version()
        || !old.fingerprint_matches(&pin.fingerprint)
    {
        reasons.push(Reason::NotPinned {
            pinned: pin.key(),
            from: old.key(),
        });
    }
    if new.slug() != old.slug() {
        reasons.push(Reason::OtherSlug {
            slug: old.slug().to_string(),
            target: new.slug().to_string(),
        });
    } else if new.version() == pin.version {
        reasons.push(Reason::SameVersion {
            version: pin.version,
        });
    }
    if case.record.is_some() {
        reasons.push(Reason::Sealed);
    }
    // The phase the case is in: the ServiceEvent's, or the first phase while the Job waits.
    let phase = match (case.phase(), case.job_state()) {
        (Some(phase), _) => Some(phase),
        (None, Some(JobState::Queued)) => Some(old.phase_name(old.first_phase())),
        _ => None,
    };
    if let Some(phase) = phase {
        match (old.phase_id(phase), new.phase_id(phase)) {
            (_, None) => reasons.push(Reason::PhaseMissing {
                phase: phase.to_string(),
            }),
            (Some(a), Some(b)) => {
                let (was, becomes) = (PhaseRole::of(old, a), PhaseRole::of(new, b));
                if was != becomes {
                    reasons.push(Reason::PhaseRoleChanged {
                        phase: phase.to_string(),
                        was,
                        becomes,
                    });
                }
            }
            (None, Some(_)) => {}
        }
    }
    if let Some(se) = case.service_event.as_ref() {
        for (category, items) in &se.evidence_counts {
            if *items > 0 && new.evidence().category(category).is_none() {
                reasons.push(Reason::CategoryMissing {
                    category: category.clone(),
                    items: *items,
                });
            }
        }
    }
    // A move waiting for approval must mean the same there: the same move, the same roles.
    if let Some(pending) = case.pending_approval.as_ref() {
        let declared = new
            .phase_id(&pending.from)
            .zip(new.phase_id(&pending.to))
            .and_then(|(a, b)| new.transition(a, b));
        let same = |roles: &[Role]| {
            roles.len() == pending.approval.len()
                && roles.iter().all(|r| pending.approval.contains(r))
        };
        match declared {
            Some(t) if same(&t.approval) => {}
            other => reasons.push(Reason::PendingApprovalChanged {
                from: pending.from.clone(),
                to: pending.to.clone(),
                approval: pending.approval.clone(),
                becomes: other.map(|t| t.approval.clone()),
            }),
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Principal, Role};
    use crate::spine::{Command, decide, evolve};
    use serde_json::json;

    fn surface(version: u32, phases: &[&str], categories: &[&str]) -> Surface {
        let mut src = format!(
            "[surface]\nslug = \"mig\"\nname = \"Mig\"\nspec = \"s\"\nversion = {version}\n"
        );
        for p in phases {
            src.push_str(&format!("[[phase]]\nid = \"{p}\"\nlabel = \"{p}\"\n"));
        }
        let list: Vec<String> = categories.iter().map(|c| format!("\"{c}\"")).collect();
        src.push_str(&format!(
            "[evidence]\noptional_categories = [{}]\n[intake]\nrequired = [\"contact\"]\n",
            list.join(", ")
        ));
        let (def, diags) = crate::surface::toml::parse(&src);
        assert!(diags.is_empty(), "{diags:?}");
        crate::surface::compile(&def).unwrap().surface
    }

    /// A case on `s` driven by `(role, command, args)` steps.
    fn drive(s: &Surface, steps: &[(Role, &str, serde_json::Value)]) -> Case {
        let mut case = Case::new("c");
        for (role, name, args) in steps {
            let who = match role {
                Role::Operator => "op-lee",
                Role::Admin => "admin-kim",
                _ => "client-ava",
            };
            let principal = Principal::new(who, [*role]);
            let command = Command::from_json("c", name, args).unwrap();
            let events = decide(&case, s, &principal, &command, 1).unwrap();
            case = events.iter().fold(case, evolve);
        }
        case
    }

    fn claimed_with_photo(s: &Surface) -> Case {
        drive(
            s,
            &[
                (
                    Role::Client,
                    "submit_request",
                    json!({"surface": "mig", "intake": {"contact": "x"}}),
                ),
                (Role::Admin, "approve_task", json!({})),
                (Role::Admin, "assign_task", json!({"operator": "op-lee"})),
                (Role::Admin, "create_job", json!({})),
                (Role::Operator, "claim_job", json!({})),
                (Role::Operator, "advance", json!({"to": "working"})),
                (
                    Role::Operator,
                    "attach_evidence",
                    json!({"category": "photo", "ref": "r"}),
                ),
            ],
        )
    }

    #[test]
    fn a_compatible_case_may_move() {
        let v1 = surface(1, &["queued", "claimed", "working", "done"], &["photo"]);
        let v2 = surface(
            2,
            &["queued", "claimed", "review", "working", "done"],
            &["photo", "note"],
        );
        let case = claimed_with_photo(&v1);
        assert_eq!(compatibility(&case, &v1, &v2), Ok(()));
        assert!(matches!(
            compatibility(&Case::new("x"), &v1, &v2),
            Err(r) if r == vec![Reason::NotSubmitted]
        ));
        // A case still in governance has no phase yet.
        let early = drive(
            &v1,
            &[(
                Role::Client,
                "submit_request",
                json!({"surface": "mig", "intake": {"contact": "x"}}),
            )],
        );
        let v3 = surface(3, &["waiting", "taken", "finished"], &[]);
        assert_eq!(compatibility(&early, &v1, &v3), Ok(()));
    }

    #[test]
    fn every_reason_is_given() {
        let v1 = surface(1, &["queued", "claimed", "working", "done"], &["photo"]);
        let case = claimed_with_photo(&v1);
        let v2 = surface(2, &["queued", "claimed", "done"], &[]);
        assert_eq!(
            compatibility(&case, &v1, &v2),
            Err(vec![
                Reason::PhaseMissing {
                    phase: "working".into()
                },
                Reason::CategoryMissing {
                    category: "photo".into(),
                    items: 1
                }
            ])
        );
        let v3 = surface(3, &["queued", "claimed", "other", "working"], &["photo"]);
        assert_eq!(
            compatibility(&case, &v1, &v3),
            Err(vec![Reason::PhaseRoleChanged {
                phase: "working".into(),
                was: PhaseRole::Intermediate,
                becomes: PhaseRole::Last
            }])
        );
        assert_eq!(
            compatibility(&case, &v1, &v1),
            Err(vec![Reason::SameVersion { version: 1 }])
        );
        let other = surface(2, &["queued", "claimed", "working", "done"], &["photo"]);
        assert!(matches!(
            compatibility(&case, &v3, &other).unwrap_err().first(),
            Some(Reason::NotPinned { .. })
        ));
        let sealed = {
            let mut c = case.clone();
            for (name, args) in [
                ("advance", json!({"to": "working"})),
                ("complete_service_event", json!({})),
            ] {
                let command = Command::from_json("c", name, &args).unwrap();
                let op = Principal::new("op-lee", [Role::Operator]);
                if let Ok(events) = decide(&c, &v1, &op, &command, 2) {
                    c = events.iter().fold(c, evolve);
                }
            }
            c
        };
        assert!(sealed.record.is_some());
        let v4 = surface(4, &["queued", "claimed", "working", "done"], &["photo"]);
        assert_eq!(compatibility(&sealed, &v1, &v4), Err(vec![Reason::Sealed]));
        for r in [Reason::Sealed, Reason::NotSubmitted] {
            assert!(!r.to_string().ends_with('.'));
        }
    }
}
