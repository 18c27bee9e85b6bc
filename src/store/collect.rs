//! Garbage collection: which node records expiring a version deletes.
//!
//! Expiring `o` must delete exactly the records of version `o`'s tree that version `o + 1`
//! does not reach. They are derived from node records, which are checked (label and record
//! check) as they are read, never from a list kept for the purpose: a journal that is
//! damaged, replaced or simply wrong could name a live record, and the collector would delete
//! it.
//!
//! ```text
//!   o:      R ── A ── B          o + 1:   R' ── A' ── B        (B shared, R A replaced)
//!                 └── C                          └── C        (C shared)
//! ```
//!
//! The *frontier* of `o + 1` is the set of old records its new records point to (B and C
//! above; or its root, if the commit changed nothing). Every record `o + 1` shares with `o`
//! lies under a frontier record, and a record's lifetime is one interval of versions, so a
//! frontier record of `o + 1` is also in `o`. Walking `o` from its root and stopping at
//! frontier labels therefore visits exactly the records `o + 1` does not reach (R and A).
//!
//! Cost: one read per new record of `o + 1` and one per deleted record, both hash-checked.
//! A record the walk cannot read is an error and the commit fails: nothing is deleted on
//! a guess.

use alloc::vec::Vec;

use super::codec::decode_node;
use super::layout::{self, NodeKey, VersionRecord};
use super::{Inconsistency, StoreBackend, StoreError, Table, WriteBatch};
use crate::hash::TreeHasher;
use crate::node::{Kind, Link};
use crate::ops::SizeLimits;
use crate::prover::LabelSet;

/// A record read and checked for the collector (not cached: these records are cold).
fn read<H: TreeHasher>(
    store: &dyn StoreBackend,
    key: &NodeKey,
    limits: &SizeLimits,
) -> Result<crate::node::Node, StoreError> {
    let bytes = store
        .get(Table::Nodes, &key.encode())?
        .ok_or(StoreError::Missing(key.version, key.label))?;
    decode_node::<H>(&bytes, key, limits)
}

fn children(node: &crate::node::Node) -> Option<[NodeKey; 2]> {
    let Kind::Internal(i) = &node.kind else {
        return None;
    };
    let key = |l: &Link| {
        l.label().map(|label| NodeKey {
            version: l.version(),
            label,
        })
    };
    Some([key(&i.left)?, key(&i.right)?])
}

/// The frontier of stored version `v`: labels of the older records its new records point to.
fn frontier_stored<H: TreeHasher>(
    store: &dyn StoreBackend,
    v: u64,
    record: &VersionRecord,
    limits: &SizeLimits,
) -> Result<LabelSet, StoreError> {
    let mut out = LabelSet::default();
    let mut stack: Vec<NodeKey> = record.root_key::<H>().into_iter().collect();
    while let Some(key) = stack.pop() {
        if key.version < v {
            out.insert(key.label);
            continue;
        }
        let node = read::<H>(store, &key, limits)?;
        stack.extend(children(&node).into_iter().flatten());
    }
    Ok(out)
}

/// The frontier of the version `v` being committed, from its nodes in memory.
pub(crate) fn frontier_in_memory(root: Option<&Link>, v: u64) -> LabelSet {
    let mut out = LabelSet::default();
    let mut stack: Vec<&Link> = root.into_iter().collect();
    while let Some(link) = stack.pop() {
        let Some(label) = link.label() else { continue };
        if link.version() < v {
            out.insert(label);
            continue;
        }
        if let Link::Node(n) = link {
            if let Kind::Internal(i) = &n.kind {
                stack.push(&i.left);
                stack.push(&i.right);
            }
        }
    }
    out
}

/// Adds to `batch` the expiry of version `oldest`: the records only it reaches, and its
/// version record. `pending` is the frontier of version `oldest + 1` when that version is
/// being committed in the same batch (so not in the store yet). Returns the records deleted.
pub(crate) fn expire<H: TreeHasher>(
    store: &dyn StoreBackend,
    batch: &mut WriteBatch,
    oldest: u64,
    pending: Option<&LabelSet>,
    limits: &SizeLimits,
) -> Result<usize, StoreError> {
    let next = oldest
        .checked_add(1)
        .ok_or(StoreError::NoSuchVersion(oldest))?;
    let stored;
    let frontier = match pending {
        Some(f) => f,
        None => {
            let record = layout::read_version(store, next)?;
            stored = frontier_stored::<H>(store, next, &record, limits)?;
            &stored
        }
    };
    let record = layout::read_version(store, oldest)?;
    let mut deleted = 0usize;
    let mut stack: Vec<NodeKey> = record.root_key::<H>().into_iter().collect();
    while let Some(key) = stack.pop() {
        if frontier.contains(&key.label) {
            continue;
        }
        if key.version > oldest {
            return Err(StoreError::Inconsistent(Inconsistency::CollectorRecord(
                key.version,
            )));
        }
        let node = read::<H>(store, &key, limits)?;
        stack.extend(children(&node).into_iter().flatten());
        batch.delete(Table::Nodes, key.encode());
        deleted = deleted.saturating_add(1);
    }
    batch.delete(Table::Versions, layout::version_prefix(oldest));
    Ok(deleted)
}
