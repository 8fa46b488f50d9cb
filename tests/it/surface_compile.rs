//! The shipped surfaces compile to exactly what the seeds describe; the fingerprint ignores
//! everything that is not meaning; the registry keeps versions honest.

use std::path::{Path, PathBuf};

use planck::spine::CommandKind;
use planck::surface::ast::{ClaimPolicy, Ownership, PaymentTiming, RecordContainer, Status};
use planck::surface::limits::MAX_FILE_BYTES;
use planck::surface::load::{Format, LoadError, SourceFile, compile_source};
use planck::surface::registry::{FileOutcome, Registry, RegistryError};
use planck::surface::{Code, Surface, fingerprint, toml};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped(name: &str) -> SourceFile {
    SourceFile::read(root().join("surfaces").join(name)).unwrap()
}

fn compile_file(file: &SourceFile) -> Surface {
    let compiled = compile_source(file).unwrap_or_else(|d| panic!("{d:#?}"));
    assert!(compiled.warnings.is_empty(), "{:#?}", compiled.warnings);
    compiled.surface
}

fn ids(s: &Surface) -> Vec<&str> {
    s.phases().iter().map(|p| p.id.as_str()).collect()
}

fn labels(s: &Surface) -> Vec<&str> {
    s.phases().iter().map(|p| p.label.as_str()).collect()
}

fn moves(s: &Surface) -> Vec<(String, String, Vec<String>)> {
    s.transitions()
        .iter()
        .map(|t| {
            (
                s.phase_name(t.from).to_string(),
                s.phase_name(t.to).to_string(),
                t.requires
                    .iter()
                    .map(|c| s.evidence().name(*c).to_string())
                    .collect(),
            )
        })
        .collect()
}

fn posture(s: &Surface) {
    let e = s.execution();
    assert_eq!(s.spec(), "surface-runtime-spec-v0.01");
    assert_eq!(s.version(), 1);
    assert_eq!(s.status(), Status::Active);
    assert_eq!(e.claim, ClaimPolicy::Required);
    assert_eq!(e.ownership, Ownership::Assigned);
    assert_eq!(e.record, RecordContainer::ServiceEvent);
    assert_eq!(e.payment_timing, PaymentTiming::Independent);
    assert!(e.completed_visible);
}

#[test]
fn event_coordination_is_the_seed_surface() {
    let s = compile_file(&shipped("event-coordination.toml"));
    assert_eq!(s.slug(), "event-coordination");
    assert_eq!(s.name(), "Event Coordination");
    assert_eq!(s.key(), "event-coordination@1");
    posture(&s);
    assert_eq!(
        ids(&s),
        ["queued", "claimed", "arrived", "in_progress", "complete"]
    );
    assert_eq!(
        labels(&s),
        ["Queued", "Confirmed", "On Site", "Active", "Complete"]
    );
    // No transitions table: each phase moves to the next, and nothing else.
    assert!(s.definition().transitions.is_empty());
    let linear: Vec<_> = [
        ("queued", "claimed"),
        ("claimed", "arrived"),
        ("arrived", "in_progress"),
        ("in_progress", "complete"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string(), Vec::<String>::new()))
    .collect();
    assert_eq!(moves(&s), linear);
    assert!(s.evidence().categories.is_empty());
    assert_eq!(s.evidence().required_count, 0);
    assert_eq!(s.evidence().min_per_category, 0);
    assert_eq!(
        s.intake().required,
        ["contact", "event_details", "preferred_timing"]
    );
    assert_eq!(
        s.intake().optional,
        [
            "requested_service_area",
            "preferred_days",
            "condition_notes",
            "access_notes"
        ]
    );
    assert_eq!(s.intake().min_photos, 0);
    assert!(s.rules().is_empty());
    assert!(s.escalations().is_empty());
    assert!(s.rules_on(CommandKind::Advance).is_empty());
}

#[test]
fn auto_detailing_is_the_seed_surface() {
    let s = compile_file(&shipped("auto-detailing.toml"));
    assert_eq!(s.slug(), "auto-detailing");
    assert_eq!(s.name(), "Auto Detailing");
    posture(&s);
    assert_eq!(
        ids(&s),
        ["queued", "claimed", "arrived", "in_progress", "complete"]
    );
    assert_eq!(
        labels(&s),
        ["Queued", "Claimed", "Arrived", "Detailing", "Complete"]
    );
    let expected: Vec<(String, String, Vec<String>)> = vec![
        ("queued".into(), "claimed".into(), vec![]),
        ("claimed".into(), "arrived".into(), vec![]),
        (
            "arrived".into(),
            "in_progress".into(),
            vec!["arrival".into(), "before".into()],
        ),
        (
            "in_progress".into(),
            "complete".into(),
            vec!["after".into()],
        ),
    ];
    assert_eq!(moves(&s), expected);
    let ev = s.evidence();
    assert_eq!(ev.categories, ["arrival", "before", "after", "damage"]);
    assert_eq!(ev.required_count, 3);
    let required: Vec<&str> = ev.required().map(|(_, c)| c).collect();
    assert_eq!(required, ["arrival", "before", "after"]);
    assert_eq!(ev.min_per_category, 1);
    assert_eq!(
        s.intake().required,
        ["contact", "vehicle", "service_address", "preferred_timing"]
    );
    assert_eq!(s.intake().optional, ["condition_notes", "access_notes"]);
    assert_eq!(s.intake().min_photos, 2);
    let arrived = s.phase_id("arrived").unwrap();
    let in_progress = s.phase_id("in_progress").unwrap();
    assert!(s.transition(arrived, in_progress).is_some());
    assert!(s.transition(in_progress, arrived).is_none());
    assert_eq!(s.graph().edge_count(), 4);
}

/// The same surface, with every comment removed, keys reordered inside their tables, all on
/// few lines, and all defaults written out or left implicit.
const EVENT_REWRITTEN: &str = r#"
[[phase]]
label = "Queued"
id = "queued"
[[phase]]
label = "Confirmed"
id = "claimed"
[[phase]]
label = "On Site"
id = "arrived"
[[phase]]
label = "Active"
id = "in_progress"
[[phase]]
label = "Complete"
id = "complete"
[intake]
optional = [ "requested_service_area" , "preferred_days","condition_notes", "access_notes" ]
required = ["contact","event_details","preferred_timing"]
[surface]
version = 1
spec = 'surface-runtime-spec-v0.01'
name = "Event Coordination"
slug = "event-coordination"
"#;

#[test]
fn fingerprint_ignores_comments_whitespace_key_order_and_defaults() {
    let original = compile_file(&shipped("event-coordination.toml"));
    let rewritten = compile_file(&SourceFile::from_text(
        "rewritten.toml",
        EVENT_REWRITTEN,
        Format::Toml,
    ));
    assert_eq!(original.fingerprint(), rewritten.fingerprint());
    assert_eq!(original.definition(), rewritten.definition());

    // A change of meaning changes it.
    let relabelled = EVENT_REWRITTEN.replace("On Site", "At the venue");
    let (def, diags) = toml::parse(&relabelled);
    assert!(diags.is_empty());
    assert_ne!(fingerprint(&def), original.fingerprint());

    // Writing the linear chain out is a different definition (documented on `normalized`).
    let explicit = format!(
        "{EVENT_REWRITTEN}\n[[transition]]\nfrom = \"queued\"\nto = \"claimed\"\n[[transition]]\nfrom = \"claimed\"\nto = \"arrived\"\n[[transition]]\nfrom = \"arrived\"\nto = \"in_progress\"\n[[transition]]\nfrom = \"in_progress\"\nto = \"complete\"\n"
    );
    let explicit = compile_file(&SourceFile::from_text("x.toml", explicit, Format::Toml));
    assert_ne!(explicit.fingerprint(), original.fingerprint());
    // The same graph; only the mark on the implicit chain differs.
    let edges = |s: &planck::surface::Surface| {
        s.transitions()
            .iter()
            .map(|t| (t.from, t.to, t.requires.clone(), t.rule))
            .collect::<Vec<_>>()
    };
    assert_eq!(edges(&explicit), edges(&original));
    assert!(original.transitions().iter().all(|t| t.implicit));
    assert!(explicit.transitions().iter().all(|t| !t.implicit));
}

#[test]
fn fingerprint_is_stable_hex() {
    let s = compile_file(&shipped("auto-detailing.toml"));
    let hex = s.fingerprint().to_hex();
    assert_eq!(hex.len(), 64);
    assert!(
        hex.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(
        s.fingerprint(),
        compile_file(&shipped("auto-detailing.toml")).fingerprint()
    );
}

#[test]
fn ten_thousand_phases_compile() {
    let mut src = String::from(
        "[surface]\nslug = \"generated\"\nname = \"Generated\"\nspec = \"s\"\nversion = 1\n",
    );
    for i in 0..10_000 {
        src.push_str(&format!(
            "[[phase]]\nid = \"p{i}\"\nlabel = \"Phase {i}\"\n"
        ));
    }
    for i in 1..10_000 {
        src.push_str(&format!(
            "[[transition]]\nfrom = \"p{}\"\nto = \"p{i}\"\n",
            i - 1
        ));
    }
    let s = compile_file(&SourceFile::from_text("big.toml", src, Format::Toml));
    assert_eq!(s.phases().len(), 10_000);
    assert_eq!(s.transitions().len(), 9_999);
    let a = s.phase_id("p4999").unwrap();
    let b = s.phase_id("p5000").unwrap();
    assert!(s.transition(a, b).is_some());
}

#[test]
fn oversized_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.toml");
    std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES + 1]).unwrap();
    let err = SourceFile::read(&path).unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{err}");
    assert_eq!(err.to_diagnostic().code, Code::FileTooLarge);

    let text = "#".repeat(MAX_FILE_BYTES + 1);
    let diags =
        compile_source(&SourceFile::from_text("huge.toml", text, Format::Toml)).unwrap_err();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::FileTooLarge);
}

fn copy_shipped(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(root().join("surfaces").join(name), &to).unwrap();
    to
}

#[test]
fn registry_loads_a_directory_and_reports_each_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped(dir.path(), "event-coordination.toml");
    copy_shipped(dir.path(), "auto-detailing.toml");
    std::fs::write(dir.path().join("broken.toml"), "[surface]\nslug = 1\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a surface").unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    copy_shipped(&dir.path().join("nested"), "event-coordination.toml");

    let mut registry = Registry::new();
    let report = registry.load_dir(dir.path());
    assert!(!report.is_ok());
    let names: Vec<String> = report
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "auto-detailing.toml",
            "broken.toml",
            "event-coordination.toml"
        ],
        "sorted, non-recursive, surface files only"
    );
    let registered: Vec<&str> = report.registered().collect();
    assert_eq!(registered, ["auto-detailing@1", "event-coordination@1"]);
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    assert!(matches!(failures[0].outcome, FileOutcome::Rejected));
    assert!(failures[0].source.is_some());
    assert!(
        failures[0]
            .diagnostics
            .iter()
            .any(|d| d.code == Code::WrongType)
    );
    assert_eq!(registry.len(), 2);

    // Loading the same files again is a no-op.
    let again = registry.load_paths(&[
        dir.path().join("event-coordination.toml"),
        dir.path().join("nested"),
    ]);
    assert!(again.is_ok(), "{:#?}", again.files);
    assert_eq!(registry.len(), 2);

    // A missing path is reported, not fatal.
    let missing = registry.load_paths(&[dir.path().join("gone.toml")]);
    assert!(matches!(
        missing.files[0].outcome,
        FileOutcome::Unreadable(LoadError::Io { .. })
    ));
}

#[test]
fn registry_refuses_new_contents_under_a_taken_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_shipped(dir.path(), "event-coordination.toml");
    let mut registry = Registry::new();
    assert!(registry.load_paths(std::slice::from_ref(&path)).is_ok());
    let v1 = registry.get("event-coordination", 1).unwrap();

    let changed = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"On Site\"", "\"At the venue\"");
    let other = dir.path().join("changed.toml");
    std::fs::write(&other, &changed).unwrap();
    let report = registry.load_paths(std::slice::from_ref(&other));
    let file = &report.files[0];
    assert!(matches!(file.outcome, FileOutcome::Rejected));
    let d = &file.diagnostics[0];
    assert_eq!(d.code, Code::RegistryConflict);
    assert!(d.message.contains("event-coordination@1"), "{}", d.message);
    // The registered version is untouched.
    assert_eq!(
        registry.get("event-coordination", 1).unwrap().fingerprint(),
        v1.fingerprint()
    );

    // Direct registration says the same.
    let s = compile_source(&SourceFile::read(&other).unwrap())
        .unwrap()
        .surface;
    assert!(matches!(
        registry.register(s),
        Err(RegistryError::Conflict { .. })
    ));

    // Version 2, paused: registered, but new requests keep using version 1.
    let v2 = changed
        .replace("version = 1 ", "version = 2 ")
        .replace("status = \"active\"", "status = \"paused\"");
    std::fs::write(&other, v2).unwrap();
    assert!(registry.load_paths(&[other]).is_ok());
    assert_eq!(
        registry
            .latest_active("event-coordination")
            .unwrap()
            .version(),
        1
    );
    assert_eq!(registry.latest("event-coordination").unwrap().version(), 2);
    assert!(
        registry
            .pinned("event-coordination", 1, v1.fingerprint())
            .is_some()
    );
    assert!(
        registry
            .pinned("event-coordination", 2, v1.fingerprint())
            .is_none()
    );
    assert!(registry.latest("nothing-here").is_none());
    let keys: Vec<String> = registry.iter().map(|s| s.key()).collect();
    assert_eq!(keys, ["event-coordination@1", "event-coordination@2"]);
}

#[test]
fn the_shipped_directory_loads_clean() {
    let mut registry = Registry::new();
    let report = registry.load_dir(root().join("surfaces"));
    let failures: Vec<String> = report
        .failures()
        .map(|f| format!("{}: {:?} {:#?}", f.path.display(), f.outcome, f.diagnostics))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(registry.get("event-coordination", 1).is_some());
    assert!(registry.get("auto-detailing", 1).is_some());
}
