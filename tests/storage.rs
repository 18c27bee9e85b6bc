//! Persistent trees on the in-memory back end: lazy loading, corrupt and missing records,
//! versions, rollback, collection, snapshots on other threads, the memory budget.
//! (`tests/rocksdb.rs` runs the same kinds of checks on RocksDB.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use avlplus::store::{
    Entry, MemoryStore, StoreBackend, StoreConfig, StoreError, Table, WriteBatch,
};
use avlplus::{AuditError, Operation, Outcome, Tree, TreeError, Verifier};
use quickcheck::{Arbitrary, Gen, QuickCheck};

mod common;
use common::{apply_model, version_map, Map};

/// Counts the node records read through it.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    node_gets: AtomicUsize,
}

impl StoreBackend for Counting {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if table == Table::Nodes {
            self.node_gets.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.get(table, key)
    }
    fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), StoreError> {
        self.inner.write(batch, sync)
    }
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan(table, from, to, limit)
    }
}

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

fn config(keep: u64) -> StoreConfig {
    StoreConfig::DEFAULT.keep_versions(keep)
}

#[test]
fn reopened_tree_loads_only_what_operations_reach() {
    let store = Arc::new(Counting::default());
    let mut tree: Tree = Tree::create_store(store.clone(), config(4)).unwrap();
    let ops: Vec<Operation> = (0..4096)
        .map(|i| Operation::insert(key(i), [7u8; 40]))
        .collect();
    tree.apply(&ops).unwrap();
    let height = usize::from(tree.root().height);

    store.node_gets.store(0, Ordering::Relaxed);
    let reopened: Tree = Tree::open_store(store.clone(), config(4)).unwrap();
    assert_eq!(
        store.node_gets.load(Ordering::Relaxed),
        1,
        "open reads the root only"
    );

    let lookup = [Operation::lookup(key(1234))];
    let batch = reopened.prove(&lookup).unwrap();
    assert_eq!(
        batch.results,
        vec![Ok(Outcome::Found(vec![7u8; 40].into()))]
    );
    let loads = store.node_gets.load(Ordering::Relaxed);
    assert!(
        loads <= height + 1,
        "{loads} loads for a tree of height {height}"
    );

    // The same walk again reads nothing new: loaded nodes are cached.
    reopened.prove(&lookup).unwrap();
    assert_eq!(store.node_gets.load(Ordering::Relaxed), loads);

    Verifier::<avlplus::Sha256>::new()
        .verify(&tree.root(), batch.proof.as_bytes(), &lookup)
        .unwrap();
}

#[test]
fn corrupt_and_missing_records_are_typed_errors() {
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::create_store(store.clone(), config(2)).unwrap();
    tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])
        .unwrap();
    let records = store.keys(Table::Nodes);
    assert_eq!(records.len(), 3, "one internal node and two leaves");

    // Damage every record but the root's (which open reads first).
    let root_label = tree.root().label;
    let leaves: Vec<Vec<u8>> = records
        .into_iter()
        .filter(|k| k[8..] != root_label)
        .collect();
    for k in &leaves {
        let mut bytes = store.get(Table::Nodes, k).unwrap().unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        store.overwrite(Table::Nodes, k.clone(), bytes);
    }
    let damaged: Tree = Tree::open_store(store.clone(), config(2)).unwrap();
    assert!(matches!(
        damaged.get(b"a"),
        Err(TreeError::Store(StoreError::Corrupt(..)))
    ));
    assert!(matches!(
        damaged.audit(),
        Err(AuditError::Store(StoreError::Corrupt(..)))
    ));

    for k in &leaves {
        store.remove(Table::Nodes, k);
    }
    let missing: Tree = Tree::open_store(store.clone(), config(2)).unwrap();
    assert!(matches!(
        missing.get(b"b"),
        Err(TreeError::Store(StoreError::Missing(..)))
    ));

    // Damaged bookkeeping is a typed error too.
    store.overwrite(Table::Meta, b"window".to_vec(), vec![1, 2, 3]);
    assert!(matches!(
        Tree::<avlplus::Sha256>::open_store(store, config(2)),
        Err(TreeError::Store(StoreError::BadRecord {
            table: Table::Meta,
            fault: avlplus::store::RecordFault::Checksum,
            ..
        }))
    ));
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Tree>();
    send_sync::<avlplus::Snapshot>();
    send_sync::<Verifier>();
    send_sync::<MemoryStore>();
    send_sync::<avlplus::BatchProof>();
    send_sync::<avlplus::proof::ProofTree>();
}

#[test]
fn snapshots_answer_on_other_threads_while_the_writer_commits() {
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::create_store(store, config(16)).unwrap();
    let mut expected = Vec::new();
    for round in 0..6u32 {
        let ops: Vec<Operation> = (0..200)
            .map(|i| Operation::upsert(key(i), round.to_be_bytes()))
            .collect();
        let batch = tree.apply(&ops).unwrap();
        expected.push((batch.version, batch.new_root, round));
    }
    let readers: Vec<_> = expected
        .iter()
        .map(|&(version, root, round)| {
            let snapshot = tree.snapshot(version).unwrap();
            std::thread::spawn(move || {
                assert_eq!(snapshot.root(), root);
                for i in (0..200).step_by(7) {
                    let v = snapshot.get(&key(i)).unwrap();
                    assert_eq!(v.as_deref(), Some(&round.to_be_bytes()[..]));
                }
                let proof = snapshot.prove(&[Operation::lookup(key(3))]).unwrap();
                Verifier::<avlplus::Sha256>::new()
                    .verify(&root, proof.proof.as_bytes(), &[Operation::lookup(key(3))])
                    .unwrap();
            })
        })
        .collect();
    // The writer goes on while the readers read.
    for round in 6..10u32 {
        let ops: Vec<Operation> = (0..50)
            .map(|i| Operation::upsert(key(i), round.to_be_bytes()))
            .collect();
        tree.apply(&ops).unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
    tree.audit().unwrap();

    // A snapshot whose version leaves the window reports missing records, never wrong data.
    let first = expected[0].0;
    let doomed = tree.snapshot(first).unwrap();
    for round in 0..20u32 {
        tree.apply(&[Operation::upsert(key(round), [9u8; 4])])
            .unwrap();
    }
    assert!(tree.snapshot(first).is_err());
    match doomed.get(&key(150)) {
        Err(TreeError::Store(StoreError::Missing(..))) => {}
        other => panic!("expected missing records, got {other:?}"),
    }
}

#[test]
fn memory_budget_is_kept_after_every_commit() {
    let store = Arc::new(MemoryStore::new());
    let budget = 64 << 10;
    let cfg = config(2).memory_budget(budget);
    let mut tree: Tree = Tree::create_store(store.clone(), cfg).unwrap();
    for round in 0..20u32 {
        let ops: Vec<Operation> = (0..300)
            .map(|i| Operation::upsert(key(round * 300 + i), [1u8; 32]))
            .collect();
        tree.apply(&ops).unwrap();
        assert!(
            tree.loaded_bytes() <= budget,
            "{} bytes loaded, budget {budget}",
            tree.loaded_bytes()
        );
    }
    // Evicted nodes come back on demand.
    assert_eq!(tree.get(&key(17)).unwrap().as_deref(), Some(&[1u8; 32][..]));
    assert_eq!(tree.audit().unwrap().leaves, 6000);
}

/// One step of a store's life.
#[derive(Clone, Debug)]
enum Step {
    Batch(Vec<Operation>),
    Rollback(u64),
    Reopen,
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 10 {
            0 => Step::Rollback(u64::arbitrary(g) % 4),
            1 => Step::Reopen,
            _ => {
                let n = usize::arbitrary(g) % 12;
                Step::Batch(
                    (0..n)
                        .map(|_| {
                            let k = [u8::arbitrary(g) % 24];
                            let v = [u8::arbitrary(g); 3];
                            match u8::arbitrary(g) % 5 {
                                0 | 1 => Operation::upsert(k, v),
                                2 => Operation::remove_if_present(k),
                                3 => Operation::insert(k, v),
                                _ => Operation::lookup(k),
                            }
                        })
                        .collect(),
                )
            }
        }
    }
}

fn check_versions(steps: Vec<Step>, keep: u8) -> bool {
    // Half the cases with a budget so small that every commit drops nodes: collection must
    // stay correct on a tree that is only partly loaded.
    let cfg = config(u64::from(keep % 4) + 1).memory_budget(if keep.is_multiple_of(2) {
        1 << 30
    } else {
        512
    });
    let keep = cfg.keep_versions;
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::create_store(store.clone(), cfg).unwrap();
    // The model: every kept version's map, by version.
    let mut kept: BTreeMap<u64, Map> = BTreeMap::from([(0, Map::new())]);
    for step in steps {
        match step {
            Step::Batch(ops) => {
                let mut next = kept.values().next_back().cloned().unwrap_or_default();
                apply_model(&mut next, &ops);
                let batch = tree.apply(&ops).unwrap();
                kept.insert(batch.version, next);
                while kept.len() as u64 > keep {
                    kept.pop_first();
                }
            }
            Step::Rollback(back) => {
                let head = tree.version();
                let target = head.saturating_sub(back);
                let oldest = *kept.keys().next().unwrap();
                if target < oldest {
                    assert!(tree.rollback(target).is_err());
                } else {
                    tree.rollback(target).unwrap();
                    kept.retain(|v, _| *v <= target);
                }
            }
            Step::Reopen => {
                tree = Tree::open_store(store.clone(), cfg).unwrap();
            }
        }
        let range = tree.kept_versions().unwrap();
        assert_eq!(
            (*range.start(), *range.end()),
            (
                *kept.keys().next().unwrap(),
                *kept.keys().next_back().unwrap()
            )
        );
        tree.audit().unwrap();
        for (v, map) in &kept {
            let entries = version_map(&tree, *v);
            assert_eq!(&entries, map, "version {v}");
        }
    }
    true
}

#[test]
fn versions_rollback_and_collection_against_a_model() {
    QuickCheck::new()
        .tests(200)
        .rng(Gen::new(30))
        .quickcheck(check_versions as fn(Vec<Step>, u8) -> bool);
}

#[test]
fn recreated_nodes_are_not_collected_while_live() {
    // Toggling a value back and forth re-creates nodes with identical labels; each version
    // must keep its own records.
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::create_store(store, config(2)).unwrap();
    tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"1")])
        .unwrap();
    for round in 0..10 {
        let v: &[u8] = if round % 2 == 0 { b"2" } else { b"1" };
        tree.apply(&[Operation::update(b"a", v)]).unwrap();
        tree.apply(&[Operation::update(b"a", v)]).unwrap(); // same value: same labels
        tree.audit().unwrap();
    }
    assert_eq!(tree.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

/// What a store was written with is recorded: opening it with another hash or other limits is
/// its own error (not "node corrupt"), and a store created with larger limits reopens with
/// them (a 2,000-byte key under `max_key_len = 4096`).
#[test]
fn identity_mismatches_have_their_own_errors_and_limits_belong_to_the_store() {
    use avlplus::{Blake3, Sha256, SizeLimits};
    let big = SizeLimits {
        max_key_len: 4096,
        ..SizeLimits::DEFAULT
    };
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::create_store(store.clone(), config(2).limits(big)).unwrap();
    let key = vec![7u8; 2000];
    tree.apply(&[Operation::insert(&key, b"v")]).unwrap();
    drop(tree);

    let reopened: Tree = Tree::open_store(store.clone(), config(2).limits(big)).unwrap();
    assert_eq!(reopened.get(&key).unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(reopened.limits(), &big);
    reopened.audit().unwrap();

    assert_eq!(
        Tree::<Sha256>::open_store(store.clone(), config(2)).unwrap_err(),
        TreeError::Store(StoreError::LimitsMismatch {
            store: big,
            opened: SizeLimits::DEFAULT
        })
    );
    assert_eq!(
        Tree::<Blake3>::open_store(store.clone(), config(2).limits(big)).unwrap_err(),
        TreeError::Store(StoreError::HasherMismatch {
            store: "sha256".into(),
            opened: "blake3"
        })
    );
    // A new back end is not a store until created; opening it writes nothing.
    let empty = Arc::new(MemoryStore::new());
    assert_eq!(
        Tree::<Sha256>::open_store(empty.clone(), config(2)).unwrap_err(),
        TreeError::Store(StoreError::NotAStore(avlplus::store::NotAStore::Empty))
    );
    for t in Table::ALL {
        assert!(empty.keys(t).is_empty());
    }
    // A back end holding anything cannot be created over.
    assert_eq!(
        Tree::<Sha256>::create_store(store, config(2)).unwrap_err(),
        TreeError::Store(StoreError::AlreadyExists)
    );
}

/// A record over the store's limits is `OverLimits`, not corruption: a healthy store opened
/// with a forged identity of smaller limits would otherwise send an operator looking for disk
/// damage. (Here the identity is intact and the limits match; the record is made too long by
/// lowering the limits in the identity and its check together, as a store written by a
/// library with other limits would look.)
#[test]
fn records_over_the_limits_are_their_own_error() {
    use avlplus::__internal as layout;
    use avlplus::{Sha256, SizeLimits};
    let big = SizeLimits {
        max_key_len: 4096,
        ..SizeLimits::DEFAULT
    };
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::create_store(store.clone(), config(2).limits(big)).unwrap();
    let long = vec![1u8; 3000];
    let ops: Vec<Operation> = (0..32u32)
        .map(|i| Operation::insert(i.to_be_bytes(), b"v"))
        .chain([Operation::insert(&long, b"w")])
        .collect();
    tree.apply(&ops).unwrap();
    drop(tree);
    // Rewrite the identity as if the store had been created with the default limits.
    let mut batch = WriteBatch::default();
    layout::write_identity(
        &mut batch,
        &layout::Identity::new::<Sha256>(SizeLimits::DEFAULT),
    );
    store.write(batch, true).unwrap();
    let tree: Tree = Tree::open_store(store, config(2)).unwrap();
    assert!(matches!(
        tree.entries(),
        Err(TreeError::Store(StoreError::OverLimits(..)))
    ));
}

/// The caller can own the commit: a staged batch changes nothing until it is committed or
/// adopted, gives the same proof and store contents as `apply`, and refuses to land on a
/// tree that moved.
#[test]
fn staged_batches_commit_like_apply_or_not_at_all() {
    fn dump(store: &MemoryStore) -> Vec<(Table, Vec<u8>, Option<Vec<u8>>)> {
        Table::ALL
            .iter()
            .flat_map(|t| {
                store
                    .keys(*t)
                    .into_iter()
                    .map(|k| (*t, k.clone(), store.get(*t, &k).unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
    let a = Arc::new(MemoryStore::new());
    let b = Arc::new(MemoryStore::new());
    let mut ta: Tree = Tree::create_store(a.clone(), config(2)).unwrap();
    let mut tb: Tree = Tree::create_store(b.clone(), config(2)).unwrap();
    for round in 0..8u32 {
        let ops: Vec<Operation> = (0..50)
            .map(|i| Operation::upsert(key((round * 37 + i * 11) % 300), round.to_be_bytes()))
            .chain([Operation::remove_if_present(key(round * 5))])
            .collect();
        // Dropped: nothing happens.
        let before = dump(&b);
        drop(tb.stage(&ops).unwrap());
        assert_eq!(dump(&b), before);
        assert_eq!(tb.version(), u64::from(round));

        let applied = ta.apply(&ops).unwrap();
        let staged = tb.stage(&ops).unwrap();
        assert_eq!(staged.proof(), &applied);
        let committed = if round % 2 == 0 {
            tb.commit_staged(staged).unwrap()
        } else {
            b.write(staged.writes().clone(), true).unwrap();
            tb.adopt_staged(staged).unwrap()
        };
        assert_eq!(committed, applied);
        assert_eq!(
            (tb.version(), tb.root(), tb.len()),
            (ta.version(), ta.root(), ta.len())
        );
        assert_eq!(dump(&b), dump(&a), "round {round}");
        tb.audit().unwrap();
    }
    let staged = tb.stage(&[Operation::insert(b"x", b"1")]).unwrap();
    tb.apply(&[Operation::insert(b"y", b"2")]).unwrap();
    assert_eq!(
        tb.commit_staged(staged).unwrap_err(),
        TreeError::StagedOutOfDate
    );
    let reopened: Tree = Tree::open_store(b, config(2)).unwrap();
    assert_eq!(reopened.get(b"x").unwrap(), None);
    assert_eq!(reopened.get(b"y").unwrap().as_deref(), Some(&b"2"[..]));
}
