//! The corruption matrix: every kind of record a store holds (node, version, window, identity)
//! × (bit flip, truncation, deletion, replacement by the same kind of record from elsewhere),
//! on a store with real history, on both back ends.
//!
//! Each case must give a typed error or correct answers, and no case may delete a live
//! record: after the damage, the store is opened and driven through more commits than it
//! keeps versions (so the collector runs over the damaged region); every record that the same
//! commits keep live on an undamaged copy must still be there, and every answer must match
//! the model.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use avlplus::store::{
    Inconsistency, MemoryStore, StoreBackend, StoreConfig, StoreError, Table, WriteBatch,
};
use avlplus::{Blake3, Operation, SizeLimits, Tree, TreeError};
use common::{apply_model, batch, Map};

const SEED: u64 = 0x5EED_0016;
const KEYS: u64 = 96;
const BATCH: usize = 24;
const HISTORY: u64 = 20;
const KEEP: u64 = 4;
/// Commits after the damage: more than `KEEP`, so every damaged version expires.
const AFTER: u64 = 9;

type Dump = Vec<(Table, Vec<u8>, Vec<u8>)>;

fn config() -> StoreConfig {
    StoreConfig::DEFAULT.keep_versions(KEEP)
}

fn dump(store: &dyn StoreBackend) -> Dump {
    let mut out = Vec::new();
    for t in Table::ALL {
        for (k, v) in store.scan(t, &[], &[0xff; 64], usize::MAX).unwrap() {
            out.push((t, k, v));
        }
    }
    out
}

fn load(store: &dyn StoreBackend, d: &Dump) {
    let mut b = WriteBatch::default();
    for (t, k, v) in d {
        b.put(*t, k.clone(), v.clone());
    }
    store.write(b, true).unwrap();
}

fn node_keys(store: &dyn StoreBackend) -> BTreeSet<Vec<u8>> {
    store
        .scan(Table::Nodes, &[], &[0xff; 64], usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// The history every case starts from, and what is known about it.
struct Base {
    tables: Dump,
    /// The model of every version, kept or not.
    models: Vec<Map>,
    /// The window record as it was at version 10 (for replacement).
    old_window: Vec<u8>,
    /// Identity records of stores made with another hash and with other limits.
    other_identities: [Vec<u8>; 2],
    /// Node records live after `k` further commits on an undamaged copy, for each `k`.
    live_after: Vec<BTreeSet<Vec<u8>>>,
}

fn ops(index: u64) -> Vec<Operation> {
    batch(SEED, index, KEYS, BATCH)
}

fn build() -> Base {
    let store = Arc::new(MemoryStore::new());
    let mut tree: Tree = Tree::create_store(store.clone(), config()).unwrap();
    let mut models = vec![Map::new()];
    let mut old_window = Vec::new();
    for i in 1..=HISTORY {
        tree.apply(&ops(i)).unwrap();
        let mut next = models.last().unwrap().clone();
        apply_model(&mut next, &ops(i));
        models.push(next);
        if i == 10 {
            old_window = store.get(Table::Meta, b"window").unwrap().unwrap();
        }
    }
    tree.audit().unwrap();
    let tables = dump(store.as_ref());
    let identity_of = |store: Arc<MemoryStore>| store.get(Table::Meta, b"identity").unwrap();
    let blake = Arc::new(MemoryStore::new());
    Tree::<Blake3>::create_store(blake.clone(), config()).unwrap();
    let limited = Arc::new(MemoryStore::new());
    let other = SizeLimits {
        max_key_len: 4096,
        ..SizeLimits::DEFAULT
    };
    Tree::<avlplus::Sha256>::create_store(limited.clone(), config().limits(other)).unwrap();
    let other_identities = [identity_of(blake).unwrap(), identity_of(limited).unwrap()];

    let mut live_after = vec![node_keys(store.as_ref())];
    for k in 1..=AFTER {
        tree.apply(&ops(HISTORY + k)).unwrap();
        let mut next = models.last().unwrap().clone();
        apply_model(&mut next, &ops(HISTORY + k));
        models.push(next);
        live_after.push(node_keys(store.as_ref()));
    }
    Base {
        tables,
        models,
        old_window,
        other_identities,
        live_after,
    }
}

#[derive(Clone, Debug)]
enum Damage {
    FlipBit(usize),
    FlipLast,
    Truncate(usize),
    Delete,
    Replace(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Case {
    name: String,
    table: Table,
    key: Vec<u8>,
    damage: Damage,
}

fn cases(base: &Base) -> Vec<Case> {
    let head = HISTORY;
    let value = |t: Table, k: &[u8]| {
        base.tables
            .iter()
            .find(|(tt, kk, _)| *tt == t && kk == k)
            .map(|(_, _, v)| v.clone())
    };
    let mut targets: Vec<(String, Table, Vec<u8>)> = Vec::new();
    // Node records: the head's root, a record of the oldest kept version (the next to be
    // collected), an internal node in the middle, a leaf, and one shared by every kept version.
    let nodes: Vec<&(Table, Vec<u8>, Vec<u8>)> = base
        .tables
        .iter()
        .filter(|(t, _, _)| *t == Table::Nodes)
        .collect();
    let head_root = {
        let v = value(Table::Versions, &head.to_be_bytes()).unwrap();
        let mut k = v[41..49].to_vec();
        k.extend_from_slice(&v[8..40]);
        k
    };
    targets.push(("node/head root".into(), Table::Nodes, head_root.clone()));
    let oldest = HISTORY - KEEP + 1;
    let pick = |pred: &dyn Fn(&[u8], &[u8]) -> bool| {
        nodes
            .iter()
            .find(|(_, k, v)| pred(k, v) && *k != head_root)
            .map(|(_, k, _)| k.clone())
            .unwrap()
    };
    let version_of = |k: &[u8]| u64::from_be_bytes(k[..8].try_into().unwrap());
    targets.push((
        "node/oldest kept version's".into(),
        Table::Nodes,
        pick(&|k, _| version_of(k) == oldest),
    ));
    targets.push((
        "node/internal, mid-window".into(),
        Table::Nodes,
        pick(&|k, v| version_of(k) == head - 1 && v[0] == 1),
    ));
    targets.push((
        "node/leaf".into(),
        Table::Nodes,
        pick(&|k, v| version_of(k) == head && v[0] == 0),
    ));
    targets.push((
        "node/shared by all kept versions".into(),
        Table::Nodes,
        pick(&|k, _| version_of(k) < oldest),
    ));
    for v in [head, head - 1, oldest] {
        targets.push((
            format!("version/{v}"),
            Table::Versions,
            v.to_be_bytes().to_vec(),
        ));
    }
    targets.push(("window".into(), Table::Meta, b"window".to_vec()));
    targets.push(("identity".into(), Table::Meta, b"identity".to_vec()));

    let mut out = Vec::new();
    for (name, table, key) in targets {
        let original = value(table, &key).unwrap();
        let mut damages = vec![
            Damage::FlipBit(0),
            Damage::FlipBit(original.len() * 8 / 2),
            Damage::FlipLast,
            Damage::Truncate(original.len() - 1),
            Damage::Truncate(original.len() / 2),
            Damage::Delete,
        ];
        // Replacement by the same kind of record from elsewhere.
        match table {
            Table::Nodes => {
                let other = nodes
                    .iter()
                    .find(|(_, k, v)| *k != key && v[0] == original[0])
                    .unwrap();
                damages.push(Damage::Replace(other.2.clone()));
            }
            Table::Versions => {
                let v = version_of(&key);
                let w = if v == oldest { head } else { oldest };
                damages.push(Damage::Replace(
                    value(Table::Versions, &w.to_be_bytes()).unwrap(),
                ));
            }
            Table::Meta if key == b"window" => {
                damages.push(Damage::Replace(base.old_window.clone()));
            }
            _ => {
                for id in &base.other_identities {
                    damages.push(Damage::Replace(id.clone()));
                }
            }
        }
        // The route of an internal node, in particular (the last bytes before the check).
        if table == Table::Nodes && original[0] == 1 {
            damages.push(Damage::FlipBit((original.len() - 9) * 8));
        }
        for damage in damages {
            out.push(Case {
                name: format!("{name} × {damage:?}"),
                table,
                key: key.clone(),
                damage,
            });
        }
    }
    out
}

fn apply(store: &dyn StoreBackend, base: &Base, case: &Case) {
    let original = base
        .tables
        .iter()
        .find(|(t, k, _)| *t == case.table && *k == case.key)
        .map(|(_, _, v)| v.clone())
        .unwrap();
    let mut b = WriteBatch::default();
    let mut put = |v: Vec<u8>| b.put(case.table, case.key.clone(), v);
    match &case.damage {
        Damage::FlipBit(bit) => {
            let mut v = original;
            v[bit / 8] ^= 1 << (bit % 8);
            put(v);
        }
        Damage::FlipLast => {
            let mut v = original;
            *v.last_mut().unwrap() ^= 0x01;
            put(v);
        }
        Damage::Truncate(n) => put(original[..*n].to_vec()),
        Damage::Replace(v) => put(v.clone()),
        Damage::Delete => b.delete(case.table, case.key.clone()),
    }
    store.write(b, true).unwrap();
}

/// A store error that names what is wrong (not a back-end failure).
fn typed(e: &TreeError) -> bool {
    matches!(e, TreeError::Store(s) if !matches!(s, StoreError::Backend(_)))
        || matches!(e, TreeError::Misrouted | TreeError::Malformed)
}

/// What one case did, for the summary.
fn run_case(
    make: &dyn Fn() -> Arc<dyn StoreBackend>,
    base: &Base,
    case: &Case,
) -> Result<String, String> {
    let store = make();
    load(store.as_ref(), &base.tables);
    apply(store.as_ref(), base, case);
    let before = dump(store.as_ref());
    let mut tree: Tree = match Tree::open_store(store.clone(), config()) {
        Ok(t) => t,
        Err(e) => {
            if !typed(&e) {
                return Err(format!("open: untyped error {e:?}"));
            }
            if dump(store.as_ref()) != before {
                return Err("a refused open changed the store".into());
            }
            return Ok(format!("open refused: {e:?}"));
        }
    };
    if tree.version() != HISTORY {
        return Err(format!("opened at version {}", tree.version()));
    }
    let check_versions = |tree: &Tree| -> Result<(), String> {
        for v in tree.kept_versions().unwrap() {
            let snapshot = match tree.snapshot(v) {
                Ok(s) => s,
                Err(e) if typed(&e) => continue,
                Err(e) => return Err(format!("snapshot {v}: {e:?}")),
            };
            match snapshot.entries() {
                Ok(entries) => {
                    let got: Map = entries
                        .into_iter()
                        .map(|(k, v)| (k.to_vec(), v.to_vec()))
                        .collect();
                    if got != base.models[v as usize] {
                        return Err(format!("version {v} answers wrongly"));
                    }
                }
                Err(e) if typed(&e) => {}
                Err(e) => return Err(format!("entries {v}: {e:?}")),
            }
        }
        Ok(())
    };
    check_versions(&tree)?;
    let mut done = 0;
    let mut stopped = None;
    for k in 1..=AFTER {
        match tree.apply(&ops(HISTORY + k)) {
            Ok(b) => {
                if b.version != HISTORY + k {
                    return Err(format!("commit {k} made version {}", b.version));
                }
                done = k;
            }
            Err(e) if typed(&e) => {
                stopped = Some(e);
                break;
            }
            Err(e) => return Err(format!("commit {k}: {e:?}")),
        }
    }
    check_versions(&tree)?;
    // No live record deleted: what the same commits keep live on an undamaged copy is here.
    let present = node_keys(store.as_ref());
    let lost: Vec<_> = base.live_after[done as usize]
        .iter()
        .filter(|k| !(present.contains(*k) || (case.table == Table::Nodes && **k == case.key)))
        .collect();
    if !lost.is_empty() {
        return Err(format!("{} live record(s) deleted", lost.len()));
    }
    if stopped.is_none() {
        // Every commit went through: the store must be whole again (the damaged record was
        // collected or never mattered).
        if let Err(e) = tree.audit() {
            return Err(format!("audit after {done} commits: {e}"));
        }
    }
    Ok(match stopped {
        None => format!("opened; {done} commits; audit clean; correct answers"),
        Some(e) => format!("opened; {done} commits, then {e:?}"),
    })
}

fn matrix(make: &dyn Fn() -> Arc<dyn StoreBackend>) -> BTreeMap<String, String> {
    let base = build();
    let mut failures = Vec::new();
    let mut outcomes = BTreeMap::new();
    for case in cases(&base) {
        match run_case(make, &base, &case) {
            Ok(o) => {
                outcomes.insert(case.name.clone(), o);
            }
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    outcomes
}

fn outcome<'a>(outcomes: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    outcomes
        .get(name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[test]
fn corruption_matrix_on_the_memory_store() {
    let outcomes = matrix(&|| Arc::new(MemoryStore::new()));
    for (name, o) in &outcomes {
        eprintln!("{name}: {o}");
    }
    assert!(outcomes.len() >= 60, "{} cases", outcomes.len());
    // Specific errors where the damage says exactly what it is.
    let head = HISTORY;
    let oldest = HISTORY - KEEP + 1;
    assert!(outcomes
        .iter()
        .any(|(n, o)| n.starts_with(&format!("version/{head} × Replace"))
            && o.contains(&format!("Misplaced {{ found: {oldest} }}"))));
    assert!(outcome(&outcomes, "identity × Delete").contains("NotAStore(NoIdentity)"));
    assert!(outcomes
        .iter()
        .any(|(n, o)| n.starts_with("identity × Replace") && o.contains("HasherMismatch")));
    assert!(outcomes
        .iter()
        .any(|(n, o)| n.starts_with("identity × Replace") && o.contains("LimitsMismatch")));
    assert!(outcome(&outcomes, "window × Delete").contains("Absent"));
    assert!(outcomes
        .iter()
        .any(|(n, o)| n.starts_with("window × Replace")
            && o.contains(&format!(
                "{:?}",
                Inconsistency::VersionOutsideWindow(HISTORY - KEEP + 1)
            ))));
}

#[cfg(feature = "rocksdb")]
#[test]
fn corruption_matrix_on_rocksdb() {
    use avlplus::store::RocksStore;
    let dirs = std::cell::RefCell::new(Vec::new());
    let outcomes = matrix(&|| {
        let dir = common::TempDir::new("corruption");
        let store = Arc::new(RocksStore::create(dir.path()).unwrap());
        dirs.borrow_mut().push(dir);
        store
    });
    assert!(outcomes.len() >= 60, "{} cases", outcomes.len());
}
