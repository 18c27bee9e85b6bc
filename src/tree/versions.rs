//! Kept versions: loading one from the store, rolling the head back, and read-only
//! snapshots that answer while the tree goes on committing.

use super::*;

impl<H: TreeHasher> Tree<H> {
    /// Replaces the tree in memory by version `v` as stored: its root record is read and
    /// checked, and the tree starts from its stub.
    pub(super) fn load_version(&mut self, v: u64) -> Result<(), TreeError> {
        let records = self.source().ok_or(TreeError::NotPersistent)?;
        let record = layout::read_version(records.backend, v)?;
        let root_key = record.root_key::<H>();
        if let Some(key) = &root_key {
            // Checked now, and cached for the first batch or read.
            records.with::<H, _>(key, |_, _| ())?;
        }
        let disk = self.disk.as_mut().ok_or(TreeError::NotPersistent)?;
        let (mut nodes, mut versions, mut root) = (Chunks::default(), Chunks::default(), None);
        if let Some(key) = root_key {
            nodes.push(stub(key.label));
            versions.push(key.version);
            root = NodeId::node(0);
        }
        disk.stubs = nodes.len();
        disk.versions = versions;
        self.state = State {
            root,
            height: record.root.height,
        };
        self.nodes = nodes;
        self.pool = Pool::default();
        self.free = Vec::new();
        self.marks = Vec::new();
        self.root = record.root;
        self.version = v;
        self.len = record.len;
        self.generation = self.generation.wrapping_add(1);
        Ok(())
    }

    /// The store, if version `v` is one it keeps.
    pub(super) fn kept(&self, v: u64) -> Result<&Disk, TreeError> {
        let disk = self.disk.as_deref().ok_or(TreeError::NotPersistent)?;
        if v < disk.oldest || v > self.version {
            return Err(StoreError::NoSuchVersion(v).into());
        }
        Ok(disk)
    }

    /// The versions that can be read and rolled back to, oldest first (`None` in memory).
    pub fn kept_versions(&self) -> Option<core::ops::RangeInclusive<u64>> {
        self.disk.as_ref().map(|d| d.oldest..=self.version)
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
        self.kept(v)?;
        let disk = self.disk.as_mut().ok_or(TreeError::NotPersistent)?;
        if v == self.version {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        layout::discard_after(&mut batch, v, self.version);
        let window = layout::Window {
            oldest: disk.oldest,
            head: v,
        };
        layout::write_window(&mut batch, window);
        disk.backend.write(batch, true)?;
        disk.recent.discard_after(v);
        self.load_version(v)
    }

    /// A read-only view of kept version `v` that answers lookups and what-if proofs while
    /// this tree goes on committing. It loads nodes through its own cache.
    ///
    /// A snapshot reads records of its version, which stay in the store until the version
    /// leaves the kept window; reading an expired snapshot fails with
    /// [`StoreError::Missing`].
    pub fn snapshot(&self, v: u64) -> Result<Snapshot<H>, TreeError> {
        let disk = self.kept(v)?;
        let mut tree = Self::persistent(Arc::clone(&disk.backend), disk.config, disk.oldest);
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
    pub(super) tree: Tree<H>,
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

    /// The entries with keys in `range`, streamed.
    pub fn range<K: AsRef<[u8]>, R: core::ops::RangeBounds<K>>(&self, range: R) -> Entries<'_, H> {
        self.tree.range(range)
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

    /// Checks this version's structure (labels, balance, order, next keys, routes, height).
    pub fn audit(&self) -> Result<crate::audit::Audit, crate::audit::AuditError> {
        self.tree.structure()
    }
}
