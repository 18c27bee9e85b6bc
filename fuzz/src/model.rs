//! The prover against a `BTreeMap`: random batches from the fuzzer's bytes, every batch
//! verified by a light client, the tree audited after each, in memory or over a store (with
//! a small memory budget, so that nodes are evicted and reloaded, and reopenings and
//! rollbacks in between).

use std::collections::BTreeMap;
use std::sync::Arc;

use avlplus::store::{Durability, MemoryStore, StoreConfig};
use avlplus::{
    Failure, OpResult, Operation, Outcome, RootDigest, Sha256, Tree, Verified, Verifier,
};

use crate::input::Input;

/// The model: the map every state of the tree must equal.
pub type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// What `op` returns on `map`, applying it.
pub fn apply_model(map: &mut Map, op: &Operation) -> OpResult {
    let k = op.key().to_vec();
    match op {
        Operation::Lookup(_) => Ok(match map.get(&k) {
            Some(v) => Outcome::Found(v[..].into()),
            None => Outcome::NotFound,
        }),
        Operation::Insert(_, v) => match map.entry(k) {
            std::collections::btree_map::Entry::Occupied(_) => Err(Failure::KeyExists),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(v.to_vec());
                Ok(Outcome::Inserted)
            }
        },
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
        Operation::Remove(_) => match map.remove(&k) {
            Some(_) => Ok(Outcome::Removed),
            None => Err(Failure::KeyMissing),
        },
        Operation::RemoveIfPresent(_) => Ok(match map.remove(&k) {
            Some(_) => Outcome::Removed,
            None => Outcome::NotFound,
        }),
    }
}

/// A key from one byte, in one of three styles: fixed width, varying length (the empty key
/// included), or long shared prefixes.
pub fn key(style: u8, k: u8) -> Vec<u8> {
    match style % 3 {
        0 => vec![k],
        1 => {
            let s = (k % 64).to_string().into_bytes();
            let cut = usize::from(k / 64).min(s.len());
            s[cut..].to_vec()
        }
        _ => {
            let mut v = vec![0xAB; 40];
            v.push(k % 32);
            v
        }
    }
}

/// One operation from the input.
pub fn operation(style: u8, input: &mut Input<'_>) -> Operation {
    let kind = input.below(6);
    let k = key(style, input.byte());
    let len = match input.byte() {
        b @ 0..=200 => usize::from(b % 41),
        b => 100 + usize::from(b),
    };
    let seed = input.byte();
    let v: Vec<u8> = (0..len).map(|i| seed.wrapping_add(i as u8)).collect();
    match kind {
        0 => Operation::lookup(k),
        1 => Operation::insert(k, v),
        2 => Operation::update(k, v),
        3 => Operation::upsert(k, v),
        4 => Operation::remove(k),
        _ => Operation::remove_if_present(k),
    }
}

fn check_batch(tree: &mut Tree, model: &mut Map, ops: &[Operation]) {
    let expected: Vec<OpResult> = ops.iter().map(|op| apply_model(model, op)).collect();
    let old = tree.root();
    let batch = tree.apply(ops).expect("apply");
    assert_eq!(batch.results, expected, "results differ from the model");
    assert_eq!(batch.old_root, old);
    assert_eq!(tree.root(), batch.new_root);
    let verified = Verifier::<Sha256>::new()
        .verify(&old, batch.proof.as_bytes(), ops)
        .expect("an honest proof verifies");
    assert_eq!(
        verified,
        Verified {
            results: expected,
            new_root: batch.new_root
        }
    );
    let audit = tree.audit().expect("audit");
    assert_eq!(audit.leaves, model.len());
}

fn check_what_if(tree: &Tree, model: &Map, ops: &[Operation]) {
    let before = tree.root();
    let mut scratch = model.clone();
    let expected: Vec<OpResult> = ops.iter().map(|op| apply_model(&mut scratch, op)).collect();
    let batch = tree.prove(ops).expect("prove");
    assert_eq!(tree.root(), before, "a what-if proof changed the tree");
    assert_eq!(batch.results, expected);
    let verified = Verifier::<Sha256>::new()
        .verify(&before, batch.proof.as_bytes(), ops)
        .expect("an honest what-if proof verifies");
    assert_eq!(verified.results, expected);
    assert_eq!(verified.new_root, batch.new_root);
}

fn check_contents(tree: &Tree, model: &Map) {
    let entries: Map = tree
        .entries()
        .expect("entries")
        .into_iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(&entries, model, "entries differ from the model");
}

/// Runs the program in `data`.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let style = input.byte();
    let persistent = mode & 1 == 1;
    let config = StoreConfig::DEFAULT
        .keep_versions(1 + u64::from(mode >> 1 & 3))
        .durability(Durability::Buffered)
        .memory_budget(if mode & 8 == 0 { 0 } else { 4096 })
        .max_expire_per_commit(1 + u64::from(mode >> 4 & 1));
    let store = Arc::new(MemoryStore::new());
    let mut tree = if persistent {
        Tree::create_store(store.clone(), config).expect("open a new store")
    } else {
        Tree::new()
    };
    let mut model = Map::new();
    // The model of every committed version (persistent trees), for rollbacks.
    let mut history: Vec<(u64, RootDigest, Map)> = vec![(0, tree.root(), Map::new())];
    let mut batches = 0;
    while !input.is_empty() && batches < 24 {
        batches += 1;
        let n = 1 + input.below(12);
        let ops: Vec<Operation> = (0..n).map(|_| operation(style, &mut input)).collect();
        match input.below(8) {
            0 => {
                check_what_if(&tree, &model, &ops);
            }
            1 if persistent => {
                tree = Tree::open_store(store.clone(), config).expect("reopen");
                assert_eq!(
                    (tree.version(), tree.root()),
                    history.last().map(|(v, r, _)| (*v, *r)).unwrap()
                );
            }
            2 if persistent => {
                let kept = tree.kept_versions().expect("persistent");
                let target = *kept.start() + input.below(3) as u64;
                if kept.contains(&target) {
                    tree.rollback(target).expect("rollback to a kept version");
                    history.retain(|(v, _, _)| *v <= target);
                    let (v, root, map) = history.last().cloned().unwrap();
                    assert_eq!((tree.version(), tree.root()), (v, root));
                    model = map;
                }
            }
            _ => {}
        }
        check_batch(&mut tree, &mut model, &ops);
        history.push((tree.version(), tree.root(), model.clone()));
    }
    check_contents(&tree, &model);
    for key in model.keys() {
        let value = tree.get(key).expect("get");
        assert_eq!(value.as_deref(), model.get(key).map(Vec::as_slice));
    }
}
