//! Reads without proofs: point lookups down the routing keys, and ordered iteration that
//! reads nodes without keeping them.

use std::marker::PhantomData;

use super::Tree;
use crate::error::TreeError;
use crate::hash::TreeHasher;
use crate::node::{Bytes, Kind, Link};
use crate::prover::Source;

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
        let pre = self.current();
        Entries {
            source: self.source(),
            stack: pre.root.into_iter().collect(),
            range: KeyRange::new(range),
            done: false,
            hasher: PhantomData,
        }
    }
}

/// The entries of a tree or snapshot in key order ([`Tree::iter`], [`Tree::range`]): a
/// depth-first walk that reads nodes without keeping them and skips subtrees outside the
/// range by their routing keys. Yields an error (and then ends) if a node cannot be read.
pub struct Entries<'t, H: TreeHasher> {
    source: Source<'t>,
    stack: Vec<Link>,
    range: KeyRange,
    done: bool,
    hasher: PhantomData<fn() -> H>,
}

/// The bounds of an iteration, owned.
#[derive(Debug)]
pub(crate) struct KeyRange {
    start: core::ops::Bound<Vec<u8>>,
    end: core::ops::Bound<Vec<u8>>,
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

impl<H: TreeHasher> core::fmt::Debug for Entries<'_, H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entries")
            .field("pending", &self.stack.len())
            .finish()
    }
}

impl<H: TreeHasher> Entries<'_, H> {
    fn step(&mut self) -> Result<Option<(Bytes, Bytes)>, TreeError> {
        while let Some(link) = self.stack.pop() {
            let node = self.source.peek::<H>(&link)?;
            match &node.kind {
                Kind::Leaf(l) => {
                    if self.range.after_end(&l.key) {
                        self.stack.clear();
                        return Ok(None);
                    }
                    if self.range.before_start(&l.key) {
                        continue;
                    }
                    let value = l.value.bytes().ok_or(TreeError::Malformed)?;
                    return Ok(Some((l.key.clone(), value.clone())));
                }
                Kind::Internal(i) => {
                    let route = i.route.get().ok_or(TreeError::Malformed)?;
                    // Right subtree: keys >= route; left: keys < route.
                    if !self.range.after_end(route) {
                        self.stack.push(i.right.clone());
                    }
                    if !self.range.before_start_all_left(route) {
                        self.stack.push(i.left.clone());
                    }
                }
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
