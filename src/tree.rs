//! The prover's handle: a tree in memory or in a store, batches with proofs, what-if proofs,
//! versions, rollback, read-only snapshots, a memory budget and an audit.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::hash::{RootDigest, Sha256, TreeHasher};
use crate::node::{seal, Bytes, Kind, Link};
use crate::ops::{apply, OpResult, Operation, OperationError, Outcome, SizeLimits, State};
use crate::proof::{encode, Proof};
use crate::prover::{node_bytes, retained, LabelSet, Prover, Record, Source};
use crate::store::codec::node_value;
use crate::store::collect;
use crate::store::layout::{self, NodeKey, VersionRecord, Window};
use crate::store::{StoreBackend, StoreConfig, StoreError, Table, WriteBatch};
use crate::zipper::Fault;

/// Why a prover call failed. The tree is unchanged after any error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeError {
    /// Operation `index` breaks the size limits; nothing was applied.
    Operation {
        /// Position in the batch.
        index: usize,
        /// What is wrong with it.
        error: OperationError,
    },
    /// The store failed, or returned a missing or corrupt record.
    Store(StoreError),
    /// A walk reached a leaf that does not bracket its key (a corrupted routing key).
    Misrouted,
    /// The tree's structure is inconsistent.
    Malformed,
    /// The call needs a store (versions, rollback, snapshots) and the tree has none.
    NotPersistent,
    /// A staged batch was computed on another version than the tree's head.
    StagedOutOfDate,
}

impl From<StoreError> for TreeError {
    fn from(e: StoreError) -> Self {
        TreeError::Store(e)
    }
}

impl From<Fault> for TreeError {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Misrouted => TreeError::Misrouted,
            _ => TreeError::Malformed,
        }
    }
}

impl core::fmt::Display for TreeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TreeError::Operation { index, error } => write!(f, "operation {index}: {error}"),
            TreeError::Store(e) => write!(f, "{e}"),
            TreeError::Misrouted => {
                f.write_str("walk reached a leaf that does not bracket its key")
            }
            TreeError::Malformed => f.write_str("tree structure is inconsistent"),
            TreeError::NotPersistent => f.write_str("the tree has no store"),
            TreeError::StagedOutOfDate => {
                f.write_str("the staged batch was computed on another version")
            }
        }
    }
}

impl std::error::Error for TreeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TreeError::Store(e) => Some(e),
            TreeError::Operation { error, .. } => Some(error),
            _ => None,
        }
    }
}

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

/// A commit computed but not yet made (see `Tree::prepare`).
#[derive(Debug)]
struct Prepared {
    /// The version and root it was computed on.
    base: (u64, RootDigest),
    state: State,
    root: RootDigest,
    len: u64,
    version: u64,
    /// The store writes (persistent trees).
    batch: Option<WriteBatch>,
    oldest: u64,
    /// What this commit makes stale, for the collector of a later commit.
    stale: Vec<NodeKey>,
    /// Versions whose stale lists this commit's expiry used.
    expired: Vec<u64>,
    new_bytes: usize,
}

/// A batch run, proven and ready to commit ([`Tree::stage`]); dropping it commits nothing.
#[derive(Debug)]
pub struct StagedBatch {
    batch: BatchProof,
    writes: WriteBatch,
    prepared: Prepared,
}

impl StagedBatch {
    /// The results, proof and roots the batch will have once committed.
    pub fn proof(&self) -> &BatchProof {
        &self.batch
    }

    /// The store writes that commit it, to be applied atomically (empty for an in-memory
    /// tree).
    pub fn writes(&self) -> &WriteBatch {
        &self.writes
    }
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
    /// [`StoreError::AlreadyExists`] if the back end holds anything, changing nothing.
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
        if !layout::is_empty(backend.as_ref())? {
            return Err(StoreError::AlreadyExists.into());
        }
        let mut batch = WriteBatch::default();
        layout::write_identity(&mut batch, &layout::Identity::new::<H>(config.limits));
        layout::write_version(
            &mut batch,
            0,
            &VersionRecord {
                root: RootDigest::empty::<H>(),
                root_record: 0,
                len: 0,
            },
        );
        layout::write_window(&mut batch, Window { oldest: 0, head: 0 });
        backend.write(batch, true)?;
        Ok(Self::persistent(backend, config))
    }

    /// Opens the store in `backend` at its head version. Only the root node is read; the
    /// rest is loaded as operations reach it.
    ///
    /// Nothing is written. The store must have been made by [`Tree::create_store`] with the
    /// same hash and `config.limits` (else [`StoreError::NotAStore`],
    /// [`StoreError::HasherMismatch`], [`StoreError::LimitsMismatch`] or
    /// [`StoreError::UnsupportedFormat`]), and its bookkeeping must be intact and consistent:
    /// the window of kept versions, one checked version record for each and none outside
    /// it, each kept root record present and the head's hashing to its label, and no node
    /// record newer than the head ([`StoreError::BadRecord`], [`StoreError::Inconsistent`],
    /// [`StoreError::Missing`], [`StoreError::Corrupt`]).
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
        layout::read_identity(backend.as_ref())?.admit::<H>(&config.limits)?;
        let (window, _) = layout::check_bookkeeping::<H>(backend.as_ref())?;
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
        let bytes = encode::<H, _>(pre.root.as_ref(), &directions, prover)?;
        Ok(Proof::from_bytes(bytes))
    }

    /// Applies a batch: every operation in order, one proof for all of them, the new root,
    /// committed as the next version.
    ///
    /// Operations that fail ([`Failure`](crate::Failure)) leave the tree unchanged and are
    /// still proven. An `Err` means nothing was applied.
    pub fn apply(&mut self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let record = Record {
            touched: true,
            proof: true,
        };
        let pre = self.current();
        let (state, results, mut prover) = self.run(&pre, ops, record)?;
        let proof = self.proof(&pre, &mut prover)?;
        let touched = core::mem::take(&mut prover.touched);
        drop(prover);
        drop(pre);
        let old_root = self.root;
        let new_root = self.commit(state, &touched, &results)?;
        Ok(BatchProof {
            results,
            proof,
            old_root,
            new_root,
            version: self.version,
        })
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

    /// Labels `state`'s new nodes as version `self.version + 1`, writes them, the version
    /// record, the window and the collection of expired versions in one atomic batch,
    /// then makes `state` the tree's.
    fn commit(
        &mut self,
        state: State,
        touched: &crate::prover::Touched,
        results: &[OpResult],
    ) -> Result<RootDigest, TreeError> {
        let prepared = self.prepare(state, touched, results)?;
        if let (Some(p), Some(batch)) = (&self.store, &prepared.batch) {
            let sync = p.config.durability == crate::store::Durability::Sync;
            p.backend.write(batch.clone(), sync)?;
        }
        Ok(self.finish(prepared))
    }

    /// Everything a commit of `state` as the next version needs, computed without changing
    /// the tree or the store.
    fn prepare(
        &self,
        mut state: State,
        touched: &crate::prover::Touched,
        results: &[OpResult],
    ) -> Result<Prepared, TreeError> {
        let version = self.version.checked_add(1).ok_or(TreeError::Malformed)?;
        let mut len = self.len;
        for r in results {
            match r {
                Ok(Outcome::Inserted) => len = len.checked_add(1).ok_or(TreeError::Malformed)?,
                Ok(Outcome::Removed) => len = len.checked_sub(1).ok_or(TreeError::Malformed)?,
                _ => {}
            }
        }
        let persistent = self.store.is_some();
        let mut records = Vec::new();
        let mut new_bytes = 0usize;
        let mut complete = true;
        let label = match &mut state.root {
            Some(root) => seal::<H>(root, version, &mut |node, label| {
                if persistent {
                    new_bytes = new_bytes.saturating_add(node_bytes(node));
                    let key = NodeKey {
                        version,
                        label: *label,
                    };
                    match node_value(&key, node) {
                        Some(bytes) => records.push((key, bytes)),
                        None => complete = false,
                    }
                }
            }),
            None => H::empty(),
        };
        if !complete {
            return Err(TreeError::Malformed);
        }
        let root = RootDigest {
            label,
            height: state.height,
        };
        let mut prepared = Prepared {
            base: (self.version, self.root),
            state,
            root,
            len,
            version,
            batch: None,
            oldest: 0,
            stale: Vec::new(),
            expired: Vec::new(),
            new_bytes,
        };
        let Some(p) = &self.store else {
            return Ok(prepared);
        };
        let state = &prepared.state;
        let mut batch = WriteBatch::default();
        for (key, bytes) in records {
            batch.put(Table::Nodes, key.encode(), bytes);
        }
        let root_record = state.root.as_ref().map_or(0, Link::version);
        layout::write_version(
            &mut batch,
            version,
            &VersionRecord {
                root,
                root_record,
                len,
            },
        );
        // What this commit makes stale: pre-state nodes the batch read (each loaded and
        // checked) that the new tree no longer reaches.
        let mut kept = LabelSet::default();
        if let Some(link) = &state.root {
            retained(link, version, touched, &mut kept);
        }
        let stale: Vec<NodeKey> = touched
            .iter()
            .filter(|(label, _)| !kept.contains(*label))
            .map(|(label, v)| NodeKey {
                version: *v,
                label: *label,
            })
            .collect();
        let mut oldest = p.oldest;
        let keep = p.config.keep_versions.max(1);
        let mut expired = Vec::new();
        while version.saturating_sub(oldest) >= keep
            && (expired.len() as u64) < p.config.max_expire_per_commit
        {
            let next = oldest.saturating_add(1);
            let known = if next == version {
                collect::Known::Stale(stale.clone())
            } else {
                match p.recent.get(next) {
                    Some(list) => collect::Known::Stale(list.clone()),
                    None => collect::Known::Nothing,
                }
            };
            collect::expire::<H>(p.backend.as_ref(), &mut batch, oldest, known, &self.limits)?;
            expired.push(next);
            oldest = next;
        }
        layout::write_window(
            &mut batch,
            Window {
                oldest,
                head: version,
            },
        );
        prepared.batch = Some(batch);
        prepared.oldest = oldest;
        prepared.stale = stale;
        prepared.expired = expired;
        Ok(prepared)
    }

    /// Makes a prepared commit the tree's (its writes are durable).
    fn finish(&mut self, prepared: Prepared) -> RootDigest {
        let Prepared {
            state,
            root,
            len,
            version,
            oldest,
            stale,
            expired,
            new_bytes,
            ..
        } = prepared;
        if let Some(p) = &mut self.store {
            for w in expired {
                p.recent.take(w);
            }
            p.recent.insert(version, stale);
            p.loaded.fetch_add(new_bytes, Ordering::Relaxed);
            p.oldest = oldest;
        }
        *self.state_mut() = state;
        self.len = len;
        self.root = root;
        self.version = version;
        self.melt();
        root
    }

    /// Runs and proves a batch and prepares its commit without committing it: the caller
    /// owns the commit. A full node writes [`StagedBatch::writes`] in the same atomic write
    /// as its own block data (its back end then maps the tables into its own database) and
    /// calls [`Tree::adopt_staged`]; or it lets the tree write them with
    /// [`Tree::commit_staged`]; or it drops the staged batch, and nothing happened.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use avlplus::{store::{MemoryStore, StoreBackend, StoreConfig}, Operation, Tree};
    /// let store = Arc::new(MemoryStore::new());
    /// let mut tree: Tree = Tree::create_store(store.clone(), StoreConfig::default())?;
    /// let staged = tree.stage(&[Operation::insert(b"a", b"1")])?;
    /// assert_eq!(tree.version(), 0); // nothing committed yet
    /// let mut writes = staged.writes().clone();
    /// // ... add the node's own block data to the same atomic write here ...
    /// store.write(writes, true)?;
    /// let batch = tree.adopt_staged(staged)?;
    /// assert_eq!((tree.version(), tree.root()), (1, batch.new_root));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stage(&self, ops: &[Operation]) -> Result<StagedBatch, TreeError> {
        let record = Record {
            touched: true,
            proof: true,
        };
        let pre = self.current();
        let (state, results, mut prover) = self.run(&pre, ops, record)?;
        let proof = self.proof(&pre, &mut prover)?;
        let touched = core::mem::take(&mut prover.touched);
        drop(prover);
        drop(pre);
        let prepared = self.prepare(state, &touched, &results)?;
        Ok(StagedBatch {
            batch: BatchProof {
                results,
                proof,
                old_root: self.root,
                new_root: prepared.root,
                version: prepared.version,
            },
            writes: prepared.batch.clone().unwrap_or_default(),
            prepared,
        })
    }

    fn check_staged(&self, staged: &StagedBatch) -> Result<(), TreeError> {
        if staged.prepared.base != (self.version, self.root) {
            return Err(TreeError::StagedOutOfDate);
        }
        Ok(())
    }

    /// Writes a staged batch (synced per [`StoreConfig::durability`]) and makes it the
    /// tree's head; [`TreeError::StagedOutOfDate`] if the tree moved since it was staged.
    pub fn commit_staged(&mut self, staged: StagedBatch) -> Result<BatchProof, TreeError> {
        self.check_staged(&staged)?;
        if let (Some(p), Some(batch)) = (&self.store, &staged.prepared.batch) {
            let sync = p.config.durability == crate::store::Durability::Sync;
            p.backend.write(batch.clone(), sync)?;
        }
        self.finish(staged.prepared);
        Ok(staged.batch)
    }

    /// Makes a staged batch the tree's head after the caller wrote
    /// [`StagedBatch::writes`] to the store itself (durably, all at once).
    /// [`TreeError::StagedOutOfDate`] if the tree moved since it was staged.
    pub fn adopt_staged(&mut self, staged: StagedBatch) -> Result<BatchProof, TreeError> {
        self.check_staged(&staged)?;
        self.finish(staged.prepared);
        Ok(staged.batch)
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

    /// Reads a value without a proof: one walk down the routing keys, loading what it
    /// reaches (and keeping within the memory budget).
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1")])?;
    /// assert_eq!(tree.get(b"a")?.as_deref(), Some(&b"1"[..]));
    /// assert_eq!(tree.get(b"b")?, None);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TreeError> {
        let found = self.lookup(key);
        self.melt();
        found
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1")])?;
    /// assert!(tree.contains_key(b"a")? && !tree.contains_key(b"b")?);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn contains_key(&self, key: &[u8]) -> Result<bool, TreeError> {
        Ok(self.get(key)?.is_some())
    }

    fn lookup(&self, key: &[u8]) -> Result<Option<Bytes>, TreeError> {
        if key.len() > self.limits.max_key_len {
            return Ok(None);
        }
        let pre = self.current();
        let Some(mut link) = pre.root.clone() else {
            return Ok(None);
        };
        let source = self.source();
        let mut depth = 0usize;
        let mut all_left = true;
        loop {
            let node = source.node::<H>(&link)?;
            match &node.kind {
                Kind::Internal(i) => {
                    let route = i.route.get().ok_or(TreeError::Malformed)?;
                    link = if key < route {
                        i.left.clone()
                    } else {
                        all_left = false;
                        i.right.clone()
                    };
                    depth = depth.saturating_add(1);
                    if depth > usize::from(pre.height) {
                        return Err(TreeError::Malformed);
                    }
                }
                Kind::Leaf(l) => {
                    if &*l.key == key {
                        return Ok(Some(l.value.bytes().ok_or(TreeError::Malformed)?.clone()));
                    }
                    // Absent if the leaf brackets the key (leaf < key < next), or if the key
                    // is before the first leaf (reached by going left all the way); anything
                    // else means a routing key sent the walk astray.
                    let bracketed = &*l.key < key && l.next.as_deref().is_none_or(|n| key < n);
                    let before_first = key < &*l.key && all_left;
                    return if bracketed || before_first {
                        Ok(None)
                    } else {
                        Err(TreeError::Misrouted)
                    };
                }
            }
        }
    }

    /// Every entry in key order, as one vector. Nodes are read without being kept, so the
    /// memory budget holds; for large trees prefer [`Tree::iter`], which streams.
    pub fn entries(&self) -> Result<Vec<(Bytes, Bytes)>, TreeError> {
        self.iter().collect()
    }

    /// The entries in key order, streamed: nodes the walk reads are not kept (beyond those
    /// already loaded), so memory stays within the budget plus one path.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"b", b"2"), Operation::insert(b"a", b"1")])?;
    /// let keys: Vec<_> = tree.iter().map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![b"a"[..].into(), b"b"[..].into()]);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn iter(&self) -> Entries<'_, H> {
        self.range::<&[u8], _>(..)
    }

    /// The entries with keys in `range`, in key order, streamed like [`Tree::iter`].
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// let ops: Vec<_> = (0u8..10).map(|i| Operation::insert([i], [i])).collect();
    /// tree.apply(&ops)?;
    /// let keys: Vec<u8> = tree.range(&[3u8][..]..&[6u8][..]).map(|e| e.map(|(k, _)| k[0])).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![3, 4, 5]);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn range<K: AsRef<[u8]>, R: core::ops::RangeBounds<K>>(&self, range: R) -> Entries<'_, H> {
        use core::ops::Bound;
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let pre = self.current();
        Entries {
            source: self.source(),
            stack: pre.root.into_iter().collect(),
            start: own(range.start_bound()),
            end: own(range.end_bound()),
            done: false,
            hasher: PhantomData,
        }
    }

    /// Rolls the head back to kept version `v`: later versions are discarded from the store
    /// in one atomic batch, and the tree continues from `v`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use avlplus::{store::{MemoryStore, StoreConfig}, Operation, Tree};
    /// let mut tree: Tree = Tree::create_store(Arc::new(MemoryStore::new()), StoreConfig::default())?;
    /// let first = tree.apply(&[Operation::insert(b"a", b"1")])?;
    /// tree.apply(&[Operation::insert(b"b", b"2")])?;
    /// tree.rollback(first.version)?;
    /// assert_eq!(tree.root(), first.new_root);
    /// assert_eq!(tree.get(b"b")?, None);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn rollback(&mut self, v: u64) -> Result<(), TreeError> {
        let p = self.store.as_ref().ok_or(TreeError::NotPersistent)?;
        if v < p.oldest || v > self.version {
            return Err(StoreError::NoSuchVersion(v).into());
        }
        if v == self.version {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        layout::discard_after(&mut batch, v, self.version);
        layout::write_window(
            &mut batch,
            Window {
                oldest: p.oldest,
                head: v,
            },
        );
        p.backend.write(batch, true)?;
        p.loaded.store(0, Ordering::Relaxed);
        if let Some(p) = &mut self.store {
            p.recent.discard_after(v);
        }
        self.load_version(v)
    }

    /// A read-only view of kept version `v` that answers lookups and what-if proofs while
    /// this tree goes on committing. It loads nodes through its own cache.
    ///
    /// A snapshot reads records of its version, which stay in the store until the version
    /// leaves the kept window; reading an expired snapshot fails with
    /// [`StoreError::Missing`].
    pub fn snapshot(&self, v: u64) -> Result<Snapshot<H>, TreeError> {
        let p = self.store.as_ref().ok_or(TreeError::NotPersistent)?;
        if v < p.oldest || v > self.version {
            return Err(StoreError::NoSuchVersion(v).into());
        }
        let mut tree = Tree {
            store: Some(Persist {
                backend: Arc::clone(&p.backend),
                config: p.config,
                oldest: p.oldest,
                loaded: Arc::new(AtomicUsize::new(0)),
                recent: collect::Recent::default(),
            }),
            limits: self.limits,
            ..Self::empty()
        };
        tree.load_version(v)?;
        Ok(Snapshot { tree })
    }

    /// Drops materialized nodes back to hash references when over the memory budget: the top
    /// levels that fit in half the budget stay, everything deeper goes.
    fn melt(&self) {
        let Some(p) = &self.store else { return };
        let budget = p.config.memory_budget;
        if p.loaded.load(Ordering::Relaxed) <= budget {
            return;
        }
        // A reader on another thread holds the state: it melts when it is done.
        let Ok(mut state) = self.state.try_write() else {
            return;
        };
        let Some(root) = &mut state.root else {
            return;
        };
        let mut per_depth = Vec::new();
        measure(root, 0, &mut per_depth);
        let mut keep_depth = 0;
        let mut total = 0usize;
        for (depth, bytes) in per_depth.iter().enumerate() {
            total = total.saturating_add(*bytes);
            if total > budget / 2 {
                break;
            }
            keep_depth = depth;
        }
        let kept = evict(root, 0, keep_depth);
        p.loaded.store(kept, Ordering::Relaxed);
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
        let mut audit = crate::audit::structure::<H>(&self.source(), &pre, &self.root)?;
        if let Some(p) = &self.store {
            audit.records = crate::audit::store::<H>(self, p.backend.as_ref(), p.oldest)?;
        }
        Ok(audit)
    }
}

/// Bytes of materialized nodes per depth.
fn measure(link: &Link, depth: usize, per_depth: &mut Vec<usize>) {
    let node = match link {
        Link::Node(n) => n,
        Link::Stub(s) => match s.cached() {
            Some(n) => n,
            None => return,
        },
        Link::Hole => return,
    };
    if per_depth.len() <= depth {
        per_depth.resize(depth.saturating_add(1), 0);
    }
    if let Some(slot) = per_depth.get_mut(depth) {
        *slot = slot.saturating_add(node_bytes(node));
    }
    if let Kind::Internal(i) = &node.kind {
        measure(&i.left, depth.saturating_add(1), per_depth);
        measure(&i.right, depth.saturating_add(1), per_depth);
    }
}

/// Replaces every materialized node deeper than `keep_depth` by a bare reference; returns the
/// bytes still materialized. Nodes shared with another owner are left alone.
fn evict(link: &mut Link, depth: usize, keep_depth: usize) -> usize {
    if depth > keep_depth {
        if let Some(label) = link.label() {
            let version = link.version();
            let was_loaded = !matches!(link, Link::Stub(s) if s.cached().is_none());
            if was_loaded {
                *link = Link::stub(label, version);
            }
        }
        return 0;
    }
    let node = match link {
        Link::Node(n) => Arc::get_mut(n),
        Link::Stub(s) => Arc::get_mut(s)
            .and_then(|s| s.cache.get_mut())
            .and_then(Arc::get_mut),
        Link::Hole => None,
    };
    let Some(node) = node else { return 0 };
    let own = node_bytes(node);
    match &mut node.kind {
        Kind::Leaf(_) => own,
        Kind::Internal(i) => {
            let below = depth.saturating_add(1);
            own.saturating_add(evict(&mut i.left, below, keep_depth))
                .saturating_add(evict(&mut i.right, below, keep_depth))
        }
    }
}

/// A read-only view of one kept version of a persistent tree; `Send` and `Sync`, so readers
/// on other threads can answer lookups and proofs while the writer commits.
///
/// ```
/// use std::sync::Arc;
/// use avlplus::{store::{MemoryStore, StoreConfig}, Operation, Tree};
/// let mut tree: Tree = Tree::create_store(Arc::new(MemoryStore::new()), StoreConfig::default())?;
/// let v1 = tree.apply(&[Operation::insert(b"a", b"1")])?.version;
/// tree.apply(&[Operation::update(b"a", b"2")])?;
/// let old = tree.snapshot(v1)?;
/// let reader = std::thread::spawn(move || old.get(b"a"));
/// assert_eq!(reader.join().unwrap()?.as_deref(), Some(&b"1"[..]));
/// # Ok::<(), avlplus::TreeError>(())
/// ```
#[derive(Debug)]
pub struct Snapshot<H: TreeHasher = Sha256> {
    tree: Tree<H>,
}

impl<H: TreeHasher> Snapshot<H> {
    /// The version this snapshot shows.
    pub fn version(&self) -> u64 {
        self.tree.version
    }
    /// Its root digest.
    pub fn root(&self) -> RootDigest {
        self.tree.root
    }
    /// Number of entries in this version.
    pub fn len(&self) -> u64 {
        self.tree.len
    }
    /// Whether this version has no entries.
    pub fn is_empty(&self) -> bool {
        self.tree.len == 0
    }
    /// Reads a value without a proof.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TreeError> {
        self.tree.get(key)
    }
    /// Proves a batch against this version without applying it (a historical query).
    pub fn prove(&self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        self.tree.prove(ops)
    }
    /// Every entry in key order.
    pub fn entries(&self) -> Result<Vec<(Bytes, Bytes)>, TreeError> {
        self.tree.entries()
    }
    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool, TreeError> {
        self.tree.contains_key(key)
    }
    /// The entries in key order, streamed.
    pub fn iter(&self) -> Entries<'_, H> {
        self.tree.iter()
    }
    /// The entries with keys in `range`, streamed.
    pub fn range<K: AsRef<[u8]>, R: core::ops::RangeBounds<K>>(&self, range: R) -> Entries<'_, H> {
        self.tree.range(range)
    }
    /// Checks this version's structure (labels, balance, order, next keys, routes, height).
    pub fn audit(&self) -> Result<crate::audit::Audit, crate::audit::AuditError> {
        crate::audit::structure::<H>(&self.tree.source(), &self.tree.current(), &self.tree.root)
    }
}

/// The entries of a tree or snapshot in key order ([`Tree::iter`], [`Tree::range`]): a
/// depth-first walk that reads nodes without keeping them and skips subtrees outside the
/// range by their routing keys. Yields an error (and then ends) if a node cannot be read.
pub struct Entries<'t, H: TreeHasher> {
    source: Source<'t>,
    stack: Vec<Link>,
    start: core::ops::Bound<Vec<u8>>,
    end: core::ops::Bound<Vec<u8>>,
    done: bool,
    hasher: PhantomData<fn() -> H>,
}

impl<H: TreeHasher> core::fmt::Debug for Entries<'_, H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entries")
            .field("pending", &self.stack.len())
            .finish()
    }
}

impl<H: TreeHasher> Entries<'_, H> {
    fn before_start(&self, key: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.start {
            Bound::Included(s) => key < s.as_slice(),
            Bound::Excluded(s) => key <= s.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn after_end(&self, key: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.end {
            Bound::Included(e) => key > e.as_slice(),
            Bound::Excluded(e) => key >= e.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn step(&mut self) -> Result<Option<(Bytes, Bytes)>, TreeError> {
        while let Some(link) = self.stack.pop() {
            let node = self.source.peek::<H>(&link)?;
            match &node.kind {
                Kind::Leaf(l) => {
                    if self.after_end(&l.key) {
                        self.stack.clear();
                        return Ok(None);
                    }
                    if self.before_start(&l.key) {
                        continue;
                    }
                    let value = l.value.bytes().ok_or(TreeError::Malformed)?;
                    return Ok(Some((l.key.clone(), value.clone())));
                }
                Kind::Internal(i) => {
                    let route = i.route.get().ok_or(TreeError::Malformed)?;
                    // Right subtree: keys >= route; left: keys < route.
                    if !self.after_end(route) {
                        self.stack.push(i.right.clone());
                    }
                    if !self.before_start_all_left(route) {
                        self.stack.push(i.left.clone());
                    }
                }
            }
        }
        Ok(None)
    }

    /// Whether every key below `route` (the left subtree's) is before the start.
    fn before_start_all_left(&self, route: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.start {
            // Left keys are < route; all of them are < s when route <= s.
            Bound::Included(s) | Bound::Excluded(s) => route <= s.as_slice(),
            Bound::Unbounded => false,
        }
    }
}

impl<H: TreeHasher> Iterator for Entries<'_, H> {
    type Item = Result<(Bytes, Bytes), TreeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
