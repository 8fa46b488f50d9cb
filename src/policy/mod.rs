//! Who may do what: principals and roles, the authority table of `docs/commands.md`, and the
//! evidence and intake contracts judged against a case.
//!
//! Everything here is a pure function over values. Identity always arrives as a [`Principal`]
//! built by the host from its own session, never from a command's body.

mod authority;
mod contracts;
mod principal;

pub use authority::{allowed_roles, may_send};
pub use contracts::{MissingEvidence, check_intake, missing_evidence};
pub use principal::{Principal, Role};
