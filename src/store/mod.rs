//! Persistent state: the storage back-end trait, its in-memory and RocksDB implementations,
//! the node record format and the on-disk layout of versions.
//!
//! A back end is three ordered key-value tables with atomic write batches ([`StoreBackend`]).
//! Everything above it (which keys mean what, checks, commits, version expiry, garbage
//! collection, rollback) is written once in `layout.rs`, `collect.rs` and `tree/`, so the
//! in-memory back end used by the fast tests exercises exactly the logic that runs on
//! RocksDB.
//!
//! Bytes read back are untrusted (`docs/store-format.md`): every value carries a check over
//! its table, key and content; node records must also decode exactly and hash to the label
//! they are stored under. A damaged, misplaced or missing record is a typed [`StoreError`],
//! never a wrong answer.

pub(crate) mod cache;
pub(crate) mod collect;
pub(crate) mod layout;
mod memory;
pub(crate) mod record;
#[cfg(feature = "rocksdb")]
mod rocks;

pub use memory::MemoryStore;
#[cfg(feature = "rocksdb")]
pub use rocks::{RocksOptions, RocksStore, WalLoss, WalRecovery};

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::hash::Digest;
use crate::ops::SizeLimits;

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// No record for a node that a kept version reaches (key: version, label).
    Missing(u64, Digest),
    /// A node record does not decode, fails its check, or does not hash to its label.
    Corrupt(u64, Digest),
    /// A node record is well formed but holds a key or value over the store's size limits.
    OverLimits(u64, Digest),
    /// A bookkeeping record (window, version record, identity) fails its check or is
    /// malformed.
    BadRecord {
        /// The table it was read from.
        table: Table,
        /// The key it was read under.
        key: Vec<u8>,
        /// What is wrong with it.
        fault: RecordFault,
    },
    /// The bookkeeping records are each intact but disagree with each other or with the node
    /// records.
    Inconsistent(Inconsistency),
    /// The version asked for is not kept.
    NoSuchVersion(u64),
    /// What was opened is not an avlplus store; nothing was changed.
    NotAStore(NotAStore),
    /// `create` was asked for a store that already holds data; nothing was changed.
    AlreadyExists,
    /// The store was written in another format version.
    UnsupportedFormat {
        /// The store's format.
        found: u16,
        /// The format this library reads and writes.
        supported: u16,
    },
    /// The store was written with another hash function.
    HasherMismatch {
        /// The store's hash function.
        store: String,
        /// The one it was opened with.
        opened: &'static str,
    },
    /// The store was written with other key and value size limits.
    LimitsMismatch {
        /// The store's limits.
        store: SizeLimits,
        /// The ones it was opened with.
        opened: SizeLimits,
    },
    /// The write-ahead log is damaged before its end: opening would silently drop synced
    /// commits. Nothing was changed; `RocksOptions::wal_recovery` decides whether to accept
    /// the loss.
    WalDamaged {
        /// The head version that recovery up to the damage would give.
        recovered_head: u64,
        /// Versions after it that the log shows were committed (at least this many).
        lost_versions: u64,
    },
    /// The store was opened read-only and a write was asked for.
    ReadOnly,
    /// The back end failed (I/O, or the database refused); the cause is kept.
    Backend(BackendError),
}

/// A failure of the storage back end itself, with its cause ([`std::error::Error::source`]).
///
/// ```
/// use avlplus::store::{BackendError, StoreError};
/// let io = std::io::Error::new(std::io::ErrorKind::Other, "disk full");
/// let e = StoreError::Backend(BackendError::from_error(io));
/// assert_eq!(e.to_string(), "store back end: disk full");
/// assert!(std::error::Error::source(&e).and_then(|b| b.source()).is_some());
/// ```
#[derive(Clone, Debug)]
pub struct BackendError {
    message: String,
    cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    /// A failure described by `message`, with no underlying error.
    pub fn new(message: impl Into<String>) -> Self {
        BackendError {
            message: message.into(),
            cause: None,
        }
    }

    /// A failure caused by `error` (kept as the source).
    pub fn from_error(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        BackendError {
            message: error.to_string(),
            cause: Some(Arc::new(error)),
        }
    }

    /// What failed, in the back end's words.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Two back-end errors are equal when they say the same thing.
impl PartialEq for BackendError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for BackendError {}

impl core::fmt::Display for BackendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What is wrong with one bookkeeping record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordFault {
    /// Absent where the bookkeeping requires it.
    Absent,
    /// Wrong length or an invalid field.
    Malformed,
    /// Its check does not match its content and key (damaged).
    Checksum,
    /// An intact record of version `found`, stored under another version's key.
    Misplaced {
        /// The version the record belongs to.
        found: u64,
    },
}

/// How intact bookkeeping records disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inconsistency {
    /// The window's oldest version is after its head.
    WindowInverted,
    /// A version in the window has no version record.
    VersionMissing(u64),
    /// A version record exists outside the window.
    VersionOutsideWindow(u64),
    /// A node record is newer than the head (written by no kept commit).
    RecordAfterHead(u64),
    /// A version's root record is newer than the version.
    RootAfterVersion(u64),
    /// The collector reached a record that cannot belong to the version it expires.
    CollectorRecord(u64),
}

/// Why a path or back end is not an avlplus store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotAStore {
    /// The path does not exist.
    NoSuchPath,
    /// The path is not a directory.
    NotADirectory,
    /// The directory (or back end) is empty.
    Empty,
    /// The directory holds files but no RocksDB database.
    NotRocksDb,
    /// A RocksDB database with other column families (another application's).
    ForeignDatabase(Vec<String>),
    /// The tables exist but hold no store identity record.
    NoIdentity,
}

impl core::fmt::Display for NotAStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NotAStore::NoSuchPath => f.write_str("no such path"),
            NotAStore::NotADirectory => f.write_str("not a directory"),
            NotAStore::Empty => f.write_str("empty (use create for a new store)"),
            NotAStore::NotRocksDb => f.write_str("holds files but no RocksDB database"),
            NotAStore::ForeignDatabase(cfs) => {
                write!(f, "a RocksDB database with column families {cfs:?}")
            }
            NotAStore::NoIdentity => f.write_str("no store identity record"),
        }
    }
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
            StoreError::OverLimits(v, d) => write!(
                f,
                "node {}@{v} holds a key or value over the store's limits",
                crate::codec::hex(d)
            ),
            StoreError::BadRecord { table, key, fault } => write!(
                f,
                "{} record {} is bad: {fault:?}",
                table.name(),
                crate::codec::hex(key)
            ),
            StoreError::Inconsistent(i) => write!(f, "store bookkeeping inconsistent: {i:?}"),
            StoreError::NoSuchVersion(v) => write!(f, "version {v} is not kept"),
            StoreError::NotAStore(why) => write!(f, "not an avlplus store: {why}"),
            StoreError::AlreadyExists => f.write_str("a store already exists there"),
            StoreError::UnsupportedFormat { found, supported } => write!(
                f,
                "store format {found}; this library reads format {supported}"
            ),
            StoreError::HasherMismatch { store, opened } => write!(
                f,
                "store was written with hash {store}, opened with {opened}"
            ),
            StoreError::LimitsMismatch { store, opened } => write!(
                f,
                "store was written with limits {store:?}, opened with {opened:?}"
            ),
            StoreError::WalDamaged {
                recovered_head,
                lost_versions,
            } => write!(
                f,
                "write-ahead log damaged: recovery would stop at version {recovered_head} and \
                 drop at least {lost_versions} committed version(s)"
            ),
            StoreError::ReadOnly => f.write_str("store is open read-only"),
            StoreError::Backend(m) => write!(f, "store back end: {m}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Backend(b) => Some(b),
            _ => None,
        }
    }
}

/// The tables of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Node records, keyed by (version, label).
    Nodes,
    /// One record per kept version: its root digest.
    Versions,
    /// The store identity and the window of kept versions.
    Meta,
}

impl Table {
    /// All tables.
    pub const ALL: [Table; 3] = [Table::Nodes, Table::Versions, Table::Meta];

    /// The table's name (a RocksDB column family).
    pub fn name(self) -> &'static str {
        match self {
            Table::Nodes => "nodes",
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
#[non_exhaustive]
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
    /// Key and value size limits. They belong to the store: `create` records them and
    /// `open` refuses other ones ([`StoreError::LimitsMismatch`]).
    pub limits: SizeLimits,
}

impl StoreConfig {
    /// Keep 16 versions, sync every commit, 256 MiB of nodes, expire at most 2 versions per
    /// commit, default size limits.
    pub const DEFAULT: StoreConfig = StoreConfig {
        keep_versions: 16,
        durability: Durability::Sync,
        memory_budget: 256 << 20,
        max_expire_per_commit: 2,
        limits: SizeLimits::DEFAULT,
    };

    /// With `keep_versions` kept versions.
    ///
    /// ```
    /// use avlplus::store::{Durability, StoreConfig};
    /// let config = StoreConfig::DEFAULT.keep_versions(4).durability(Durability::Buffered);
    /// assert_eq!((config.keep_versions, config.durability), (4, Durability::Buffered));
    /// ```
    pub const fn keep_versions(mut self, keep_versions: u64) -> Self {
        self.keep_versions = keep_versions;
        self
    }
    /// With another durability.
    pub const fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
    /// With another memory budget, in bytes.
    pub const fn memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes;
        self
    }
    /// With another number of versions expired at most per commit.
    pub const fn max_expire_per_commit(mut self, versions: u64) -> Self {
        self.max_expire_per_commit = versions;
        self
    }
    /// With other size limits (a store keeps the ones it was created with).
    pub const fn limits(mut self, limits: SizeLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl Default for StoreConfig {
    /// [`StoreConfig::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}
