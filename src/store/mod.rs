//! Node stores: where the prover keeps nodes that are not in memory.
//!
//! A store maps a node's label to the node's record (see [`codec`] and `docs/design.md`).
//! Records read back are untrusted: [`codec::decode_node`] checks that a record hashes to the
//! label it was asked for, so a corrupted or substituted record is a typed error, never a
//! wrong answer.

pub mod codec;
mod memory;

pub use memory::MemoryStore;

use alloc::vec::Vec;

use crate::hash::Digest;

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// No record for a label that a reachable node refers to.
    Missing(Digest),
    /// A record does not decode, or does not hash to its label.
    Corrupt(Digest),
    /// The back end failed (I/O); the message comes from the back end.
    Backend(String),
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StoreError::Missing(d) => write!(f, "node {} missing", crate::codec::hex(d)),
            StoreError::Corrupt(d) => write!(f, "node {} corrupt", crate::codec::hex(d)),
            StoreError::Backend(m) => write!(f, "store back end: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A content-addressed map from node labels to node records.
///
/// Contract:
/// - `get` returns exactly the bytes last written for `label` by `put`, or `None`.
/// - `put` writes all records of one call or none (a batch is atomic).
/// - Records are immutable: the same label is always written with the same bytes, so writing
///   a label again is harmless.
/// - Implementations are shared between threads (`Send + Sync`).
///
/// ```
/// use avlplus::store::{MemoryStore, NodeStore};
/// let store = MemoryStore::new();
/// store.put(vec![([7u8; 32], vec![1, 2, 3])])?;
/// assert_eq!(store.get(&[7u8; 32])?, Some(vec![1, 2, 3]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait NodeStore: Send + Sync {
    /// The record stored under `label`, if any.
    fn get(&self, label: &Digest) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes all `records` atomically.
    fn put(&self, records: Vec<(Digest, Vec<u8>)>) -> Result<(), StoreError>;
}

impl<S: NodeStore + ?Sized> NodeStore for std::sync::Arc<S> {
    fn get(&self, label: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(label)
    }
    fn put(&self, records: Vec<(Digest, Vec<u8>)>) -> Result<(), StoreError> {
        (**self).put(records)
    }
}
