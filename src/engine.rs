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
//! that looks ids up in the batch's touched set. Byte-identical proofs, results and roots to
//! [`Tree`](crate::Tree) are tested.
//!
//! Not yet here (the rest of issue 11): stubs and a store, the memory budget's eviction,
//! versions and snapshots, reads other than batches, compact node layouts.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;

use crate::codec::BitWriter;
use crate::error::TreeError;
use crate::hash::{Digest, RootDigest, TreeHasher};
use crate::node::{Bytes, Dir, Internal, Kind, LeafValue, Node, NodeId, Route, Side};
use crate::ops::{apply, OpResult, Operation, Outcome, SizeLimits, State};
use crate::proof::{encode, Proof, Prune, View};
use crate::prover::LabelSet;
use crate::tree::BatchProof;
use crate::zipper::{Fault, Walker};

/// The arena engine's side: nodes carry routing keys; children are ids into the arena.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Packed {}

impl Side for Packed {
    type Version = ();
    type Route = Route;
    type Link = NodeId;

    fn route(key: Option<&Bytes>) -> Route {
        Route::from_option(key)
    }
}

type PNode = Node<Packed>;

/// Hashes a node id by one multiplication (ids are dense, so their low bits already differ;
/// the product spreads them into the high bits that hashbrown's control bytes use).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdSet = HashSet<NodeId, BuildHasherDefault<IdHasher>>;

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

/// One batch's walker over the committed nodes and its own region.
struct Batch<'t, H> {
    base: &'t [PNode],
    new: Vec<PNode>,
    /// Direction bits and values read are recorded (a proof is wanted).
    proof: bool,
    /// Committed nodes whose content the batch read.
    touched: IdSet,
    /// Digests of committed values the batch returned.
    read: LabelSet,
    directions: BitWriter,
    hasher: PhantomData<fn() -> H>,
}

impl<'t, H: TreeHasher> Batch<'t, H> {
    fn new(base: &'t [PNode], proof: bool, ops: usize, height: u8) -> Self {
        let per_op = usize::from(height).saturating_add(4);
        let mut touched = IdSet::default();
        touched.reserve(ops.saturating_mul(per_op).min(1 << 18));
        Batch {
            base,
            new: Vec::with_capacity(ops.saturating_mul(per_op).min(1 << 18)),
            proof,
            touched,
            read: LabelSet::default(),
            directions: BitWriter::new(),
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
        let (left, right, balance) = match self.new.get_mut(j) {
            None => return [0; 32],
            Some(node) => {
                if let Some(label) = node.label {
                    return label;
                }
                match &mut node.kind {
                    Kind::Leaf(leaf) => {
                        let vd = leaf.value.digest::<H>();
                        let label = H::leaf(&leaf.key, leaf.next.as_deref(), &vd);
                        node.label = Some(label);
                        return label;
                    }
                    Kind::Internal(i) => (i.left, i.right, i.balance),
                }
            }
        };
        let l = self.seal(left);
        let r = self.seal(right);
        let label = H::internal(balance, &l, &r);
        if let Some(node) = self.new.get_mut(j) {
            node.label = Some(label);
        }
        label
    }
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

    fn direction(&mut self, link: &NodeId, key: &[u8]) -> Result<Dir, TreeError> {
        let internal = self
            .node(*link)
            .and_then(Node::as_internal)
            .ok_or_else(|| TreeError::Malformed)?;
        let route = internal.route.get().ok_or_else(|| TreeError::Malformed)?;
        let dir = if key < route { Dir::Left } else { Dir::Right };
        if self.proof {
            self.directions.push(dir == Dir::Right);
        }
        Ok(dir)
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
        if !self.touched.contains(link) {
            return node
                .label
                .map(View::Stub)
                .ok_or_else(|| TreeError::Malformed);
        }
        Ok(match &node.kind {
            Kind::Leaf(leaf) => View::Leaf {
                leaf,
                ship_value: match &leaf.value {
                    LeafValue::Full { bytes, digest } => {
                        bytes.len() < 32 || digest.is_some_and(|d| self.read.contains(&d))
                    }
                    LeafValue::Withheld(_) => false,
                },
            },
            Kind::Internal(i) => View::Internal(i),
        })
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
    state: State<Packed>,
    root: RootDigest,
    version: u64,
    len: u64,
    limits: SizeLimits,
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
            state: State::default(),
            root: RootDigest {
                label: H::empty(),
                height: 0,
            },
            version: 0,
            len: 0,
            limits: SizeLimits::default(),
            hasher: PhantomData,
        }
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

    /// Slots in the arena that hold a node of the tree (the rest are free).
    pub fn live_nodes(&self) -> usize {
        self.nodes.len().saturating_sub(self.free.len())
    }

    /// Runs `ops` on the committed state: the post-state sealed, with the proof if `proof`.
    fn run(&self, ops: &[Operation], proof: bool) -> Result<Ran<'_, H>, TreeError> {
        for (index, op) in ops.iter().enumerate() {
            op.check(&self.limits)
                .map_err(|error| TreeError::Operation { index, error })?;
        }
        let mut state = self.state.clone();
        let mut batch = Batch::new(&self.nodes, proof, ops.len(), state.height);
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            results.push(apply(&mut state, op, &mut batch)?);
        }
        let bytes = if proof {
            let directions = core::mem::take(&mut batch.directions).into_bytes();
            encode::<H, _>(self.state.root.as_ref(), &directions, &mut batch)?
        } else {
            Vec::new()
        };
        let label = match state.root {
            Some(root) => batch.seal(root),
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
        let ran = self.run(ops, true)?;
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
        let Ran {
            state,
            root,
            results,
            proof,
            batch,
        } = self.run(ops, true)?;
        self.commit(state, batch.new, batch.touched, root, &results);
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
        let Ran {
            state,
            root,
            results,
            batch,
            ..
        } = self.run(ops, false)?;
        self.commit(state, batch.new, batch.touched, root, &results);
        Ok(results)
    }

    /// Makes a sealed batch the committed state: frees the committed nodes it replaced and
    /// places its reachable nodes, children first, into free slots or at the end.
    fn commit(
        &mut self,
        state: State<Packed>,
        mut new: Vec<PNode>,
        mut touched: IdSet,
        root: RootDigest,
        results: &[OpResult],
    ) {
        let base_len = self.nodes.len();
        // The batch's reachable nodes in post-order; the touched committed nodes the new tree
        // still holds leave `touched`, so what stays there is what the batch replaced. A
        // batch that kept the old root (lookups, failed operations) changed nothing.
        let mut order = Vec::with_capacity(new.len());
        match state.root {
            Some(root) if state.root != self.state.root => {
                reachable(&self.nodes, &new, root, &mut touched, &mut order);
            }
            Some(_) => touched.clear(),
            None => {}
        }
        for id in touched {
            if let Some(slot) = id.index().and_then(|i| self.nodes.get_mut(i)) {
                *slot = vacant();
                self.free.push(id);
            }
        }
        let mut placed = vec![NodeId::HOLE; new.len()];
        let remap = |id: NodeId, placed: &[NodeId]| match id.index() {
            Some(i) if i >= base_len => placed.get(i.wrapping_sub(base_len)).copied(),
            _ => Some(id),
        };
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
    }

    /// Ids of the nodes the committed tree reaches (for the tests' leak check).
    #[cfg(test)]
    fn reached(&self) -> usize {
        fn walk(nodes: &[PNode], id: NodeId) -> usize {
            match id.index().and_then(|i| nodes.get(i)).map(|n| &n.kind) {
                Some(Kind::Internal(i)) => 1 + walk(nodes, i.left) + walk(nodes, i.right),
                Some(Kind::Leaf(_)) => 1,
                None => 0,
            }
        }
        self.state.root.map_or(0, |r| walk(&self.nodes, r))
    }
}

/// Collects, from `id` down, the batch's own nodes (indices into `new`, children first), and
/// takes the touched committed nodes the tree reaches out of `touched`. Enters only those:
/// an untouched committed node's subtree is unchanged and holds no touched node (a node is
/// read only by walking through its ancestors).
fn reachable(
    base: &[PNode],
    new: &[PNode],
    id: NodeId,
    touched: &mut IdSet,
    order: &mut Vec<usize>,
) {
    let Some(i) = id.index() else { return };
    let (node, own) = match i.checked_sub(base.len()) {
        None => {
            if !touched.remove(&id) {
                return;
            }
            (base.get(i), None)
        }
        Some(j) => (new.get(j), Some(j)),
    };
    if let Some(Kind::Internal(internal)) = node.map(|n| &n.kind) {
        reachable(base, new, internal.left, touched, order);
        reachable(base, new, internal.right, touched, order);
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
            assert_eq!(arena.reached(), live);
        }
        TestResult::passed()
    }

    #[test]
    fn batches_match_the_reference_counted_tree() {
        quickcheck(same_as_tree as fn(Vec<Vec<(u8, u8, u8)>>) -> TestResult);
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
