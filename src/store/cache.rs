//! Records a tree's read paths fetched lately (what-if proofs, staged batches, lookups and
//! iteration take `&self`, so they cannot keep what they load in the tree itself): the bytes
//! as stored, kept up to a byte limit, the oldest dropped first.
//!
//! A cached record is decoded and checked again on every use, exactly as if it had just been
//! read from the store (its label is recomputed), so the cache changes how often the store is
//! asked, never what a reader believes. Records are immutable under their key (version,
//! label), so a cached one is never stale; one the collector has since deleted may still be
//! answered from here, with its correct content.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::layout::NodeKey;
use super::record::read_record;
use super::{StoreBackend, StoreError};

/// What one cached record costs beyond its bytes: its key twice (map and queue), the map's
/// slot and the shared buffer's counts.
const ENTRY_OVERHEAD: usize = 2 * core::mem::size_of::<NodeKey>() + 48;

/// Recently read node records, up to a byte limit.
#[derive(Debug, Default)]
pub(crate) struct RecordCache {
    limit: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<NodeKey, Arc<[u8]>>,
    /// Keys in the order they were cached (the oldest first).
    order: VecDeque<NodeKey>,
    bytes: usize,
}

fn cost(record: &[u8]) -> usize {
    record.len().saturating_add(ENTRY_OVERHEAD)
}

impl RecordCache {
    /// An empty cache that holds at most `limit` bytes (0: it keeps nothing).
    pub(crate) fn new(limit: usize) -> Self {
        RecordCache {
            limit,
            inner: Mutex::default(),
        }
    }

    /// The cache's state; a panic elsewhere while it was held leaves it consistent (every
    /// change below is made whole before the guard drops), so a poisoned lock is used as is.
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The record `key`: cached, or read from `backend` (and cached if `keep`).
    pub(crate) fn read(
        &self,
        backend: &dyn StoreBackend,
        key: &NodeKey,
        keep: bool,
    ) -> Result<Arc<[u8]>, StoreError> {
        if let Some(record) = self.inner().records.get(key) {
            return Ok(Arc::clone(record));
        }
        let record: Arc<[u8]> = read_record(backend, key)?.into();
        if keep && cost(&record) <= self.limit {
            let mut inner = self.inner();
            if !inner.records.contains_key(key) {
                inner.bytes = inner.bytes.saturating_add(cost(&record));
                inner.records.insert(*key, Arc::clone(&record));
                inner.order.push_back(*key);
                while inner.bytes > self.limit {
                    let Some(old) = inner.order.pop_front() else {
                        break;
                    };
                    if let Some(gone) = inner.records.remove(&old) {
                        inner.bytes = inner.bytes.saturating_sub(cost(&gone));
                    }
                }
            }
        }
        Ok(record)
    }

    /// Bytes the cache holds (its records and their overhead).
    pub(crate) fn bytes(&self) -> usize {
        self.inner().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, Table, WriteBatch, WriteOp};

    fn key(i: u8) -> NodeKey {
        NodeKey {
            version: 1,
            label: [i; 32],
        }
    }

    /// Reads come from the store once, while the cache holds them; beyond its limit the
    /// oldest go first; a read that does not keep leaves the cache as it was.
    #[test]
    fn the_cache_keeps_the_latest_reads_within_its_limit() {
        let store = MemoryStore::new();
        let mut batch = WriteBatch::default();
        for i in 0..10u8 {
            batch
                .ops
                .push(WriteOp::Put(Table::Nodes, key(i).encode(), vec![i; 100]));
        }
        store.write(batch, true).unwrap();
        let cache = RecordCache::new(3 * cost(&[0; 100]));
        for i in 0..10u8 {
            assert_eq!(
                &cache.read(&store, &key(i), true).unwrap()[..],
                &[i; 100][..]
            );
        }
        assert_eq!(cache.bytes(), 3 * cost(&[0; 100]));
        store.remove(Table::Nodes, &key(8).encode());
        store.remove(Table::Nodes, &key(2).encode());
        assert_eq!(
            &cache.read(&store, &key(8), true).unwrap()[..],
            &[8; 100][..]
        );
        assert!(matches!(
            cache.read(&store, &key(2), true),
            Err(StoreError::Missing(1, _))
        ));
        let none = RecordCache::new(0);
        none.read(&store, &key(9), true).unwrap();
        assert_eq!(none.bytes(), 0);
        let cache = RecordCache::new(usize::MAX);
        cache.read(&store, &key(9), false).unwrap();
        assert_eq!(cache.bytes(), 0);
    }
}
