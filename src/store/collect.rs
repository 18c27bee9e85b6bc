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
//!
//! That walk is the fallback. A running tree knows what each of its own commits made stale:
//! the nodes the batch read (loaded and hash-checked) that the new tree no longer reaches.
//! It keeps those lists in memory ([`Recent`], bounded), never on disk, so in steady state
//! expiry reads nothing; versions committed before the tree was opened (or whose list did
//! not fit) are collected by the walk.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::layout::{self, NodeKey, VersionRecord};
use super::record::read_children;
use super::{Inconsistency, StoreBackend, StoreConfig, StoreError, Table, WriteBatch};
use crate::hash::TreeHasher;
use crate::ops::SizeLimits;

/// Labels are uniformly distributed, so their first eight bytes are a good hash.
#[derive(Default)]
struct LabelHasher(u64);

impl core::hash::Hasher for LabelHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 ^= crate::node::first_word(bytes);
    }
    fn write_usize(&mut self, _: usize) {}
}

/// A set of labels.
type LabelSet =
    std::collections::HashSet<crate::Digest, core::hash::BuildHasherDefault<LabelHasher>>;

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
        stack.extend(
            read_children::<H>(store, &key, limits)?
                .into_iter()
                .flatten(),
        );
    }
    Ok(out)
}

/// Most bytes of stale lists a tree keeps in memory (40 bytes per record key).
pub(crate) const RECENT_BYTES: usize = 64 << 20;

/// What this process's own recent commits made stale, by version: for version `w`, the
/// records `w - 1` reaches and `w` does not. Computed from nodes the commit read and checked;
/// never read back from disk.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    by_version: BTreeMap<u64, Vec<NodeKey>>,
    bytes: usize,
}

impl Recent {
    /// Remembers version `w`'s list, unless that would exceed [`RECENT_BYTES`] (the version
    /// is then collected by the walk).
    pub(crate) fn insert(&mut self, w: u64, stale: Vec<NodeKey>) {
        let bytes = stale.len().saturating_mul(NodeKey::LEN);
        if self.bytes.saturating_add(bytes) <= RECENT_BYTES {
            self.bytes = self.bytes.saturating_add(bytes);
            self.by_version.insert(w, stale);
        }
    }

    /// Version `w`'s list.
    pub(crate) fn get(&self, w: u64) -> Option<&Vec<NodeKey>> {
        self.by_version.get(&w)
    }

    /// Takes version `w`'s list.
    pub(crate) fn take(&mut self, w: u64) -> Option<Vec<NodeKey>> {
        let list = self.by_version.remove(&w)?;
        self.bytes = self
            .bytes
            .saturating_sub(list.len().saturating_mul(NodeKey::LEN));
        Some(list)
    }

    /// Forgets the lists of versions after `v` (rolled back).
    pub(crate) fn discard_after(&mut self, v: u64) {
        let later = self.by_version.split_off(&v.saturating_add(1));
        let bytes: usize = later
            .values()
            .map(|l| l.len().saturating_mul(NodeKey::LEN))
            .sum();
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

/// Where expiring a version learns what to delete.
pub(crate) enum Known<'a> {
    /// The list this process computed when it committed (or is committing) `oldest + 1`.
    Stale(&'a [NodeKey]),
    /// Nothing: walk the stored records.
    Nothing,
}

/// Adds to `batch` the expiry of version `oldest`: the records only it reaches, and its
/// version record. Returns the records deleted.
pub(crate) fn expire<H: TreeHasher>(
    store: &dyn StoreBackend,
    batch: &mut WriteBatch,
    oldest: u64,
    known: Known<'_>,
    limits: &SizeLimits,
) -> Result<usize, StoreError> {
    let next = oldest
        .checked_add(1)
        .ok_or(StoreError::NoSuchVersion(oldest))?;
    if let Known::Stale(list) = known {
        for key in list {
            batch.delete(Table::Nodes, key.encode());
        }
        batch.delete(Table::Versions, layout::version_prefix(oldest));
        return Ok(list.len());
    }
    let record = layout::read_version(store, next)?;
    let frontier = frontier_stored::<H>(store, next, &record, limits)?;
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
        stack.extend(
            read_children::<H>(store, &key, limits)?
                .into_iter()
                .flatten(),
        );
        batch.delete(Table::Nodes, key.encode());
        deleted = deleted.saturating_add(1);
    }
    batch.delete(Table::Versions, layout::version_prefix(oldest));
    Ok(deleted)
}

/// What a commit of `version` adds to its write beyond its own records: the expiry of the
/// versions leaving the window of `config.keep_versions` (at most
/// `config.max_expire_per_commit` of them, each by its stale list in `recent`, or `stale`,
/// this commit's own, or else by the walk) and the new window. Returns the new oldest
/// version and the versions whose lists the expiry used (for [`Recent::take`] once the
/// write is made).
pub(crate) fn advance_window<H: TreeHasher>(
    store: &dyn StoreBackend,
    batch: &mut WriteBatch,
    (config, recent, oldest): (&StoreConfig, &Recent, u64),
    version: u64,
    stale: &[NodeKey],
) -> Result<(u64, Vec<u64>), StoreError> {
    let mut oldest = oldest;
    let keep = config.keep_versions.max(1);
    let mut expired = Vec::new();
    while version.saturating_sub(oldest) >= keep
        && (expired.len() as u64) < config.max_expire_per_commit
    {
        let next = oldest.saturating_add(1);
        let known = if next == version {
            Known::Stale(stale)
        } else {
            match recent.get(next) {
                Some(list) => Known::Stale(list),
                None => Known::Nothing,
            }
        };
        expire::<H>(store, batch, oldest, known, &config.limits)?;
        expired.push(next);
        oldest = next;
    }
    layout::write_window(
        batch,
        layout::Window {
            oldest,
            head: version,
        },
    );
    Ok((oldest, expired))
}
