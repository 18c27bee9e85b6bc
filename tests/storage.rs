//! The node-store path: lazy loading by root, corrupted and missing records, thread safety.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use avlplus::store::{MemoryStore, NodeStore, StoreError};
use avlplus::{Digest, Operation, Outcome, Tree, TreeError, Verifier};

/// Counts the records read through it.
struct Counting {
    inner: MemoryStore,
    gets: AtomicUsize,
}

impl NodeStore for Counting {
    fn get(&self, label: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(label)
    }
    fn put(&self, records: Vec<(Digest, Vec<u8>)>) -> Result<(), StoreError> {
        self.inner.put(records)
    }
}

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

fn stored_tree(n: u32) -> (Arc<Counting>, Tree) {
    let store = Arc::new(Counting {
        inner: MemoryStore::new(),
        gets: AtomicUsize::new(0),
    });
    let mut tree: Tree = Tree::with_store(store.clone());
    let ops: Vec<Operation> = (0..n)
        .map(|i| Operation::insert(key(i), [7u8; 40]))
        .collect();
    tree.apply(&ops).unwrap();
    (store, tree)
}

#[test]
fn reopened_tree_loads_only_what_operations_reach() {
    let (store, tree) = stored_tree(4096);
    let height = usize::from(tree.root().height);
    store.gets.store(0, Ordering::Relaxed);

    let reopened: Tree = Tree::open(store.clone(), tree.root()).unwrap();
    assert_eq!(
        store.gets.load(Ordering::Relaxed),
        1,
        "open reads the root only"
    );

    let batch = reopened.prove(&[Operation::lookup(key(1234))]).unwrap();
    assert_eq!(
        batch.results,
        vec![Ok(Outcome::Found(vec![7u8; 40].into()))]
    );
    let loads = store.gets.load(Ordering::Relaxed);
    // The walk, plus the pruning pass re-reading nothing it already cached.
    assert!(
        loads <= height + 1,
        "{loads} loads for a tree of height {height}"
    );

    // A second lookup on the same path reads nothing new: loaded nodes are cached.
    reopened.prove(&[Operation::lookup(key(1234))]).unwrap();
    assert_eq!(store.gets.load(Ordering::Relaxed), loads);

    // The proof from the lazily loaded tree verifies.
    Verifier::new()
        .verify(
            &tree.root(),
            batch.proof.as_bytes(),
            &[Operation::lookup(key(1234))],
        )
        .unwrap();
}

#[test]
fn reopened_tree_accepts_batches_and_persists_them() {
    let (store, tree) = stored_tree(1000);
    let mut reopened: Tree = Tree::open(store.clone(), tree.root()).unwrap();
    let ops = vec![
        Operation::remove(key(10)),
        Operation::insert(key(5000), b"new"),
        Operation::update(key(20), b"changed"),
    ];
    let batch = reopened.apply(&ops).unwrap();
    Verifier::new()
        .verify(&tree.root(), batch.proof.as_bytes(), &ops)
        .unwrap();
    reopened.audit().unwrap();
    let again: Tree = Tree::open(store, reopened.root()).unwrap();
    assert_eq!(again.get(&key(5000)).unwrap().as_deref(), Some(&b"new"[..]));
    assert_eq!(again.get(&key(10)).unwrap(), None);
    assert_eq!(again.audit().unwrap().leaves, 1000);
}

#[test]
fn corrupted_record_is_a_typed_error() {
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::with_store(store.clone());
    tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])
        .unwrap();
    let root = tree.root();
    let labels: Vec<Digest> = store
        .labels()
        .into_iter()
        .filter(|l| *l != root.label)
        .collect();
    assert_eq!(labels.len(), 2, "two leaf records besides the root");
    for l in &labels {
        let mut bytes = store.get(l).unwrap().unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        store.overwrite(*l, bytes);
    }
    let damaged: Tree = Tree::open(store.clone(), root).unwrap();
    match damaged.get(b"a") {
        Err(TreeError::Store(StoreError::Corrupt(_))) => {}
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
    for l in &labels {
        store.delete(l);
    }
    let missing: Tree = Tree::open(store, root).unwrap();
    match missing.get(b"b") {
        Err(TreeError::Store(StoreError::Missing(_))) => {}
        other => panic!("expected a missing-record error, got {other:?}"),
    }
}

#[test]
fn handles_are_send_and_sync() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Tree>();
    sync::<Tree>();
    send::<Verifier>();
    sync::<Verifier>();
    send::<MemoryStore>();
    sync::<MemoryStore>();
    send::<avlplus::BatchProof>();
    send::<avlplus::proof::ProofTree>();
}
