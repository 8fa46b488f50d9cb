//! The compiled, immutable [`Surface`]: what the spine core runs against.
//!
//! A `Surface` is produced only by [`compile`](mod@crate::surface::compile) from a definition that passed
//! validation, so every id in it resolves and every lookup here is total. Phases, evidence
//! categories and rules are addressed by dense indices ([`PhaseId`], [`CategoryId`],
//! [`RuleId`]); transitions are kept in a compressed adjacency table (sorted targets per source
//! phase) so a move is found in O(log out-degree), which for every real surface is O(1).

use std::collections::HashMap;
use std::fmt;

use petgraph::graph::DiGraph;
use serde::Serialize;

use crate::policy::Role;
use crate::spine::CommandKind;
use crate::surface::ast::{
    ClaimPolicy, Definition, Operators, Ownership, PaymentTiming, RecordContainer, Status,
};
use crate::surface::rules::Guard;

/// Index of a phase in lifecycle order (0 = the first phase).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PhaseId(pub u32);

/// Index of a declared evidence category (required ones first, then optional ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CategoryId(pub u32);

/// Index of a `[[rule]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RuleId(pub u32);

/// Index of a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TransitionId(pub u32);

/// A SHA-256 digest over the canonical serialization of the normalized definition.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        String::from_utf8(self.hex_bytes().to_vec()).unwrap_or_else(|_| hex::encode(self.0))
    }

    /// Whether `hex` is exactly [`Fingerprint::to_hex`] of this fingerprint, compared without
    /// allocating (the spine checks a case's pin on every command).
    pub fn matches_hex(&self, hex: &str) -> bool {
        hex.as_bytes() == self.hex_bytes().as_slice()
    }

    /// The lowercase hex digits, on the stack.
    fn hex_bytes(&self) -> [u8; 64] {
        let mut hex = [0_u8; 64];
        // The lengths match (32 bytes, 64 digits), so this cannot fail.
        let _ = hex::encode_to_slice(self.0, &mut hex);
        hex
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// The posture of `[execution]`, defaults filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ExecutionPolicy {
    /// Whether a claim is required before work.
    pub claim: ClaimPolicy,
    /// Who may claim.
    pub ownership: Ownership,
    /// The record container.
    pub record: RecordContainer,
    /// Whether settlement must be captured before the claim.
    pub payment_timing: PaymentTiming,
    /// Whether completed Jobs stay on the operator's desk.
    pub completed_visible: bool,
    /// Whether only registered, active operators bound to the surface may act.
    pub operators: Operators,
}

/// One phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhaseInfo {
    /// Its id.
    pub id: String,
    /// What operators see.
    pub label: String,
}

/// One compiled transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransitionInfo {
    /// Source phase.
    pub from: PhaseId,
    /// Target phase.
    pub to: PhaseId,
    /// Categories that must each hold `min_per_category` items first.
    pub requires: Vec<CategoryId>,
    /// A rule that must pass (a rule with `on = "transition"` or any other rule named here).
    pub rule: Option<RuleId>,
    /// The roles any one of whose holders must approve the move before it happens; empty
    /// when the move needs no approval.
    pub approval: Vec<Role>,
    /// Not written in the file: a surface without `[[transition]]`s moves each phase to the
    /// next, and one with transitions gets the claim edge (first → second phase) implied
    /// when it does not declare it (docs/commands.md).
    pub implicit: bool,
}

/// When a rule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "command")]
pub enum RuleTrigger {
    /// Whenever this command is judged on a case of the surface.
    Command(CommandKind),
    /// Only where a transition names the rule.
    Transition,
}

/// One compiled rule.
#[derive(Clone, Debug, Serialize)]
pub struct RuleInfo {
    /// Its name.
    pub name: String,
    /// When it runs.
    pub on: RuleTrigger,
    /// The Rhai source of `when`.
    pub when: String,
    /// What a refused actor is told.
    pub message: String,
    /// The compiled expression.
    #[serde(skip)]
    pub guard: Guard,
}

/// One compiled escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EscalationInfo {
    /// The phase being watched.
    pub phase: PhaseId,
    /// How long the ServiceEvent may stay in it, in milliseconds.
    pub after_ms: u64,
    /// The `after` text as written (`24h`).
    pub after: String,
    /// The signal to emit.
    pub signal: String,
}

/// The evidence contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceContract {
    /// Every declared category: required ones first, then optional ones. Index = [`CategoryId`].
    pub categories: Vec<String>,
    /// How many of `categories` (from the start) are required.
    pub required_count: u32,
    /// Items each required category must hold before completion.
    pub min_per_category: u32,
}

impl EvidenceContract {
    /// The required categories.
    pub fn required(&self) -> impl Iterator<Item = (CategoryId, &str)> {
        self.categories
            .iter()
            .take(self.required_count as usize)
            .enumerate()
            .map(|(i, c)| (CategoryId(i as u32), c.as_str()))
    }

    /// The id of a declared category.
    pub fn category(&self, name: &str) -> Option<CategoryId> {
        self.categories
            .iter()
            .position(|c| c == name)
            .map(|i| CategoryId(i as u32))
    }

    /// The name of a category id.
    pub fn name(&self, id: CategoryId) -> &str {
        self.categories
            .get(id.0 as usize)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// The intake contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntakeContract {
    /// Fields that must be present and non-empty.
    pub required: Vec<String>,
    /// Fields that may be present.
    pub optional: Vec<String>,
    /// Photos that must come with the request.
    pub min_photos: u32,
    /// Fields stored sealed under a key of their case, erasable (`erase_personal_data`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
}

/// A compiled surface. Immutable; cheap to share behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Surface {
    pub(crate) slug: String,
    pub(crate) name: String,
    pub(crate) spec: String,
    pub(crate) version: u32,
    pub(crate) status: Status,
    pub(crate) execution: ExecutionPolicy,
    pub(crate) phases: Vec<PhaseInfo>,
    pub(crate) phase_index: HashMap<String, PhaseId>,
    pub(crate) transitions: Vec<TransitionInfo>,
    /// `adjacency_start[p]..adjacency_start[p+1]` indexes `adjacency` for phase `p`.
    pub(crate) adjacency_start: Vec<u32>,
    /// `(to, transition)` pairs, sorted by `to` within each source phase.
    pub(crate) adjacency: Vec<(PhaseId, TransitionId)>,
    pub(crate) graph: DiGraph<PhaseId, TransitionId>,
    pub(crate) evidence: EvidenceContract,
    pub(crate) intake: IntakeContract,
    pub(crate) rules: Vec<RuleInfo>,
    /// For each command, the rules with `on = <command>`, in file order.
    pub(crate) rules_on: HashMap<CommandKind, Vec<RuleId>>,
    pub(crate) escalations: Vec<EscalationInfo>,
    pub(crate) fingerprint: Fingerprint,
    /// [`Fingerprint::to_hex`] of `fingerprint`, kept for comparing with case pins.
    pub(crate) fingerprint_hex: String,
    /// The normalized definition (defaults filled in) the fingerprint was taken over.
    pub(crate) definition: Definition,
}

impl Surface {
    /// `slug`.
    pub fn slug(&self) -> &str {
        &self.slug
    }
    /// `name`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// `spec`.
    pub fn spec(&self) -> &str {
        &self.spec
    }
    /// `version`.
    pub fn version(&self) -> u32 {
        self.version
    }
    /// `slug@version`, the registry key.
    pub fn key(&self) -> String {
        format!("{}@{}", self.slug, self.version)
    }
    /// `status`.
    pub fn status(&self) -> Status {
        self.status
    }
    /// The `[execution]` posture.
    pub fn execution(&self) -> &ExecutionPolicy {
        &self.execution
    }
    /// Phases in lifecycle order.
    pub fn phases(&self) -> &[PhaseInfo] {
        &self.phases
    }
    /// The phase with this id.
    pub fn phase(&self, id: PhaseId) -> Option<&PhaseInfo> {
        self.phases.get(id.0 as usize)
    }
    /// The id of the phase named `name`.
    pub fn phase_id(&self, name: &str) -> Option<PhaseId> {
        // A short scan beats hashing the name for the few phases real surfaces have.
        if self.phases.len() <= 16 {
            return self
                .phases
                .iter()
                .position(|p| p.id == name)
                .map(|i| PhaseId(i as u32));
        }
        self.phase_index.get(name).copied()
    }
    /// The phase name of `id` (empty when out of range, which a compiled surface never hands out).
    pub fn phase_name(&self, id: PhaseId) -> &str {
        self.phase(id).map(|p| p.id.as_str()).unwrap_or("")
    }
    /// The first phase: the Job waiting to be claimed.
    pub fn first_phase(&self) -> PhaseId {
        PhaseId(0)
    }
    /// The second phase: entered by claiming.
    pub fn claimed_phase(&self) -> PhaseId {
        PhaseId(1)
    }
    /// The last phase: entered only by completing the ServiceEvent.
    pub fn last_phase(&self) -> PhaseId {
        PhaseId(self.phases.len().saturating_sub(1) as u32)
    }
    /// Every transition.
    pub fn transitions(&self) -> &[TransitionInfo] {
        &self.transitions
    }
    /// The transition `from → to`, if declared.
    pub fn transition(&self, from: PhaseId, to: PhaseId) -> Option<&TransitionInfo> {
        let start = *self.adjacency_start.get(from.0 as usize)? as usize;
        let end = *self.adjacency_start.get(from.0 as usize + 1)? as usize;
        let slice = self.adjacency.get(start..end)?;
        let pos = slice.binary_search_by_key(&to, |(t, _)| *t).ok()?;
        let (_, tid) = slice.get(pos)?;
        self.transitions.get(tid.0 as usize)
    }
    /// Transitions leaving `from`.
    pub fn transitions_from(&self, from: PhaseId) -> impl Iterator<Item = &TransitionInfo> {
        let start = self
            .adjacency_start
            .get(from.0 as usize)
            .copied()
            .unwrap_or(0) as usize;
        let end = self
            .adjacency_start
            .get(from.0 as usize + 1)
            .copied()
            .unwrap_or(0) as usize;
        self.adjacency
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .filter_map(|(_, t)| self.transitions.get(t.0 as usize))
    }
    /// The petgraph graph of phases (nodes) and transitions (edges).
    pub fn graph(&self) -> &DiGraph<PhaseId, TransitionId> {
        &self.graph
    }
    /// The evidence contract.
    pub fn evidence(&self) -> &EvidenceContract {
        &self.evidence
    }
    /// The intake contract.
    pub fn intake(&self) -> &IntakeContract {
        &self.intake
    }
    /// Every rule.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }
    /// A rule by id.
    pub fn rule(&self, id: RuleId) -> Option<&RuleInfo> {
        self.rules.get(id.0 as usize)
    }
    /// The rules that run whenever `command` is judged, in file order.
    pub fn rules_on(&self, command: CommandKind) -> &[RuleId] {
        if self.rules_on.is_empty() {
            return &[];
        }
        self.rules_on
            .get(&command)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
    /// Every escalation.
    pub fn escalations(&self) -> &[EscalationInfo] {
        &self.escalations
    }
    /// The content fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
    /// The content fingerprint in lowercase hex (what case pins hold).
    pub fn fingerprint_hex(&self) -> &str {
        &self.fingerprint_hex
    }
    /// Whether `hex` (a case's pin) is this surface's fingerprint in hex: one string compare,
    /// what the spine does on every command.
    pub fn fingerprint_matches(&self, hex: &str) -> bool {
        self.fingerprint_hex == hex
    }
    /// The normalized definition (defaults filled in).
    pub fn definition(&self) -> &Definition {
        &self.definition
    }
    /// Whether some rule may read `actor.profile` (the engine then loads the principal's
    /// operator profile for each command on the surface).
    pub fn reads_profile(&self) -> bool {
        self.rules.iter().any(|r| r.guard.reads().profile)
    }
    /// Whether some transition waits for approval.
    pub fn has_approvals(&self) -> bool {
        self.transitions.iter().any(|t| !t.approval.is_empty())
    }
    /// Whether `operators = "registered"`: access needs an active profile bound to the
    /// surface.
    pub fn registered_operators(&self) -> bool {
        self.execution.operators == Operators::Registered
    }
}

#[cfg(test)]
mod tests {
    use super::Fingerprint;

    #[test]
    fn hex_round_trips_and_compares_without_allocating() {
        let mut bytes = [0_u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        let fp = Fingerprint(bytes);
        assert_eq!(fp.to_hex(), hex::encode(bytes));
        assert!(fp.matches_hex(&fp.to_hex()));
        assert!(!fp.matches_hex(&fp.to_hex().to_uppercase()));
        assert!(!fp.matches_hex(&fp.to_hex()[..62]));
        let mut other = fp.to_hex();
        other.replace_range(63.., "x");
        assert!(!fp.matches_hex(&other));
        assert!(!fp.matches_hex(""));
    }
}
