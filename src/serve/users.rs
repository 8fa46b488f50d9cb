//! The users file: who may log in, as which principal, with which password.
//!
//! A TOML file with one `[[user]]` table per login:
//!
//! ```toml
//! [[user]]
//! login = "kim"                       # what the person types at the login form
//! id = "admin-kim"                    # the principal id commands are recorded under
//! roles = ["admin"]                   # client | admin | operator | system | observer
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$…"   # an argon2 PHC string
//! ```
//!
//! `planck users add FILE LOGIN --id ID --role ROLE…` writes one entry (the password is read
//! from standard input, never from the command line), keeping every other line of the file,
//! comments included; the file is replaced atomically (a temporary file beside it, then a
//! rename) and is readable by its owner only (mode 0600). A malformed file is refused with its
//! `file:line:col` and what is wrong, never half-loaded.
//!
//! Passwords are checked with argon2 in constant time. An unknown login is checked against a
//! dummy hash with the same parameters, so a wrong login and a wrong password take the same
//! time and get the same answer.

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use serde::Deserialize;
use toml::Spanned;

use crate::policy::{Principal, Role};
use crate::spine::limits::MAX_ID_LEN;

/// The longest login accepted, in bytes.
pub const MAX_LOGIN_LEN: usize = 128;
/// The longest password accepted, in bytes (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why the users file could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The file could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid users file.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A value given to `planck users add` is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Hashing the password failed.
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// One login.
#[derive(Clone)]
pub struct User {
    /// What the person types.
    pub login: String,
    /// The principal the session carries.
    pub principal: Principal,
    password_hash: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("login", &self.login)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Every login of a users file, ready to check passwords against.
#[derive(Clone)]
pub struct Users {
    by_login: HashMap<String, User>,
    /// A hash of a random password, verified against for unknown logins.
    dummy_hash: String,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("logins", &self.by_login.len())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    #[serde(default)]
    user: Vec<Spanned<EntryForm>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryForm {
    login: Spanned<String>,
    id: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
    password_hash: Spanned<String>,
}

impl Users {
    /// Read and check the users file at `path`.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Users::parse(path, &text)
    }

    /// Check the text of a users file (`path` is only used in diagnostics).
    pub fn parse(path: &Path, text: &str) -> Result<Users, UsersError> {
        let form: FileForm = toml::from_str(text).map_err(|err| {
            malformed(path, text, err.span(), err.message().trim_end().to_string())
        })?;
        let mut by_login = HashMap::new();
        for entry in form.user {
            let span = entry.span();
            let entry = entry.into_inner();
            let login = entry.login.get_ref();
            if let Err(problem) = check_login(login) {
                return Err(malformed(path, text, Some(entry.login.span()), problem));
            }
            if let Err(problem) = check_id(entry.id.get_ref()) {
                return Err(malformed(path, text, Some(entry.id.span()), problem));
            }
            let mut roles = Vec::new();
            for role in entry.roles.get_ref() {
                match Role::parse(role.get_ref()) {
                    Some(r) => roles.push(r),
                    None => {
                        return Err(malformed(
                            path,
                            text,
                            Some(role.span()),
                            format!(
                                "`{}` is not a role (client, admin, operator, system, observer)",
                                role.get_ref()
                            ),
                        ));
                    }
                }
            }
            if roles.is_empty() {
                return Err(malformed(
                    path,
                    text,
                    Some(entry.roles.span()),
                    "a user needs at least one role".to_string(),
                ));
            }
            if let Err(err) = PasswordHash::new(entry.password_hash.get_ref()) {
                return Err(malformed(
                    path,
                    text,
                    Some(entry.password_hash.span()),
                    format!(
                        "`password_hash` is not a PHC string ({err}); write it with `planck users add`"
                    ),
                ));
            }
            let user = User {
                login: login.clone(),
                principal: Principal::new(entry.id.get_ref().clone(), roles),
                password_hash: entry.password_hash.get_ref().clone(),
            };
            if by_login.insert(login.clone(), user).is_some() {
                return Err(malformed(
                    path,
                    text,
                    Some(span),
                    format!("login `{login}` is listed twice"),
                ));
            }
        }
        Ok(Users {
            by_login,
            dummy_hash: dummy_hash()?,
        })
    }

    /// How many logins there are.
    pub fn len(&self) -> usize {
        self.by_login.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_login.is_empty()
    }

    /// The user with `login`, if any (no password check).
    pub fn get(&self, login: &str) -> Option<&User> {
        self.by_login.get(login)
    }

    /// Every user, by login.
    pub fn all(&self) -> Vec<&User> {
        let mut users: Vec<&User> = self.by_login.values().collect();
        users.sort_by(|a, b| a.login.cmp(&b.login));
        users
    }

    /// The principal of `login` when `password` is theirs; `None` otherwise, whether the login
    /// is unknown or the password wrong (both cost one argon2 verification). Slow on purpose:
    /// call it off the async runtime.
    pub fn verify(&self, login: &str, password: &str) -> Option<Principal> {
        let (hash, user) = match self.by_login.get(login) {
            Some(user) => (user.password_hash.as_str(), Some(user)),
            None => (self.dummy_hash.as_str(), None),
        };
        let ok = password.len() <= MAX_PASSWORD_LEN && verify_password(hash, password);
        match (ok, user) {
            (true, Some(user)) => Some(user.principal.clone()),
            _ => None,
        }
    }
}

fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The argon2id PHC string of `password` with a fresh random salt and the default parameters
/// (argon2id, m = 19 MiB, t = 2, p = 1).
pub fn hash_password(password: &str) -> Result<String, UsersError> {
    if password.is_empty() {
        return Err(UsersError::Invalid("the password is empty".to_string()));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(UsersError::Invalid(format!(
            "the password is longer than {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| UsersError::Hash(err.to_string()))
}

fn dummy_hash() -> Result<String, UsersError> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|err| UsersError::Hash(err.to_string()))?;
    hash_password(&hex::encode(random))
}

fn check_login(login: &str) -> Result<(), String> {
    if login.trim().is_empty() {
        Err("`login` must not be empty".to_string())
    } else if login.len() > MAX_LOGIN_LEN {
        Err(format!("`login` is longer than {MAX_LOGIN_LEN} bytes"))
    } else if login.chars().any(char::is_control) {
        Err("`login` contains control characters".to_string())
    } else {
        Ok(())
    }
}

fn check_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        Err("`id` must not be empty".to_string())
    } else if id.len() > MAX_ID_LEN {
        Err(format!("`id` is longer than {MAX_ID_LEN} bytes"))
    } else if id.chars().any(char::is_control) {
        Err("`id` contains control characters".to_string())
    } else {
        Ok(())
    }
}

/// The diagnostic for a malformed users file: `file:line:col: message`, from a byte span of
/// `text`. The one place users-file errors are shaped (so it can move to the crate's generic
/// diagnostic type).
fn malformed(path: &Path, text: &str, span: Option<Range<usize>>, message: String) -> UsersError {
    let offset = span.map_or(0, |s| s.start).min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
    UsersError::Malformed {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Write (or update) `login` in the users file at `path` with principal `id`, `roles` and the
/// argon2 hash of `password`. Every other entry and comment is kept. The file is created when
/// missing, replaced atomically, and left with mode 0600.
pub fn add_user(
    path: &Path,
    login: &str,
    id: &str,
    roles: &[Role],
    password: &str,
) -> Result<AddOutcome, UsersError> {
    check_login(login).map_err(UsersError::Invalid)?;
    check_id(id).map_err(UsersError::Invalid)?;
    if roles.is_empty() {
        return Err(UsersError::Invalid("give at least one --role".to_string()));
    }
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => {
            // Refuse to rewrite a file that does not load: the diagnostic says where.
            Users::parse(path, &text)?;
            text
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::from(NEW_FILE_HEADER),
        Err(source) => {
            return Err(UsersError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let hash = hash_password(password)?;
    let mut doc: toml_edit::DocumentMut =
        existing.parse().map_err(|err: toml_edit::TomlError| {
            malformed(path, &existing, err.span(), err.message().to_string())
        })?;
    let mut role_array = toml_edit::Array::new();
    for role in roles {
        role_array.push(role.as_str());
    }
    // Comments of a file with no entry yet belong above the first one, not after it.
    let header = match doc.get("user") {
        None => {
            let trailing = doc.trailing().as_str().unwrap_or("").to_string();
            doc.set_trailing("");
            Some(trailing)
        }
        Some(_) => None,
    };
    let users = doc
        .entry("user")
        .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()));
    let Some(users) = users.as_array_of_tables_mut() else {
        return Err(UsersError::Invalid(format!(
            "`{}`: `user` must be an array of tables ([[user]])",
            path.display()
        )));
    };
    let found = users
        .iter_mut()
        .find(|t| t.get("login").and_then(|v| v.as_str()) == Some(login));
    let outcome = match found {
        Some(table) => {
            table.insert("id", toml_edit::value(id));
            table.insert("roles", toml_edit::value(role_array));
            table.insert("password_hash", toml_edit::value(hash));
            AddOutcome::Updated
        }
        None => {
            let mut table = toml_edit::Table::new();
            if let Some(header) = header {
                table.decor_mut().set_prefix(header);
            }
            table.insert("login", toml_edit::value(login));
            table.insert("id", toml_edit::value(id));
            table.insert("roles", toml_edit::value(role_array));
            table.insert("password_hash", toml_edit::value(hash));
            users.push(table);
            AddOutcome::Added
        }
    };
    let text = doc.to_string();
    // What is written must load.
    Users::parse(path, &text)?;
    write_private(path, &text)?;
    Ok(outcome)
}

/// What [`add_user`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new login.
    Added,
    /// An existing login got a new id, roles and password.
    Updated,
}

const NEW_FILE_HEADER: &str = "\
# planck users file: one [[user]] per login (see docs/serve.md).
# Written by `planck users add`; password_hash is an argon2 PHC string.
";

/// Replace `path` with `text` atomically (a temporary file in the same directory, synced, then
/// renamed over it), readable and writable by the owner only.
fn write_private(path: &Path, text: &str) -> Result<(), UsersError> {
    let io = |source| UsersError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    temp.write_all(text.as_bytes()).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(path).map_err(|err| io(err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Users, UsersError> {
        Users::parse(Path::new("users.toml"), text)
    }

    #[test]
    fn malformed_files_name_line_and_column() {
        let err = parse("[[user]]\nlogin = \"kim\"\nid = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("users.toml:3:6:"), "{text}");

        let err = parse("[[user]]\nlogin = \"kim\"\nid = \"a\"\nroles = [\"admin\", \"boss\"]\npassword_hash = \"x\"\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("users.toml:4:19: `boss` is not a role"),
            "{err}"
        );

        let err = parse("[[user]]\nlogin = \"kim\"\nid = \"a\"\nroles = [\"admin\"]\npassword_hash = \"nope\"\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("users.toml:5:17: `password_hash` is not a PHC string"),
            "{err}"
        );

        let err = parse("[[user]]\nlogin = \"kim\"\nnickname = \"k\"\n").unwrap_err();
        assert!(err.to_string().starts_with("users.toml:3:1:"), "{err}");
    }

    #[test]
    fn passwords_verify_and_unknown_logins_fail_the_same_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        assert_eq!(
            add_user(&path, "kim", "admin-kim", &[Role::Admin], "correct horse").unwrap(),
            AddOutcome::Added
        );
        assert_eq!(
            add_user(&path, "lee", "op-lee", &[Role::Operator], "battery staple").unwrap(),
            AddOutcome::Added
        );
        let users = Users::load(&path).unwrap();
        assert_eq!(users.len(), 2);
        let kim = users.verify("kim", "correct horse").unwrap();
        assert_eq!(kim.id, "admin-kim");
        assert_eq!(kim.roles, vec![Role::Admin]);
        assert!(users.verify("kim", "wrong").is_none());
        assert!(users.verify("nobody", "correct horse").is_none());

        // Updating keeps the other entry and replaces the password.
        assert_eq!(
            add_user(
                &path,
                "kim",
                "admin-kim",
                &[Role::Admin, Role::Observer],
                "new pass"
            )
            .unwrap(),
            AddOutcome::Updated
        );
        let users = Users::load(&path).unwrap();
        assert!(users.verify("kim", "correct horse").is_none());
        assert_eq!(users.verify("kim", "new pass").unwrap().roles.len(), 2);
        assert!(users.verify("lee", "battery staple").is_some());

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn comments_survive_an_update() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        std::fs::write(&path, "# demo logins\n").unwrap();
        add_user(&path, "kim", "admin-kim", &[Role::Admin], "pw").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# demo logins\n"), "{text}");
    }
}
