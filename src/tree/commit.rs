//! Committing a batch as the next version: new node records, the version record, the window
//! and the expiry of versions leaving the window, in one atomic write; and staged commits,
//! whose write the caller owns.

use std::sync::atomic::Ordering;

use super::{BatchProof, Tree};
use crate::error::TreeError;
use crate::hash::{RootDigest, TreeHasher};
use crate::node::{seal, Link};
use crate::ops::{OpResult, Operation, Outcome, State};
use crate::prover::{node_bytes, retained, LabelSet, Record, Touched};
use crate::store::collect;
use crate::store::layout::{self, NodeKey, VersionRecord};
use crate::store::record::node_value;
use crate::store::{Table, WriteBatch};

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
    prepared: Prepared,
}

/// The writes of an in-memory tree's staged batch.
static NO_WRITES: WriteBatch = WriteBatch { ops: Vec::new() };

impl StagedBatch {
    /// The results, proof and roots the batch will have once committed.
    pub fn proof(&self) -> &BatchProof {
        &self.batch
    }

    /// The store writes that commit it, to be applied atomically (empty for an in-memory
    /// tree).
    pub fn writes(&self) -> &WriteBatch {
        self.prepared.batch.as_ref().unwrap_or(&NO_WRITES)
    }
}

impl<H: TreeHasher> Tree<H> {
    /// Labels `state`'s new nodes as version `self.version + 1`, writes them, the version
    /// record, the window and the collection of expired versions in one atomic batch,
    /// then makes `state` the tree's.
    pub(super) fn commit(
        &mut self,
        state: State,
        touched: &Touched,
        results: &[OpResult],
    ) -> Result<RootDigest, TreeError> {
        let mut prepared = self.prepare(state, touched, results)?;
        if let (Some(p), Some(batch)) = (&self.store, prepared.batch.take()) {
            let sync = p.config.durability == crate::store::Durability::Sync;
            p.backend.write(batch, sync)?;
        }
        Ok(self.finish(prepared))
    }

    /// Everything a commit of `state` as the next version needs, computed without changing
    /// the tree or the store.
    fn prepare(
        &self,
        mut state: State,
        touched: &Touched,
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
        let (oldest, expired) = collect::advance_window::<H>(
            p.backend.as_ref(),
            &mut batch,
            (&p.config, &p.recent, p.oldest),
            version,
            &stale,
        )?;
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
            prepared,
        })
    }

    fn check_staged(&self, staged: &StagedBatch) -> Result<(), TreeError> {
        if staged.prepared.base != (self.version, self.root) {
            return Err(TreeError::StagedOutOfDate);
        }
        Ok(())
    }

    /// Writes a staged batch (synced per [`StoreConfig::durability`](crate::store::StoreConfig::durability)) and makes it the
    /// tree's head; [`TreeError::StagedOutOfDate`] if the tree moved since it was staged.
    pub fn commit_staged(&mut self, mut staged: StagedBatch) -> Result<BatchProof, TreeError> {
        self.check_staged(&staged)?;
        if let (Some(p), Some(batch)) = (&self.store, staged.prepared.batch.take()) {
            let sync = p.config.durability == crate::store::Durability::Sync;
            p.backend.write(batch, sync)?;
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
}
