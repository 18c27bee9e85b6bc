//! An in-memory back end, for tests and for trees that need no disk.

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::{Entry, StoreBackend, StoreError, Table, WriteBatch, WriteOp};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Default)]
struct Tables {
    nodes: Map,
    versions: Map,
    meta: Map,
}

impl Tables {
    fn of(&self, t: Table) -> &Map {
        match t {
            Table::Nodes => &self.nodes,
            Table::Versions => &self.versions,
            Table::Meta => &self.meta,
        }
    }

    fn of_mut(&mut self, t: Table) -> &mut Map {
        match t {
            Table::Nodes => &mut self.nodes,
            Table::Versions => &mut self.versions,
            Table::Meta => &mut self.meta,
        }
    }
}

/// A [`StoreBackend`] of four ordered maps behind a lock. Batches are atomic (applied under
/// one write lock); "durable" means nothing here.
///
/// ```
/// use std::sync::Arc;
/// use avlplus::{store::{MemoryStore, StoreConfig}, Operation, Tree};
/// let store = Arc::new(MemoryStore::new());
/// let mut tree: Tree = Tree::create_store(store.clone(), StoreConfig::default())?;
/// tree.apply(&[Operation::insert(b"k", b"v")])?;
/// let reopened: Tree = Tree::open_store(store, StoreConfig::default())?;
/// assert_eq!(reopened.get(b"k")?.as_deref(), Some(&b"v"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: RwLock<Tables>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend(super::BackendError::new("memory store lock poisoned"))
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every key of `table`, in order (for audits and tests).
    pub fn keys(&self, table: Table) -> Vec<Vec<u8>> {
        self.tables
            .read()
            .map(|t| t.of(table).keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Sets a value directly, bypassing every check (for corruption tests).
    pub fn overwrite(&self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        if let Ok(mut t) = self.tables.write() {
            t.of_mut(table).insert(key, value);
        }
    }

    /// Removes a value directly (for missing-record tests).
    pub fn remove(&self, table: Table, key: &[u8]) {
        if let Ok(mut t) = self.tables.write() {
            t.of_mut(table).remove(key);
        }
    }
}

impl StoreBackend for MemoryStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tables
            .read()
            .map_err(poisoned)?
            .of(table)
            .get(key)
            .cloned())
    }

    fn write(&self, batch: WriteBatch, _sync: bool) -> Result<(), StoreError> {
        let mut t = self.tables.write().map_err(poisoned)?;
        for op in batch.ops {
            match op {
                WriteOp::Put(table, k, v) => {
                    t.of_mut(table).insert(k, v);
                }
                WriteOp::Delete(table, k) => {
                    t.of_mut(table).remove(&k);
                }
                WriteOp::DeleteRange(table, from, to) => {
                    if from < to {
                        let map = t.of_mut(table);
                        let doomed: Vec<Vec<u8>> =
                            map.range(from..to).map(|(k, _)| k.clone()).collect();
                        for k in doomed {
                            map.remove(&k);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let t = self.tables.read().map_err(poisoned)?;
        Ok(t.of(table)
            .range(from.to_vec()..to.to_vec())
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
