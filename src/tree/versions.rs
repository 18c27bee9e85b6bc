//! Kept versions: rolling the head back, and read-only snapshots that answer while the
//! tree goes on committing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{BatchProof, Entries, Persist, Tree};
use crate::error::TreeError;
use crate::hash::{RootDigest, Sha256, TreeHasher};
use crate::node::Bytes;
use crate::ops::Operation;
use crate::store::layout::{self, Window};
use crate::store::{collect, StoreError, WriteBatch};

impl<H: TreeHasher> Tree<H> {
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
        crate::audit::structure::<H, _, _>(
            &self.tree.source(),
            &self.tree.current(),
            &self.tree.root,
        )
    }
}
