//! The syntax tree of a surface file, shared by both front ends.
//!
//! The TOML front end (`surface::toml`) and the DSL front end (`surface::dsl`) both produce a
//! [`Definition`]. Every node keeps the byte span it came from, but spans never take part in
//! equality: the same surface written in both forms parses to `==` trees, which is what lets
//! the two forms share one validator, one compiler and one fingerprint.
//!
//! The tree records what was *written*: optional keys that were left out are `None`, and
//! defaults are filled in only by [`Definition::normalized`]. Keys the file format marks as
//! required are `Option` too, because parsing never stops at the first problem: a missing key
//! is reported as a diagnostic and the tree is still built.

use std::fmt;

use serde::Serialize;

pub use crate::diagnostic::Span;

/// A value with the span it was written at. Two nodes are equal when their values are.
#[derive(Clone, Copy, Default)]
pub struct Node<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Node<T> {
    /// Wrap `value` with `span`.
    pub fn new(value: T, span: impl Into<Span>) -> Self {
        Node {
            value,
            span: span.into(),
        }
    }

    /// A node with no meaningful position (built in code rather than parsed).
    pub fn synthetic(value: T) -> Self {
        Node {
            value,
            span: Span::default(),
        }
    }
}

impl<T: PartialEq> PartialEq for Node<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Node<T> {}

impl<T: fmt::Debug> fmt::Debug for Node<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Serialize> Serialize for Node<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// A whole surface file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Definition {
    /// The `[surface]` table: identity and status.
    pub surface: Header,
    /// The `[execution]` table: claim, ownership and payment posture.
    pub execution: Execution,
    /// The `[[phase]]` entries, in lifecycle order.
    pub phases: Vec<Node<Phase>>,
    /// The `[[transition]]` entries; empty means "each phase moves to the next".
    pub transitions: Vec<Node<Transition>>,
    /// The `[evidence]` table.
    pub evidence: Evidence,
    /// The `[intake]` table.
    pub intake: Intake,
    /// The `[[rule]]` entries: extra guards in Rhai.
    pub rules: Vec<Node<Rule>>,
    /// The `[[escalation]]` entries.
    pub escalations: Vec<Node<Escalation>>,
}

/// The `[surface]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Where the table was written (the whole file when it is missing).
    pub span: SpanIgnored,
    /// `slug`, required.
    pub slug: Option<Node<String>>,
    /// `name`, required.
    pub name: Option<Node<String>>,
    /// `spec`, required.
    pub spec: Option<Node<String>>,
    /// `version`, required, `>= 1`.
    pub version: Option<Node<i64>>,
    /// `status`, default [`Status::Active`].
    pub status: Option<Node<Status>>,
}

/// The `[execution]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Execution {
    /// `claim`, default [`ClaimPolicy::Required`].
    pub claim: Option<Node<ClaimPolicy>>,
    /// `ownership`, default [`Ownership::Assigned`].
    pub ownership: Option<Node<Ownership>>,
    /// `record`, default [`RecordContainer::ServiceEvent`].
    pub record: Option<Node<RecordContainer>>,
    /// `payment_timing`, default [`PaymentTiming::Independent`].
    pub payment_timing: Option<Node<PaymentTiming>>,
    /// `completed_visible`, default `true`.
    pub completed_visible: Option<Node<bool>>,
    /// `operators`, default [`Operators::Any`]: whether only registered, active operators
    /// bound to the surface may be assigned, claim and act as owner.
    pub operators: Option<Node<Operators>>,
}

/// One `[[phase]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phase {
    /// `id`, required.
    pub id: Option<Node<String>>,
    /// `label`, required: what operators see.
    pub label: Option<Node<String>>,
}

/// One `[[transition]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transition {
    /// `from`, a phase id.
    pub from: Option<Node<String>>,
    /// `to`, a phase id.
    pub to: Option<Node<String>>,
    /// `requires`: evidence categories that must each hold `min_per_category` items.
    pub requires: Vec<Node<String>>,
    /// `rule`: the name of a `[[rule]]` that must pass for this move.
    pub rule: Option<Node<String>>,
    /// `approval`: roles, any one of whose holders must approve the move before it happens.
    /// `None` when not written; the outer node spans the whole list (an empty list is an
    /// error the validator reports there).
    pub approval: Option<Node<Vec<Node<String>>>>,
}

/// The `[evidence]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// `required_categories`.
    pub required_categories: Vec<Node<String>>,
    /// `optional_categories`.
    pub optional_categories: Vec<Node<String>>,
    /// `min_per_category`, default 0.
    pub min_per_category: Option<Node<i64>>,
}

/// The `[intake]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intake {
    /// `required` intake fields: present and non-empty.
    pub required: Vec<Node<String>>,
    /// `optional` intake fields; any other field is refused.
    pub optional: Vec<Node<String>>,
    /// `min_photos`, default 0.
    pub min_photos: Option<Node<i64>>,
    /// `sensitive` intake fields: stored sealed under a key of their case, erasable
    /// (`erase_personal_data`). Each must be a declared (`required` or `optional`) field.
    pub sensitive: Vec<Node<String>>,
}

/// One `[[rule]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// `name`, required, unique.
    pub name: Option<Node<String>>,
    /// `on`: a command name, or `transition`.
    pub on: Option<Node<String>>,
    /// `when`: a Rhai expression that must evaluate to `true`. Its span covers the string's
    /// contents (inside the quotes), so Rhai's positions can be mapped back into the file.
    pub when: Option<Node<String>>,
    /// `message`: what a refused actor is told.
    pub message: Option<Node<String>>,
}

/// One `[[escalation]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Escalation {
    /// `phase`: while the ServiceEvent stays in this phase ...
    pub phase: Option<Node<String>>,
    /// `after`: ... this long (`30s`, `15m`, `24h`, `2d`) ...
    pub after: Option<Node<String>>,
    /// `signal`: ... emit this signal once.
    pub signal: Option<Node<String>>,
}

/// A span that never takes part in equality (for containers that are not [`Node`]s).
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanIgnored(pub Span);

impl PartialEq for SpanIgnored {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SpanIgnored {}

macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// Every accepted spelling, in declaration order.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            /// The keyword as written in a surface file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parse the keyword; `None` when it is not one of [`Self::ALL`].
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keyword_enum!(
    /// Whether a surface takes new work (`[surface] status`).
    Status {
        /// Takes new requests and claims.
        Active = "active",
        /// Takes no new requests and no claims; in-flight work continues.
        Paused = "paused",
        /// Retired: like paused, for good.
        Retired = "retired",
    }
);

keyword_enum!(
    /// Whether an operator must claim a Job before working it (`[execution] claim`).
    ClaimPolicy {
        /// An explicit `claim_job` opens the ServiceEvent.
        Required = "required",
        /// The eligible operator's first `advance` out of the first phase claims implicitly.
        Optional = "optional",
    }
);

keyword_enum!(
    /// Who may claim a Job (`[execution] ownership`).
    Ownership {
        /// Only the assigned operator.
        Assigned = "assigned",
        /// Any operator.
        Open = "open",
    }
);

keyword_enum!(
    /// The execution record container (`[execution] record`).
    RecordContainer {
        /// The ServiceEvent is the record container (the only one for now).
        ServiceEvent = "service_event",
    }
);

keyword_enum!(
    /// How payment relates to execution (`[execution] payment_timing`).
    PaymentTiming {
        /// Settlement is independent of execution.
        Independent = "independent",
        /// A captured settlement must exist before the Job may be claimed.
        Prepaid = "prepaid",
    }
);

keyword_enum!(
    /// Who may act on a surface's Jobs (`[execution] operators`).
    Operators {
        /// Only an operator with an active profile bound to the surface may be assigned,
        /// claim, or act as owner.
        Registered = "registered",
        /// Any id the host passes (profiles are not consulted for access).
        Any = "any",
    }
);
