//! An in-memory node store, for tests and for trees that need no disk.

use std::collections::HashMap;
use std::sync::RwLock;

use super::{NodeStore, StoreError};
use crate::hash::Digest;

/// A [`NodeStore`] in a hash map behind a lock.
///
/// ```
/// use std::sync::Arc;
/// use avlplus::{store::MemoryStore, Operation, Tree};
/// let store = Arc::new(MemoryStore::new());
/// let mut tree: Tree = Tree::with_store(store.clone());
/// tree.apply(&[Operation::insert(b"k", b"v")])?;
/// let reopened: Tree = Tree::open(store, tree.root())?;
/// assert_eq!(reopened.get(b"k")?.as_deref(), Some(&b"v"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: RwLock<HashMap<Digest, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.read().map(|m| m.len()).unwrap_or(0)
    }

    /// True if no record is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every stored label, in no particular order.
    pub fn labels(&self) -> Vec<Digest> {
        self.records
            .read()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Replaces the record under `label` (for corruption tests).
    pub fn overwrite(&self, label: Digest, bytes: Vec<u8>) {
        if let Ok(mut m) = self.records.write() {
            m.insert(label, bytes);
        }
    }

    /// Deletes the record under `label` (for missing-node tests).
    pub fn delete(&self, label: &Digest) {
        if let Ok(mut m) = self.records.write() {
            m.remove(label);
        }
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("memory store lock poisoned".into())
}

impl NodeStore for MemoryStore {
    fn get(&self, label: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.records.read().map_err(poisoned)?.get(label).cloned())
    }

    fn put(&self, records: Vec<(Digest, Vec<u8>)>) -> Result<(), StoreError> {
        let mut m = self.records.write().map_err(poisoned)?;
        m.extend(records);
        Ok(())
    }
}
