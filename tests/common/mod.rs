//! Helpers shared by the storage, RocksDB, crash and tampering tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use avlplus::{Operation, Tree};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("avlplus-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// splitmix64: small, seedable, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// The `index`-th batch of a deterministic stream: a function of `(seed, index)` only, so a
/// process that restarts regenerates the batch that was in flight.
pub fn batch(seed: u64, index: u64, key_space: u64, size: usize) -> Vec<Operation> {
    let mut rng = Rng(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    (0..size)
        .map(|_| {
            let k = (rng.below(key_space) as u32).to_be_bytes();
            let v = rng.next().to_le_bytes();
            match rng.below(6) {
                0 | 1 => Operation::upsert(k, v),
                2 => Operation::remove_if_present(k),
                3 => Operation::insert(k, &v[..(rng.below(8) as usize)]),
                4 => Operation::update(k, v),
                _ => Operation::lookup(k),
            }
        })
        .collect()
}

/// Applies `ops` to the model the way the tree does.
pub fn apply_model(map: &mut Map, ops: &[Operation]) {
    for op in ops {
        let k = op.key().to_vec();
        match op {
            Operation::Upsert(_, v) => {
                map.insert(k, v.to_vec());
            }
            Operation::Insert(_, v) => {
                map.entry(k).or_insert_with(|| v.to_vec());
            }
            Operation::Update(_, v) => {
                if let Some(slot) = map.get_mut(&k) {
                    *slot = v.to_vec();
                }
            }
            Operation::Remove(_) | Operation::RemoveIfPresent(_) => {
                map.remove(&k);
            }
            Operation::Lookup(_) => {}
        }
    }
}

/// The model after batches `1..=version` of the stream.
pub fn model_at(seed: u64, version: u64, key_space: u64, size: usize) -> Map {
    let mut map = Map::new();
    for i in 1..=version {
        apply_model(&mut map, &batch(seed, i, key_space, size));
    }
    map
}

/// The entries of kept version `v` of `tree`, as a model map.
pub fn version_map(tree: &Tree, v: u64) -> Map {
    tree.snapshot(v)
        .unwrap()
        .entries()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}
