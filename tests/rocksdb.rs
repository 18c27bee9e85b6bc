//! The persistent tree on RocksDB: versions, rollback and collection against a model across
//! reopenings of the database, and typed errors for corrupt and missing records.
#![cfg(feature = "rocksdb")]

mod common;

use std::sync::Arc;

use avlplus::store::{RocksStore, StoreBackend, StoreConfig, StoreError, Table, WriteBatch};
use avlplus::{AuditError, Operation, Tree, TreeError, Verifier};
use common::{apply_model, batch, version_map, Map, Rng, TempDir};

fn config(keep: u64) -> StoreConfig {
    StoreConfig::DEFAULT.keep_versions(keep)
}

/// Opens the store in `dir`, creating it the first time.
fn open(dir: &TempDir, keep: u64) -> Tree {
    match RocksStore::open(dir.path()) {
        Ok(store) => Tree::open_store(Arc::new(store), config(keep)).unwrap(),
        Err(_) => {
            let store = Arc::new(RocksStore::create(dir.path()).unwrap());
            Tree::create_store(store, config(keep)).unwrap()
        }
    }
}

#[test]
fn versions_rollback_and_reopen_against_a_model() {
    let dir = TempDir::new("rocks-model");
    let keep = 5;
    let mut rng = Rng(11);
    let mut tree = open(&dir, keep);
    let mut kept: std::collections::BTreeMap<u64, Map> = [(0, Map::new())].into();
    let mut index = 0u64;
    for step in 0..120 {
        match rng.below(10) {
            0 => {
                let back = rng.below(4);
                let target = tree.version().saturating_sub(back);
                if target >= *kept.keys().next().unwrap() {
                    tree.rollback(target).unwrap();
                    kept.retain(|v, _| *v <= target);
                }
            }
            1 => {
                drop(tree);
                tree = open(&dir, keep);
            }
            _ => {
                index += 1;
                let ops = batch(99, index, 300, 1 + rng.below(60) as usize);
                let mut next = kept.values().next_back().cloned().unwrap();
                apply_model(&mut next, &ops);
                let old = tree.root();
                let applied = tree.apply(&ops).unwrap();
                Verifier::<avlplus::Sha256>::new()
                    .verify(&old, applied.proof.as_bytes(), &ops)
                    .unwrap();
                kept.insert(applied.version, next);
                while kept.len() as u64 > keep {
                    kept.pop_first();
                }
            }
        }
        let range = tree.kept_versions().unwrap();
        assert_eq!(*range.start(), *kept.keys().next().unwrap(), "step {step}");
        assert_eq!(
            *range.end(),
            *kept.keys().next_back().unwrap(),
            "step {step}"
        );
        tree.audit().unwrap_or_else(|e| panic!("step {step}: {e}"));
        for (v, map) in &kept {
            let entries = version_map(&tree, *v);
            assert_eq!(&entries, map, "step {step}, version {v}");
        }
    }
}

#[test]
fn corrupt_and_missing_records_are_typed_errors() {
    let dir = TempDir::new("rocks-corrupt");
    let store = Arc::new(RocksStore::create(dir.path()).unwrap());
    let mut tree: Tree = Tree::create_store(store.clone(), config(2)).unwrap();
    let ops: Vec<Operation> = (0..64u32)
        .map(|i| Operation::insert(i.to_be_bytes(), [5u8; 20]))
        .collect();
    tree.apply(&ops).unwrap();
    let records = store
        .scan(Table::Nodes, &[], &[0xff; 41], usize::MAX)
        .unwrap();
    let root = tree.root().label;
    let victim = records
        .iter()
        .find(|(k, _)| k[8..] != root)
        .unwrap()
        .clone();

    let mut damaged = victim.1.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x40;
    let mut batch = WriteBatch::default();
    batch.put(Table::Nodes, victim.0.clone(), damaged);
    store.write(batch, true).unwrap();
    let reopened: Tree = Tree::open_store(store.clone(), config(2)).unwrap();
    assert!(matches!(
        reopened.audit(),
        Err(AuditError::Store(StoreError::Corrupt(..)))
    ));
    assert!(matches!(
        reopened.entries(),
        Err(TreeError::Store(StoreError::Corrupt(..)))
    ));

    let mut batch = WriteBatch::default();
    batch.delete(Table::Nodes, victim.0.clone());
    store.write(batch, true).unwrap();
    let reopened: Tree = Tree::open_store(store, config(2)).unwrap();
    assert!(matches!(
        reopened.entries(),
        Err(TreeError::Store(StoreError::Missing(..)))
    ));
}
