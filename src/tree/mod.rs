//! The prover's handle: a tree in memory or in a store, batches with proofs and what-if
//! proofs, and an audit. Each of its other jobs has a file of its own:
//!
//! - `commit.rs`: committing a batch as a version, expiry of old versions, staged commits;
//! - `reads.rs`: lookups and ordered iteration without proofs;
//! - `versions.rs`: rollback and read-only snapshots of kept versions;
//! - `budget.rs`: dropping loaded nodes beyond the memory budget;
//! - `store_audit.rs`: the audit of a store's records and bookkeeping.

mod budget;
mod commit;
mod reads;
pub(crate) mod store_audit;
mod versions;

pub(crate) use budget::keep_depth;
pub use commit::StagedBatch;
pub use reads::Entries;
pub(crate) use reads::{yielded, KeyRange};
pub use versions::Snapshot;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

pub use crate::error::TreeError;
use crate::hash::{RootDigest, Sha256, TreeHasher};
use crate::node::{seal, Link};
use crate::ops::{apply, OpResult, Operation, SizeLimits, State};
use crate::proof::{encode, Proof};
use crate::prover::{Prover, Record, Source};
use crate::store::collect;
use crate::store::layout;
use crate::store::{StoreBackend, StoreConfig};

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

/// A persistent tree's store and bookkeeping.
struct Persist {
    backend: Arc<dyn StoreBackend>,
    config: StoreConfig,
    oldest: u64,
    /// Approximate bytes of materialized nodes.
    loaded: Arc<AtomicUsize>,
    /// What this tree's own recent commits made stale (for the collector).
    recent: collect::Recent,
}

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
    /// The committed state. Behind a lock only so that read paths (`&self`) can drop loaded
    /// nodes beyond the memory budget when they are done; `&mut self` paths use `get_mut`.
    state: RwLock<State>,
    root: RootDigest,
    version: u64,
    /// Entries in the committed state.
    len: u64,
    store: Option<Persist>,
    limits: SizeLimits,
    hasher: PhantomData<fn() -> H>,
}

impl<H: TreeHasher> core::fmt::Debug for Tree<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tree")
            .field("root", &self.root)
            .field("version", &self.version)
            .field("hash", &H::NAME)
            .field("persistent", &self.store.is_some())
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
            state: RwLock::new(State::default()),
            root: RootDigest::empty::<H>(),
            version: 0,
            len: 0,
            store: None,
            limits: SizeLimits::DEFAULT,
            hasher: PhantomData,
        }
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

    fn persistent(backend: Arc<dyn StoreBackend>, config: StoreConfig) -> Self {
        Tree {
            store: Some(Persist {
                backend,
                config,
                oldest: 0,
                loaded: Arc::new(AtomicUsize::new(0)),
                recent: collect::Recent::default(),
            }),
            limits: config.limits,
            ..Self::empty()
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
        Ok(Self::persistent(backend, config))
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
        let mut tree = Self::persistent(backend, config);
        tree.load_version(window.head)?;
        if let Some(p) = &mut tree.store {
            p.oldest = window.oldest;
        }
        Ok(tree)
    }

    /// Replaces the in-memory state by version `v` as stored, loading its root only.
    fn load_version(&mut self, v: u64) -> Result<(), TreeError> {
        let p = self.store.as_ref().ok_or(TreeError::NotPersistent)?;
        let record = layout::read_version(p.backend.as_ref(), v)?;
        let root = match record.root_key::<H>() {
            None => None,
            Some(key) => Some(Link::Node(self.source().fetch::<H>(&key)?)),
        };
        *self.state_mut() = State {
            root,
            height: record.root.height,
        };
        self.root = record.root;
        self.version = v;
        self.len = record.len;
        Ok(())
    }

    /// The root digest of the committed state.
    pub fn root(&self) -> RootDigest {
        self.root
    }

    /// The committed version: 0 for a new tree, +1 per applied batch.
    pub fn version(&self) -> u64 {
        self.version
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

    /// The versions that can be read and rolled back to, oldest first (`None` in memory).
    pub fn kept_versions(&self) -> Option<core::ops::RangeInclusive<u64>> {
        self.store.as_ref().map(|p| p.oldest..=self.version)
    }

    /// The size limits in force.
    pub fn limits(&self) -> &SizeLimits {
        &self.limits
    }

    /// Approximate bytes of nodes held in memory (persistent trees; 0 in memory).
    pub fn loaded_bytes(&self) -> usize {
        self.store
            .as_ref()
            .map_or(0, |p| p.loaded.load(Ordering::Relaxed))
    }

    fn source(&self) -> Source<'_> {
        Source {
            backend: self.store.as_ref().map(|p| p.backend.as_ref()),
            limits: self.limits,
            loaded: self.store.as_ref().map(|p| p.loaded.as_ref()),
        }
    }

    /// A copy of the committed state (the root is shared, not copied).
    fn current(&self) -> State {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn state_mut(&mut self) -> &mut State {
        match self.state.get_mut() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn run(
        &self,
        pre: &State,
        ops: &[Operation],
        record: Record,
    ) -> Result<(State, Vec<OpResult>, Prover<'_, H>), TreeError> {
        for (index, op) in ops.iter().enumerate() {
            op.check(&self.limits)
                .map_err(|error| TreeError::Operation { index, error })?;
        }
        let mut state = pre.clone();
        let mut prover = Prover::new(self.source(), record, ops.len(), pre.height);
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            results.push(apply(&mut state, op, &mut prover)?);
        }
        Ok((state, results, prover))
    }

    fn proof(&self, pre: &State, prover: &mut Prover<'_, H>) -> Result<Proof, TreeError> {
        let directions = core::mem::take(&mut prover.directions).into_bytes();
        let bytes = encode(pre.root.as_ref(), &directions, prover)?;
        Ok(Proof::from_bytes(bytes))
    }

    /// Applies a batch: every operation in order, one proof for all of them, the new root,
    /// committed as the next version.
    ///
    /// Operations that fail ([`Failure`](crate::Failure)) leave the tree unchanged and are
    /// still proven. An `Err` means nothing was applied.
    pub fn apply(&mut self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let staged = self.stage(ops)?;
        self.commit_staged(staged)
    }

    /// Applies a batch without building a proof (a full node replaying blocks).
    pub fn apply_unproven(&mut self, ops: &[Operation]) -> Result<Vec<OpResult>, TreeError> {
        let record = Record {
            touched: self.store.is_some(),
            proof: false,
        };
        let pre = self.current();
        let (state, results, mut prover) = self.run(&pre, ops, record)?;
        let touched = core::mem::take(&mut prover.touched);
        drop(prover);
        drop(pre);
        self.commit(state, &touched, &results)?;
        Ok(results)
    }

    /// Proves a batch without applying it ("what if"). The tree, its root and every later
    /// proof are exactly as if this call never happened; `&self` guarantees it.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1")])?;
    /// let before = tree.root();
    /// let what_if = tree.prove(&[Operation::remove(b"a")])?;
    /// assert_eq!(tree.root(), before);
    /// assert_ne!(what_if.new_root, before);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn prove(&self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let record = Record {
            touched: true,
            proof: true,
        };
        let pre = self.current();
        let (mut state, results, mut prover) = self.run(&pre, ops, record)?;
        let proof = self.proof(&pre, &mut prover)?;
        drop(prover);
        drop(pre);
        let label = match &mut state.root {
            Some(root) => seal::<H>(root, 0, &mut |_, _| {}),
            None => H::empty(),
        };
        let height = state.height;
        drop(state);
        self.melt();
        Ok(BatchProof {
            results,
            proof,
            old_root: self.root,
            new_root: RootDigest { label, height },
            version: self.version.saturating_add(1),
        })
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
    pub fn audit(&self) -> Result<crate::audit::Audit, crate::audit::AuditError> {
        let pre = self.current();
        let mut audit = crate::audit::structure::<H, _, _>(&self.source(), &pre, &self.root)?;
        if let Some(p) = &self.store {
            audit.records = store_audit::store::<H>(self, p.backend.as_ref(), p.oldest)?;
        }
        Ok(audit)
    }
}
