//! The prover's tree: every node in one arena, indexed by 32-bit ids, copy-on-write by
//! index, in memory or over a store.
//!
//! A batch reads the committed nodes (`base`, frozen while the batch runs) and writes only
//! into its own `new` region: changing a committed node copies it there and re-points the
//! link (the zipper's `get_mut`); a node the batch made is edited in place. Ids past the end
//! of `base` name nodes of the batch's region. So the state the batch started from stays
//! intact (a what-if proof changes nothing, and the proof is cut from that state), with no
//! heap object, no reference count and no `free` per node: a child is a 4-byte id, and
//! copying a node bumps no counts.
//!
//! Committing places the batch's reachable nodes, children first, into the slots of the
//! committed nodes the batch replaced (every one of them was read by the batch: a node is
//! replaced only by walking through it, so the batch's touched set holds them all), then at
//! the end of the arena. The arena therefore holds exactly the live tree plus free slots that
//! the next batches reuse: `2 * len - 1` live nodes for `len` keys (tested).
//!
//! The operation code is the same as everywhere: `ops::apply` and the zipper, over this
//! engine's [`Walker`]; the proof is encoded by the same `proof::encode`, with a [`Prune`]
//! that asks the batch's record of what it read: the tree's per-slot marks for a batch that
//! commits, an id set of its own for a what-if proof.
//!
//! Committed ids and a batch's own are below 2^30 (the ids from 2^30 to 2^31 name what a
//! batch loaded from the store; the top bit names a verifier's stub), so an arena holds at
//! most 2^30 nodes: a batch that would go past fails with [`TreeError::Malformed`] and
//! changes nothing.
//!
//! On a store ([`Tree::create_store`], [`Tree::open_store`]), subtrees not in memory are
//! stubs; a batch loads what it reaches into a region of its own, and a commit writes its
//! records and the version's bookkeeping in one atomic write before it places the loaded
//! nodes (docs/design.md, "The arena on a store"). Read paths (`&self`) keep what they load
//! in a record cache instead (`store/cache.rs`).
//!
//! Each job has a file: `arena.rs` (slots, strings, id sets), `batch.rs` (the walker and the
//! proof's view), `commit.rs` (running and committing batches), `reads.rs` (lookups and
//! iteration), `versions.rs` (loading, rollback, snapshots), `budget.rs` (eviction beyond the
//! memory budget), `store_audit.rs` (the audit of a store's records).

mod arena;
mod batch;
mod budget;
mod commit;
mod reads;
pub(crate) mod store_audit;
#[cfg(test)]
mod tests;
mod versions;

use core::num::NonZeroU32;
use core::ops::ControlFlow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use crate::codec::BitWriter;
use crate::error::TreeError;
use crate::hash::{Digest, RootDigest, Sha256, TreeHasher};
use crate::node::{Bytes, Dir, Internal, Kind, LabelSlot, Leaf, Node, NodeId, Side};
use crate::ops::{apply, OpResult, Operation, Outcome, SizeLimits, State};
use crate::proof::{encode_with, Buffers, Proof, Prune, Shown, View};
use crate::store::cache::RecordCache;
use crate::store::layout::{self, NodeKey, VersionRecord};
use crate::store::record::{decode_stored, encode_stored, Stored};
use crate::store::{collect, Durability, StoreBackend, StoreConfig, StoreError, Table, WriteBatch};
use crate::zipper::{Fault, Frame, Walker};

use arena::*;
use batch::*;
use store_audit::records;

pub use commit::StagedBatch;
pub use reads::Entries;
pub use versions::Snapshot;

/// What a batch produced: per-operation results, one proof, and the roots around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchProof {
    /// One result per operation, in order.
    pub results: Vec<OpResult>,
    /// The proof a verifier replays the batch on.
    pub proof: Proof,
    /// The root before the batch (what the verifier must trust).
    pub old_root: RootDigest,
    /// The root after the batch.
    pub new_root: RootDigest,
    /// The version the batch committed (for a what-if proof: the version it would be).
    pub version: u64,
}

/// Where the batches and reads of a tree with store `disk` load stubs from; `keep`: whether
/// what they read goes into the record cache (for a batch that will not keep it).
fn source(disk: &Option<Box<Disk>>, limits: SizeLimits, keep: bool) -> Option<Source<'_>> {
    disk.as_ref().map(|d| Source {
        backend: d.backend.as_ref(),
        limits,
        versions: &d.versions,
        cache: &d.cache,
        keep,
    })
}

/// A persistent arena's store and bookkeeping.
struct Disk {
    backend: Arc<dyn StoreBackend>,
    config: StoreConfig,
    /// The oldest kept version.
    oldest: u64,
    /// What this tree's own recent commits made stale (for the collector).
    recent: collect::Recent,
    /// Per slot, the version whose commit wrote its node's record (with the label, the
    /// record's key).
    versions: Chunks<u64>,
    /// Slots that hold a stub.
    stubs: usize,
    /// Records the read paths (`&self`) fetched lately, up to half the memory budget.
    cache: RecordCache,
}

/// Approximate bytes of a node in memory: its slot, its version and its mark.
const NODE_BYTES: usize = core::mem::size_of::<PNode>() + 10;

/// Approximate bytes of a string in memory (a short one's slot).
const STRING_BYTES: usize = SHORT + 1;

/// An authenticated AVL+ map on the prover's side.
///
/// The tree lives in memory ([`Tree::new`]) or in a store ([`Tree::create_store`],
/// [`Tree::open_store`]), where every
/// batch is committed atomically as a new version, the last versions stay readable
/// ([`Tree::snapshot`]) and can be rolled back to ([`Tree::rollback`]), older ones are
/// collected, and nodes are loaded only when operations reach them and dropped again beyond a
/// memory budget. Every batch yields one proof; a light client checks it with a
/// [`Verifier`](crate::Verifier).
///
/// ```
/// use avlplus::{Operation, Outcome, Tree};
/// let mut tree = Tree::new();
/// let batch = tree.apply(&[Operation::insert(b"a", b"1"), Operation::update(b"b", b"2")])?;
/// assert_eq!(batch.results[0], Ok(Outcome::Inserted));
/// assert_eq!(batch.results[1], Err(avlplus::Failure::KeyMissing));
/// assert_eq!(tree.root(), batch.new_root);
/// # Ok::<(), avlplus::TreeError>(())
/// ```
pub struct Tree<H: TreeHasher = Sha256> {
    nodes: Chunks<PNode>,
    /// The keys and values the nodes hold.
    pool: Pool,
    /// Slots of nodes no longer in the tree, reused by the next batches.
    free: Vec<NodeId>,
    /// Per slot, the mark of the last committing batch that read it ([`Touched::Marks`]).
    marks: Vec<u16>,
    /// The last committing batch's mark (even; a commit marks what it keeps with `mark + 1`).
    mark: u16,
    state: State<Packed>,
    root: RootDigest,
    version: u64,
    len: u64,
    limits: SizeLimits,
    /// Batches that made at least this many nodes seal on two threads
    /// ([`Tree::seal_on_two_threads`]); `None`: every batch seals on one.
    split_seal: Option<usize>,
    /// Buffers a committing batch uses and gives back, so that batches allocate them once.
    scratch: Scratch,
    /// The store, for a persistent tree (boxed: an in-memory tree carries one word for it).
    disk: Option<Box<Disk>>,
    /// Changes whenever the slots change (a commit, an eviction, a reload): a staged batch
    /// names slots, so it commits only on the generation it was staged on.
    generation: u64,
    hasher: PhantomData<fn() -> H>,
}

/// What a batch borrows from the tree and gives back: its direction bits, its list of
/// touched nodes, its walks' frames and the proof encoder's parts.
#[derive(Default)]
struct Scratch {
    directions: Vec<u8>,
    list: Vec<NodeId>,
    path: Vec<Frame<NodeId>>,
    encode: Buffers,
}

impl<H: TreeHasher> core::fmt::Debug for Tree<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tree")
            .field("root", &self.root)
            .field("version", &self.version)
            .field("hash", &H::NAME)
            .field("persistent", &self.disk.is_some())
            .finish()
    }
}

impl Default for Tree<Sha256> {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree<Sha256> {
    /// An empty in-memory SHA-256 tree with default size limits.
    pub fn new() -> Self {
        Self::empty()
    }
}

impl<H: TreeHasher> Tree<H> {
    /// An empty in-memory tree with hash `H`.
    ///
    /// ```
    /// use avlplus::{Blake3, RootDigest, Tree};
    /// let tree = Tree::<Blake3>::empty();
    /// assert_eq!(tree.root(), RootDigest::empty::<Blake3>());
    /// ```
    pub fn empty() -> Self {
        Tree {
            nodes: Chunks::default(),
            pool: Pool::default(),
            free: Vec::new(),
            marks: Vec::new(),
            mark: 0,
            state: State::default(),
            root: RootDigest {
                label: H::empty(),
                height: 0,
            },
            version: 0,
            len: 0,
            limits: SizeLimits::default(),
            split_seal: None,
            scratch: Scratch::default(),
            disk: None,
            generation: 0,
            hasher: PhantomData,
        }
    }

    /// Makes a new store in the empty back end `backend`: records its identity (format, hash
    /// `H`, `config.limits`) and version 0, the empty tree. Fails with
    /// [`StoreError::AlreadyExists`](crate::store::StoreError::AlreadyExists) if the back end holds anything, changing nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use avlplus::{store::{MemoryStore, StoreConfig, StoreError}, Tree, TreeError};
    /// let store = Arc::new(MemoryStore::new());
    /// let tree: Tree = Tree::create_store(store.clone(), StoreConfig::default())?;
    /// assert_eq!(tree.version(), 0);
    /// let again = Tree::<avlplus::Sha256>::create_store(store, StoreConfig::default());
    /// assert_eq!(again.unwrap_err(), TreeError::Store(StoreError::AlreadyExists));
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn create_store(
        backend: Arc<dyn StoreBackend>,
        config: StoreConfig,
    ) -> Result<Self, TreeError> {
        layout::initialize::<H>(backend.as_ref(), config.limits)?;
        Ok(Self::persistent(backend, config, 0))
    }

    /// Opens the store in `backend` at its head version. Only the root node is read; the
    /// rest is loaded as operations reach it.
    ///
    /// Nothing is written. The store must have been made by [`Tree::create_store`] with the
    /// same hash and `config.limits` (else [`StoreError::NotAStore`](crate::store::StoreError::NotAStore),
    /// [`StoreError::HasherMismatch`](crate::store::StoreError::HasherMismatch), [`StoreError::LimitsMismatch`](crate::store::StoreError::LimitsMismatch) or
    /// [`StoreError::UnsupportedFormat`](crate::store::StoreError::UnsupportedFormat)), and its bookkeeping must be intact and consistent:
    /// the window of kept versions, one checked version record for each and none outside
    /// it, each kept root record present and the head's hashing to its label, and no node
    /// record newer than the head ([`StoreError::BadRecord`](crate::store::StoreError::BadRecord), [`StoreError::Inconsistent`](crate::store::StoreError::Inconsistent),
    /// [`StoreError::Missing`](crate::store::StoreError::Missing), [`StoreError::Corrupt`](crate::store::StoreError::Corrupt)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use avlplus::{store::{MemoryStore, StoreConfig}, Operation, Tree};
    /// let store = Arc::new(MemoryStore::new());
    /// let mut tree: Tree = Tree::create_store(store.clone(), StoreConfig::default())?;
    /// let batch = tree.apply(&[Operation::insert(b"k", b"v")])?;
    /// assert_eq!(batch.version, 1);
    /// let reopened: Tree = Tree::open_store(store, StoreConfig::default())?;
    /// assert_eq!((reopened.version(), reopened.root()), (1, batch.new_root));
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn open_store(
        backend: Arc<dyn StoreBackend>,
        config: StoreConfig,
    ) -> Result<Self, TreeError> {
        let window = layout::admit::<H>(backend.as_ref(), &config.limits)?;
        let mut tree = Self::persistent(backend, config, window.oldest);
        tree.load_version(window.head)?;
        Ok(tree)
    }

    fn persistent(backend: Arc<dyn StoreBackend>, config: StoreConfig, oldest: u64) -> Self {
        Tree {
            limits: config.limits,
            disk: Some(Box::new(Disk {
                backend,
                config,
                oldest,
                recent: collect::Recent::default(),
                versions: Chunks::default(),
                stubs: 0,
                cache: RecordCache::new(config.memory_budget / 2),
            })),
            ..Self::empty()
        }
    }

    /// The committed version: 0 for a new tree, +1 per applied batch.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// An empty in-memory tree with hash `H` and other size limits (the verifier must use
    /// the same).
    ///
    /// ```
    /// use avlplus::{Sha256, SizeLimits, Tree};
    /// let tree = Tree::<Sha256>::with_limits(SizeLimits::DEFAULT);
    /// assert_eq!(tree.limits(), &SizeLimits::DEFAULT);
    /// ```
    pub fn with_limits(limits: SizeLimits) -> Self {
        Tree {
            limits,
            ..Self::empty()
        }
    }

    /// The size limits in force.
    pub fn limits(&self) -> &SizeLimits {
        &self.limits
    }

    /// Where the batches load stubs from (a persistent tree).
    /// Where a read path (`&self`: it cannot keep what it loads) reads records.
    fn source(&self) -> Option<Source<'_>> {
        source(&self.disk, self.limits, true)
    }

    /// Approximate bytes of nodes held in memory (persistent trees; 0 in memory): the nodes
    /// and strings loaded into the tree, and the records its read paths cached. After each
    /// commit it is within [`StoreConfig::memory_budget`].
    pub fn loaded_bytes(&self) -> usize {
        let Some(disk) = self.disk.as_deref() else {
            return 0;
        };
        let stubs = disk.stubs;
        let nodes = self.live_nodes().saturating_sub(stubs);
        let p = &self.pool;
        let strings = (p.short.len().saturating_add(p.long.len()))
            .saturating_sub(p.free_short.len().saturating_add(p.free_long.len()));
        let cached = disk.cache.bytes();
        nodes
            .saturating_mul(NODE_BYTES)
            .saturating_add(strings.saturating_mul(STRING_BYTES))
            .saturating_add(cached)
    }

    /// Whether a batch that made at least 4096 nodes labels them on two threads, the root's
    /// left subtree on a helper thread and its right one on the caller's (off by default).
    /// Labels, proofs and hash calls are the same either way.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let (mut one, mut two) = (Tree::new(), Tree::new());
    /// two.seal_on_two_threads(true);
    /// let ops: Vec<Operation> = (0u32..5000).map(|i| Operation::insert(i.to_be_bytes(), b"v")).collect();
    /// assert_eq!(one.apply(&ops)?, two.apply(&ops)?);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn seal_on_two_threads(&mut self, on: bool) {
        self.split_seal = on.then_some(SPLIT_SEAL_MIN);
    }

    /// The root digest of the committed state.
    pub fn root(&self) -> RootDigest {
        self.root
    }

    /// Number of entries (keys) in the committed state; kept in each version record, so it
    /// costs nothing on a persistent tree.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// assert!(tree.is_empty());
    /// tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])?;
    /// assert_eq!(tree.len(), 2);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the committed state has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks the whole committed tree: every label recomputed, AVL balance and balance
    /// fields, key order, the next-key chain, routing keys and the root height. For a
    /// persistent tree, also the store: every kept version is audited, every record a kept
    /// version reaches is present, no other record is, the identity matches, and the window
    /// and version records agree with them.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])?;
    /// assert_eq!(tree.audit()?.leaves, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn audit(&self) -> Result<crate::Audit, crate::AuditError> {
        let mut audit = self.structure()?;
        if let Some(disk) = &self.disk {
            let audit_of = |v| {
                let snapshot = self.snapshot(v)?;
                Ok((snapshot.tree.structure()?, snapshot.root()))
            };
            let window = (disk.oldest, self.version);
            let backend = disk.backend.as_ref();
            audit.records = records::<H>(backend, window, self.limits, audit_of)?;
        }
        Ok(audit)
    }

    /// The audit of the tree's structure.
    fn structure(&self) -> Result<crate::Audit, crate::AuditError> {
        let committed = Committed {
            nodes: &self.nodes,
            pool: &self.pool,
            disk: self.disk.as_deref().map(|d| (d, self.limits)),
        };
        crate::audit::structure::<H, Packed, _>(&committed, &self.state, &self.root)
    }

    /// Slots in the arena that hold a node of the tree (the rest are free).
    pub(crate) fn live_nodes(&self) -> usize {
        self.nodes.len().saturating_sub(self.free.len())
    }

    /// Strings (keys and values) in the pool (the rest of its slots are free).
    #[cfg(test)]
    fn live_strings(&self) -> usize {
        let p = &self.pool;
        (p.short.len().saturating_add(p.long.len()))
            .saturating_sub(p.free_short.len().saturating_add(p.free_long.len()))
    }

    /// Bytes the tree holds: node slots, mark slots and strings, free ones included.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes
            .bytes()
            .saturating_add(self.disk.as_ref().map_or(0, |d| d.versions.bytes()))
            .saturating_add(self.marks.capacity().saturating_mul(2))
            .saturating_add(self.free.capacity().saturating_mul(4))
            .saturating_add(self.pool.bytes())
    }
}
