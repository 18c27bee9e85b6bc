//! The engine against a `BTreeMap` model and the verifier, in memory and on a store, and
//! the golden run that pins the bytes.

use super::*;
use crate::{Blake3, Failure, Verifier};
use quickcheck::{quickcheck, TestResult};
use std::collections::BTreeMap;

/// The reference every test here holds the tree to: a `BTreeMap`, and each operation's
/// result as its definition gives it.
#[derive(Clone, Debug, Default, PartialEq)]
struct Model(BTreeMap<Vec<u8>, Vec<u8>>);

impl Model {
    fn apply(&mut self, ops: &[Operation]) -> Vec<OpResult> {
        ops.iter().map(|op| self.one(op)).collect()
    }

    /// The results of `ops`, changing nothing (a what-if proof's).
    fn what_if(&self, ops: &[Operation]) -> Vec<OpResult> {
        self.clone().apply(ops)
    }

    fn one(&mut self, op: &Operation) -> OpResult {
        let (map, k) = (&mut self.0, op.key().to_vec());
        match op {
            Operation::Lookup(_) => Ok(map
                .get(&k)
                .map_or(Outcome::NotFound, |v| Outcome::Found(Bytes::from(&v[..])))),
            Operation::Insert(_, v) if !map.contains_key(&k) => {
                map.insert(k, v.to_vec());
                Ok(Outcome::Inserted)
            }
            Operation::Insert(..) => Err(Failure::KeyExists),
            Operation::Update(_, v) => match map.get_mut(&k) {
                Some(slot) => {
                    *slot = v.to_vec();
                    Ok(Outcome::Updated)
                }
                None => Err(Failure::KeyMissing),
            },
            Operation::Upsert(_, v) => Ok(match map.insert(k, v.to_vec()) {
                Some(_) => Outcome::Updated,
                None => Outcome::Inserted,
            }),
            Operation::Remove(_) => map
                .remove(&k)
                .map(|_| Outcome::Removed)
                .ok_or(Failure::KeyMissing),
            Operation::RemoveIfPresent(_) => Ok(map
                .remove(&k)
                .map_or(Outcome::NotFound, |_| Outcome::Removed)),
        }
    }

    fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.0.get(key).map(|v| Bytes::from(&v[..]))
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn entries(&self) -> Vec<(Bytes, Bytes)> {
        self.range(..)
    }

    fn range<'a>(&'a self, range: impl core::ops::RangeBounds<&'a [u8]>) -> Vec<(Bytes, Bytes)> {
        use core::ops::Bound;
        let own = |b: Bound<&&[u8]>| b.map(|k| k.to_vec());
        self.0
            .range((own(range.start_bound()), own(range.end_bound())))
            .map(|(k, v)| (Bytes::from(&k[..]), Bytes::from(&v[..])))
            .collect()
    }
}

/// A batch as a light client sees it: its proof, replayed from the root it trusts, gives
/// the batch's results (the model's, `expected`) and its new root.
fn verified<H: TreeHasher>(batch: &BatchProof, ops: &[Operation], expected: &[OpResult]) {
    assert_eq!(batch.results, expected, "the model's results");
    let verified = Verifier::<H>::new()
        .verify(&batch.old_root, batch.proof.as_bytes(), ops)
        .expect("the proof verifies");
    assert_eq!(verified.results, batch.results);
    assert_eq!(verified.new_root, batch.new_root);
}

/// The tree reads as the model does: every key of `ops`, and all entries.
fn reads_as<H: TreeHasher>(tree: &Tree<H>, model: &Model, ops: &[Operation]) {
    assert_eq!(tree.len(), model.len());
    for op in ops {
        let key = op.key();
        assert_eq!(tree.get(key).unwrap(), model.get(key));
        assert_eq!(tree.contains_key(key).unwrap(), model.get(key).is_some());
    }
    assert_eq!(tree.entries().unwrap(), model.entries());
}

/// Nodes the committed tree reaches, as its audit counts them (the leak check).
fn reached<H: TreeHasher>(arena: &Tree<H>) -> usize {
    let audit = arena.audit().unwrap();
    audit.leaves + audit.internal
}

fn ops_from(spec: &[(u8, u8, u8)]) -> Vec<Operation> {
    spec.iter()
        .map(|&(kind, k, v)| {
            // Some keys longer than a pool slot; values of 1 to 40 bytes.
            let key = vec![
                k % 64;
                if k % 3 == 0 {
                    33 + usize::from(k % 8)
                } else {
                    3
                }
            ];
            let value = vec![v; 1 + usize::from(v % 40)];
            match kind % 7 {
                0 => Operation::insert(key.clone(), value.clone()),
                1 => Operation::update(key.clone(), value.clone()),
                2 => Operation::remove(key.clone()),
                3 => Operation::lookup(key.clone()),
                4 => Operation::upsert(key.clone(), value.clone()),
                5 => Operation::remove_if_present(key),
                _ => Operation::insert(key.clone(), value.clone()),
            }
        })
        .collect()
}

/// Batch by batch, applied, staged or what-if: the model's results, proofs that verify
/// from the root before, and an arena that holds the live tree and no more.
fn same_as_model(batches: Vec<Vec<(u8, u8, u8)>>) -> TestResult {
    let mut model = Model::default();
    let mut arena: Tree<Blake3> = Tree::empty();
    for (b, spec) in batches.iter().enumerate() {
        let ops = ops_from(spec);
        if b % 3 == 2 {
            let root = arena.root();
            let what_if = arena.prove(&ops).expect("what-if");
            verified::<Blake3>(&what_if, &ops, &model.what_if(&ops));
            assert_eq!((what_if.old_root, arena.root()), (root, root));
            continue;
        }
        let batch = if b % 3 == 1 {
            let staged = arena.stage(&ops).expect("staged");
            assert!(staged.writes().ops.is_empty());
            arena.commit_staged(staged).expect("commit")
        } else {
            arena.apply(&ops).expect("batch")
        };
        verified::<Blake3>(&batch, &ops, &model.apply(&ops));
        assert_eq!(arena.root(), batch.new_root);
        let live = usize::try_from(arena.len().saturating_mul(2).saturating_sub(1)).unwrap();
        assert_eq!(arena.live_nodes(), live, "no leaked or doubly used slot");
        assert_eq!(reached(&arena), live);
        // One string per key (shared by its leaf, next key and route) and per value.
        let strings = usize::try_from(arena.len() * 2).unwrap();
        assert_eq!(
            arena.live_strings(),
            strings,
            "no leaked or doubly used string"
        );
        assert_eq!(
            arena.audit().unwrap().leaves,
            usize::try_from(model.len()).unwrap()
        );
        reads_as(&arena, &model, &ops);
    }
    TestResult::passed()
}

/// Every record of `store`, table by table.
fn contents(store: &crate::store::MemoryStore) -> Vec<(Table, Vec<u8>, Vec<u8>)> {
    let mut all = Vec::new();
    for table in Table::ALL {
        for key in store.keys(table) {
            let value = store.get(table, &key).unwrap().unwrap();
            all.push((table, key, value));
        }
    }
    all
}

/// Slots the committed tree reaches, stubs included (each once), and its stubs.
fn reached_slots<H: TreeHasher>(arena: &Tree<H>) -> (usize, usize) {
    let mut seen = std::collections::HashSet::new();
    let mut stubs = 0;
    let mut stack: Vec<NodeId> = arena.state.root.into_iter().collect();
    while let Some(id) = stack.pop() {
        assert!(seen.insert(id), "a slot reached twice");
        let node = arena.nodes.get(id.index().unwrap()).unwrap();
        stubs += usize::from(is_stub(node));
        if let (false, Kind::Internal(i)) = (is_stub(node), &node.kind) {
            stack.extend([i.left, i.right]);
        }
    }
    (seen.len(), stubs)
}

/// Batch by batch on a store (versions expiring, nodes loaded and evicted, the store
/// reopened once, snapshots, rollbacks, staged batches written by the caller): the
/// model's results and reads, proofs that verify, the same proofs as the same batches in
/// memory get, a store the audit finds whole, and an arena that holds the slots its tree
/// reaches and no more, within the memory budget.
fn same_store_as_model(batches: Vec<Vec<(u8, u8, u8)>>, budget: u16, reopen: u8) -> TestResult {
    let batches: Vec<Vec<Operation>> = batches.iter().map(|b| ops_from(b)).collect();
    same_store_with(&batches, usize::from(budget) * 8, reopen);
    TestResult::passed()
}

fn same_store_with(batches: &[Vec<Operation>], budget: usize, reopen: u8) {
    use crate::store::MemoryStore;
    let config = StoreConfig::default()
        .keep_versions(3)
        .memory_budget(budget);
    let ours = Arc::new(MemoryStore::new());
    let mut arena = Tree::<Blake3>::create_store(ours.clone(), config).unwrap();
    // The same batches in memory, until the first rollback (memory cannot roll back).
    let mut memory = Some(Tree::<Blake3>::empty());
    // The model at each version.
    let mut models = vec![Model::default()];
    for (b, ops) in batches.iter().enumerate() {
        let ops = ops.as_slice();
        let mut model = models.last().cloned().unwrap();
        if b == usize::from(reopen % 32) {
            arena = Tree::open_store(ours.clone(), config).unwrap();
        }
        if b % 4 == 3 {
            let what_if = arena.prove(ops).unwrap();
            verified::<Blake3>(&what_if, ops, &model.what_if(ops));
            if let Some(memory) = &memory {
                assert_eq!(what_if, memory.prove(ops).unwrap());
            }
            continue;
        }
        if b % 7 == 6 {
            // A snapshot of the oldest kept version, then a rollback to the one before
            // the head (kept: the window holds 3).
            let kept = arena.kept_versions().unwrap();
            assert_eq!(*kept.end(), arena.version());
            let start = *kept.start();
            let then = arena.snapshot(start).unwrap();
            let model_then = &models[usize::try_from(start).unwrap()];
            assert_eq!((then.version(), then.len()), (start, model_then.len()));
            let what_if = then.prove(ops).unwrap();
            assert_eq!(what_if.old_root, then.root());
            verified::<Blake3>(&what_if, ops, &model_then.what_if(ops));
            for op in ops {
                assert_eq!(then.get(op.key()).unwrap(), model_then.get(op.key()));
            }
            let all: Vec<_> = then
                .range::<&[u8], _>(..)
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(all, model_then.entries());
            assert_eq!(then.audit().unwrap().leaves as u64, model_then.len());
            let back = arena.version().saturating_sub(1).max(start);
            arena.rollback(back).unwrap();
            models.truncate(usize::try_from(back).unwrap() + 1);
            model = models.last().cloned().unwrap();
            assert_eq!(arena.version(), back);
            assert_eq!(arena.len(), model.len());
            arena.audit().unwrap();
            memory = memory.filter(|m| m.version() == back);
        }
        if b % 5 == 4 {
            let results = arena.apply_unproven(ops).unwrap();
            assert_eq!(results, model.apply(ops));
            if let Some(memory) = &mut memory {
                assert_eq!(memory.apply_unproven(ops).unwrap(), results);
            }
        } else if b % 6 == 2 {
            // Staged, written by the caller and adopted; one staged beside it is then
            // out of date.
            let late = arena.stage(ops).unwrap();
            let staged = arena.stage(ops).unwrap();
            assert_eq!(staged.proof(), late.proof());
            ours.write(staged.writes().clone(), true).unwrap();
            let adopted = arena.adopt_staged(staged).unwrap();
            verified::<Blake3>(&adopted, ops, &model.apply(ops));
            if let Some(memory) = &mut memory {
                assert_eq!(memory.apply(ops).unwrap(), adopted);
            }
            let refused = arena.commit_staged(late).unwrap_err();
            assert_eq!(refused, TreeError::StagedOutOfDate);
        } else {
            let batch = arena.apply(ops).unwrap();
            verified::<Blake3>(&batch, ops, &model.apply(ops));
            if let Some(memory) = &mut memory {
                assert_eq!(memory.apply(ops).unwrap(), batch);
            }
        }
        models.push(model.clone());
        assert_eq!(arena.version() as usize + 1, models.len());
        if let Some(memory) = &memory {
            assert_eq!((arena.root(), arena.len()), (memory.root(), memory.len()));
        }
        reads_as(&arena, &model, ops);
        if let [first, .., last] = ops {
            let (a, z) = (first.key().min(last.key()), first.key().max(last.key()));
            let ours: Vec<_> = arena.range(a..z).collect::<Result<_, _>>().unwrap();
            assert_eq!(ours, model.range(a..z));
            let ours: Vec<_> = arena.range(a..=z).collect::<Result<_, _>>().unwrap();
            assert_eq!(ours, model.range(a..=z));
        }
        // The store holds every record a kept version reaches and no other.
        let audit = arena.audit().unwrap();
        assert_eq!(audit.leaves as u64, model.len());
        let (slots, stubs) = reached_slots(&arena);
        assert_eq!(slots, arena.live_nodes(), "no leaked slot");
        assert_eq!(
            Some(stubs),
            arena.disk.as_ref().map(|d| d.stubs),
            "stubs counted"
        );
        // Beyond the budget, the top levels that fit in half of it stay.
        let bound = config.memory_budget.max(4 * (NODE_BYTES + STRING_BYTES));
        assert!(arena.loaded_bytes() <= bound);
        let whole = usize::try_from(arena.len()).unwrap() * 2 * NODE_BYTES;
        // The root stays in memory, whatever the budget.
        if whole > config.memory_budget.saturating_mul(2) && arena.len() > 1 {
            assert!(arena.disk.as_ref().is_some_and(|d| d.stubs > 0), "evicted");
        }
    }
    let reopened = Tree::<Blake3>::open_store(ours, config).unwrap();
    assert_eq!(reopened.audit().unwrap(), arena.audit().unwrap());
    assert_eq!(
        reopened.entries().unwrap(),
        models.last().unwrap().entries()
    );
}

#[test]
fn persistent_batches_match_the_model() {
    quickcheck(same_store_as_model as fn(Vec<Vec<(u8, u8, u8)>>, u16, u8) -> TestResult);
}

#[test]
fn deep_persistent_trees_match_the_model() {
    // 3000 keys of 2 bytes (a tree about 14 levels deep), values of 1 to 40 bytes.
    let mut next = xorshift(11);
    let batches: Vec<Vec<Operation>> = (0..30)
        .map(|b| {
            (0..if b < 4 { 1500 } else { 120 })
                .map(|_| {
                    let r = next();
                    let key = ((r >> 8) % 3000) as u16;
                    let key = key.to_be_bytes().to_vec();
                    let value = vec![(r >> 24) as u8; 1 + (r >> 32) as usize % 40];
                    match r % 6 {
                        0 | 1 if b >= 4 => Operation::lookup(key),
                        2 if b >= 4 => Operation::remove_if_present(key),
                        3 => Operation::upsert(key, value),
                        _ => Operation::insert(key, value),
                    }
                })
                .collect()
        })
        .collect();
    for (budget, reopen) in [(0, 9), (20_000, 5), (60_000, 17), (usize::MAX, 6)] {
        same_store_with(&batches, budget, reopen);
    }
}

/// A record the batch needs is missing: the batch fails with the store's error and
/// changes nothing, in memory or in the store; once the record is back, the same batch
/// gives what it gives in memory.
#[test]
fn a_missing_record_fails_the_batch_and_changes_nothing() {
    use crate::store::MemoryStore;
    let config = StoreConfig::default().memory_budget(0);
    let ours = Arc::new(MemoryStore::new());
    let mut arena = Tree::<Blake3>::create_store(ours.clone(), config).unwrap();
    let mut memory = Tree::<Blake3>::empty();
    let ops: Vec<Operation> = (0u16..400)
        .map(|k| Operation::insert(k.to_be_bytes(), [7u8; 40]))
        .collect();
    assert_eq!(arena.apply(&ops).unwrap(), memory.apply(&ops).unwrap());
    let before = (arena.root(), arena.len(), arena.version(), contents(&ours));
    // The leaf of key 123 (budget 0: only the root is in memory).
    let key = ours
        .keys(Table::Nodes)
        .into_iter()
        .find(|k| {
            let value = ours.get(Table::Nodes, k).unwrap().unwrap();
            // A leaf (tag 0), its key of length 2.
            value.starts_with(&[0, 2, 0, 123])
        })
        .unwrap();
    let record = ours.get(Table::Nodes, &key).unwrap().unwrap();
    ours.remove(Table::Nodes, &key);
    let batch = [Operation::update(123u16.to_be_bytes(), [8u8; 40])];
    let err = arena.apply(&batch).unwrap_err();
    assert!(
        matches!(err, TreeError::Store(StoreError::Missing(..))),
        "{err:?}"
    );
    assert!(matches!(arena.prove(&batch), Err(TreeError::Store(_))));
    ours.overwrite(Table::Nodes, key, record);
    let after = (arena.root(), arena.len(), arena.version(), contents(&ours));
    assert_eq!(after, before);
    assert_eq!(arena.apply(&batch).unwrap(), memory.apply(&batch).unwrap());
    arena.audit().unwrap();
}

/// Operations over the tree's size limits are refused before anything runs, naming the
/// first one.
#[test]
fn operations_over_the_limits_change_nothing() {
    let limits = SizeLimits {
        max_key_len: 4,
        ..SizeLimits::DEFAULT
    };
    let mut arena = Tree::<Blake3>::with_limits(limits);
    assert_eq!(arena.limits(), &limits);
    let ops = [
        Operation::insert(b"k", b"v"),
        Operation::insert(b"12345", b"v"),
    ];
    assert_eq!(
        arena.apply(&ops).unwrap_err(),
        TreeError::Operation {
            index: 1,
            error: crate::OperationError::KeyTooLong
        }
    );
    assert_eq!(
        (arena.version(), arena.root()),
        (0, RootDigest::empty::<Blake3>())
    );
}

#[test]
fn batches_match_the_model() {
    quickcheck(same_as_model as fn(Vec<Vec<(u8, u8, u8)>>) -> TestResult);
}

/// A deterministic pseudo-random stream (xorshift64) from `seed`.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// Deeper trees than the quickcheck's 64 keys: 3000 keys of varied lengths (some longer
/// than an inline routing key), batches of every kind, proven, unproven and what-if.
#[test]
fn deep_trees_match_the_model() {
    let mut model = Model::default();
    let mut arena: Tree<Blake3> = Tree::empty();
    let mut next = xorshift(0x5EED_u64);
    for round in 0..30 {
        let ops: Vec<Operation> = (0..300)
            .map(|_| {
                let r = next();
                let k = r % 3000;
                let key = vec![(k % 251) as u8; 1 + (k % 47) as usize];
                let key = [key, k.to_be_bytes().to_vec()].concat();
                let value = vec![(r >> 20) as u8; 1 + ((r >> 30) % 64) as usize];
                match (r >> 40) % 8 {
                    0..=3 if round < 20 => Operation::upsert(key, value),
                    0 | 1 => Operation::insert(key, value),
                    4 => Operation::update(key, value),
                    5 => Operation::lookup(key),
                    _ => Operation::remove_if_present(key),
                }
            })
            .collect();
        match round % 4 {
            3 => verified::<Blake3>(&arena.prove(&ops).unwrap(), &ops, &model.what_if(&ops)),
            2 => assert_eq!(arena.apply_unproven(&ops).unwrap(), model.apply(&ops)),
            _ => verified::<Blake3>(&arena.apply(&ops).unwrap(), &ops, &model.apply(&ops)),
        }
        reads_as(&arena, &model, &ops);
        let live = usize::try_from(arena.len() * 2 - 1).unwrap();
        assert_eq!((arena.live_nodes(), reached(&arena)), (live, live));
        assert_eq!(
            arena.live_strings(),
            usize::try_from(arena.len() * 2).unwrap()
        );
        assert_eq!(arena.audit().unwrap().leaves as u64, model.len());
    }
    assert!(arena.root().height >= 10, "the tree grew deep");
}

/// BLAKE3, counting every label and value digest it computes on any thread, and noting
/// whether one was computed off the thread that set `SPY_HOME` (only the split-seal test
/// uses it, so the counts are that test's).
struct Spy;

static SPY_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static SPY_OFF_HOME: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
std::thread_local! {
    static SPY_HOME: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

fn spy() {
    SPY_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if !SPY_HOME.with(core::cell::Cell::get) {
        SPY_OFF_HOME.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn spied<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = SPY_CALLS.load(std::sync::atomic::Ordering::Relaxed);
    let out = f();
    (
        out,
        SPY_CALLS.load(std::sync::atomic::Ordering::Relaxed) - before,
    )
}

impl TreeHasher for Spy {
    const NAME: &'static str = "blake3";
    fn hash(parts: &[&[u8]]) -> Digest {
        Blake3::hash(parts)
    }
    fn value(value: &[u8]) -> Digest {
        spy();
        Blake3::value(value)
    }
    fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
        spy();
        Blake3::leaf(key, next, value_digest)
    }
    fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
        spy();
        Blake3::internal(balance, left, right)
    }
}

/// A large batch sealed on two threads gets the same proof, root and labels (the audit
/// recomputes every one) as on one, with the same number of hash calls; the helper
/// thread really ran; small batches stay on one thread.
#[test]
fn the_two_thread_seal_matches_the_one_thread_seal() {
    SPY_HOME.with(|h| h.set(true));
    let mut one: Tree<Spy> = Tree::empty();
    let mut two: Tree<Spy> = Tree::empty();
    two.seal_on_two_threads(true);
    assert_eq!(two.split_seal, Some(SPLIT_SEAL_MIN));
    two.split_seal = Some(1000);
    let mut next = xorshift(0xC0FFEE_u64);
    let initial: Vec<Operation> = (0u64..3000)
        .map(|k| Operation::insert((k * 5 / 3).to_be_bytes(), [7; 32]))
        .collect();
    one.apply_unproven(&initial).unwrap();
    two.apply_unproven(&initial).unwrap();
    for round in 0..12 {
        // On 3000 keys, rounds of 400 operations copy over a thousand nodes; every fourth
        // round, of 20, a few hundred: under the test's threshold of 1000, which stands
        // in for the real one so that the test stays small.
        let size = if round % 4 == 3 { 20 } else { 400 };
        let ops: Vec<Operation> = (0..size)
            .map(|_| {
                let r = next();
                let key = (r % 5000).to_be_bytes();
                let value = vec![(r >> 20) as u8; 1 + ((r >> 30) % 48) as usize];
                match (r >> 40) % 6 {
                    0..=2 => Operation::upsert(key, value),
                    3 => Operation::update(key, value),
                    4 => Operation::lookup(key),
                    _ => Operation::remove_if_present(key),
                }
            })
            .collect();
        SPY_OFF_HOME.store(false, std::sync::atomic::Ordering::Relaxed);
        let (what_if, by_two) = spied(|| two.prove(&ops).unwrap());
        let (expected, by_one) = spied(|| one.prove(&ops).unwrap());
        assert_eq!(
            (what_if, by_two),
            (expected, by_one),
            "what-if, round {round}"
        );
        let (ours, by_two) = spied(|| two.apply(&ops).unwrap());
        let (theirs, by_one) = spied(|| one.apply(&ops).unwrap());
        assert_eq!((ours, by_two), (theirs, by_one), "round {round}");
        let split = SPY_OFF_HOME.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(split, size == 400, "round {round}: sealed off this thread");
        assert_eq!(two.audit().unwrap(), one.audit().unwrap(), "round {round}");
    }
}

#[test]
fn unproven_batches_reach_the_proven_roots() {
    let (mut proven, mut model) = (Tree::<Blake3>::empty(), Model::default());
    let mut arena: Tree<Blake3> = Tree::empty();
    let mut seed = 7u64;
    for _ in 0..40 {
        let spec: Vec<(u8, u8, u8)> = (0..50)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let b = seed.to_le_bytes();
                (b[5], b[6], b[7])
            })
            .collect();
        let ops = ops_from(&spec);
        let results = arena.apply_unproven(&ops).unwrap();
        assert_eq!(results, model.apply(&ops));
        let batch = proven.apply(&ops).unwrap();
        assert_eq!((batch.results, batch.new_root), (results, arena.root()));
        let live = usize::try_from(arena.len().saturating_mul(2).saturating_sub(1)).unwrap();
        assert_eq!(arena.live_nodes(), live);
    }
}

/// The id set against the standard library's, with growth and repeats.
fn id_set_is_a_set(inserts: Vec<u16>) -> bool {
    let mut ours = IdSet::with_capacity(inserts.len() / 4);
    let mut model = std::collections::BTreeSet::new();
    for &i in &inserts {
        let id = NodeId::node(usize::from(i)).unwrap();
        assert_eq!(ours.insert(id), model.insert(i));
    }
    ours.len() == model.len()
        && (0..=u16::MAX)
            .all(|i| ours.contains(NodeId::node(usize::from(i)).unwrap()) == model.contains(&i))
        && !ours.insert(NodeId::HOLE)
        && !ours.contains(NodeId::HOLE)
}

#[test]
fn id_sets_behave_as_sets() {
    quickcheck(id_set_is_a_set as fn(Vec<u16>) -> bool);
}

std::thread_local! {
    /// Calls of `Counted`'s node labels on this thread: internal nodes, leaves, values.
    static CALLS: core::cell::Cell<[u64; 3]> = const { core::cell::Cell::new([0; 3]) };
    /// Where each value `Counted` hashed on this thread lay in memory.
    static VALUES: core::cell::RefCell<Vec<usize>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// BLAKE3, counting the node labels it computes.
struct Counted;

fn count(kind: usize) {
    CALLS.with(|c| {
        let mut calls = c.get();
        calls[kind] += 1;
        c.set(calls);
    });
}

fn calls<T>(f: impl FnOnce() -> T) -> (T, [u64; 3]) {
    CALLS.with(|c| c.set([0; 3]));
    VALUES.with(|v| v.borrow_mut().clear());
    let out = f();
    (out, CALLS.with(core::cell::Cell::get))
}

/// Whether some value hashed since `calls` began was hashed twice (the same bytes in
/// memory: a pool slot, or the shared bytes of a long value).
fn a_value_hashed_twice() -> bool {
    VALUES.with(|v| {
        let mut seen = v.borrow().clone();
        seen.sort_unstable();
        seen.windows(2).any(|w| w[0] == w[1])
    })
}

impl TreeHasher for Counted {
    const NAME: &'static str = "blake3";
    fn hash(parts: &[&[u8]]) -> Digest {
        Blake3::hash(parts)
    }
    fn value(value: &[u8]) -> Digest {
        count(2);
        VALUES.with(|v| v.borrow_mut().push(value.as_ptr() as usize));
        Blake3::value(value)
    }
    fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
        count(1);
        Blake3::leaf(key, next, value_digest)
    }
    fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
        count(0);
        Blake3::internal(balance, left, right)
    }
}

/// Invariant 1 of docs/design.md: a batch labels each node it makes once (no more labels
/// than the nodes it adds to the arena), and hashes no value twice. (The arena
/// keeps no value digests: a committed value is hashed again in a later batch when its
/// leaf is relabelled or its proof withholds it, at most once per proof leaf.)
#[test]
fn nothing_is_hashed_twice() {
    let mut model = Model::default();
    let mut arena: Tree<Counted> = Tree::empty();
    for round in 0u8..20 {
        let ops: Vec<Operation> = (0u8..60)
            .map(|i| {
                let key = [i.wrapping_mul(37).wrapping_add(round), 1];
                match (i + round) % 4 {
                    0 | 1 => Operation::upsert(key, [round; 40]),
                    2 => Operation::remove_if_present(key),
                    _ => Operation::lookup(key),
                }
            })
            .collect();
        let ((results, proof, _, placed), by_arena) =
            calls(|| arena.apply_with(&ops, true).unwrap());
        assert!(!a_value_hashed_twice(), "round {round}");
        assert_eq!(results, model.apply(&ops));
        // Every node the new tree holds from this batch was labelled once, and nothing else.
        assert_eq!(by_arena[0] + by_arena[1], placed as u64, "round {round}");
        let upserts = ops
            .iter()
            .filter(|o| matches!(o, Operation::Upsert(..)))
            .count();
        let limits = crate::proof::DecodeLimits::default();
        let leaves = crate::proof::decode(proof.as_bytes(), &limits)
            .unwrap()
            .stats()
            .leaves;
        assert!(by_arena[2] as usize <= upserts + leaves, "round {round}");
    }
}

/// The audit sees a wrong routing key (which no label covers) or a wrong inline head of
/// one, a wrong balance and a changed value in the arena.
#[test]
fn the_audit_finds_corrupted_nodes() {
    use crate::AuditError;
    let mut arena: Tree<Blake3> = Tree::empty();
    let ops: Vec<Operation> = (0u8..50).map(|i| Operation::insert([i], [i; 8])).collect();
    arena.apply(&ops).unwrap();
    assert_eq!(arena.audit().unwrap().leaves, 50);
    let root = arena.state.root.and_then(NodeId::index).unwrap();
    let original = arena.nodes.get(root).unwrap().clone();
    let leaves: Vec<(Ref, Ref)> = (arena.nodes.iter())
        .filter_map(|n| match &n.kind {
            Kind::Leaf(l) => Some((l.key, l.value)),
            Kind::Internal(_) => None,
        })
        .collect();
    let Kind::Internal(i) = &mut arena.nodes.get_mut(root).unwrap().kind else {
        panic!("the root of 50 keys is internal")
    };
    i.route.key = leaves
        .iter()
        .map(|l| l.0)
        .find(|k| *k != i.route.key)
        .unwrap();
    assert_eq!(arena.audit(), Err(AuditError::BadRoute));
    *arena.nodes.get_mut(root).unwrap() = original.clone();
    let Kind::Internal(i) = &mut arena.nodes.get_mut(root).unwrap().kind else {
        unreachable!()
    };
    i.route.head ^= 1;
    assert_eq!(arena.audit(), Err(AuditError::BadRoute));
    *arena.nodes.get_mut(root).unwrap() = original.clone();
    let Kind::Internal(i) = &mut arena.nodes.get_mut(root).unwrap().kind else {
        unreachable!()
    };
    i.balance = if i.balance == 0 { 1 } else { 0 };
    assert_eq!(arena.audit(), Err(AuditError::Unbalanced));
    *arena.nodes.get_mut(root).unwrap() = original;
    assert!(arena.audit().is_ok());
    let leaf = arena
        .nodes
        .iter_mut()
        .find(|n| matches!(n.kind, Kind::Leaf(_)))
        .unwrap();
    if let Kind::Leaf(l) = &mut leaf.kind {
        l.value = leaves.iter().map(|l| l.1).find(|v| *v != l.value).unwrap();
    }
    assert_eq!(arena.audit(), Err(AuditError::LabelMismatch));
}

/// The node layout the memory figures rest on: 52 bytes (a label, four 4-byte
/// references, a routing key's head, a balance and the kind in a niche).
#[test]
fn nodes_take_52_bytes() {
    assert_eq!(core::mem::size_of::<PNode>(), 52);
}

/// Marks are two bytes a slot and start over every 32767 batches: past that (the test
/// starts near the end of the range), batches still find what they read and free
/// exactly what they replaced.
#[test]
fn marks_start_over() {
    let mut model = Model::default();
    let mut arena: Tree<Blake3> = Tree::empty();
    arena.mark = u16::MAX - 401;
    let mut next = xorshift(7);
    for round in 0..400u32 {
        if round == 190 {
            // Marks a batch of the next cycle will use, as if left from the last one.
            arena.marks.iter_mut().for_each(|m| *m = 4);
        }
        let ops: Vec<Operation> = (0..8)
            .map(|_| {
                let r = next();
                let key = [(r % 97) as u8, 5];
                match r % 3 {
                    0 => Operation::upsert(key, round.to_be_bytes()),
                    1 => Operation::remove_if_present(key),
                    _ => Operation::lookup(key),
                }
            })
            .collect();
        verified::<Blake3>(&arena.apply(&ops).unwrap(), &ops, &model.apply(&ops));
        let live = usize::try_from((arena.len() * 2).saturating_sub(1)).unwrap();
        assert_eq!(arena.live_nodes(), live, "round {round}");
    }
    assert_eq!(arena.audit().unwrap().leaves as u64, model.len());
    reads_as(&arena, &model, &[]);
}

#[test]
fn a_what_if_proof_changes_nothing() {
    let mut arena: Tree<Blake3> = Tree::empty();
    let ops: Vec<Operation> = (0u8..100).map(|i| Operation::insert([i], [i; 8])).collect();
    arena.apply(&ops).unwrap();
    let root = arena.root();
    let removes: Vec<Operation> = (0u8..100).map(|i| Operation::remove([i])).collect();
    let what_if = arena.prove(&removes).unwrap();
    assert_eq!(arena.root(), root);
    assert_eq!(what_if.new_root.label, Blake3::empty());
    let again = arena.prove(&removes).unwrap();
    assert_eq!(again, what_if);
    assert_eq!(arena.apply(&removes).unwrap().new_root, what_if.new_root);
    assert_eq!(arena.live_nodes(), 0);
}

/// One digest of everything a deterministic workload shows: every batch's results,
/// proof bytes and roots, every what-if and historical proof, the entries, and (on a
/// store) every record after every batch, through reopens and rollbacks.
fn golden(on_store: bool) -> String {
    let store = Arc::new(crate::store::MemoryStore::new());
    let config = StoreConfig::default()
        .keep_versions(3)
        .memory_budget(20_000);
    let mut tree = match on_store {
        true => Tree::<Blake3>::create_store(store.clone(), config).unwrap(),
        false => Tree::<Blake3>::with_limits(config.limits),
    };
    let mut digest = blake3::Hasher::new();
    let seen = |digest: &mut blake3::Hasher, b: &BatchProof| {
        digest.update(format!("{:?}", b.results).as_bytes());
        digest.update(b.proof.as_bytes());
        digest.update(&b.old_root.to_bytes());
        digest.update(&b.new_root.to_bytes());
        digest.update(&b.version.to_be_bytes());
    };
    let mut next = xorshift(0x601D);
    for b in 0..40u64 {
        let ops: Vec<Operation> = (0..if b < 4 { 1000 } else { 150 })
            .map(|_| {
                let r = next();
                let k = r % 2500;
                let key = [
                    vec![(k % 7) as u8; (k % 41) as usize],
                    k.to_be_bytes().to_vec(),
                ]
                .concat();
                let value = vec![(r >> 24) as u8; 1 + (r >> 32) as usize % 50];
                match (r >> 44) % 8 {
                    0..=2 => Operation::upsert(key, value),
                    3 => Operation::insert(key, value),
                    4 => Operation::update(key, value),
                    5 => Operation::lookup(key),
                    6 => Operation::remove_if_present(key),
                    _ => Operation::remove(key),
                }
            })
            .collect();
        match b % 6 {
            1 => {
                let r = tree.apply_unproven(&ops).unwrap();
                digest.update(format!("{r:?}").as_bytes());
            }
            2 => seen(&mut digest, &tree.prove(&ops).unwrap()),
            3 => {
                let staged = tree.stage(&ops).unwrap();
                seen(&mut digest, &tree.commit_staged(staged).unwrap())
            }
            _ => seen(&mut digest, &tree.apply(&ops).unwrap()),
        }
        if on_store {
            if b % 9 == 8 {
                let v = tree.version();
                let then = tree.snapshot(v - 2).unwrap();
                seen(&mut digest, &then.prove(&ops).unwrap());
                tree.rollback(v - 2).unwrap();
            }
            if b % 11 == 10 {
                tree = Tree::open_store(store.clone(), config).unwrap();
            }
            for (table, key, value) in contents(&store) {
                digest.update(format!("{table:?}").as_bytes());
                digest.update(&key);
                digest.update(&value);
            }
        }
    }
    digest.update(format!("{:?}", tree.entries().unwrap()).as_bytes());
    digest.finalize().to_hex().to_string()
}

/// The digests of the golden run, made by the reference-counted engine this one replaced
/// (stop 29, just before the swap): the same bytes everywhere.
const GOLDEN_MEMORY: &str = "b4efc08e4feb7effdad9f636b12ff6ec3d6d5badc384a3b1c34d3b3532a05ea8";
const GOLDEN_STORE: &str = "c5c233ebd4307f0ee0fd00cb6fdcfaae8dad98e517657ded2b404a3d478d032c";

#[test]
fn golden_runs_give_the_reference_counted_trees_bytes() {
    assert_eq!(golden(false), GOLDEN_MEMORY);
    assert_eq!(golden(true), GOLDEN_STORE);
}

/// The warm-up walk reads each key's path in the committed nodes down to its leaf, or to the
/// first stub, and no further.
#[test]
fn the_warm_walk_reads_each_path_once() {
    let lookups = |keys: &[u16]| -> Vec<Operation> {
        keys.iter()
            .map(|k| Operation::lookup(k.to_be_bytes()))
            .collect()
    };
    let mut tree = Tree::<Blake3>::empty();
    let ops: Vec<Operation> = (0u16..1000)
        .map(|k| Operation::insert(k.to_be_bytes(), [1]))
        .collect();
    tree.apply(&ops).unwrap();
    let root = tree.state.root.unwrap();
    let levels = usize::from(tree.state.height) + 1;
    let warm_of = |tree: &Tree<Blake3>, keys: &[u16]| {
        warm(&tree.nodes, &tree.pool, (root, levels), &lookups(keys))
    };
    // Each key's depth, by walking down as `get` does.
    let depth = |key: u16| {
        let (mut id, mut d) = (root, 1);
        loop {
            let node = tree.nodes.get(id.index().unwrap()).unwrap();
            match &node.kind {
                Kind::Internal(i) => {
                    let left = key.to_be_bytes().as_slice() < tree.pool.get(i.route.key);
                    id = if left { i.left } else { i.right };
                    d += 1;
                }
                Kind::Leaf(_) => return d,
            }
        }
    };
    let keys: Vec<u16> = (0..20)
        .map(|i| i * 97 % 1000)
        .chain([5000, 0, 999])
        .collect();
    assert_eq!(
        warm_of(&tree, &keys),
        keys.iter().map(|&k| depth(k.min(999))).sum::<usize>()
    );
    assert!(depth(500) > 5);
    // On a store with only the root's stub in memory, each walk reads the stub alone.
    let store = Arc::new(crate::store::MemoryStore::new());
    let mut stored = Tree::<Blake3>::create_store(store.clone(), StoreConfig::default()).unwrap();
    stored.apply(&ops).unwrap();
    let stored = Tree::<Blake3>::open_store(store, StoreConfig::default()).unwrap();
    let root = stored.state.root.unwrap();
    let read = warm(&stored.nodes, &stored.pool, (root, levels), &lookups(&keys));
    assert_eq!(read, keys.len());
}
