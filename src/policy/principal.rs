//! The principal: the authenticated actor the host hands to the engine.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A role (the roles are listed in `docs/commands.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Submits requests.
    Client,
    /// Governs tasks, hands off jobs, cancels, records settlement.
    Admin,
    /// Claims and executes jobs.
    Operator,
    /// Automation of the host: submits requests, records settlement.
    System,
    /// Reads and explains; never writes.
    Observer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Client,
        Role::Admin,
        Role::Operator,
        Role::System,
        Role::Observer,
    ];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::System => "system",
            Role::Observer => "observer",
        }
    }

    /// Parse a role name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The actor sending a command, as established by the host's session.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// A stable identifier (`op-lee`).
    pub id: String,
    /// The roles the session grants.
    pub roles: Vec<Role>,
}

impl Principal {
    /// A principal with `id` and `roles`.
    pub fn new(id: impl Into<String>, roles: impl IntoIterator<Item = Role>) -> Self {
        Principal {
            id: id.into(),
            roles: roles.into_iter().collect(),
        }
    }

    /// Whether the principal has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}
