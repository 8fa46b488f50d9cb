//! `Engine::execute_async`: the same answers and the same stored events as `execute`, over a
//! store that awaits its commits (the group-commit SQLite store) and over one that does not
//! (memory, appended inline); and racing claims from tasks of two engines on one SQLite file
//! still give exactly one winner, with the loser told why.

use crate::engine_common;

use std::sync::Arc;

use engine_common::*;
use planck::engine::{Engine, Receipt};
use planck::host::{Clock, GroupCommitSqliteStore, Store, Transport};
use planck::policy::Principal;
use planck::spine::Command;
use serde_json::{Value, json};

/// Every command of the seed's lifecycle on `case`, with refusals and keyed repeats among
/// them: (who, command, key).
fn script(case: &str) -> Vec<(Principal, Command, Option<String>)> {
    let mut steps: Vec<(Principal, Command, Option<String>)> = Vec::new();
    for (i, (who, command)) in ten_steps(case).into_iter().enumerate() {
        let key = (i % 3 == 0).then(|| format!("{case}-k{i}"));
        if i == 4 {
            // Before the claim: op-max may not claim a job assigned to op-lee.
            steps.push((max(), cmd(case, "claim_job", Value::Null), None));
        }
        steps.push((who.clone(), command.clone(), key.clone()));
        if key.is_some() {
            // The same keyed command again: a duplicate, answered from its record.
            steps.push((who, command, key));
        }
    }
    steps.push((
        system(),
        cmd(
            case,
            "record_settlement",
            json!({ "status": "captured", "amount_minor": 125000, "currency": "USD" }),
        ),
        None,
    ));
    steps
}

fn run_sync<S: Store, T: Transport, C: Clock>(
    engine: &Engine<S, T, C>,
    case: &str,
) -> Vec<Receipt> {
    script(case)
        .iter()
        .map(|(who, command, key)| engine.execute(who, command, key.as_deref()).unwrap())
        .collect()
}

async fn run_async<S: Store, T: Transport, C: Clock>(
    engine: &Engine<S, T, C>,
    case: &str,
) -> Vec<Receipt> {
    let mut receipts = Vec::new();
    for (who, command, key) in script(case) {
        receipts.push(
            engine
                .execute_async(&who, &command, key.as_deref())
                .await
                .unwrap(),
        );
    }
    receipts
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn execute_async_answers_and_stores_what_execute_does() {
    let reference = memory_engine();
    let expected = run_sync(&reference, "c-1");
    assert!(
        expected.iter().any(|r| !r.is_applied()),
        "the script has refusals"
    );
    let dir = tempfile::tempdir().unwrap();
    let grouped = engine_on(GroupCommitSqliteStore::open(dir.path().join("async.db")).unwrap());
    let inline = memory_engine();
    let rt = runtime();
    for engine_receipts in [
        rt.block_on(run_async(&grouped, "c-1")),
        rt.block_on(run_async(&inline, "c-1")),
    ] {
        assert_eq!(
            serde_json::to_value(&engine_receipts).unwrap(),
            serde_json::to_value(&expected).unwrap()
        );
    }
    let stored = reference.store().load("c-1").unwrap();
    assert_eq!(grouped.store().load("c-1").unwrap(), stored);
    assert_eq!(inline.store().load("c-1").unwrap(), stored);
    assert!(grouped.verify().unwrap().ok());
    // The completion's signal was published after its commit, as `execute` publishes it.
    assert!(!reference.transport().delivered().is_empty());
    assert_eq!(
        grouped.transport().delivered().len(),
        reference.transport().delivered().len()
    );
    assert!(grouped.store().pending_signals(10).unwrap().is_empty());
}

#[test]
fn async_claims_from_two_engines_on_one_file_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let open = || Arc::new(engine_on(GroupCommitSqliteStore::open(&path).unwrap()));
    let setup = open();
    const CASES: usize = 24;
    for i in 0..CASES {
        to_job(&*setup, &format!("od-{i}"), "open-desk");
    }
    let (first, second) = (open(), open());
    let rt = runtime();
    let results: Vec<(Receipt, Receipt)> = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..CASES {
            let claim = cmd(&format!("od-{i}"), "claim_job", Value::Null);
            let (first, second) = (Arc::clone(&first), Arc::clone(&second));
            tasks.push(tokio::spawn(async move {
                // Both decide before either commits: each awaits its own store's commit.
                let (lee, max) = (lee(), max());
                let (lees, maxs) = tokio::join!(
                    first.execute_async(&lee, &claim, None),
                    second.execute_async(&max, &claim, None),
                );
                (lees.unwrap(), maxs.unwrap())
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    for (i, (lees, maxs)) in results.iter().enumerate() {
        assert_one_claim_won(&*setup, &format!("od-{i}"), lees, maxs);
    }
    drop((first, second));
    assert!(setup.verify().unwrap().ok());
}

/// One step of a random sequence: which case, which command, who sends it, under which key.
#[derive(Clone, Debug)]
struct Step {
    case: usize,
    command: usize,
    who: usize,
    key: Option<usize>,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    (
        0..2usize,
        0..13usize,
        0..5usize,
        proptest::option::of(0..4usize),
    )
        .prop_map(|(case, command, who, key)| Step {
            case,
            command,
            who,
            key,
        })
}

/// The command `i` of the lifecycle's vocabulary on `case` (some arguments vary with `i`).
fn vocabulary(case: &str, i: usize) -> Command {
    match i {
        0 => submit(case, "event-coordination"),
        1 => cmd(case, "approve_task", Value::Null),
        2 => cmd(case, "assign_task", json!({ "operator": "op-lee" })),
        3 => cmd(case, "assign_task", json!({ "operator": "op-max" })),
        4 => cmd(case, "create_job", Value::Null),
        5 => cmd(case, "claim_job", Value::Null),
        6 => cmd(case, "advance", json!({ "to": "arrived" })),
        7 => cmd(case, "advance", json!({ "to": "in_progress" })),
        8 => cmd(
            case,
            "complete_service_event",
            json!({ "outcome": "delivered" }),
        ),
        9 => cmd(case, "complete_job", Value::Null),
        10 => cmd(case, "close_task", Value::Null),
        11 => cmd(
            case,
            "record_settlement",
            json!({ "status": "captured", "amount_minor": 125000, "currency": "USD" }),
        ),
        _ => cmd(case, "reject_task", json!({ "reason": "duplicate" })),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..proptest::prelude::ProptestConfig::default() })]

    /// Random sequences (refusals, keyed repeats, a key reused for another command, two
    /// cases) give the same receipts and the same stored events through `execute_async` on
    /// the group-commit store as through `execute` on memory.
    #[test]
    fn random_sequences_answer_alike(
        steps in proptest::collection::vec(step(), 0..40),
        happy in proptest::prelude::any::<bool>(),
    ) {
        let people = [client(), admin(), lee(), max(), system()];
        let mut noise = steps.iter().map(|s| {
            let case = format!("c-{}", s.case);
            (
                people[s.who].clone(),
                vocabulary(&case, s.command),
                s.key.map(|k| format!("k-{k}")),
            )
        });
        // Half the sequences run the lifecycle on `c-0` with a random step after each of its
        // steps, so deep states (a claimed job, a sealed Record) are reached and disturbed.
        let mut script: Vec<(Principal, Command, Option<String>)> = Vec::new();
        if happy {
            for (who, command) in ten_steps("c-0") {
                script.push((who, command, None));
                script.extend(noise.next());
            }
        }
        script.extend(noise);
        let reference = memory_engine();
        let expected: Vec<Receipt> = script
            .iter()
            .map(|(who, command, key)| reference.execute(who, command, key.as_deref()).unwrap())
            .collect();
        let grouped = engine_on(GroupCommitSqliteStore::open_in_memory().unwrap());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got: Vec<Receipt> = rt.block_on(async {
            let mut got = Vec::new();
            for (who, command, key) in &script {
                got.push(grouped.execute_async(who, command, key.as_deref()).await.unwrap());
            }
            got
        });
        proptest::prop_assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&expected).unwrap()
        );
        for case in ["c-0", "c-1"] {
            proptest::prop_assert_eq!(
                grouped.store().load(case).unwrap(),
                reference.store().load(case).unwrap()
            );
        }
    }
}
