//! The registry: compiled surfaces keyed by `slug@version`, shared behind `Arc`s.
//!
//! Registering is idempotent for identical content (same key, same fingerprint) and refuses a
//! different surface under a key that is taken, so a version, once registered, always means the
//! same thing: in-flight cases pinned to `slug@version` + fingerprint are judged by the surface
//! they were submitted under. Lookups answer what new requests use ([`Registry::latest_active`]),
//! what a pinned case uses ([`Registry::pinned`]) and enough to tell an unknown surface from an
//! inactive one ([`Registry::latest`]).
//!
//! The registry is deterministic: iteration is in (slug, version) order and directory loads are
//! in path order. It reads files only through [`crate::surface::load`] and never stops a bulk
//! load at the first bad file: every file gets its own [`FileReport`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::surface::ast::Status;
use crate::surface::diagnostic::{Code, Diagnostic};
use crate::surface::load::{Format, LoadError, SourceFile, compile_source};
use crate::surface::model::{Fingerprint, Surface};

/// Why a surface could not be registered.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum RegistryError {
    /// Another surface with different content is registered under the same `slug@version`.
    #[error(
        "surface `{key}` is already registered with different contents \
         (fingerprint {registered}, this one {offered})"
    )]
    Conflict {
        /// `slug@version`.
        key: String,
        /// The fingerprint already registered.
        registered: Fingerprint,
        /// The fingerprint of the surface offered.
        offered: Fingerprint,
    },
}

/// Compiled surfaces by `slug@version`.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    surfaces: BTreeMap<(String, u32), Arc<Surface>>,
}

/// What happened to one file of a bulk load.
#[derive(Debug)]
pub enum FileOutcome {
    /// Compiled and registered (or already registered with the same fingerprint) under this
    /// `slug@version`.
    Registered(String),
    /// Read, but it has errors (see the report's diagnostics) or its key is taken by another
    /// surface (`registry_conflict`).
    Rejected,
    /// Could not be read.
    Unreadable(LoadError),
}

/// One file of a bulk load: what happened, and every diagnostic (warnings included).
#[derive(Debug)]
pub struct FileReport {
    /// The file (or directory, when a directory could not be listed).
    pub path: PathBuf,
    /// The file as read, to render the diagnostics against; `None` when it was unreadable.
    pub source: Option<SourceFile>,
    /// What happened.
    pub outcome: FileOutcome,
    /// The file's diagnostics, sorted by position: errors when rejected, warnings otherwise.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    /// Whether the file was registered.
    pub fn is_registered(&self) -> bool {
        matches!(self.outcome, FileOutcome::Registered(_))
    }
}

/// The result of [`Registry::load_dir`] / [`Registry::load_paths`]: one report per file, in
/// the order the files were loaded.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Per-file reports.
    pub files: Vec<FileReport>,
}

impl LoadReport {
    /// Whether every file was registered.
    pub fn is_ok(&self) -> bool {
        self.files.iter().all(FileReport::is_registered)
    }

    /// The files that were not registered.
    pub fn failures(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| !f.is_registered())
    }

    /// The `slug@version` keys registered by this load, in load order.
    pub fn registered(&self) -> impl Iterator<Item = &str> {
        self.files.iter().filter_map(|f| match &f.outcome {
            FileOutcome::Registered(key) => Some(key.as_str()),
            _ => None,
        })
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Register `surface` under `slug@version`. The same key with the same fingerprint is a
    /// no-op; the same key with another fingerprint is [`RegistryError::Conflict`].
    pub fn register(&mut self, surface: impl Into<Arc<Surface>>) -> Result<(), RegistryError> {
        let surface = surface.into();
        let key = (surface.slug().to_string(), surface.version());
        match self.surfaces.get(&key) {
            Some(existing) if existing.fingerprint() == surface.fingerprint() => Ok(()),
            Some(existing) => Err(RegistryError::Conflict {
                key: surface.key(),
                registered: existing.fingerprint(),
                offered: surface.fingerprint(),
            }),
            None => {
                self.surfaces.insert(key, surface);
                Ok(())
            }
        }
    }

    /// Load and register every `.toml` and `.surface` file directly inside `dir` (not in
    /// subdirectories), in path order.
    pub fn load_dir(&mut self, dir: impl AsRef<Path>) -> LoadReport {
        let mut report = LoadReport::default();
        self.load_dir_into(dir.as_ref(), &mut report);
        report
    }

    /// Load and register each path: a directory as with [`Registry::load_dir`], a file
    /// directly (whatever its extension; an unknown one is reported as unreadable).
    pub fn load_paths(&mut self, paths: &[PathBuf]) -> LoadReport {
        let mut report = LoadReport::default();
        for path in paths {
            if path.is_dir() {
                self.load_dir_into(path, &mut report);
            } else {
                report.files.push(self.load_file(path));
            }
        }
        report
    }

    fn load_dir_into(&mut self, dir: &Path, report: &mut LoadReport) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(source) => {
                report.files.push(FileReport {
                    path: dir.to_path_buf(),
                    source: None,
                    outcome: FileOutcome::Unreadable(LoadError::Io {
                        path: dir.to_path_buf(),
                        source,
                    }),
                    diagnostics: Vec::new(),
                });
                return;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.is_file() && Format::from_path(p).is_some())
            .collect();
        paths.sort();
        for path in paths {
            report.files.push(self.load_file(&path));
        }
    }

    fn load_file(&mut self, path: &Path) -> FileReport {
        let file = match SourceFile::read(path) {
            Ok(file) => file,
            Err(err) => {
                return FileReport {
                    path: path.to_path_buf(),
                    source: None,
                    outcome: FileOutcome::Unreadable(err),
                    diagnostics: Vec::new(),
                };
            }
        };
        let (outcome, diagnostics) = match compile_source(&file) {
            Err(diags) => (FileOutcome::Rejected, diags),
            Ok(compiled) => {
                let span = compiled.surface.definition().surface.span.0;
                let key = compiled.surface.key();
                let mut diags = compiled.warnings;
                match self.register(compiled.surface) {
                    Ok(()) => (FileOutcome::Registered(key), diags),
                    Err(err) => {
                        diags.push(
                            Diagnostic::error(Code::RegistryConflict, span, err.to_string())
                                .with_label("this `slug@version` is taken")
                                .with_help(
                                    "a registered version never changes; give this surface a \
                                     new `version`",
                                ),
                        );
                        (FileOutcome::Rejected, diags)
                    }
                }
            }
        };
        FileReport {
            path: path.to_path_buf(),
            source: Some(file),
            outcome,
            diagnostics,
        }
    }

    /// The surface registered as `slug@version`.
    pub fn get(&self, slug: &str, version: u32) -> Option<Arc<Surface>> {
        self.surfaces.get(&(slug.to_string(), version)).cloned()
    }

    /// The highest version of `slug` whose status is `active`: what new requests use.
    pub fn latest_active(&self, slug: &str) -> Option<Arc<Surface>> {
        self.versions(slug)
            .rev()
            .find(|s| s.status() == Status::Active)
            .cloned()
    }

    /// The highest version of `slug`, whatever its status, so that callers can tell a surface
    /// that is paused or retired (`surface_inactive`) from one that does not exist
    /// (`unknown_surface`).
    pub fn latest(&self, slug: &str) -> Option<Arc<Surface>> {
        self.versions(slug).next_back().cloned()
    }

    /// The surface a case was pinned to: `slug@version`, only if its fingerprint is still
    /// `fingerprint`. `None` when the version is unknown or its contents differ.
    pub fn pinned(
        &self,
        slug: &str,
        version: u32,
        fingerprint: Fingerprint,
    ) -> Option<Arc<Surface>> {
        self.get(slug, version)
            .filter(|s| s.fingerprint() == fingerprint)
    }

    /// Every registered surface, by slug and then version, ascending.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Surface>> {
        self.surfaces.values()
    }

    /// How many surfaces are registered.
    pub fn len(&self) -> usize {
        self.surfaces.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.surfaces.is_empty()
    }

    /// The versions of `slug`, ascending.
    fn versions<'a>(
        &'a self,
        slug: &str,
    ) -> impl DoubleEndedIterator<Item = &'a Arc<Surface>> + 'a {
        let slug = slug.to_string();
        self.surfaces
            .range((slug.clone(), 0)..=(slug, u32::MAX))
            .map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::compile::compile;
    use crate::surface::toml::parse;

    fn surface(version: u32, status: &str, label: &str) -> Surface {
        let src = format!(
            "[surface]\nslug = \"demo\"\nname = \"Demo\"\nspec = \"s\"\nversion = {version}\nstatus = \"{status}\"\n\
             [[phase]]\nid = \"a\"\nlabel = \"{label}\"\n[[phase]]\nid = \"b\"\nlabel = \"B\"\n[[phase]]\nid = \"c\"\nlabel = \"C\"\n"
        );
        let (def, diags) = parse(&src);
        assert!(diags.is_empty(), "{diags:?}");
        compile(&def).unwrap().surface
    }

    #[test]
    fn same_key_same_fingerprint_is_a_no_op_different_is_a_conflict() {
        let mut r = Registry::new();
        r.register(surface(1, "active", "A")).unwrap();
        r.register(surface(1, "active", "A")).unwrap();
        assert_eq!(r.len(), 1);
        let err = r.register(surface(1, "active", "Other")).unwrap_err();
        assert!(matches!(err, RegistryError::Conflict { ref key, .. } if key == "demo@1"));
        assert!(
            err.to_string()
                .starts_with("surface `demo@1` is already registered")
        );
    }

    #[test]
    fn latest_active_skips_inactive_versions() {
        let mut r = Registry::new();
        r.register(surface(1, "active", "A")).unwrap();
        r.register(surface(2, "active", "A")).unwrap();
        r.register(surface(3, "paused", "A")).unwrap();
        r.register(surface(10, "retired", "A")).unwrap();
        assert_eq!(r.latest_active("demo").unwrap().version(), 2);
        assert_eq!(r.latest("demo").unwrap().version(), 10);
        assert!(r.latest("nothing").is_none());
        assert!(r.latest_active("nothing").is_none());
        let v1 = r.get("demo", 1).unwrap();
        assert!(r.pinned("demo", 1, v1.fingerprint()).is_some());
        let v2 = r.get("demo", 2).unwrap();
        assert!(r.pinned("demo", 1, v2.fingerprint()).is_none());
        let versions: Vec<u32> = r.iter().map(|s| s.version()).collect();
        assert_eq!(versions, vec![1, 2, 3, 10]);
    }
}
