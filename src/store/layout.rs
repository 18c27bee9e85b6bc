//! Which keys mean what in a store, and the bookkeeping that versions need.
//!
//! ```text
//! nodes     version (u64 BE) ‖ label (32)                 -> node record (codec.rs)
//! stale     stale version (u64 BE)                         -> (version ‖ label)*  (40 bytes each)
//! versions  version (u64 BE)                               -> root label (32) ‖ height (1)
//!                                                             ‖ root record version (u64 BE)
//! meta      "head"                                         -> version (u64 BE)
//!           "oldest"                                       -> version (u64 BE)
//!           "format"                                       -> 1 (u8)
//! ```
//!
//! Invariants (checked by `Tree::audit`):
//! - A record is written once, by the commit of the version in its key, and never changed.
//!   A node re-created with the same content later gets a new record (a new key), so a
//!   record's lifetime is one interval of versions.
//! - `stale` holds `(w, k)` when record `k` is reachable from version `w - 1` and not from `w`.
//! - The kept versions are `oldest..=head`; every record reachable from one of them is present
//!   and every record present is reachable from one of them (after each commit's collection).
//! - Expiring `oldest` deletes exactly the records of `stale(oldest + 1)`: reachable from
//!   `oldest`, not from `oldest + 1`, and, being unique, from no later version either.
//! - Rolling back to `v` deletes the records and journal entries of versions after `v`, which
//!   are contiguous key ranges because keys start with the version.

use alloc::vec::Vec;

use super::{StoreError, Table, WriteBatch};
use crate::hash::{Digest, RootDigest};

/// Format of the layout, stored under `meta/format`.
pub const FORMAT: u8 = 1;

const HEAD: &[u8] = b"head";
const OLDEST: &[u8] = b"oldest";
const FORMAT_KEY: &[u8] = b"format";

/// The key of a node record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    /// The version whose commit wrote the record.
    pub version: u64,
    /// The node's label.
    pub label: Digest,
}

impl NodeKey {
    /// Length of the encoded key.
    pub const LEN: usize = 40;

    /// `version ‖ label`.
    pub fn encode(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(Self::LEN);
        k.extend_from_slice(&self.version.to_be_bytes());
        k.extend_from_slice(&self.label);
        k
    }

    /// Parses an encoded key.
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let (v, l) = bytes.split_at_checked(8).ok_or(StoreError::CorruptMeta)?;
        Ok(NodeKey {
            version: u64::from_be_bytes(v.try_into().map_err(|_| StoreError::CorruptMeta)?),
            label: l.try_into().map_err(|_| StoreError::CorruptMeta)?,
        })
    }
}

/// The first key of version `v` in a version-prefixed table.
pub fn version_prefix(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// Encodes a version's journal: the keys of the records it stopped reaching.
pub fn encode_journal(keys: &[NodeKey]) -> Vec<u8> {
    let mut out = Vec::with_capacity(keys.len().saturating_mul(NodeKey::LEN));
    for k in keys {
        out.extend_from_slice(&k.encode());
    }
    out
}

/// Parses a journal.
pub fn decode_journal(bytes: &[u8]) -> Result<Vec<NodeKey>, StoreError> {
    if !bytes.len().is_multiple_of(NodeKey::LEN) {
        return Err(StoreError::CorruptMeta);
    }
    bytes
        .chunks_exact(NodeKey::LEN)
        .map(NodeKey::decode)
        .collect()
}

/// Parses a version key.
pub fn parse_version(bytes: &[u8]) -> Result<u64, StoreError> {
    parse_u64(bytes)
}

fn parse_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(
        bytes.try_into().map_err(|_| StoreError::CorruptMeta)?,
    ))
}

/// A kept version: its root digest and the record version of its root node (the root of a
/// version that changed nothing is an older record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionRecord {
    /// The root digest.
    pub root: RootDigest,
    /// Version in the root node's record key (0 for the empty tree).
    pub root_record: u64,
}

/// Encodes a version record.
pub fn encode_version(record: &VersionRecord) -> Vec<u8> {
    let mut out = record.root.to_bytes().to_vec();
    out.extend_from_slice(&record.root_record.to_be_bytes());
    out
}

/// Parses a version record.
pub fn decode_version(bytes: &[u8]) -> Result<VersionRecord, StoreError> {
    let (root, rv) = bytes
        .split_at_checked(RootDigest::LEN)
        .ok_or(StoreError::CorruptMeta)?;
    Ok(VersionRecord {
        root: RootDigest::from_bytes(root).ok_or(StoreError::CorruptMeta)?,
        root_record: parse_u64(rv)?,
    })
}

/// Head and oldest kept version of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Oldest kept version.
    pub oldest: u64,
    /// Latest version.
    pub head: u64,
}

/// Reads the window; `None` for a store nothing was ever committed to.
pub fn read_window(store: &dyn super::StoreBackend) -> Result<Option<Window>, StoreError> {
    let head = store.get(Table::Meta, HEAD)?;
    let oldest = store.get(Table::Meta, OLDEST)?;
    match (head, oldest) {
        (None, None) => Ok(None),
        (Some(h), Some(o)) => {
            let w = Window {
                oldest: parse_u64(&o)?,
                head: parse_u64(&h)?,
            };
            if w.oldest > w.head {
                return Err(StoreError::CorruptMeta);
            }
            match store.get(Table::Meta, FORMAT_KEY)?.as_deref() {
                Some([FORMAT]) => Ok(Some(w)),
                _ => Err(StoreError::CorruptMeta),
            }
        }
        _ => Err(StoreError::CorruptMeta),
    }
}

/// Adds the window to a batch.
pub fn write_window(batch: &mut WriteBatch, w: Window) {
    batch.put(Table::Meta, HEAD.to_vec(), w.head.to_be_bytes().to_vec());
    batch.put(
        Table::Meta,
        OLDEST.to_vec(),
        w.oldest.to_be_bytes().to_vec(),
    );
    batch.put(Table::Meta, FORMAT_KEY.to_vec(), alloc::vec![FORMAT]);
}

/// The record of version `v`.
pub fn read_version(store: &dyn super::StoreBackend, v: u64) -> Result<VersionRecord, StoreError> {
    let bytes = store
        .get(Table::Versions, &version_prefix(v))?
        .ok_or(StoreError::NoSuchVersion(v))?;
    decode_version(&bytes)
}

/// The journal of version `v`: records reachable from `v - 1` and not from `v`.
pub fn read_stale(store: &dyn super::StoreBackend, v: u64) -> Result<Vec<NodeKey>, StoreError> {
    match store.get(Table::Stale, &version_prefix(v))? {
        Some(bytes) => decode_journal(&bytes),
        None => Ok(Vec::new()),
    }
}

/// Adds to `batch` the expiry of version `oldest`: its stale successors' records, the journal
/// that listed them, and its version record. `pending` is the journal of the version being
/// committed in the same batch, which is not in the store yet (and is deleted again here if
/// that version is `oldest + 1`).
pub fn expire(
    store: &dyn super::StoreBackend,
    batch: &mut WriteBatch,
    oldest: u64,
    pending: (u64, &[NodeKey]),
) -> Result<usize, StoreError> {
    let next = oldest.saturating_add(1);
    let stale = if next == pending.0 {
        pending.1.to_vec()
    } else {
        read_stale(store, next)?
    };
    for key in &stale {
        batch.delete(Table::Nodes, key.encode());
    }
    batch.delete(Table::Stale, version_prefix(next));
    batch.delete(Table::Versions, version_prefix(oldest));
    Ok(stale.len())
}

/// Adds to `batch` the removal of every version after `v` up to `head`.
pub fn discard_after(batch: &mut WriteBatch, v: u64, head: u64) {
    let from = version_prefix(v.saturating_add(1));
    let to = version_prefix(head.saturating_add(1));
    for table in [Table::Nodes, Table::Stale, Table::Versions] {
        batch.delete_range(table, from.clone(), to.clone());
    }
}
