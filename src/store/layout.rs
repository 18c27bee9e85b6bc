//! Which keys mean what in a store (format 2), and how every record read back is checked.
//!
//! ```text
//! table     key                                   value
//! nodes     version (u64 BE) ‖ label (32)         node record (record.rs) ‖ check (8)
//! versions  version (u64 BE)                      version (u64 BE) ‖ root label (32)
//!                                                 ‖ height (1) ‖ root record version (u64 BE)
//!                                                 ‖ entries (u64 BE) ‖ check (8)
//! meta      "identity"                            see `Identity`                ‖ check (8)
//!           "window"                              oldest (u64 BE) ‖ head (u64 BE) ‖ check (8)
//! ```
//!
//! `check` is the first 8 bytes of keyed BLAKE3 (key [`CHECK_KEY`]) over
//! `table tag (1) ‖ key length (1) ‖ key ‖ payload`: it covers the key as well as the
//! content, so a record damaged in place, truncated, or moved under another key (another
//! version's record, say) fails it. It protects what the node labels do not: bookkeeping, and
//! the unhashed fields of node records (child record versions and routing keys).
//!
//! What the store trusts: nothing it reads back. A record that fails its check, decodes
//! badly, or disagrees with the others is a typed [`StoreError`]. The checks catch damage and
//! mix-ups, not a forger who recomputes them (one who can write the store can delete it).
//!
//! Invariants (checked on open and by `Tree::audit`):
//! - A node record is written once, by the commit of the version in its key, and never
//!   changed. A node re-created later gets a new record, so a record's lifetime is one
//!   interval of versions, and a child's record version is at most its parent's.
//! - The kept versions are exactly `oldest..=head`, each with a version record whose root
//!   record exists; no node record is newer than `head`.
//! - Every record reachable from a kept version is present, and (after each commit's
//!   collection) every record present is reachable from a kept version.
//! - Expiring `oldest` deletes the records of `oldest` that `oldest + 1` does not reach. They
//!   are derived from the node records themselves, not from a journal (see `collect.rs`).

use alloc::string::String;
use alloc::vec::Vec;

use super::{Inconsistency, NotAStore, RecordFault, StoreBackend, StoreError, Table, WriteBatch};
use crate::hash::{Digest, RootDigest, TreeHasher};
use crate::ops::SizeLimits;

/// The store format this library reads and writes.
pub const FORMAT: u16 = 2;

/// Key of the checks: ASCII, zero-padded to 32 bytes.
pub(crate) const CHECK_KEY: [u8; 32] = *b"avlplus store record check v2\0\0\0";

/// Length of a check.
pub(crate) const CHECK_LEN: usize = 8;

const IDENTITY: &[u8] = b"identity";
const WINDOW: &[u8] = b"window";
/// Format 1 kept its format number under this key (and had no identity record).
const FORMAT1_KEY: &[u8] = b"format";
const MAGIC: &[u8; 8] = b"AVL+STOR";

fn table_tag(table: Table) -> u8 {
    match table {
        Table::Nodes => 1,
        Table::Versions => 2,
        Table::Meta => 3,
    }
}

/// The check of `payload` stored under `key` in `table`.
pub(crate) fn check(table: Table, key: &[u8], payload: &[u8]) -> [u8; CHECK_LEN] {
    let mut h = blake3::Hasher::new_keyed(&CHECK_KEY);
    // Keys are at most 40 bytes; the length byte only separates key from payload.
    h.update(&[table_tag(table), key.len().min(255) as u8]);
    h.update(key);
    h.update(payload);
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&h.finalize().as_bytes()[..CHECK_LEN]);
    out
}

/// `payload ‖ check`.
pub fn seal_record(table: Table, key: &[u8], mut payload: Vec<u8>) -> Vec<u8> {
    let c = check(table, key, &payload);
    payload.extend_from_slice(&c);
    payload
}

/// The payload of a sealed record, if its check holds.
pub(crate) fn open_record<'a>(table: Table, key: &[u8], bytes: &'a [u8]) -> Option<&'a [u8]> {
    let at = bytes.len().checked_sub(CHECK_LEN)?;
    let (payload, c) = bytes.split_at(at);
    (check(table, key, payload) == c).then_some(payload)
}

fn bad(table: Table, key: &[u8], fault: RecordFault) -> StoreError {
    StoreError::BadRecord {
        table,
        key: key.to_vec(),
        fault,
    }
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let end = at.checked_add(8)?;
    Some(u64::from_be_bytes(bytes.get(at..end)?.try_into().ok()?))
}

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
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        Some(NodeKey {
            version: u64_at(bytes, 0)?,
            label: bytes.get(8..)?.try_into().ok()?,
        })
    }
}

/// The first key of version `v` in a version-prefixed table.
pub(crate) fn version_prefix(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// Parses a version key.
pub(crate) fn parse_version(bytes: &[u8]) -> Option<u64> {
    (bytes.len() == 8).then(|| u64_at(bytes, 0)).flatten()
}

/// What a store was created with, recorded once under `meta/identity`.
///
/// ```text
/// magic "AVL+STOR" (8) ‖ format (u16 BE) ‖ hasher name length (1) ‖ hasher name
/// ‖ max key length (u64 BE) ‖ max value length (u64 BE)
/// ‖ creator length (1) ‖ creator ("avlplus <version>")
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Format version.
    pub format: u16,
    /// [`TreeHasher::NAME`] of the hash the store was written with.
    pub hasher: String,
    /// Size limits the store was written with.
    pub limits: SizeLimits,
    /// The library that created the store (informational).
    pub creator: String,
}

impl Identity {
    /// The identity of a new store written by this library.
    pub fn new<H: TreeHasher>(limits: SizeLimits) -> Self {
        Identity {
            format: FORMAT,
            hasher: H::NAME.into(),
            limits,
            creator: alloc::format!("avlplus {}", env!("CARGO_PKG_VERSION")),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.format.to_be_bytes());
        for (i, field) in [&self.hasher, &self.creator].into_iter().enumerate() {
            if i == 1 {
                out.extend_from_slice(&(self.limits.max_key_len as u64).to_be_bytes());
                out.extend_from_slice(&(self.limits.max_value_len as u64).to_be_bytes());
            }
            let bytes = field.as_bytes();
            let bytes = bytes.get(..bytes.len().min(255)).unwrap_or_default();
            out.push(bytes.len() as u8);
            out.extend_from_slice(bytes);
        }
        out
    }

    fn decode(p: &[u8]) -> Option<Self> {
        let mut r = crate::codec::Reader::new(p);
        if r.bytes(MAGIC.len()).ok()? != MAGIC {
            return None;
        }
        let format = u16::from_be_bytes(r.bytes(2).ok()?.try_into().ok()?);
        let text = |r: &mut crate::codec::Reader<'_>| -> Option<String> {
            let len = r.u8().ok()?;
            String::from_utf8(r.bytes(usize::from(len)).ok()?.to_vec()).ok()
        };
        let hasher = text(&mut r)?;
        let key = u64::from_be_bytes(r.bytes(8).ok()?.try_into().ok()?);
        let value = u64::from_be_bytes(r.bytes(8).ok()?.try_into().ok()?);
        let creator = text(&mut r)?;
        if r.remaining() != 0 {
            return None;
        }
        Some(Identity {
            format,
            hasher,
            limits: SizeLimits {
                max_key_len: usize::try_from(key).ok()?,
                max_value_len: usize::try_from(value).ok()?,
            },
            creator,
        })
    }

    /// Checks that a store with this identity can be opened with hash `H` and `limits`.
    pub fn admit<H: TreeHasher>(&self, limits: &SizeLimits) -> Result<(), StoreError> {
        if self.format != FORMAT {
            return Err(StoreError::UnsupportedFormat {
                found: self.format,
                supported: FORMAT,
            });
        }
        if self.hasher != H::NAME {
            return Err(StoreError::HasherMismatch {
                store: self.hasher.clone(),
                opened: H::NAME,
            });
        }
        if self.limits != *limits {
            return Err(StoreError::LimitsMismatch {
                store: self.limits,
                opened: *limits,
            });
        }
        Ok(())
    }
}

/// Whether every table of `store` is empty.
pub(crate) fn is_empty(store: &dyn StoreBackend) -> Result<bool, StoreError> {
    for t in Table::ALL {
        if !store.scan(t, &[], &[0xff; 64], 1)?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads the identity: why the store cannot be opened if there is none.
pub(crate) fn read_identity(store: &dyn StoreBackend) -> Result<Identity, StoreError> {
    let Some(bytes) = store.get(Table::Meta, IDENTITY)? else {
        if let Some(f) = store.get(Table::Meta, FORMAT1_KEY)? {
            if let [n] = f.as_slice() {
                return Err(StoreError::UnsupportedFormat {
                    found: u16::from(*n),
                    supported: FORMAT,
                });
            }
        }
        return Err(StoreError::NotAStore(if is_empty(store)? {
            NotAStore::Empty
        } else {
            NotAStore::NoIdentity
        }));
    };
    let payload = open_record(Table::Meta, IDENTITY, &bytes)
        .ok_or_else(|| bad(Table::Meta, IDENTITY, RecordFault::Checksum))?;
    Identity::decode(payload).ok_or_else(|| bad(Table::Meta, IDENTITY, RecordFault::Malformed))
}

/// Adds the identity to a batch.
pub fn write_identity(batch: &mut WriteBatch, identity: &Identity) {
    let value = seal_record(Table::Meta, IDENTITY, identity.encode());
    batch.put(Table::Meta, IDENTITY.to_vec(), value);
}

/// A kept version: its root digest and the record version of its root node (the root of a
/// version that changed nothing is an older record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VersionRecord {
    /// The root digest.
    pub root: RootDigest,
    /// Version in the root node's record key (0 for the empty tree).
    pub root_record: u64,
    /// Number of entries (keys) in the version.
    pub len: u64,
}

impl VersionRecord {
    /// The key of the root's node record (`None` for the empty tree).
    pub(crate) fn root_key<H: TreeHasher>(&self) -> Option<NodeKey> {
        (self.root.label != H::empty()).then_some(NodeKey {
            version: self.root_record,
            label: self.root.label,
        })
    }
}

const VERSION_PAYLOAD: usize = 8 + RootDigest::LEN + 8 + 8;

/// Adds the record of version `v` to a batch.
pub(crate) fn write_version(batch: &mut WriteBatch, v: u64, record: &VersionRecord) {
    let key = version_prefix(v);
    let mut payload = Vec::with_capacity(VERSION_PAYLOAD + CHECK_LEN);
    payload.extend_from_slice(&v.to_be_bytes());
    payload.extend_from_slice(&record.root.to_bytes());
    payload.extend_from_slice(&record.root_record.to_be_bytes());
    payload.extend_from_slice(&record.len.to_be_bytes());
    let value = seal_record(Table::Versions, &key, payload);
    batch.put(Table::Versions, key, value);
}

/// Parses the value stored under version key `v`.
pub(crate) fn decode_version(v: u64, bytes: &[u8]) -> Result<VersionRecord, StoreError> {
    let key = version_prefix(v);
    let fault = |f| bad(Table::Versions, &key, f);
    let Some(payload) = open_record(Table::Versions, &key, bytes) else {
        // An intact record of another version, stored here, says which one it is.
        let found = bytes
            .len()
            .checked_sub(CHECK_LEN)
            .and_then(|at| bytes.get(..at))
            .and_then(|p| u64_at(p, 0).map(|w| (w, p)));
        return Err(match found {
            Some((w, p))
                if w != v
                    && open_record(Table::Versions, &version_prefix(w), bytes)
                        .is_some_and(|q| q == p) =>
            {
                fault(RecordFault::Misplaced { found: w })
            }
            _ => fault(RecordFault::Checksum),
        });
    };
    if payload.len() != VERSION_PAYLOAD || u64_at(payload, 0) != Some(v) {
        return Err(fault(RecordFault::Malformed));
    }
    let root = payload
        .get(8..8 + RootDigest::LEN)
        .and_then(RootDigest::from_bytes)
        .ok_or_else(|| fault(RecordFault::Malformed))?;
    let root_record =
        u64_at(payload, 8 + RootDigest::LEN).ok_or_else(|| fault(RecordFault::Malformed))?;
    let len = u64_at(payload, 16 + RootDigest::LEN).ok_or_else(|| fault(RecordFault::Malformed))?;
    if root_record > v {
        return Err(StoreError::Inconsistent(Inconsistency::RootAfterVersion(v)));
    }
    Ok(VersionRecord {
        root,
        root_record,
        len,
    })
}

/// The record of version `v`.
pub(crate) fn read_version(store: &dyn StoreBackend, v: u64) -> Result<VersionRecord, StoreError> {
    let bytes = store
        .get(Table::Versions, &version_prefix(v))?
        .ok_or(StoreError::NoSuchVersion(v))?;
    decode_version(v, &bytes)
}

/// Head and oldest kept version of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    /// Oldest kept version.
    pub oldest: u64,
    /// Latest version.
    pub head: u64,
}

/// Parses a window record's value (also used to find commits in a write-ahead log).
pub(crate) fn decode_window(bytes: &[u8]) -> Result<Window, StoreError> {
    let payload = open_record(Table::Meta, WINDOW, bytes)
        .ok_or_else(|| bad(Table::Meta, WINDOW, RecordFault::Checksum))?;
    let malformed = || bad(Table::Meta, WINDOW, RecordFault::Malformed);
    if payload.len() != 16 {
        return Err(malformed());
    }
    let w = Window {
        oldest: u64_at(payload, 0).ok_or_else(malformed)?,
        head: u64_at(payload, 8).ok_or_else(malformed)?,
    };
    if w.oldest > w.head {
        return Err(StoreError::Inconsistent(Inconsistency::WindowInverted));
    }
    Ok(w)
}

/// The key of the window record in the meta table.
#[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
pub(crate) const WINDOW_KEY: &[u8] = WINDOW;

/// Reads the window.
pub(crate) fn read_window(store: &dyn StoreBackend) -> Result<Window, StoreError> {
    let bytes = store
        .get(Table::Meta, WINDOW)?
        .ok_or_else(|| bad(Table::Meta, WINDOW, RecordFault::Absent))?;
    decode_window(&bytes)
}

/// Adds the window to a batch.
pub(crate) fn write_window(batch: &mut WriteBatch, w: Window) {
    let mut payload = Vec::with_capacity(16 + CHECK_LEN);
    payload.extend_from_slice(&w.oldest.to_be_bytes());
    payload.extend_from_slice(&w.head.to_be_bytes());
    let value = seal_record(Table::Meta, WINDOW, payload);
    batch.put(Table::Meta, WINDOW.to_vec(), value);
}

/// Checks the bookkeeping of a store as it is opened: the window, exactly one intact version
/// record per kept version and none outside, every kept root record present (the head's
/// is left to the caller, who loads it), and no node record newer than the head. Returns the window and the head's version record.
pub(crate) fn check_bookkeeping<H: TreeHasher>(
    store: &dyn StoreBackend,
) -> Result<(Window, VersionRecord), StoreError> {
    let w = read_window(store)?;
    // Version keys are 8 bytes, so this scan sees every version record.
    let mut expected = w.oldest;
    let mut head_record = None;
    let mut from = version_prefix(0);
    loop {
        let page = store.scan(Table::Versions, &from, &[0xff; 9], 1024)?;
        let Some((last, _)) = page.last() else { break };
        let mut next = last.clone();
        next.push(0);
        for (k, value) in &page {
            let v =
                parse_version(k).ok_or_else(|| bad(Table::Versions, k, RecordFault::Malformed))?;
            if v < w.oldest || v > w.head {
                return Err(StoreError::Inconsistent(
                    Inconsistency::VersionOutsideWindow(v),
                ));
            }
            if v != expected {
                return Err(StoreError::Inconsistent(Inconsistency::VersionMissing(
                    expected,
                )));
            }
            let record = decode_version(v, value)?;
            if v == w.head {
                // The caller loads (and hash-checks) the head's root.
                head_record = Some(record);
            } else if let Some(key) = record.root_key::<H>() {
                if store.get(Table::Nodes, &key.encode())?.is_none() {
                    return Err(StoreError::Missing(key.version, key.label));
                }
            }
            expected = v.saturating_add(1);
        }
        if page.len() < 1024 {
            break;
        }
        from = next;
    }
    let head_record = head_record.ok_or(StoreError::Inconsistent(
        Inconsistency::VersionMissing(expected),
    ))?;
    if let Some(after) = w.head.checked_add(1) {
        if let Some((k, _)) = store
            .scan(Table::Nodes, &version_prefix(after), &[0xff; 41], 1)?
            .first()
        {
            let v = NodeKey::decode(k).map_or(after, |k| k.version);
            return Err(StoreError::Inconsistent(Inconsistency::RecordAfterHead(v)));
        }
    }
    Ok((w, head_record))
}

/// Adds to `batch` the removal of every version after `v` up to `head`.
pub(crate) fn discard_after(batch: &mut WriteBatch, v: u64, head: u64) {
    let from = version_prefix(v.saturating_add(1));
    let to = version_prefix(head.saturating_add(1));
    for table in [Table::Nodes, Table::Versions] {
        batch.delete_range(table, from.clone(), to.clone());
    }
}

/// Makes a new store in the empty back end `store`: its identity (format, hash `H`,
/// `limits`), version 0 (the empty tree) and the window holding it, in one synced write.
/// [`StoreError::AlreadyExists`] if the back end holds anything, changing nothing.
pub(crate) fn initialize<H: TreeHasher>(
    store: &dyn StoreBackend,
    limits: SizeLimits,
) -> Result<(), StoreError> {
    if !is_empty(store)? {
        return Err(StoreError::AlreadyExists);
    }
    let mut batch = WriteBatch::default();
    write_identity(&mut batch, &Identity::new::<H>(limits));
    write_version(
        &mut batch,
        0,
        &VersionRecord {
            root: RootDigest::empty::<H>(),
            root_record: 0,
            len: 0,
        },
    );
    write_window(&mut batch, Window { oldest: 0, head: 0 });
    store.write(batch, true)
}

/// Whether the store can be opened by a tree with hash `H` and `limits`: its identity
/// admits them and its bookkeeping is intact (see [`check_bookkeeping`]). Returns its
/// window.
pub(crate) fn admit<H: TreeHasher>(
    store: &dyn StoreBackend,
    limits: &SizeLimits,
) -> Result<Window, StoreError> {
    read_identity(store)?.admit::<H>(limits)?;
    Ok(check_bookkeeping::<H>(store)?.0)
}
