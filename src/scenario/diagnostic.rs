//! The stable codes of problems in a scenario file (`docs/scenario.md`).
//!
//! A scenario file is checked as a whole before anything runs: every problem becomes a
//! [`Diagnostic`], the crate's one diagnostic type ([`crate::diagnostic`]) with a scenario
//! [`Code`], always an error. The codes are the scenario file's own, because a scenario names
//! principals, commands, times and expectations that a surface never does.
//! [`crate::diagnostic::render`] shows them.

/// One problem in a scenario file. Always an error: a scenario with problems does not run.
pub type Diagnostic = crate::diagnostic::Diagnostic<Code>;

crate::diagnostic::codes! {
    /// A stable scenario diagnostic code. The text form never changes once shipped.
    pub enum Code {
        /// The file cannot be read.
        Io = "io",
        /// The file is larger than a scenario file may be.
        FileTooLarge = "file_too_large",
        /// The TOML does not parse.
        TomlSyntax = "toml_syntax",
        /// A key that scenario files do not have.
        UnknownKey = "unknown_key",
        /// A key that is required is missing.
        MissingKey = "missing_key",
        /// A value of the wrong type.
        WrongType = "wrong_type",
        /// A value outside its accepted set, or empty where text is required.
        InvalidValue = "invalid_value",
        /// A step's `as` that is not a key of `[principals]`.
        UnknownPrincipal = "unknown_principal",
        /// A role that is not one of the roles in `docs/commands.md`.
        UnknownRole = "unknown_role",
        /// A step's `command` that is neither a command of `docs/commands.md` nor `tick`.
        UnknownCommand = "unknown_command",
        /// A `start` or `at` that is neither `+N` with a unit nor an RFC 3339 time, or that
        /// moves the clock backwards.
        InvalidTime = "invalid_time",
        /// An `expect` that is not `applied`, `duplicate`, `rejected` or `rejected:<code>`.
        InvalidExpect = "invalid_expect",
        /// An `expect = "rejected:<code>"` whose code is not a rejection code of
        /// `docs/commands.md`.
        UnknownRejectionCode = "unknown_rejection_code",
        /// A `surfaces` entry that does not exist.
        SurfaceNotFound = "surface_not_found",
    }
}
