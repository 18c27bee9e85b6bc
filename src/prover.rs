//! The prover's walker: routes by routing keys, loads nodes from the store, and records what
//! a batch read, which becomes the proof.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::codec::BitWriter;
use crate::error::TreeError;
use crate::hash::{Digest, TreeHasher};
use crate::node::{Bytes, Dir, Full, Kind, LeafValue, Link, Node, Route, Side, Stub};
use crate::ops::SizeLimits;
use crate::proof::{Prune, Shown, View};
use crate::store::layout::NodeKey;
use crate::store::record::{decode_node, read_record};
use crate::store::{StoreBackend, StoreError};

/// Labels are uniformly distributed, so their first eight bytes are a good hash.
#[derive(Default)]
pub(crate) struct LabelHasher(u64);

impl Hasher for LabelHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 ^= crate::node::first_word(bytes);
    }
    fn write_usize(&mut self, _: usize) {}
}

/// A set of labels.
pub(crate) type LabelSet = HashSet<Digest, BuildHasherDefault<LabelHasher>>;
/// Labels of pre-state nodes read by a batch, with their record versions.
pub(crate) type Touched = HashMap<Digest, u64, BuildHasherDefault<LabelHasher>>;

/// Approximate heap bytes of one materialized node (for the memory budget).
pub(crate) fn node_bytes(node: &Node) -> usize {
    const OVERHEAD: usize = core::mem::size_of::<Node>() + 16;
    let heap = match &node.kind {
        Kind::Leaf(l) => l
            .key
            .len()
            .saturating_add(l.value.bytes().map_or(0, |v| v.len()))
            .saturating_add(32),
        Kind::Internal(i) => i.route.heap_bytes(),
    };
    OVERHEAD.saturating_add(heap)
}

/// Where a walker loads nodes from.
#[derive(Clone, Copy)]
pub(crate) struct Source<'t> {
    pub backend: Option<&'t dyn StoreBackend>,
    pub limits: SizeLimits,
    /// Bytes of nodes loaded, for the memory budget.
    pub loaded: Option<&'t AtomicUsize>,
}

impl Source<'_> {
    /// Reads and checks the record `key`, without counting it as loaded.
    fn read<H: TreeHasher>(&self, key: &NodeKey) -> Result<Arc<Node>, TreeError> {
        let backend = self
            .backend
            .ok_or(StoreError::Missing(key.version, key.label))?;
        let bytes = read_record(backend, key)?;
        Ok(Arc::new(decode_node::<H>(&bytes, key, &self.limits)?))
    }

    /// Reads and checks the record `key`, counting it as loaded (the caller keeps it).
    pub(crate) fn fetch<H: TreeHasher>(&self, key: &NodeKey) -> Result<Arc<Node>, TreeError> {
        let node = self.read::<H>(key)?;
        if let Some(loaded) = self.loaded {
            loaded.fetch_add(node_bytes(&node), Ordering::Relaxed);
        }
        Ok(node)
    }

    /// The node behind `stub`: cached, or loaded and cached.
    pub(crate) fn load<H: TreeHasher>(&self, stub: &Stub) -> Result<Arc<Node>, TreeError> {
        if let Some(node) = stub.cached() {
            return Ok(Arc::clone(node));
        }
        let node = self.fetch::<H>(&NodeKey {
            version: stub.version,
            label: stub.label,
        })?;
        // Another thread may have loaded it meanwhile; either copy is the same node.
        Ok(Arc::clone(stub.cache.get_or_init(|| node)))
    }

    /// The node behind `link`, read from the store if it is not loaded, without keeping it
    /// (for walks that must not grow the tree's memory: iteration).
    pub(crate) fn peek<H: TreeHasher>(&self, link: &Link) -> Result<Arc<Node>, TreeError> {
        match link {
            Link::Node(n) => Ok(Arc::clone(n)),
            Link::Stub(s) => match s.cached() {
                Some(n) => Ok(Arc::clone(n)),
                None => self.read::<H>(&NodeKey {
                    version: s.version,
                    label: s.label,
                }),
            },
            Link::Hole => Err(TreeError::Malformed),
        }
    }

    /// The node behind `link`, loading it if needed.
    pub(crate) fn node<H: TreeHasher>(&self, link: &Link) -> Result<Arc<Node>, TreeError> {
        match link {
            Link::Node(n) => Ok(Arc::clone(n)),
            Link::Stub(s) => self.load::<H>(s),
            Link::Hole => Err(TreeError::Malformed),
        }
    }
}

/// What a prover run records.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    /// Nodes read (for a proof).
    pub touched: bool,
    /// Direction bits and values read (for a proof).
    pub proof: bool,
}

/// The prover's walker.
pub(crate) struct Prover<'t, H> {
    pub source: Source<'t>,
    pub record: Record,
    /// Pre-state nodes whose content the batch read.
    pub touched: Touched,
    /// Digests of pre-state values the batch returned.
    pub read: LabelSet,
    pub directions: BitWriter,
    hasher: PhantomData<fn() -> H>,
}

impl<'t, H: TreeHasher> Prover<'t, H> {
    /// A walker for a batch of `ops` operations on a tree of height `height`.
    pub(crate) fn new(source: Source<'t>, record: Record, ops: usize, height: u8) -> Self {
        let mut touched = Touched::default();
        if record.touched {
            // Each operation reads at most a path and a few rotation nodes; reserving that
            // up front (bounded) saves rehashing the set while it grows.
            let per_op = usize::from(height).saturating_add(4);
            touched.reserve(ops.saturating_mul(per_op).min(1 << 18));
        }
        Prover {
            source,
            record,
            touched,
            read: LabelSet::default(),
            directions: BitWriter::default(),
            hasher: PhantomData,
        }
    }
}

impl<H: TreeHasher> crate::zipper::Walker for Prover<'_, H> {
    type Side = Full;
    type Error = TreeError;

    fn fault(f: crate::zipper::Fault) -> TreeError {
        TreeError::from_fault(f)
    }

    #[inline]
    fn hole() -> Link {
        Link::Hole
    }

    fn direction(&mut self, link: &Link, key: &[u8]) -> Result<Option<Dir>, TreeError> {
        let Link::Node(node) = link else {
            return Err(TreeError::Malformed);
        };
        let Kind::Internal(internal) = &node.kind else {
            return Ok(None);
        };
        let route = internal.route.get().ok_or(TreeError::Malformed)?;
        let dir = if crate::node::goes_left(key, route) {
            Dir::Left
        } else {
            Dir::Right
        };
        if self.record.proof {
            self.directions.push(dir == Dir::Right);
        }
        Ok(Some(dir))
    }

    #[inline]
    fn expand(&mut self, link: &mut Link) -> Result<(), TreeError> {
        if let Link::Stub(stub) = link {
            *link = Link::Node(self.source.load::<H>(stub)?);
        }
        Ok(())
    }

    #[inline]
    fn get<'a>(&'a self, link: &'a Link) -> Option<&'a Node> {
        match link {
            Link::Node(n) => Some(n),
            Link::Stub(_) | Link::Hole => None,
        }
    }

    #[inline]
    fn get_mut<'a>(&'a mut self, link: &'a mut Link) -> Option<&'a mut Node> {
        match link {
            Link::Node(n) => Some(Arc::make_mut(n)),
            Link::Stub(_) | Link::Hole => None,
        }
    }

    #[inline]
    fn get_unique<'a>(&'a mut self, link: &'a mut Link) -> Option<&'a mut Node> {
        match link {
            Link::Node(n) => Arc::get_mut(n),
            Link::Stub(_) | Link::Hole => None,
        }
    }

    #[inline]
    fn alloc(&mut self, node: Node) -> Result<Link, TreeError> {
        Ok(Link::new(node))
    }

    fn visit(&mut self, link: &Link) {
        if let (true, Link::Node(node)) = (self.record.touched, link) {
            if let Some(label) = node.label {
                self.touched.insert(label, node.version);
            }
        }
    }

    fn read_value(&mut self, link: &Link) {
        // Keyed by value digest, not by leaf label: a leaf copied by this batch (a new next
        // key, say) carries its pre-state value, and that value must then be shipped. Values
        // written by the batch have no digest yet and need no shipping.
        let Link::Node(node) = link else { return };
        if let (true, Kind::Leaf(leaf)) = (self.record.proof, &node.kind) {
            if let LeafValue::Full {
                digest: Some(d), ..
            } = &leaf.value
            {
                self.read.insert(*d);
            }
        }
    }
    #[inline]
    fn key<'a>(&'a self, key: &'a Bytes) -> &'a [u8] {
        key
    }

    #[inline]
    fn new_key(&mut self, bytes: &Bytes) -> Result<Bytes, TreeError> {
        Ok(bytes.clone())
    }

    #[inline]
    fn new_value(&mut self, bytes: &Bytes) -> Result<LeafValue, TreeError> {
        Ok(LeafValue::full(bytes.clone()))
    }

    #[inline]
    fn route(&self, key: Option<&Bytes>) -> Route {
        Route::from_option(key)
    }

    #[inline]
    fn value(&self, value: &LeafValue) -> Option<Bytes> {
        value.bytes().cloned()
    }
}

/// Prunes the state a batch started from to the nodes the batch read.
impl<'a, H: TreeHasher> Prune<'a> for Prover<'_, H> {
    type Side = Full;
    type Error = TreeError;

    /// Every token is a node the batch read or a stub beside one: at most one stub per node
    /// read, and the root's if none was.
    fn tokens_hint(&self) -> usize {
        self.touched.len().saturating_mul(2).saturating_add(1)
    }

    fn view(&mut self, link: &'a Link) -> Result<View<'a, Full>, TreeError> {
        let label = link.label().ok_or(TreeError::Malformed)?;
        if !self.touched.contains_key(&label) {
            return Ok(View::Stub(label));
        }
        let node: &'a Node = match link {
            Link::Node(n) => n,
            Link::Stub(s) => {
                self.source.load::<H>(s)?;
                s.cached().ok_or(TreeError::Malformed)?
            }
            Link::Hole => return Err(TreeError::Malformed),
        };
        Ok(expanded::<H, _>(node, &self.read))
    }
}

/// How a node a batch read appears in its proof: expanded, a leaf's value in full if it is
/// short (shorter than its digest) or its digest is in `read` (the batch returned it).
pub(crate) fn expanded<'a, H: TreeHasher, S: Side<Key = Bytes, Value = LeafValue>>(
    node: &'a Node<S>,
    read: &LabelSet,
) -> View<'a, S> {
    match &node.kind {
        Kind::Leaf(leaf) => View::Leaf {
            key: &leaf.key,
            next: leaf.next.as_deref(),
            value: match &leaf.value {
                LeafValue::Full { bytes, digest }
                    if bytes.len() < 32 || digest.is_some_and(|d| read.contains(&d)) =>
                {
                    Shown::Full(bytes)
                }
                other => Shown::Digest(other.peek_digest::<H>().0),
            },
        },
        Kind::Internal(i) => View::Internal(i),
    }
}
/// Labels of the nodes in `touched` that the post-state (after a commit labelled its new nodes
/// with `version`) still reaches. The walk enters only new and touched nodes: a touched node
/// is never below an untouched one, since reading it meant walking through its ancestors.
pub(crate) fn retained(link: &Link, version: u64, touched: &Touched, out: &mut LabelSet) {
    let node = match link {
        Link::Node(n) => Some(n),
        Link::Stub(s) => s.cached(),
        Link::Hole => None,
    };
    let enter = if link.version() == version && link.label().is_some() {
        true
    } else if let Some(label) = link.label().filter(|l| touched.contains_key(l)) {
        out.insert(label);
        true
    } else {
        false
    };
    if let (true, Some(node)) = (enter, node) {
        if let Kind::Internal(i) = &node.kind {
            retained(&i.left, version, touched, out);
            retained(&i.right, version, touched, out);
        }
    }
}
