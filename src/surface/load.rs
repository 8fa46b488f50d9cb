//! Surface files: reading them from disk and running the pipeline on one file.
//!
//! A [`SourceFile`] is a path, its text and its [`Format`] (from the extension: `.toml` is the
//! TOML form, `.surface` the DSL). [`parse_source`] picks the front end; [`compile_source`]
//! runs the whole pipeline (front end, validator, compiler) and returns every diagnostic at
//! once, sorted by position.
//!
//! This is the only module of the surface language that touches the file system, and only in
//! [`SourceFile::read`]; it never keeps files open and never reads more than
//! [`MAX_FILE_BYTES`] of one.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::diagnostic::SourceText;
use crate::surface::ast::{Definition, Span};
use crate::surface::compile::{Compiled, compile};
use crate::surface::diagnostic::{Code, Diagnostic, has_errors};
use crate::surface::dsl::Unread;
use crate::surface::limits::MAX_FILE_BYTES;
use crate::surface::validate;

/// Which front end reads a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The TOML form of `docs/surface.md` (`.toml`).
    Toml,
    /// The DSL form (`.surface`), grammar in `grammar/surface.pest`.
    Dsl,
}

impl Format {
    /// The format of `path`, from its extension; `None` for any other extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "toml" => Some(Format::Toml),
            "surface" => Some(Format::Dsl),
            _ => None,
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Dsl => "surface",
        }
    }
}

/// Why a surface file could not be read.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file system refused (missing file, permissions, not UTF-8, ...).
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("`{path}` is larger than {max} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: usize,
    },
    /// The extension is neither `.toml` nor `.surface`.
    #[error("`{path}` is not a surface file: the extension must be `.toml` or `.surface`")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
}

impl LoadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Io { path, .. }
            | LoadError::TooLarge { path, .. }
            | LoadError::UnknownFormat { path } => path,
        }
    }

    /// The error as a diagnostic (`io` or `file_too_large`) without a position.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let code = match self {
            LoadError::TooLarge { .. } => Code::FileTooLarge,
            LoadError::Io { .. } | LoadError::UnknownFormat { .. } => Code::Io,
        };
        Diagnostic::error(code, Span::default(), self.to_string())
    }
}

/// A surface file in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it came from (shown in diagnostics).
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Which front end reads it.
    pub format: Format,
}

impl SourceFile {
    /// Read `path`, choosing the format from its extension. Refuses files larger than
    /// [`MAX_FILE_BYTES`] without reading them whole, and files that are not UTF-8.
    pub fn read(path: impl AsRef<Path>) -> Result<SourceFile, LoadError> {
        let path = path.as_ref();
        let format = Format::from_path(path).ok_or_else(|| LoadError::UnknownFormat {
            path: path.to_path_buf(),
        })?;
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let limit = u64::try_from(MAX_FILE_BYTES).unwrap_or(u64::MAX);
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                max: MAX_FILE_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|err| {
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the file is not UTF-8 ({err})"),
            ))
        })?;
        Ok(SourceFile {
            path: path.to_path_buf(),
            text,
            format,
        })
    }

    /// A file that exists only in memory; `name` is what diagnostics show as its path.
    pub fn from_text(name: impl Into<PathBuf>, text: impl Into<String>, format: Format) -> Self {
        SourceFile {
            path: name.into(),
            text: text.into(),
            format,
        }
    }
}

impl SourceText for SourceFile {
    /// The path, as given (lossily, if it is not UTF-8).
    fn name(&self) -> Cow<'_, str> {
        self.path.to_string_lossy()
    }

    fn text(&self) -> &str {
        &self.text
    }
}

/// Run the front end that matches the file's format.
pub fn parse_source(file: &SourceFile) -> (Definition, Vec<Diagnostic>) {
    match file.format {
        Format::Toml => crate::surface::toml::parse(&file.text),
        Format::Dsl => crate::surface::dsl::parse(&file.text),
    }
}

/// Parse, validate and compile one file.
///
/// Returns the compiled surface and its warnings, or every diagnostic (front end, validator),
/// sorted by position. When TOML text does not parse at all (`toml_syntax`) only the front
/// end's diagnostics are returned: the tree recovered from broken text would produce
/// misleading follow-on problems. A DSL file reads on after a syntax error (every statement
/// that parses is kept) and is validated, leaving out what may only follow from the
/// statements that could not be read.
pub fn compile_source(file: &SourceFile) -> Result<Compiled, Vec<Diagnostic>> {
    let (def, mut diags, unread) = match file.format {
        Format::Toml => {
            let (def, diags) = crate::surface::toml::parse(&file.text);
            (def, diags, Unread::default())
        }
        Format::Dsl => crate::surface::dsl::parse_recovering(&file.text),
    };
    if has_errors(&diags) {
        let stop = diags
            .iter()
            .any(|d| matches!(d.code, Code::TomlSyntax | Code::FileTooLarge));
        if !stop {
            let header = def.surface.span.0;
            diags.extend(
                validate_after(file.format, &def)
                    .into_iter()
                    .filter(|d| !follows_from(d, &unread, header)),
            );
        }
        return Err(finish(diags));
    }
    match compile(&def) {
        Ok(mut compiled) => {
            diags.append(&mut compiled.warnings);
            compiled.warnings = finish(diags);
            Ok(compiled)
        }
        Err(more) => {
            diags.extend(more);
            Err(finish(diags))
        }
    }
}

/// Whether `diag` may only be a consequence of statements that could not be read (a DSL
/// file with syntax errors): root causes first, such findings are left out. A lost `phases`
/// block leaves out every phase problem; a lost `transition`, reachability and unused rules;
/// a lost `evidence` or `intake` block, unknown categories or intake fields; a lost `rule`,
/// unknown rule names; a lost header, `spec` or `status`, the `[surface]` keys said missing.
fn follows_from(diag: &Diagnostic, unread: &Unread, header: Span) -> bool {
    if unread.is_empty() {
        return false;
    }
    let lost = |k: &str| unread.lost(k);
    match diag.code {
        Code::TooFewPhases
        | Code::UnknownPhase
        | Code::TransitionIntoFirst
        | Code::TransitionOutOfLast
        | Code::TransitionFromFirst => lost("phases"),
        Code::UnreachablePhase | Code::DeadEndPhase => lost("phases") || lost("transition"),
        Code::UnusedRule => lost("transition"),
        Code::UnknownRule => lost("rule"),
        Code::UnknownCategory => lost("evidence"),
        Code::UnknownIntakeField => lost("intake"),
        Code::MissingKey => {
            diag.span == header && (lost("surface") || lost("spec") || lost("status"))
        }
        _ => false,
    }
}

/// The validator's findings after a front end that reported errors. The TOML front end reports
/// missing keys itself (pointing at their table, and not for keys present with a wrong type),
/// so the validator leaves them out; the DSL front end leaves them to the validator.
fn validate_after(format: Format, def: &Definition) -> Vec<Diagnostic> {
    match format {
        Format::Toml => validate::validate_parsed(def),
        Format::Dsl => validate::validate(def),
    }
}

/// Sort by position (stable, so one position keeps check order), drop exact repeats (which
/// share a position) and keep at most [`crate::surface::limits::MAX_DIAGNOSTICS`].
fn finish(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    for d in diags {
        let repeat = out
            .iter()
            .rev()
            .take_while(|o| o.span == d.span)
            .any(|o| *o == d);
        if !repeat {
            out.push(d);
        }
    }
    validate::cap(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.toml")), Some(Format::Toml));
        assert_eq!(Format::from_path(Path::new("b.surface")), Some(Format::Dsl));
        assert_eq!(Format::from_path(Path::new("b.txt")), None);
        assert_eq!(Format::from_path(Path::new("toml")), None);
    }

    #[test]
    fn read_refuses_unknown_extension_and_missing_files() {
        assert!(matches!(
            SourceFile::read("nothing.txt"),
            Err(LoadError::UnknownFormat { .. })
        ));
        let err = SourceFile::read("/nonexistent/planck/x.toml").unwrap_err();
        assert!(matches!(err, LoadError::Io { .. }));
        assert_eq!(err.to_diagnostic().code, Code::Io);
    }

    #[test]
    fn compile_source_reports_front_end_and_validator_together() {
        let text = "[surface]\nslug = \"Bad\"\nname = \"x\"\nspec = \"s\"\nversion = 1\nstatuss = \"active\"\n";
        let file = SourceFile::from_text("x.toml", text, Format::Toml);
        let diags = compile_source(&file).unwrap_err();
        let codes: Vec<_> = diags.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, vec!["too_few_phases", "invalid_slug", "unknown_key"]);
    }

    #[test]
    fn syntax_errors_stand_alone() {
        let file = SourceFile::from_text("x.toml", "[surface\nslug = ", Format::Toml);
        let diags = compile_source(&file).unwrap_err();
        assert!(
            diags.iter().all(|d| d.code == Code::TomlSyntax),
            "{diags:?}"
        );
    }
}
