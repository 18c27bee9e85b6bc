//! Reads without proofs: point lookups down the routing keys and ordered iteration, through
//! the nodes in memory and then the records below them (checked, and not kept in the tree);
//! the bounds of an iteration and the rule for its end.

use super::*;

impl<H: TreeHasher> Tree<H> {
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
        if key.len() > self.limits.max_key_len {
            return Ok(None);
        }
        let Some(mut id) = self.state.root else {
            return Ok(None);
        };
        let mut walk = Descent {
            depth: 0,
            height: usize::from(self.state.height),
            all_left: true,
        };
        let mut record = loop {
            let i = id.index().ok_or_else(|| TreeError::Malformed)?;
            let node = self.nodes.get(i).ok_or_else(|| TreeError::Malformed)?;
            if is_stub(node) {
                break NodeKey {
                    version: self.version_of(id),
                    label: node.label.committed(),
                };
            }
            match &node.kind {
                Kind::Internal(internal) => {
                    let left = internal
                        .route
                        .sends_left(key, |r| self.pool.get(r))
                        .ok_or_else(|| TreeError::Malformed)?;
                    walk.step(left)?;
                    id = if left { internal.left } else { internal.right };
                }
                Kind::Leaf(leaf) => {
                    let next = leaf.next.map(|n| self.pool.get(n));
                    let found = answer(key, self.pool.get(leaf.key), next, walk.all_left)?;
                    return Ok(found.then(|| self.pool.shared(leaf.value)));
                }
            }
        };
        let records = self.source().ok_or_else(|| TreeError::Malformed)?;
        loop {
            // The leaf's answer, or the step to the child the walk goes to.
            let went_left = walk.all_left;
            let read = |stored: Stored<'_>, _| match stored {
                Stored::Internal {
                    left: l,
                    right: r,
                    route,
                    ..
                } => {
                    let route = route.ok_or_else(|| TreeError::Malformed)?;
                    let left = crate::node::goes_left(key, route);
                    Ok(ControlFlow::Continue((left, if left { l } else { r })))
                }
                Stored::Leaf {
                    key: leaf,
                    next,
                    value,
                } => {
                    let found = answer(key, leaf, next, went_left)?;
                    Ok::<_, TreeError>(ControlFlow::Break(found.then(|| Bytes::from(value))))
                }
            };
            match records.with::<H, _>(&record, read)?? {
                ControlFlow::Break(found) => return Ok(found),
                ControlFlow::Continue((left, child)) => {
                    walk.step(left)?;
                    record = child;
                }
            }
        }
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
        Entries {
            tree: self,
            stack: self.state.root.map(Pending::Memory).into_iter().collect(),
            range: KeyRange::new(range),
            done: false,
        }
    }
}

/// A lookup's way down: its depth (at most the tree's height) and whether it went left at
/// every step so far.
pub(super) struct Descent {
    pub(super) depth: usize,
    pub(super) height: usize,
    pub(super) all_left: bool,
}

impl Descent {
    /// One step down, left if `left`; a walk deeper than the tree is malformed.
    pub(super) fn step(&mut self, left: bool) -> Result<(), TreeError> {
        self.all_left &= left;
        self.depth = self.depth.saturating_add(1);
        if self.depth > self.height {
            return Err(TreeError::Malformed);
        }
        Ok(())
    }
}

/// Whether the leaf a walk for `key` reached (its key `leaf`, next key `next`; `all_left`:
/// the walk went left at every step) holds `key`. `Ok(false)` if it brackets `key`
/// (`leaf < key < next`) or `key` is before the first leaf; anything else means a routing
/// key sent the walk astray ([`TreeError::Misrouted`]).
pub(super) fn answer(
    key: &[u8],
    leaf: &[u8],
    next: Option<&[u8]>,
    all_left: bool,
) -> Result<bool, TreeError> {
    if leaf == key {
        return Ok(true);
    }
    let bracketed = leaf < key && next.is_none_or(|n| key < n);
    let before_first = key < leaf && all_left;
    if bracketed || before_first {
        Ok(false)
    } else {
        Err(TreeError::Misrouted)
    }
}

/// A subtree an iteration has still to walk: in memory, or a record in the store.
#[derive(Clone, Copy, Debug)]
pub(super) enum Pending {
    Memory(NodeId),
    Stored(NodeKey),
}

/// The entries of a tree or snapshot in key order ([`Tree::iter`], [`Tree::range`]): a
/// depth-first walk that reads nodes without keeping them and skips subtrees outside the
/// range by their routing keys. Yields an error (and then ends) if a node cannot be read.
pub struct Entries<'t, H: TreeHasher> {
    pub(super) tree: &'t Tree<H>,
    pub(super) stack: Vec<Pending>,
    pub(super) range: KeyRange,
    pub(super) done: bool,
}

impl<H: TreeHasher> core::fmt::Debug for Entries<'_, H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entries")
            .field("pending", &self.stack.len())
            .finish()
    }
}

impl<H: TreeHasher> Entries<'_, H> {
    /// Pushes the children of an internal node with routing key `route` that can hold keys
    /// in the range (the right one first, so the left one is walked first).
    pub(super) fn children(&mut self, route: &[u8], left: Pending, right: Pending) {
        // Right subtree: keys >= route; left: keys < route.
        if !self.range.after_end(route) {
            self.stack.push(right);
        }
        if !self.range.before_start_all_left(route) {
            self.stack.push(left);
        }
    }

    /// The entry of a leaf, or whether the walk is over (`None` to go on).
    pub(super) fn leaf(
        &mut self,
        key: &[u8],
        value: impl FnOnce() -> Bytes,
    ) -> Option<Option<(Bytes, Bytes)>> {
        if self.range.after_end(key) {
            self.stack.clear();
            return Some(None);
        }
        if self.range.before_start(key) {
            return None;
        }
        Some(Some((Bytes::from(key), value())))
    }

    pub(super) fn step(&mut self) -> Result<Option<(Bytes, Bytes)>, TreeError> {
        let tree = self.tree;
        while let Some(pending) = self.stack.pop() {
            let key = match pending {
                Pending::Memory(id) => {
                    let i = id.index().ok_or_else(|| TreeError::Malformed)?;
                    let node = tree.nodes.get(i).ok_or_else(|| TreeError::Malformed)?;
                    if is_stub(node) {
                        let version = tree.version_of(id);
                        let label = node.label.committed();
                        self.stack.push(Pending::Stored(NodeKey { version, label }));
                        continue;
                    }
                    match &node.kind {
                        Kind::Internal(internal) => {
                            if internal.route.key == Ref::NONE {
                                return Err(TreeError::Malformed);
                            }
                            let route = tree.pool.get(internal.route.key);
                            let (left, right) = (internal.left, internal.right);
                            self.children(route, Pending::Memory(left), Pending::Memory(right));
                        }
                        Kind::Leaf(leaf) => {
                            let value = || tree.pool.shared(leaf.value);
                            if let Some(entry) = self.leaf(tree.pool.get(leaf.key), value) {
                                return Ok(entry);
                            }
                        }
                    }
                    continue;
                }
                Pending::Stored(key) => key,
            };
            // Not kept: a walk over many records would push out what lookups and proofs use.
            let records = source(&tree.disk, tree.limits, false);
            let records = records.ok_or_else(|| TreeError::Malformed)?;
            let entry = records.with::<H, _>(&key, |stored, _| match stored {
                Stored::Internal {
                    left, right, route, ..
                } => {
                    let route = route.ok_or_else(|| TreeError::Malformed)?;
                    self.children(route, Pending::Stored(left), Pending::Stored(right));
                    Ok::<_, TreeError>(None)
                }
                Stored::Leaf { key, value, .. } => Ok(self.leaf(key, || Bytes::from(value))),
            })??;
            if let Some(entry) = entry {
                return Ok(entry);
            }
        }
        Ok(None)
    }
}

impl<H: TreeHasher> Iterator for Entries<'_, H> {
    type Item = Result<(Bytes, Bytes), TreeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.step();
        yielded(&mut self.done, step)
    }
}

/// The bounds of an iteration, owned.
#[derive(Debug)]
pub(crate) struct KeyRange {
    pub(super) start: core::ops::Bound<Vec<u8>>,
    pub(super) end: core::ops::Bound<Vec<u8>>,
}

impl KeyRange {
    pub(crate) fn new<K: AsRef<[u8]>, R: core::ops::RangeBounds<K>>(range: R) -> Self {
        use core::ops::Bound;
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        KeyRange {
            start: own(range.start_bound()),
            end: own(range.end_bound()),
        }
    }

    /// Whether `key` is before the range.
    pub(crate) fn before_start(&self, key: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.start {
            Bound::Included(s) => key < s.as_slice(),
            Bound::Excluded(s) => key <= s.as_slice(),
            Bound::Unbounded => false,
        }
    }

    /// Whether `key` is after the range.
    pub(crate) fn after_end(&self, key: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.end {
            Bound::Included(e) => key > e.as_slice(),
            Bound::Excluded(e) => key >= e.as_slice(),
            Bound::Unbounded => false,
        }
    }

    /// Whether every key below `route` (a left subtree's) is before the range.
    pub(crate) fn before_start_all_left(&self, route: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.start {
            // Left keys are < route; all of them are < s when route <= s.
            Bound::Included(s) | Bound::Excluded(s) => route <= s.as_slice(),
            Bound::Unbounded => false,
        }
    }
}

/// What an iteration yields for the outcome of one step: an entry, or its end (after which,
/// as after an error, `done` is set and it yields nothing more).
pub(crate) fn yielded<T>(
    done: &mut bool,
    step: Result<Option<T>, TreeError>,
) -> Option<Result<T, TreeError>> {
    match step {
        Ok(Some(e)) => Some(Ok(e)),
        Ok(None) => {
            *done = true;
            None
        }
        Err(e) => {
            *done = true;
            Some(Err(e))
        }
    }
}
