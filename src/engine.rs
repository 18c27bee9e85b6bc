//! The prover's next engine (issue 11), in memory for now: every node in one arena, indexed
//! by 32-bit ids, copy-on-write by index.
//!
//! A batch reads the committed nodes (`base`, frozen while the batch runs) and writes only
//! into its own `new` region: changing a committed node copies it there and re-points the
//! link (the zipper's `get_mut`); a node the batch made is edited in place. Ids past the end
//! of `base` name nodes of the batch's region. So the state the batch started from stays
//! intact (a what-if proof changes nothing, and the proof is cut from that state), exactly as
//! with the reference-counted engine, but with no heap object, no reference count and no
//! `free` per node: a child is a 4-byte id, and copying a node bumps no counts.
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
//! commits, an id set of its own for a what-if proof. Byte-identical proofs, results and
//! roots to [`Tree`](crate::Tree) are tested.
//!
//! Ids are below 2^31 (the top bit names a verifier's stub), so an arena holds at most 2^31
//! nodes: a batch that would go past fails with [`TreeError::Malformed`] and changes nothing.
//! Placement at commit never goes past the ids the batch already held.
//!
//! Not yet here (the rest of issue 11): stubs and a store, the memory budget's eviction,
//! versions and snapshots, reads other than batches, compact node layouts.

use std::marker::PhantomData;

use crate::codec::BitWriter;
use crate::error::TreeError;
use crate::hash::{Digest, RootDigest, TreeHasher};
use crate::node::{seal_step, Bytes, Dir, Internal, Kind, LeafValue, Node, NodeId, Route, Side};
use crate::ops::{apply, OpResult, Operation, Outcome, SizeLimits, State};
use crate::proof::{encode, Proof, Prune, View};
use crate::prover::{expanded, LabelSet};
use crate::tree::BatchProof;
use crate::zipper::{Fault, Walker};

/// The arena engine's side: nodes carry routing keys; children are ids into the arena.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Packed {}

impl Side for Packed {
    type Version = ();
    type Route = Route;
    type Link = NodeId;
    type Key = Bytes;
    type Value = LeafValue;

    fn route(key: Option<&Bytes>) -> Route {
        Route::from_option(key)
    }
}

type PNode = Node<Packed>;

/// A set of node ids, as a batch records what it read: open addressing with linear probing
/// in a power-of-two table of raw ids, at most 7/8 full. An id's home slot is the top bits of
/// its product with a 32-bit golden-ratio constant (ids are dense, so this spreads them).
#[derive(Debug)]
struct IdSet {
    slots: Vec<u32>,
    len: usize,
    /// 32 minus log2 of the table size.
    shift: u32,
}

/// A slot that holds no id (the raw value of no node id).
const EMPTY: u32 = u32::MAX;

impl IdSet {
    /// A set with room for `n` ids before it grows.
    fn with_capacity(n: usize) -> Self {
        let size = n
            .saturating_mul(8)
            .checked_div(7)
            .unwrap_or(0)
            .saturating_add(1)
            .max(16)
            .checked_next_power_of_two()
            .unwrap_or(1 << 31);
        IdSet {
            slots: vec![EMPTY; size],
            len: 0,
            shift: 32u32.saturating_sub(size.trailing_zeros()),
        }
    }

    /// The raw id (below 2^31, so never `EMPTY`).
    fn raw(id: NodeId) -> Option<u32> {
        id.index().and_then(|i| u32::try_from(i).ok())
    }

    /// The slot holding `v`, or the empty slot where it would go.
    fn slot(&self, v: u32) -> Option<usize> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = (v.wrapping_mul(0x9E37_79B9) >> self.shift) as usize & mask;
        // The table is never full, so a probe ends within one lap.
        for _ in 0..self.slots.len() {
            match self.slots.get(i) {
                Some(&s) if s == v || s == EMPTY => return Some(i),
                Some(_) => i = i.wrapping_add(1) & mask,
                None => return None,
            }
        }
        None
    }

    /// Adds `id`; false if it was there.
    fn insert(&mut self, id: NodeId) -> bool {
        let Some(v) = Self::raw(id) else { return false };
        if self.len.saturating_add(1).saturating_mul(8) > self.slots.len().saturating_mul(7) {
            self.grow();
        }
        match self.slot(v).and_then(|i| self.slots.get_mut(i)) {
            Some(s) if *s == EMPTY => {
                *s = v;
                self.len = self.len.saturating_add(1);
                true
            }
            _ => false,
        }
    }

    fn grow(&mut self) {
        let mut bigger = IdSet::with_capacity(self.slots.len());
        for v in self.slots.iter().copied().filter(|&v| v != EMPTY) {
            if let Some(s) = bigger.slot(v).and_then(|i| bigger.slots.get_mut(i)) {
                *s = v;
                bigger.len = bigger.len.saturating_add(1);
            }
        }
        *self = bigger;
    }

    fn contains(&self, id: NodeId) -> bool {
        Self::raw(id)
            .and_then(|v| Some(*self.slots.get(self.slot(v)?)? == v))
            .unwrap_or(false)
    }

    /// Ids in the set.
    fn len(&self) -> usize {
        self.len
    }
}

/// A node that holds nothing: what a freed slot and a node moved out of a batch's region
/// are left as.
fn vacant() -> PNode {
    Node::new(Kind::Internal(Internal {
        balance: 0,
        left: NodeId::HOLE,
        right: NodeId::HOLE,
        route: Route::None,
    }))
}

/// The committed nodes a batch read.
enum Touched<'t> {
    /// In the tree's own marks (a batch that commits, so has the tree to itself): node `i`
    /// was read if `marks[i] == mark`. Each id is listed once, when first marked.
    Marks {
        marks: &'t mut Vec<u32>,
        mark: u32,
        list: Vec<NodeId>,
    },
    /// In a set of its own (a what-if proof, which runs on a shared tree).
    Set(IdSet),
}

impl Touched<'_> {
    #[inline]
    fn insert(&mut self, id: NodeId) {
        match self {
            Touched::Marks { marks, mark, list } => {
                if let Some(m) = id.index().and_then(|i| marks.get_mut(i)) {
                    if *m != *mark {
                        *m = *mark;
                        list.push(id);
                    }
                }
            }
            Touched::Set(set) => {
                set.insert(id);
            }
        }
    }

    #[inline]
    fn contains(&self, id: NodeId) -> bool {
        match self {
            Touched::Marks { marks, mark, .. } => id
                .index()
                .and_then(|i| marks.get(i))
                .is_some_and(|m| m == mark),
            Touched::Set(set) => set.contains(id),
        }
    }

    fn len(&self) -> usize {
        match self {
            Touched::Marks { list, .. } => list.len(),
            Touched::Set(set) => set.len(),
        }
    }
}

/// One batch's walker over the committed nodes and its own region.
struct Batch<'t, H> {
    base: &'t [PNode],
    /// The batch's own nodes: ids from `base.len()` on.
    new: Vec<PNode>,
    /// Room reserved in `new` at its first node (a batch of lookups makes none).
    room: usize,
    /// Direction bits and values read are recorded (a proof is wanted).
    proof: bool,
    /// Committed nodes whose content the batch read.
    touched: Touched<'t>,
    /// Digests of committed values the batch returned.
    read: LabelSet,
    directions: BitWriter,
    hasher: PhantomData<fn() -> H>,
}

impl<'t, H: TreeHasher> Batch<'t, H> {
    fn new(base: &'t [PNode], touched: Touched<'t>, proof: bool, room: usize) -> Self {
        Batch {
            base,
            new: Vec::new(),
            room,
            proof,
            touched,
            read: LabelSet::default(),
            // About one direction per node a batch reads.
            directions: BitWriter::with_capacity(if proof { room } else { 0 }),
            hasher: PhantomData,
        }
    }

    fn node(&self, id: NodeId) -> Option<&PNode> {
        let i = id.index()?;
        match i.checked_sub(self.base.len()) {
            None => self.base.get(i),
            Some(j) => self.new.get(j),
        }
    }

    /// The batch's own node `id`, for mutation (`None` for a committed node).
    fn own_mut(&mut self, id: NodeId) -> Option<&mut PNode> {
        let j = id.index()?.checked_sub(self.base.len())?;
        self.new.get_mut(j)
    }

    fn push(&mut self, node: PNode) -> Option<NodeId> {
        let id = NodeId::node(self.base.len().checked_add(self.new.len())?)?;
        if self.new.capacity() == 0 {
            self.new.reserve(self.room);
        }
        self.new.push(node);
        Some(id)
    }

    /// Labels every unlabelled node below and at `id`, bottom-up, returning `id`'s label.
    /// The recursion is as deep as the batch's part of the tree.
    fn seal(&mut self, id: NodeId) -> Digest {
        let base_len = self.base.len();
        let Some(i) = id.index() else { return [0; 32] };
        let Some(j) = i.checked_sub(base_len) else {
            // Committed nodes are all labelled; the zero label cannot match a real one.
            return self.base.get(i).and_then(|n| n.label).unwrap_or([0; 32]);
        };
        let (left, right, balance) = match self.new.get_mut(j).map(seal_step::<Packed, H>) {
            None => return [0; 32],
            Some(Ok(label)) => return label,
            Some(Err(children)) => children,
        };
        let l = self.seal(left);
        let r = self.seal(right);
        let label = H::internal(balance, &l, &r);
        if let Some(node) = self.new.get_mut(j) {
            node.label = Some(label);
        }
        label
    }

    /// Labels the batch's tree at `root`: on two threads (the root's subtrees, one each)
    /// if the batch made at least `split` nodes, else on this one. The same labels and the
    /// same hash calls either way.
    fn seal_root(&mut self, root: NodeId, split: Option<usize>) -> Digest {
        if split.is_some_and(|min| self.new.len() >= min) {
            if let Some(label) = self.seal_split(root) {
                return label;
            }
        }
        self.seal(root)
    }

    /// Seals the root's two subtrees on two threads. Both read the batch's nodes shared and
    /// return what they computed, which is written back once both are done. `None`, with
    /// nothing written, if the root is not an unlabelled node of the batch's own, or the
    /// helper thread could not start or failed.
    fn seal_split(&mut self, root: NodeId) -> Option<Digest> {
        let j = root.index()?.checked_sub(self.base.len())?;
        let node = self.new.get(j)?;
        let (left, right, balance) = match &node.kind {
            Kind::Internal(i) if node.label.is_none() => (i.left, i.right, i.balance),
            _ => return None,
        };
        let (base, new) = (self.base, &self.new[..]);
        let ((l, from_left), (r, from_right)) = std::thread::scope(|scope| {
            // Builder::spawn_scoped, unlike Scope::spawn, reports a thread the system
            // refuses instead of panicking; the batch then seals on this thread.
            let helper = std::thread::Builder::new()
                .spawn_scoped(scope, move || labels::<H>(base, new, left))
                .ok()?;
            let ours = labels::<H>(base, new, right);
            helper.join().ok().map(|theirs| (theirs, ours))
        })?;
        for done in from_left.into_iter().chain(from_right) {
            if let Some(node) = self.new.get_mut(done.index) {
                node.label = Some(done.label);
                if let (Kind::Leaf(leaf), Some(d)) = (&mut node.kind, done.value_digest) {
                    leaf.value.cache_digest(d);
                }
            }
        }
        let label = H::internal(balance, &l, &r);
        if let Some(node) = self.new.get_mut(j) {
            node.label = Some(label);
        }
        Some(label)
    }
}

/// Fewest nodes a batch must have made for its seal to be split over two threads. Starting
/// a thread costs tens of microseconds: at 1024 nodes (batches of about 128 operations on
/// 10^5 keys) the split measured about 10% slower than one thread; at batches of 1024
/// operations (about 10,000 nodes) and more, faster.
const SPLIT_SEAL_MIN: usize = 4096;

/// A label computed by [`labels`] for the batch's node `index`, and the value digest it
/// computed on the way (a leaf whose value digest was not cached).
struct Sealed {
    index: usize,
    label: Digest,
    value_digest: Option<Digest>,
}

/// The label of the tree at `id`, computing (without writing) the label of every unlabelled
/// node of the batch's region below and at it, children first: what [`Batch::seal`] does,
/// on nodes shared with another thread. Committed nodes are all labelled.
fn labels<H: TreeHasher>(base: &[PNode], new: &[PNode], id: NodeId) -> (Digest, Vec<Sealed>) {
    fn walk<H: TreeHasher>(
        base: &[PNode],
        new: &[PNode],
        id: NodeId,
        out: &mut Vec<Sealed>,
    ) -> Digest {
        let Some(i) = id.index() else { return [0; 32] };
        let Some(j) = i.checked_sub(base.len()) else {
            return base.get(i).and_then(|n| n.label).unwrap_or([0; 32]);
        };
        let Some(node) = new.get(j) else {
            return [0; 32];
        };
        if let Some(label) = node.label {
            return label;
        }
        let (label, value_digest) = match &node.kind {
            Kind::Leaf(leaf) => {
                let (digest, computed) = leaf.value.peek_digest::<H>();
                (H::leaf(&leaf.key, leaf.next.as_deref(), &digest), computed)
            }
            Kind::Internal(internal) => {
                let l = walk::<H>(base, new, internal.left, out);
                let r = walk::<H>(base, new, internal.right, out);
                (H::internal(internal.balance, &l, &r), None)
            }
        };
        out.push(Sealed {
            index: j,
            label,
            value_digest,
        });
        label
    }
    let mut out = Vec::new();
    let label = walk::<H>(base, new, id, &mut out);
    (label, out)
}

impl<H: TreeHasher> Walker for Batch<'_, H> {
    type Side = Packed;
    type Error = TreeError;

    fn fault(f: Fault) -> TreeError {
        TreeError::from_fault(f)
    }

    #[inline]
    fn hole() -> NodeId {
        NodeId::HOLE
    }

    fn direction(&mut self, link: &NodeId, key: &[u8]) -> Result<Option<Dir>, TreeError> {
        let node = self.node(*link).ok_or_else(|| TreeError::Malformed)?;
        let Kind::Internal(internal) = &node.kind else {
            return Ok(None);
        };
        let route = internal.route.get().ok_or_else(|| TreeError::Malformed)?;
        let dir = if crate::node::goes_left(key, route) {
            Dir::Left
        } else {
            Dir::Right
        };
        if self.proof {
            self.directions.push(dir == Dir::Right);
        }
        Ok(Some(dir))
    }

    #[inline]
    fn expand(&mut self, _link: &mut NodeId) -> Result<(), TreeError> {
        // Every node of an in-memory arena is in memory.
        Ok(())
    }

    #[inline]
    fn get<'a>(&'a self, link: &'a NodeId) -> Option<&'a PNode> {
        self.node(*link)
    }

    fn get_mut<'a>(&'a mut self, link: &'a mut NodeId) -> Option<&'a mut PNode> {
        let i = link.index()?;
        if i < self.base.len() {
            let copy = self.base.get(i)?.clone();
            *link = self.push(copy)?;
        }
        self.own_mut(*link)
    }

    #[inline]
    fn get_unique<'a>(&'a mut self, link: &'a mut NodeId) -> Option<&'a mut PNode> {
        self.own_mut(*link)
    }

    #[inline]
    fn alloc(&mut self, node: PNode) -> Result<NodeId, TreeError> {
        self.push(node).ok_or_else(|| TreeError::Malformed)
    }

    #[inline]
    fn visit(&mut self, link: &NodeId) {
        if link.index().is_some_and(|i| i < self.base.len()) {
            self.touched.insert(*link);
        }
    }

    fn read_value(&mut self, link: &NodeId) {
        // Keyed by value digest, as in the reference-counted prover: a leaf copied by this
        // batch carries its committed value, which must then be shipped.
        if !self.proof {
            return;
        }
        if let Some(Kind::Leaf(leaf)) = self.node(*link).map(|n| &n.kind) {
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
    fn value(&self, value: &LeafValue) -> Option<Bytes> {
        value.bytes().cloned()
    }
}

/// Cuts the committed state to the nodes the batch read.
impl<'a, 't: 'a, H: TreeHasher> Prune<'a> for Batch<'t, H> {
    type Side = Packed;
    type Error = TreeError;

    fn tokens_hint(&self) -> usize {
        self.touched.len().saturating_mul(2).saturating_add(1)
    }

    fn view(&mut self, link: &'a NodeId) -> Result<View<'a, Packed>, TreeError> {
        let base: &'t [PNode] = self.base;
        let node = link
            .index()
            .and_then(|i| base.get(i))
            .ok_or_else(|| TreeError::Malformed)?;
        if !self.touched.contains(*link) {
            return node
                .label
                .map(View::Stub)
                .ok_or_else(|| TreeError::Malformed);
        }
        Ok(expanded::<H, _>(node, &self.read))
    }
}

/// An audit reads the arena's nodes by id; an id names no label of its own.
impl crate::audit::Nodes<Packed> for [PNode] {
    fn with<H: TreeHasher, R>(
        &self,
        link: &NodeId,
        f: impl FnOnce(&PNode, Option<Digest>) -> Result<R, crate::AuditError>,
    ) -> Result<R, crate::AuditError> {
        let node = link
            .index()
            .and_then(|i| self.get(i))
            .ok_or(crate::AuditError::Tree(TreeError::Malformed))?;
        f(node, node.label)
    }

    fn key<'a>(&'a self, key: &'a Bytes) -> &'a [u8] {
        key
    }

    fn value<'a>(&'a self, value: &'a LeafValue) -> Option<&'a [u8]> {
        value.bytes().map(|b| &b[..])
    }

    fn route<'a>(&'a self, route: &'a Route) -> Option<&'a [u8]> {
        route.get()
    }
}

/// A batch run on the committed state, not yet committed.
struct Ran<'t, H> {
    /// The post-state, sealed.
    state: State<Packed>,
    /// Its root.
    root: RootDigest,
    results: Vec<OpResult>,
    /// The proof (empty bytes if none was asked for).
    proof: Proof,
    batch: Batch<'t, H>,
}

/// An in-memory authenticated AVL+ map on the arena engine: the same batches, results,
/// proofs and roots as an in-memory [`Tree`](crate::Tree).
pub struct ArenaTree<H: TreeHasher> {
    nodes: Vec<PNode>,
    /// Slots of nodes no longer in the tree, reused by the next batches.
    free: Vec<NodeId>,
    /// Per slot, the mark of the last committing batch that read it ([`Touched::Marks`]).
    marks: Vec<u32>,
    /// The last committing batch's mark (even; a commit marks what it keeps with `mark + 1`).
    mark: u32,
    state: State<Packed>,
    root: RootDigest,
    version: u64,
    len: u64,
    limits: SizeLimits,
    /// Batches that made at least this many nodes seal on two threads
    /// ([`ArenaTree::seal_on_two_threads`]); `None`: every batch seals on one.
    split_seal: Option<usize>,
    hasher: PhantomData<fn() -> H>,
}

impl<H: TreeHasher> Default for ArenaTree<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: TreeHasher> ArenaTree<H> {
    /// An empty tree with default size limits.
    pub fn new() -> Self {
        ArenaTree {
            nodes: Vec::new(),
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
            hasher: PhantomData,
        }
    }

    /// Whether a batch that made at least 4096 nodes labels them on two threads, the root's
    /// left subtree on a helper thread and its right one on the caller's (off by default:
    /// the single-thread figures are the engine's own). Labels, proofs and hash calls are
    /// the same either way.
    pub fn seal_on_two_threads(&mut self, on: bool) {
        self.split_seal = on.then_some(SPLIT_SEAL_MIN);
    }

    /// The committed root.
    pub fn root(&self) -> RootDigest {
        self.root
    }

    /// Entries in the committed tree.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks the whole tree as [`Tree::audit`](crate::Tree::audit) does (every label
    /// recomputed, balances, key order, the next-key chain, routing keys, the root height).
    pub fn audit(&self) -> Result<crate::Audit, crate::AuditError> {
        crate::audit::structure::<H, Packed, _>(&self.nodes[..], &self.state, &self.root)
    }

    /// Slots in the arena that hold a node of the tree (the rest are free).
    pub fn live_nodes(&self) -> usize {
        self.nodes.len().saturating_sub(self.free.len())
    }

    /// Room for what a batch of `ops` operations on a tree of height `height` reads and makes.
    fn room(ops: usize, height: u8) -> usize {
        // Each operation reads at most a path and a few rotation nodes, and copies as many.
        ops.saturating_mul(usize::from(height).saturating_add(4))
            .min(1 << 18)
    }

    /// Runs `ops` on the committed state `pre` (its nodes `nodes`, limits `limits`): the
    /// post-state sealed, with the proof if `proof`.
    fn run<'t>(
        (nodes, pre, limits, split): (&'t [PNode], &State<Packed>, &SizeLimits, Option<usize>),
        touched: Touched<'t>,
        ops: &[Operation],
        proof: bool,
    ) -> Result<Ran<'t, H>, TreeError> {
        for (index, op) in ops.iter().enumerate() {
            op.check(limits)
                .map_err(|error| TreeError::Operation { index, error })?;
        }
        let mut state = pre.clone();
        let room = Self::room(ops.len(), state.height);
        let mut batch = Batch::new(nodes, touched, proof, room);
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            results.push(apply(&mut state, op, &mut batch)?);
        }
        let bytes = if proof {
            let directions = core::mem::take(&mut batch.directions).into_bytes();
            encode::<H, _>(pre.root.as_ref(), &directions, &mut batch)?
        } else {
            Vec::new()
        };
        let label = match state.root {
            Some(root) => batch.seal_root(root, split),
            None => H::empty(),
        };
        let root = RootDigest {
            label,
            height: state.height,
        };
        Ok(Ran {
            state,
            root,
            results,
            proof: Proof::from_bytes(bytes),
            batch,
        })
    }

    /// Proves a batch without applying it.
    pub fn prove(&self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let set = IdSet::with_capacity(Self::room(ops.len(), self.state.height));
        let parts = (&self.nodes[..], &self.state, &self.limits, self.split_seal);
        let ran = Self::run(parts, Touched::Set(set), ops, true)?;
        Ok(BatchProof {
            results: ran.results,
            proof: ran.proof,
            old_root: self.root,
            new_root: ran.root,
            version: self.version.saturating_add(1),
        })
    }

    /// Applies a batch with its proof.
    pub fn apply(&mut self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let old_root = self.root;
        let (results, proof, root, _) = self.apply_with(ops, true)?;
        Ok(BatchProof {
            results,
            proof,
            old_root,
            new_root: root,
            version: self.version,
        })
    }

    /// Applies a batch without a proof.
    pub fn apply_unproven(&mut self, ops: &[Operation]) -> Result<Vec<OpResult>, TreeError> {
        Ok(self.apply_with(ops, false)?.0)
    }

    /// Runs a batch that commits, marking what it reads in the tree's own marks.
    fn apply_with(
        &mut self,
        ops: &[Operation],
        proof: bool,
    ) -> Result<(Vec<OpResult>, Proof, RootDigest, usize), TreeError> {
        self.mark = match self.mark.checked_add(2).filter(|&m| m < u32::MAX) {
            Some(m) => m,
            None => {
                // After 2^31 batches: forget every old mark once.
                self.marks.iter_mut().for_each(|m| *m = 0);
                2
            }
        };
        self.marks.resize(self.nodes.len(), 0);
        let touched = Touched::Marks {
            marks: &mut self.marks,
            mark: self.mark,
            list: Vec::with_capacity(Self::room(ops.len(), self.state.height)),
        };
        let parts = (&self.nodes[..], &self.state, &self.limits, self.split_seal);
        let Ran {
            state,
            root,
            results,
            proof: bytes,
            batch,
        } = Self::run(parts, touched, ops, proof)?;
        let Batch { new, touched, .. } = batch;
        let list = match touched {
            Touched::Marks { list, .. } => list,
            Touched::Set(_) => Vec::new(),
        };
        let placed = self.commit(state, new, &list, root, &results);
        Ok((results, bytes, root, placed))
    }

    /// Makes a sealed batch the committed state: frees the committed nodes it replaced and
    /// places its reachable nodes, children first, into free slots or at the end. Returns how
    /// many it placed.
    fn commit(
        &mut self,
        state: State<Packed>,
        mut new: Vec<PNode>,
        touched: &[NodeId],
        root: RootDigest,
        results: &[OpResult],
    ) -> usize {
        let base_len = self.nodes.len();
        // The batch's reachable nodes in post-order; the touched committed nodes the new tree
        // still holds are marked kept (`mark + 1`), so the touched ones still at `mark` are
        // what the batch replaced, whose slots are freed. A batch that kept the old root
        // (lookups, failed operations) changed nothing.
        let mut order = Vec::with_capacity(new.len());
        let free_before = self.free.len();
        if state.root != self.state.root {
            let (mark, marks) = (self.mark, &mut self.marks);
            if let Some(root) = state.root {
                let mut keep = |id: NodeId| match id.index().and_then(|i| marks.get_mut(i)) {
                    Some(m) if *m == mark => {
                        *m = mark.wrapping_add(1);
                        true
                    }
                    _ => false,
                };
                reachable(&self.nodes, &new, root, &mut keep, &mut order);
            }
            let replaced = touched.iter().filter(|id| {
                let mark_of = id.index().and_then(|i| self.marks.get(i));
                mark_of == Some(&mark)
            });
            self.free.extend(replaced);
        }
        let mut placed = vec![NodeId::HOLE; new.len()];
        let remap = |id: NodeId, placed: &[NodeId]| match id.index() {
            Some(i) if i >= base_len => placed.get(i.wrapping_sub(base_len)).copied(),
            _ => Some(id),
        };
        let placing = order.len();
        for j in order {
            let Some(own) = new.get_mut(j) else { continue };
            let mut node = core::mem::replace(own, vacant());
            if let Kind::Internal(i) = &mut node.kind {
                i.left = remap(i.left, &placed).unwrap_or(NodeId::HOLE);
                i.right = remap(i.right, &placed).unwrap_or(NodeId::HOLE);
            }
            let id = match self.free.pop() {
                Some(id) => {
                    if let Some(slot) = id.index().and_then(|i| self.nodes.get_mut(i)) {
                        *slot = node;
                    }
                    id
                }
                None => {
                    let id = NodeId::node(self.nodes.len()).unwrap_or(NodeId::HOLE);
                    self.nodes.push(node);
                    id
                }
            };
            if let Some(p) = placed.get_mut(j) {
                *p = id;
            }
        }
        // Placement took this commit's freed slots first (the free list is a stack); the ones
        // it left still hold the replaced nodes, whose byte strings go now.
        for id in self.free.get(free_before..).unwrap_or_default() {
            if let Some(slot) = id.index().and_then(|i| self.nodes.get_mut(i)) {
                *slot = vacant();
            }
        }
        self.state = State {
            root: state.root.and_then(|r| remap(r, &placed)),
            height: state.height,
        };
        for r in results {
            match r {
                Ok(Outcome::Inserted) => self.len = self.len.saturating_add(1),
                Ok(Outcome::Removed) => self.len = self.len.saturating_sub(1),
                _ => {}
            }
        }
        self.root = root;
        self.version = self.version.saturating_add(1);
        placing
    }
}

/// Collects, from `id` down, the batch's own nodes (indices into `new`, children first), and
/// passes the committed nodes the tree reaches to `keep`, which is true for touched ones it
/// had not seen. Enters only those:
/// an untouched committed node's subtree is unchanged and holds no touched node (a node is
/// read only by walking through its ancestors).
fn reachable(
    base: &[PNode],
    new: &[PNode],
    id: NodeId,
    keep: &mut dyn FnMut(NodeId) -> bool,
    order: &mut Vec<usize>,
) {
    let Some(i) = id.index() else { return };
    let (node, own) = match i.checked_sub(base.len()) {
        None => {
            if !keep(id) {
                return;
            }
            (base.get(i), None)
        }
        Some(j) => (new.get(j), Some(j)),
    };
    if let Some(Kind::Internal(internal)) = node.map(|n| &n.kind) {
        reachable(base, new, internal.left, keep, order);
        reachable(base, new, internal.right, keep, order);
    }
    if let Some(j) = own {
        order.push(j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Blake3, Tree, Verifier};
    use quickcheck::{quickcheck, TestResult};

    /// Nodes the committed tree reaches, as its audit counts them (the leak check).
    fn reached<H: TreeHasher>(arena: &ArenaTree<H>) -> usize {
        let audit = arena.audit().unwrap();
        audit.leaves + audit.internal
    }

    fn ops_from(spec: &[(u8, u8, u8)]) -> Vec<Operation> {
        spec.iter()
            .map(|&(kind, k, v)| {
                let key = [k % 64; 3];
                let value = vec![v; 1 + usize::from(v % 40)];
                match kind % 7 {
                    0 => Operation::insert(key, value.clone()),
                    1 => Operation::update(key, value.clone()),
                    2 => Operation::remove(key),
                    3 => Operation::lookup(key),
                    4 => Operation::upsert(key, value.clone()),
                    5 => Operation::remove_if_present(key),
                    _ => Operation::insert(key, value.clone()),
                }
            })
            .collect()
    }

    /// Batch by batch, the arena engine gives the reference-counted tree's results, proof
    /// bytes and roots; its proofs verify; and its arena holds the live tree and no more.
    fn same_as_tree(batches: Vec<Vec<(u8, u8, u8)>>) -> TestResult {
        let mut tree: Tree<Blake3> = Tree::empty();
        let mut arena: ArenaTree<Blake3> = ArenaTree::new();
        let verifier: Verifier<Blake3> = Verifier::new();
        for (b, spec) in batches.iter().enumerate() {
            let ops = ops_from(spec);
            if b % 3 == 2 {
                let ours = arena.prove(&ops).expect("what-if");
                let theirs = tree.prove(&ops).expect("what-if");
                assert_eq!(ours, theirs);
                continue;
            }
            let ours = arena.apply(&ops).expect("arena batch");
            let theirs = tree.apply(&ops).expect("tree batch");
            assert_eq!(ours, theirs);
            let verified = verifier
                .verify(&ours.old_root, ours.proof.as_bytes(), &ops)
                .expect("verifies");
            assert_eq!(verified.results, ours.results);
            assert_eq!(verified.new_root, ours.new_root);
            assert_eq!(arena.root(), tree.root());
            assert_eq!(arena.len(), tree.len());
            let live = usize::try_from(arena.len().saturating_mul(2).saturating_sub(1)).unwrap();
            assert_eq!(arena.live_nodes(), live, "no leaked or doubly used slot");
            assert_eq!(reached(&arena), live);
            assert_eq!(arena.audit().unwrap(), tree.audit().unwrap());
        }
        TestResult::passed()
    }

    #[test]
    fn batches_match_the_reference_counted_tree() {
        quickcheck(same_as_tree as fn(Vec<Vec<(u8, u8, u8)>>) -> TestResult);
    }

    /// A deterministic pseudo-random stream (xorshift64) from `seed`.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// Deeper trees than the quickcheck's 64 keys: 3000 keys of varied lengths (some longer
    /// than an inline routing key), batches of every kind, proven, unproven and what-if.
    #[test]
    fn deep_trees_match_the_reference_counted_tree() {
        let mut tree: Tree<Blake3> = Tree::empty();
        let mut arena: ArenaTree<Blake3> = ArenaTree::new();
        let verifier: Verifier<Blake3> = Verifier::new();
        let mut next = xorshift(0x5EED_u64);
        for round in 0..30 {
            let ops: Vec<Operation> = (0..300)
                .map(|_| {
                    let r = next();
                    let k = r % 3000;
                    let key = vec![(k % 251) as u8; 1 + (k % 47) as usize];
                    let key = [key, k.to_be_bytes().to_vec()].concat();
                    let value = vec![(r >> 20) as u8; 1 + ((r >> 30) % 64) as usize];
                    match (r >> 40) % 8 {
                        0..=3 if round < 20 => Operation::upsert(key, value),
                        0 | 1 => Operation::insert(key, value),
                        4 => Operation::update(key, value),
                        5 => Operation::lookup(key),
                        _ => Operation::remove_if_present(key),
                    }
                })
                .collect();
            match round % 4 {
                3 => assert_eq!(arena.prove(&ops).unwrap(), tree.prove(&ops).unwrap()),
                2 => assert_eq!(
                    arena.apply_unproven(&ops).unwrap(),
                    tree.apply_unproven(&ops).unwrap()
                ),
                _ => {
                    let ours = arena.apply(&ops).unwrap();
                    assert_eq!(ours, tree.apply(&ops).unwrap());
                    let verified = verifier
                        .verify(&ours.old_root, ours.proof.as_bytes(), &ops)
                        .unwrap();
                    assert_eq!(verified.new_root, ours.new_root);
                }
            }
            assert_eq!(arena.root(), tree.root(), "round {round}");
            let live = usize::try_from(arena.len() * 2 - 1).unwrap();
            assert_eq!((arena.live_nodes(), reached(&arena)), (live, live));
            assert_eq!(arena.audit().unwrap(), tree.audit().unwrap());
        }
        assert!(arena.root().height >= 10, "the tree grew deep");
    }

    /// BLAKE3, counting every label and value digest it computes on any thread, and noting
    /// whether one was computed off the thread that set `SPY_HOME` (only the split-seal test
    /// uses it, so the counts are that test's).
    struct Spy;

    static SPY_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static SPY_OFF_HOME: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    std::thread_local! {
        static SPY_HOME: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    }

    fn spy() {
        SPY_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !SPY_HOME.with(core::cell::Cell::get) {
            SPY_OFF_HOME.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn spied<T>(f: impl FnOnce() -> T) -> (T, u64) {
        let before = SPY_CALLS.load(std::sync::atomic::Ordering::Relaxed);
        let out = f();
        (
            out,
            SPY_CALLS.load(std::sync::atomic::Ordering::Relaxed) - before,
        )
    }

    impl TreeHasher for Spy {
        const NAME: &'static str = "blake3";
        fn hash(parts: &[&[u8]]) -> Digest {
            Blake3::hash(parts)
        }
        fn value(value: &[u8]) -> Digest {
            spy();
            Blake3::value(value)
        }
        fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
            spy();
            Blake3::leaf(key, next, value_digest)
        }
        fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
            spy();
            Blake3::internal(balance, left, right)
        }
    }

    /// A large batch sealed on two threads gets the same proof, root and labels (the audit
    /// recomputes every one) as on one, with the same number of hash calls; the helper
    /// thread really ran; small batches stay on one thread.
    #[test]
    fn the_two_thread_seal_matches_the_one_thread_seal() {
        SPY_HOME.with(|h| h.set(true));
        let mut one: ArenaTree<Spy> = ArenaTree::new();
        let mut two: ArenaTree<Spy> = ArenaTree::new();
        two.seal_on_two_threads(true);
        assert_eq!(two.split_seal, Some(SPLIT_SEAL_MIN));
        two.split_seal = Some(1000);
        let mut next = xorshift(0xC0FFEE_u64);
        let initial: Vec<Operation> = (0u64..3000)
            .map(|k| Operation::insert((k * 5 / 3).to_be_bytes(), [7; 32]))
            .collect();
        one.apply_unproven(&initial).unwrap();
        two.apply_unproven(&initial).unwrap();
        for round in 0..12 {
            // On 3000 keys, rounds of 400 operations copy over a thousand nodes; every fourth
            // round, of 20, a few hundred: under the test's threshold of 1000, which stands
            // in for the real one so that the test stays small.
            let size = if round % 4 == 3 { 20 } else { 400 };
            let ops: Vec<Operation> = (0..size)
                .map(|_| {
                    let r = next();
                    let key = (r % 5000).to_be_bytes();
                    let value = vec![(r >> 20) as u8; 1 + ((r >> 30) % 48) as usize];
                    match (r >> 40) % 6 {
                        0..=2 => Operation::upsert(key, value),
                        3 => Operation::update(key, value),
                        4 => Operation::lookup(key),
                        _ => Operation::remove_if_present(key),
                    }
                })
                .collect();
            SPY_OFF_HOME.store(false, std::sync::atomic::Ordering::Relaxed);
            let (what_if, by_two) = spied(|| two.prove(&ops).unwrap());
            let (expected, by_one) = spied(|| one.prove(&ops).unwrap());
            assert_eq!(
                (what_if, by_two),
                (expected, by_one),
                "what-if, round {round}"
            );
            let (ours, by_two) = spied(|| two.apply(&ops).unwrap());
            let (theirs, by_one) = spied(|| one.apply(&ops).unwrap());
            assert_eq!((ours, by_two), (theirs, by_one), "round {round}");
            let split = SPY_OFF_HOME.load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(split, size == 400, "round {round}: sealed off this thread");
            assert_eq!(two.audit().unwrap(), one.audit().unwrap(), "round {round}");
        }
    }

    #[test]
    fn unproven_batches_reach_the_same_roots() {
        let mut tree: Tree<Blake3> = Tree::empty();
        let mut arena: ArenaTree<Blake3> = ArenaTree::new();
        let mut seed = 7u64;
        for _ in 0..40 {
            let spec: Vec<(u8, u8, u8)> = (0..50)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let b = seed.to_le_bytes();
                    (b[5], b[6], b[7])
                })
                .collect();
            let ops = ops_from(&spec);
            assert_eq!(
                arena.apply_unproven(&ops).unwrap(),
                tree.apply_unproven(&ops).unwrap()
            );
            assert_eq!(arena.root(), tree.root());
            let live = usize::try_from(arena.len().saturating_mul(2).saturating_sub(1)).unwrap();
            assert_eq!(arena.live_nodes(), live);
        }
    }

    /// The id set against the standard library's, with growth and repeats.
    fn id_set_is_a_set(inserts: Vec<u16>) -> bool {
        let mut ours = IdSet::with_capacity(inserts.len() / 4);
        let mut model = std::collections::BTreeSet::new();
        for &i in &inserts {
            let id = NodeId::node(usize::from(i)).unwrap();
            assert_eq!(ours.insert(id), model.insert(i));
        }
        ours.len() == model.len()
            && (0..=u16::MAX)
                .all(|i| ours.contains(NodeId::node(usize::from(i)).unwrap()) == model.contains(&i))
            && !ours.insert(NodeId::HOLE)
            && !ours.contains(NodeId::HOLE)
    }

    #[test]
    fn id_sets_behave_as_sets() {
        quickcheck(id_set_is_a_set as fn(Vec<u16>) -> bool);
    }

    std::thread_local! {
        /// Calls of `Counted`'s node labels on this thread: internal nodes, leaves, values.
        static CALLS: core::cell::Cell<[u64; 3]> = const { core::cell::Cell::new([0; 3]) };
    }

    /// BLAKE3, counting the node labels it computes.
    struct Counted;

    fn count(kind: usize) {
        CALLS.with(|c| {
            let mut calls = c.get();
            calls[kind] += 1;
            c.set(calls);
        });
    }

    fn calls<T>(f: impl FnOnce() -> T) -> (T, [u64; 3]) {
        CALLS.with(|c| c.set([0; 3]));
        let out = f();
        (out, CALLS.with(core::cell::Cell::get))
    }

    impl TreeHasher for Counted {
        const NAME: &'static str = "blake3";
        fn hash(parts: &[&[u8]]) -> Digest {
            Blake3::hash(parts)
        }
        fn value(value: &[u8]) -> Digest {
            count(2);
            Blake3::value(value)
        }
        fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
            count(1);
            Blake3::leaf(key, next, value_digest)
        }
        fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
            count(0);
            Blake3::internal(balance, left, right)
        }
    }

    /// Invariant 1 of docs/design.md on the arena engine: a batch labels each node it makes
    /// once (so as many internal-node and leaf labels as the reference-counted tree, and no
    /// more than the nodes it adds to the arena), and hashes each new value once.
    #[test]
    fn nothing_is_hashed_twice() {
        let mut tree: Tree<Counted> = Tree::empty();
        let mut arena: ArenaTree<Counted> = ArenaTree::new();
        for round in 0u8..20 {
            let ops: Vec<Operation> = (0u8..60)
                .map(|i| {
                    let key = [i.wrapping_mul(37).wrapping_add(round), 1];
                    match (i + round) % 4 {
                        0 | 1 => Operation::upsert(key, [round; 40]),
                        2 => Operation::remove_if_present(key),
                        _ => Operation::lookup(key),
                    }
                })
                .collect();
            let ((results, _, _, placed), by_arena) =
                calls(|| arena.apply_with(&ops, true).unwrap());
            let (theirs, by_tree) = calls(|| tree.apply(&ops).unwrap());
            assert_eq!(results, theirs.results);
            assert_eq!(arena.root(), theirs.new_root);
            assert_eq!(by_arena, by_tree, "round {round}");
            // Every node the new tree holds from this batch was labelled once, and nothing else.
            assert_eq!(by_arena[0] + by_arena[1], placed as u64, "round {round}");
            let upserts = ops
                .iter()
                .filter(|o| matches!(o, Operation::Upsert(..)))
                .count();
            assert!(by_arena[2] as usize <= upserts, "round {round}");
        }
    }

    /// The audit sees a wrong routing key (which no label covers), a wrong balance and a
    /// changed value in the arena.
    #[test]
    fn the_audit_finds_corrupted_nodes() {
        use crate::AuditError;
        let mut arena: ArenaTree<Blake3> = ArenaTree::new();
        let ops: Vec<Operation> = (0u8..50).map(|i| Operation::insert([i], [i; 8])).collect();
        arena.apply(&ops).unwrap();
        assert_eq!(arena.audit().unwrap().leaves, 50);
        let root = arena.state.root.and_then(NodeId::index).unwrap();
        let original = arena.nodes[root].clone();
        let Kind::Internal(i) = &mut arena.nodes[root].kind else {
            panic!("the root of 50 keys is internal")
        };
        i.route = Route::new(&Bytes::from(&[200u8][..]));
        assert_eq!(arena.audit(), Err(AuditError::BadRoute));
        arena.nodes[root] = original.clone();
        let Kind::Internal(i) = &mut arena.nodes[root].kind else {
            unreachable!()
        };
        i.balance = if i.balance == 0 { 1 } else { 0 };
        assert_eq!(arena.audit(), Err(AuditError::Unbalanced));
        arena.nodes[root] = original;
        assert!(arena.audit().is_ok());
        let leaf = arena
            .nodes
            .iter_mut()
            .find(|n| matches!(n.kind, Kind::Leaf(_)))
            .unwrap();
        if let Kind::Leaf(l) = &mut leaf.kind {
            l.value = LeafValue::full(Bytes::from(&b"changed"[..]));
        }
        assert_eq!(arena.audit(), Err(AuditError::LabelMismatch));
    }

    #[test]
    fn a_what_if_proof_changes_nothing() {
        let mut arena: ArenaTree<Blake3> = ArenaTree::new();
        let ops: Vec<Operation> = (0u8..100).map(|i| Operation::insert([i], [i; 8])).collect();
        arena.apply(&ops).unwrap();
        let root = arena.root();
        let removes: Vec<Operation> = (0u8..100).map(|i| Operation::remove([i])).collect();
        let what_if = arena.prove(&removes).unwrap();
        assert_eq!(arena.root(), root);
        assert_eq!(what_if.new_root.label, Blake3::empty());
        let again = arena.prove(&removes).unwrap();
        assert_eq!(again, what_if);
        assert_eq!(arena.apply(&removes).unwrap().new_root, what_if.new_root);
        assert_eq!(arena.live_nodes(), 0);
    }
}
