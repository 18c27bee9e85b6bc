//! Store bytes: a tree opened over tables that a real tree wrote, then damaged in places by
//! the fuzzer (records and bookkeeping overwritten, flipped, cut, swapped or removed).
//!
//! Whatever the damage, every call returns a typed error or a correct answer. "Correct" is
//! judged against the root the tree reports: node records are checked against their labels,
//! so a tree whose root label is one of the chain's answers exactly as that version's map
//! does. (The root digest itself comes from the version record, which the store trusts: a
//! record naming another genuine root is answered for that root.)

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use avlplus::store::{Durability, MemoryStore, StoreBackend, StoreConfig, Table};
use avlplus::{Digest, OpResult, Operation, Sha256, Tree, Verifier};

use crate::input::Input;
use crate::model::{apply_model, Map};

/// The undamaged store and the maps of the chain's roots.
struct Base {
    tables: Vec<(Table, Vec<u8>, Vec<u8>)>,
    /// Root label -> (height, map).
    roots: HashMap<Digest, (u8, Map)>,
    probes: Vec<Vec<u8>>,
}

fn k(i: u32) -> Vec<u8> {
    (i * 7).to_be_bytes().to_vec()
}

fn config() -> StoreConfig {
    StoreConfig::DEFAULT
        .keep_versions(3)
        .durability(Durability::Buffered)
        .memory_budget(2048)
        .max_expire_per_commit(2)
}

fn build() -> Base {
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::create_store(store.clone(), config()).expect("new store");
    let mut map = Map::new();
    let mut roots = HashMap::new();
    roots.insert(tree.root().label, (tree.root().height, map.clone()));
    for round in 0..6u32 {
        let ops: Vec<Operation> = (0..12u32)
            .map(|i| {
                let key = k((i * 5 + round * 3) % 40);
                match (i + round) % 4 {
                    0 | 1 => Operation::upsert(key, (round * 100 + i).to_le_bytes()),
                    2 => Operation::remove_if_present(key),
                    _ => Operation::insert(key, vec![round as u8; (i % 3) as usize * 20]),
                }
            })
            .collect();
        for op in &ops {
            let _ = apply_model(&mut map, op);
        }
        tree.apply(&ops).expect("apply");
        roots.insert(tree.root().label, (tree.root().height, map.clone()));
    }
    let mut tables = Vec::new();
    for table in Table::ALL {
        for key in store.keys(table) {
            let value = store.get(table, &key).ok().flatten().expect("listed key");
            tables.push((table, key, value));
        }
    }
    // Every third key of the 40 the chain touches (present or absent by version), and keys
    // below, between and above them.
    let mut probes: Vec<Vec<u8>> = (0..42).step_by(3).map(k).collect();
    probes.push(vec![0, 0, 0, 1]);
    probes.push(Vec::new());
    probes.push(vec![0xff; 5]);
    Base {
        tables,
        roots,
        probes,
    }
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(build)
}

const TABLES: [Table; 3] = Table::ALL;

fn damage(store: &MemoryStore, input: &mut Input<'_>) {
    let table = TABLES[input.below(TABLES.len())];
    let keys = store.keys(table);
    let key = if !keys.is_empty() && input.below(4) != 0 {
        keys[input.below(keys.len())].clone()
    } else {
        input.blob(48).to_vec()
    };
    let old = store.get(table, &key).ok().flatten().unwrap_or_default();
    let new = match input.below(6) {
        0 => {
            store.remove(table, &key);
            return;
        }
        1 => input.blob(80).to_vec(),
        2 if !old.is_empty() => {
            let mut v = old;
            let bit = input.below(v.len() * 8);
            v[bit / 8] ^= 1 << (bit % 8);
            v
        }
        3 => {
            let mut v = old;
            v.truncate(input.below(v.len() + 1));
            v
        }
        4 if !keys.is_empty() => {
            let other = &keys[input.below(keys.len())];
            store.get(table, other).ok().flatten().unwrap_or_default()
        }
        _ => {
            let mut v = old;
            v.extend_from_slice(input.blob(8));
            v
        }
    };
    store.overwrite(table, key, new);
}

/// Checks every answer of `tree` that succeeds against the map of its root, if known.
fn check(tree: &Tree, b: &Base, damaged: bool) {
    let known = b.roots.get(&tree.root().label);
    for key in &b.probes {
        match tree.get(key) {
            Ok(v) => {
                if let Some((_, map)) = known {
                    assert_eq!(v.as_deref(), map.get(key).map(Vec::as_slice), "get");
                }
            }
            Err(e) => assert!(damaged, "an undamaged store failed: {e}"),
        }
    }
    match tree.entries() {
        Ok(entries) => {
            if let Some((_, map)) = known {
                let got: Map = entries
                    .into_iter()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .collect();
                assert_eq!(&got, map, "entries");
            }
        }
        Err(e) => assert!(damaged, "an undamaged store failed: {e}"),
    }
}

/// Runs the program in `data`: up to five edits of the stored tables, then every call.
pub fn run(data: &[u8]) {
    let b = base();
    let mut input = Input::new(data);
    let store = Arc::new(MemoryStore::new());
    for (table, key, value) in &b.tables {
        store.overwrite(*table, key.clone(), value.clone());
    }
    let edits = input.below(6);
    for _ in 0..edits {
        damage(&store, &mut input);
    }
    let damaged = edits > 0;
    let mut tree: Tree = match Tree::open_store(store.clone(), config()) {
        Ok(t) => t,
        Err(e) => {
            assert!(damaged, "an undamaged store did not open: {e}");
            return;
        }
    };
    check(&tree, b, damaged);
    if let Some(range) = tree.kept_versions() {
        for v in range {
            if let Ok(snapshot) = tree.snapshot(v) {
                let known = b.roots.get(&snapshot.root().label);
                for key in &b.probes {
                    if let (Ok(v), Some((_, map))) = (snapshot.get(key), known) {
                        assert_eq!(v.as_deref(), map.get(key).map(Vec::as_slice), "snapshot");
                    }
                }
                let _ = snapshot.audit();
            }
        }
    }
    let _ = tree.audit();

    let ops: Vec<Operation> = (0..6)
        .map(|_| {
            let key = b.probes[input.below(b.probes.len())].clone();
            match input.below(4) {
                0 => Operation::lookup(key),
                1 => Operation::upsert(key, [input.byte()]),
                2 => Operation::remove_if_present(key),
                _ => Operation::insert(key, input.blob(4)),
            }
        })
        .collect();
    let old = tree.root();
    let known = b.roots.get(&old.label).cloned();
    match tree.apply(&ops) {
        Ok(batch) => {
            if let Some((height, mut map)) = known {
                let expected: Vec<OpResult> =
                    ops.iter().map(|op| apply_model(&mut map, op)).collect();
                assert_eq!(batch.results, expected, "apply on a damaged store");
                if height == old.height {
                    let verified = Verifier::<Sha256>::new()
                        .verify(&old, batch.proof.as_bytes(), &ops)
                        .expect("the proof of a genuine root verifies");
                    assert_eq!(verified.results, expected);
                    assert_eq!(verified.new_root, batch.new_root);
                }
            }
            check(&tree, b, damaged);
        }
        Err(e) => assert!(damaged, "an undamaged store failed to apply: {e}"),
    }
    if let Some(range) = tree.kept_versions() {
        if tree.rollback(*range.start()).is_ok() {
            check(&tree, b, true);
        }
    }
}
