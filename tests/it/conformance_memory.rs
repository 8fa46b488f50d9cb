//! The store conformance suite against [`MemoryStore`].

use planck::host::{MemoryStore, conformance};

#[test]
fn memory_store_conforms() {
    if let Err(failures) = conformance::run_all(MemoryStore::new) {
        panic!("MemoryStore fails the conformance suite:\n{failures}");
    }
}

#[test]
fn memory_store_handles_share_one_storage() {
    let shared = MemoryStore::new();
    if let Err(failures) = conformance::run_reopen(|| shared.clone()) {
        panic!("MemoryStore fails the reopen properties:\n{failures}");
    }
}
