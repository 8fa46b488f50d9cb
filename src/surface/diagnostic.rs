//! The stable codes of problems in a surface file (`docs/surface.md`).
//!
//! A problem in a surface file is a [`Diagnostic`]: the crate's one diagnostic type
//! ([`crate::diagnostic`]) with a surface [`Code`]. Front ends and the validator collect them
//! and never stop at the first one; [`crate::diagnostic::render`] shows them.

pub use crate::diagnostic::{Severity, has_errors, line_col};

/// One problem in a surface file.
pub type Diagnostic = crate::diagnostic::Diagnostic<Code>;

crate::diagnostic::codes! {
    /// A stable diagnostic code of surface files. The text form (`unknown_key`) never changes
    /// once shipped.
    pub enum Code {
        /// The file cannot be read.
        Io = "io",
        /// The file is larger than the limit on surface files.
        FileTooLarge = "file_too_large",
        /// The TOML does not parse.
        TomlSyntax = "toml_syntax",
        /// The DSL does not parse.
        DslSyntax = "dsl_syntax",
        /// A key that the surface language does not have.
        UnknownKey = "unknown_key",
        /// A required key is missing.
        MissingKey = "missing_key",
        /// A value of the wrong type (a string where an integer belongs, ...).
        WrongType = "wrong_type",
        /// A keyword value that is not one of the accepted ones.
        InvalidValue = "invalid_value",
        /// A key written twice (DSL only; TOML reports duplicates as syntax errors).
        DuplicateKey = "duplicate_key",
        /// A slug that does not match `^[a-z][a-z0-9-]{1,62}$`.
        InvalidSlug = "invalid_slug",
        /// A phase id, rule name, category or field name that does not match its pattern.
        InvalidIdentifier = "invalid_identifier",
        /// A required text that is empty.
        EmptyValue = "empty_value",
        /// A number out of its range (`version >= 1`, `min_per_category >= 0`, ...).
        OutOfRange = "out_of_range",
        /// Fewer than three phases.
        TooFewPhases = "too_few_phases",
        /// More phases, rules, transitions, ... than the limits allow.
        TooMany = "too_many",
        /// Two phases with one id.
        DuplicatePhase = "duplicate_phase",
        /// Two rules with one name.
        DuplicateRule = "duplicate_rule",
        /// Two transitions with one `from` and `to`.
        DuplicateTransition = "duplicate_transition",
        /// A category, intake field or approval role listed twice.
        DuplicateName = "duplicate_name",
        /// A transition or escalation names a phase that is not declared, or a rule compares a
        /// phase (`case.phase`, `command.to`) with a text that is not a phase id.
        UnknownPhase = "unknown_phase",
        /// A transition names a rule that is not declared.
        UnknownRule = "unknown_rule",
        /// A transition requires, or a rule reads (`case.evidence.X`, `command.category ==
        /// "X"`), a category the evidence contract does not declare.
        UnknownCategory = "unknown_category",
        /// A rule reads an intake field (`case.intake.X`, `"X" in case.intake`) that `[intake]`
        /// does not declare.
        UnknownIntakeField = "unknown_intake_field",
        /// A rule reads a member the scope does not have (`case.X`, `actor.X`, `command.X` for
        /// the commands the rule runs with, any member of `now`).
        UnknownMember = "unknown_member",
        /// A rule compares a value with a literal it can never hold (`case.job == "claimd"`,
        /// `"admn" in actor.roles`); phase ids are `unknown_phase`, categories
        /// `unknown_category`.
        UnknownValue = "unknown_value",
        /// A rule compares values of different types (a count with a text, a text with a
        /// number, a list with a text), which is always false.
        TypeMismatch = "type_mismatch",
        /// A category both required and optional, or an intake field both required and optional.
        RequiredAndOptional = "required_and_optional",
        /// A transition into the first phase.
        TransitionIntoFirst = "transition_into_first",
        /// A transition out of the first phase into any phase but the second (a warning): the
        /// first phase is left only by the claim, which always enters the second.
        TransitionFromFirst = "transition_from_first",
        /// A transition out of the last phase.
        TransitionOutOfLast = "transition_out_of_last",
        /// A transition from a phase to itself.
        SelfTransition = "self_transition",
        /// A phase that cannot be reached from the first.
        UnreachablePhase = "unreachable_phase",
        /// A phase from which the last cannot be reached.
        DeadEndPhase = "dead_end_phase",
        /// A rule's `on` that is neither a command nor `transition`.
        UnknownTrigger = "unknown_trigger",
        /// A rule's `when` that does not compile.
        RuleCompile = "rule_compile",
        /// A rule with `on = "transition"` that no transition names.
        UnusedRule = "unused_rule",
        /// An escalation `after` that does not parse.
        InvalidDuration = "invalid_duration",
        /// A transition's `approval` that names no role, a name that is not a role, the
        /// `observer` role (observers never write), or that sits on the claim.
        InvalidApproval = "invalid_approval",
        /// A surface registered twice under one `slug@version` with different contents.
        RegistryConflict = "registry_conflict",
    }
}
