//! Persistent state: the storage back-end trait, its in-memory and RocksDB implementations,
//! the node record format and the on-disk layout of versions.
//!
//! A back end is four ordered key-value tables with atomic write batches ([`StoreBackend`]).
//! Everything above it (which keys mean what, commits, version expiry, garbage collection,
//! rollback) is written once in [`layout`] and `tree.rs`, so the in-memory back end used by
//! the fast tests exercises exactly the logic that runs on RocksDB.
//!
//! Bytes read back are untrusted: node records must decode exactly and hash to the label they
//! are stored under ([`codec::decode_node`]); every other value is parsed with fixed lengths.
//! A corrupted or missing record is a typed [`StoreError`], never a wrong answer.

pub mod codec;
pub mod layout;
mod memory;
#[cfg(feature = "rocksdb")]
mod rocks;

pub use memory::MemoryStore;
#[cfg(feature = "rocksdb")]
pub use rocks::{RocksOptions, RocksStore};

use alloc::string::String;
use alloc::vec::Vec;

use crate::hash::Digest;

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// No record for a node that a kept version reaches (key: version, label).
    Missing(u64, Digest),
    /// A node record does not decode, or does not hash to its label.
    Corrupt(u64, Digest),
    /// A bookkeeping value (head, version record, journal entry) is malformed.
    CorruptMeta,
    /// The version asked for is not kept.
    NoSuchVersion(u64),
    /// The back end failed (I/O); the message comes from the back end.
    Backend(String),
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StoreError::Missing(v, d) => {
                write!(f, "node {}@{v} missing", crate::codec::hex(d))
            }
            StoreError::Corrupt(v, d) => {
                write!(f, "node {}@{v} corrupt", crate::codec::hex(d))
            }
            StoreError::CorruptMeta => f.write_str("store bookkeeping is corrupt"),
            StoreError::NoSuchVersion(v) => write!(f, "version {v} is not kept"),
            StoreError::Backend(m) => write!(f, "store back end: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The tables of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Node records, keyed by (version, label).
    Nodes,
    /// The stale journal: which records each version stopped using.
    Stale,
    /// One record per kept version: its root digest.
    Versions,
    /// Head, oldest kept version, format.
    Meta,
}

impl Table {
    /// All tables.
    pub const ALL: [Table; 4] = [Table::Nodes, Table::Stale, Table::Versions, Table::Meta];

    /// The table's name (a RocksDB column family).
    pub fn name(self) -> &'static str {
        match self {
            Table::Nodes => "nodes",
            Table::Stale => "stale",
            Table::Versions => "versions",
            Table::Meta => "meta",
        }
    }
}

/// A key and its value, as `scan` returns them.
pub type Entry = (Vec<u8>, Vec<u8>);

/// One change in a write batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` to `value`.
    Put(Table, Vec<u8>, Vec<u8>),
    /// Remove `key`.
    Delete(Table, Vec<u8>),
    /// Remove every key in `from..to`.
    DeleteRange(Table, Vec<u8>, Vec<u8>),
}

/// Changes applied all together or not at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The changes, applied in order.
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// Adds a put.
    pub fn put(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(WriteOp::Put(table, key, value));
    }
    /// Adds a delete.
    pub fn delete(&mut self, table: Table, key: Vec<u8>) {
        self.ops.push(WriteOp::Delete(table, key));
    }
    /// Adds a range delete.
    pub fn delete_range(&mut self, table: Table, from: Vec<u8>, to: Vec<u8>) {
        self.ops.push(WriteOp::DeleteRange(table, from, to));
    }
}

/// When a commit is durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is synced to disk before it returns (the default).
    #[default]
    Sync,
    /// Commits reach the operating system before they return; a machine crash (not a
    /// process crash) can lose the latest ones, never corrupt the store.
    Buffered,
}

/// A storage back end: four ordered tables and atomic batches.
///
/// Contract:
/// - `get` returns the value last written under `key`, or `None`.
/// - `write` applies every operation of the batch or none, in order; with `sync` it returns
///   only when the batch is durable.
/// - `scan` returns the entries with `from <= key < to` in key order, at most `limit`.
/// - After a process crash, the store holds exactly the batches whose `write` returned (and
///   possibly the one in flight, entirely or not at all).
///
/// [`MemoryStore`] keeps the tables in memory; `RocksStore` (feature `rocksdb`) on disk.
///
/// ```
/// use avlplus::store::{MemoryStore, StoreBackend, Table, WriteBatch};
/// let store = MemoryStore::new();
/// let mut batch = WriteBatch::default();
/// batch.put(Table::Meta, b"k".to_vec(), b"v".to_vec());
/// store.write(batch, true)?;
/// assert_eq!(store.get(Table::Meta, b"k")?, Some(b"v".to_vec()));
/// # Ok::<(), avlplus::store::StoreError>(())
/// ```
pub trait StoreBackend: Send + Sync {
    /// The value under `key` in `table`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Applies `batch` atomically; durably if `sync`.
    fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), StoreError>;
    /// Up to `limit` entries with `from <= key < to`, in key order.
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;
}

/// How a persistent tree behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// How many versions stay readable (at least 1: the head). Older ones are collected.
    pub keep_versions: u64,
    /// Whether each commit is synced.
    pub durability: Durability,
    /// Bytes of materialized nodes the tree keeps in memory; beyond it, the deepest loaded
    /// nodes are dropped back to hash references after a commit and reloaded on demand.
    pub memory_budget: usize,
    /// Versions expired at most per commit (collection is incremental).
    pub max_expire_per_commit: u64,
}

impl Default for StoreConfig {
    /// Keep 16 versions, sync every commit, 256 MiB of nodes.
    fn default() -> Self {
        StoreConfig {
            keep_versions: 16,
            durability: Durability::Sync,
            memory_budget: 256 << 20,
            max_expire_per_commit: 2,
        }
    }
}
