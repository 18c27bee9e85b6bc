//! Tree nodes: leaves and internal nodes, generic over the tree they belong to, and the
//! verifier's arena.
//!
//! Invariants kept by the code that builds nodes (the zipper and the decoders):
//! - A node's label is set exactly when the node's content equals a node of the state the
//!   current batch started from (committed, loaded or decoded from a proof). A node created or
//!   changed by the batch has none until it is sealed (the prover's arena in `src/tree/`,
//!   [`Arena::seal`] on the verifier's). The zipper forgets the label of every node it hands
//!   out for mutation.
//! - The state a batch started from is untouched by the batch: the prover's engine copies a
//!   committed node into the batch's own region before changing it (`src/tree/`), which
//!   is what makes what-if proofs free of side effects and lets the proof be cut from that
//!   state. The verifier's nodes are its own (one [`Arena`] per verification), so it edits
//!   them in place.
//! - `Internal::route` is the least key of the right subtree. The prover navigates by it; it
//!   is not hashed, and the verifier's nodes do not have it.
//!
//! Every node type is generic over the [`Side`] it belongs to. The operation code (the zipper
//! and `ops`) is written once over any side; what only one side needs lives in the side's
//! associated types:
//!
//! | | `Packed` (prover, `src/tree/`) | `Full` (a store record, decoded) | [`Light`] (verifier) |
//! |---|---|---|---|
//! | `Node::version` | `()` (a side table) | `u64`: the record's version | `()` |
//! | `Internal::route` | the routing key's head and pool reference | `Option<Bytes>`: the routing key | `()` |
//! | a child (`Side::Link`) | [`NodeId`]: 4 bytes | the child's record key | [`NodeId`]: 4 bytes |
//!
//! so the verifier's nodes carry no prover state, and its memory accounting (`size_of` of
//! `Node<Light>`) counts only what it holds. `Full` is how the audit and the collector read a
//! stored node: its children are the record keys (version, label) they name.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Debug;

use crate::hash::{Digest, TreeHasher};

#[cfg(feature = "serde")]
pub(crate) mod serde_bytes;

/// Byte strings in the tree: cheap to clone and shared between a leaf's key, its
/// predecessor's next key and a routing key.
pub type Bytes = Arc<[u8]>;

/// Which tree a node belongs to: the prover's (`Full`) or the verifier's proof tree
/// ([`Light`]). Crate-private, so no other side can exist; the operation code is generic over
/// it and the side-specific parts of a walk come from its `Walker`. (`Clone` and `Debug`
/// because the node types derive them; the sides are never values.)
pub(crate) trait Side: Clone + Debug {
    /// The record version of a node in the store; `()` where there is no store.
    type Version: Copy + Default + Debug;
    /// An internal node's routing key; `()` where walks follow direction bits.
    type Route: Clone + Debug;
    /// A child pointer: an index into the arena that holds the whole tree (the prover's and
    /// the verifier's), or a stored node's record key.
    type Link: Clone + Debug;
    /// A key as the side's leaves hold it (their key and next key): the bytes themselves, or
    /// a reference into the walker's own storage (the arena engine's byte pool).
    type Key: Clone + Debug;
    /// A value as the side's leaves hold it.
    type Value: Clone + Debug;
    /// Where a node keeps its label.
    type Label: LabelSlot;
}

/// Where a node keeps its label: an `Option`, or (the arena engine's, whose nodes it keeps
/// four bytes smaller) a digest whose all-zero value means none. A real label is all zeros
/// with probability 2^-256; such a node would only be relabelled, to the same value.
#[cfg_attr(not(feature = "std"), allow(dead_code))] // only the verifier's arena without std
pub(crate) trait LabelSlot: Clone + Debug {
    /// No label.
    const NONE: Self;
    /// The label, if there is one.
    fn get(&self) -> Option<Digest>;
    /// Sets the label.
    fn set(&mut self, label: Digest);
}

impl LabelSlot for Option<Digest> {
    const NONE: Self = None;

    #[inline]
    fn get(&self) -> Option<Digest> {
        *self
    }

    #[inline]
    fn set(&mut self, label: Digest) {
        *self = Some(label);
    }
}

/// A stored node, decoded from its record: it carries its record's version and its routing
/// key, and its children are the record keys of theirs (the audit's and the collector's view
/// of a store).
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub(crate) enum Full {}

#[cfg(feature = "std")]
impl Side for Full {
    type Version = u64;
    type Route = Option<Bytes>;
    type Link = crate::store::layout::NodeKey;
    type Key = Bytes;
    type Value = LeafValue;
    type Label = Option<Digest>;
}

/// The verifier's side: a proof tree's nodes are their label and content only. Walks take
/// their directions from the proof, and a stub is a subtree the proof cut.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Light {}

impl Side for Light {
    type Version = ();
    type Route = ();
    type Link = NodeId;
    type Key = Bytes;
    type Value = LeafValue;
    type Label = Option<Digest>;
}

/// The side that node types name when none is given: a stored node's, so that store code
/// writes `Node`. Without `std` there is no store and only the verifier's side; code shared
/// by several sides always names its side.
#[cfg(feature = "std")]
pub(crate) type DefaultSide = Full;
/// The side that node types name when none is given (without `std`, the only one).
#[cfg(not(feature = "std"))]
pub(crate) type DefaultSide = Light;

/// Which child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// The left child (smaller keys).
    Left,
    /// The right child (keys at or above the routing key).
    Right,
}

impl Dir {
    /// The other side.
    pub(crate) fn flip(self) -> Dir {
        match self {
            Dir::Left => Dir::Right,
            Dir::Right => Dir::Left,
        }
    }

    /// The balance sign of this side: -1 for left, +1 for right.
    pub(crate) fn sign(self) -> i8 {
        match self {
            Dir::Left => -1,
            Dir::Right => 1,
        }
    }
}

/// A leaf's value: in full, or (in a proof) only its digest when the batch never reads it.
#[derive(Clone, Debug)]
pub(crate) enum LeafValue {
    /// The value bytes, with their digest once computed.
    Full {
        /// The value.
        bytes: Bytes,
        /// `TreeHasher::value(bytes)`, cached.
        digest: Option<Digest>,
    },
    /// Only the value digest (proof leaves whose value the batch does not read).
    Withheld(Digest),
}

impl LeafValue {
    /// A full value whose digest is not yet computed.
    pub(crate) fn full(bytes: Bytes) -> Self {
        LeafValue::Full {
            bytes,
            digest: None,
        }
    }

    /// The digest, computing it if needed.
    pub(crate) fn digest<H: TreeHasher>(&mut self) -> Digest {
        match self {
            LeafValue::Full { bytes, digest } => *digest.get_or_insert_with(|| H::value(bytes)),
            LeafValue::Withheld(d) => *d,
        }
    }

    /// The value bytes, if present.
    pub(crate) fn bytes(&self) -> Option<&Bytes> {
        match self {
            LeafValue::Full { bytes, .. } => Some(bytes),
            LeafValue::Withheld(_) => None,
        }
    }
}

/// A leaf: one key-value pair and the next key in order (`None` for the greatest key).
#[derive(Clone, Debug)]
pub(crate) struct Leaf<S: Side = DefaultSide> {
    /// The key.
    pub key: S::Key,
    /// The next key in the map, `None` if this is the last leaf.
    pub next: Option<S::Key>,
    /// The value.
    pub value: S::Value,
}

/// An internal node.
#[derive(Clone, Debug)]
pub(crate) struct Internal<S: Side = DefaultSide> {
    /// Height of the right subtree minus height of the left one: -1, 0 or +1.
    pub balance: i8,
    /// Left child.
    pub left: S::Link,
    /// Right child.
    pub right: S::Link,
    /// Least key of the right subtree (prover only; not hashed).
    pub route: S::Route,
}

/// The first eight bytes of `bytes` as a little-endian word, zero-padded: a hash of labels
/// and of hash-like values for the prover's sets (which probe on equal prefixes).
#[cfg(feature = "std")]
#[inline]
pub(crate) fn first_word(bytes: &[u8]) -> u64 {
    let word = match bytes.first_chunk::<8>() {
        Some(word) => *word,
        None => {
            let mut word = [0u8; 8];
            for (w, b) in word.iter_mut().zip(bytes) {
                *w = *b;
            }
            word
        }
    };
    u64::from_le_bytes(word)
}

/// Whether a walk for `key` goes left of the routing key `route` (`key < route`, byte-wise).
///
/// Compares eight bytes at a time as big-endian words: keys are hashes or hash-prefixed in
/// most states, so the first word decides, without a call to `memcmp` per level.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn goes_left(key: &[u8], route: &[u8]) -> bool {
    let (mut a, mut b) = (key, route);
    while let (Some((x, rest_a)), Some((y, rest_b))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
        if x != y {
            return x < y;
        }
        (a, b) = (rest_a, rest_b);
    }
    a < b
}

impl<S: Side> Internal<S> {
    /// The child on side `dir`.
    pub(crate) fn child(&self, dir: Dir) -> &S::Link {
        match dir {
            Dir::Left => &self.left,
            Dir::Right => &self.right,
        }
    }

    /// The child on side `dir`, mutably.
    pub(crate) fn child_mut(&mut self, dir: Dir) -> &mut S::Link {
        match dir {
            Dir::Left => &mut self.left,
            Dir::Right => &mut self.right,
        }
    }
}

/// What a node is.
#[derive(Clone, Debug)]
pub(crate) enum Kind<S: Side = DefaultSide> {
    /// A leaf.
    Leaf(Leaf<S>),
    /// An internal node.
    Internal(Internal<S>),
}

/// A node with its label, if known (see the module invariants).
#[derive(Clone, Debug)]
pub(crate) struct Node<S: Side = DefaultSide> {
    /// The node's label; none while the batch that made it is running.
    pub label: S::Label,
    /// The version whose commit wrote this node's store record (with `label`, the record's
    /// key); 0 where nothing is stored (prover only).
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // `()` on the verifier's side
    pub version: S::Version,
    /// The content.
    pub kind: Kind<S>,
}

impl<S: Side> Node<S> {
    /// A new, unlabelled node.
    pub(crate) fn new(kind: Kind<S>) -> Self {
        Node {
            label: S::Label::NONE,
            version: S::Version::default(),
            kind,
        }
    }

    /// Forgets the label (the node is about to change).
    #[inline]
    pub(crate) fn forget_label(&mut self) {
        self.label = S::Label::NONE;
    }

    /// The internal node, if this is one.
    pub(crate) fn as_internal(&self) -> Option<&Internal<S>> {
        match &self.kind {
            Kind::Internal(i) => Some(i),
            Kind::Leaf(_) => None,
        }
    }
}

/// One node's part of sealing an arena (whose links are plain ids): its label if it has one
/// or is a leaf (hashed and kept), else its children and balance, to be sealed first.
pub(crate) fn seal_step<
    S: Side<Key = Bytes, Value = LeafValue, Label = Option<Digest>>,
    H: TreeHasher,
>(
    node: &mut Node<S>,
) -> Result<Digest, (S::Link, S::Link, i8)>
where
    S::Link: Copy,
{
    if let Some(label) = node.label {
        return Ok(label);
    }
    match &mut node.kind {
        Kind::Leaf(leaf) => {
            let vd = leaf.value.digest::<H>();
            let label = H::leaf(&leaf.key, leaf.next.as_deref(), &vd);
            node.label = Some(label);
            Ok(label)
        }
        Kind::Internal(i) => Err((i.left, i.right, i.balance)),
    }
}

/// Index of a node in its arena (the verifier's [`Arena`], the prover's in `src/tree/`):
/// four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NodeId(u32);

impl NodeId {
    /// The verifier's hole: no node or stub has this id.
    pub(crate) const HOLE: NodeId = NodeId(u32::MAX);

    /// Ids with this bit set name stubs, by their index in [`Arena`]'s stub list.
    const STUB: u32 = 1 << 31;

    /// The id of node `index`; `None` from 2^31 nodes on.
    #[cfg(feature = "std")]
    pub(crate) fn node(index: usize) -> Option<NodeId> {
        u32::try_from(index)
            .ok()
            .filter(|&i| i < Self::STUB)
            .map(NodeId)
    }

    /// The node index this id names; `None` for a stub or the hole.
    #[cfg(feature = "std")]
    pub(crate) fn index(self) -> Option<usize> {
        self.get()?.ok()
    }

    /// The node index this id names, or the stub index; `None` for the hole.
    fn get(self) -> Option<Result<usize, usize>> {
        if self == NodeId::HOLE {
            None
        } else if self.0 & Self::STUB == 0 {
            Some(Ok(self.0 as usize))
        } else {
            Some(Err((self.0 & !Self::STUB) as usize))
        }
    }
}

/// What a verifier's id names: a node, or a subtree the proof cut (its label).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot<'a> {
    /// A node of the proof tree, or one the batch made.
    Node(&'a Node<Light>),
    /// A subtree the proof cut: only its label.
    Stub(&'a Digest),
}

/// The verifier's nodes, all in one buffer, and the labels of the subtrees the proof cut in
/// another: a proof's nodes as decoded (post-order), then the nodes its batch makes. Nothing
/// is freed before the verification ends, when the buffers are freed at once; a node the
/// batch replaces simply stays unused. Every node is the verifier's alone, so walks edit in
/// place.
#[derive(Clone, Debug, Default)]
pub(crate) struct Arena {
    nodes: Vec<Node<Light>>,
    stubs: Vec<Digest>,
}

impl Arena {
    /// An empty arena with room for `nodes` nodes and `stubs` stubs.
    pub(crate) fn with_capacity(nodes: usize, stubs: usize) -> Self {
        Arena {
            nodes: Vec::with_capacity(nodes),
            stubs: Vec::with_capacity(stubs),
        }
    }

    /// Adds a node; `None` once the arena holds 2^31 nodes (no proof within any limit
    /// comes near).
    pub(crate) fn push(&mut self, node: Node<Light>) -> Option<NodeId> {
        let id = u32::try_from(self.nodes.len())
            .ok()
            .filter(|&i| i < NodeId::STUB)?;
        self.nodes.push(node);
        Some(NodeId(id))
    }

    /// Adds a stub; `None` once the arena holds 2^31 - 1 stubs.
    pub(crate) fn push_stub(&mut self, label: Digest) -> Option<NodeId> {
        let id = u32::try_from(self.stubs.len())
            .ok()
            .filter(|&i| i < NodeId::STUB - 1)?;
        self.stubs.push(label);
        Some(NodeId(id | NodeId::STUB))
    }

    /// What `id` names; `None` for the hole.
    pub(crate) fn slot(&self, id: NodeId) -> Option<Slot<'_>> {
        match id.get()? {
            Ok(i) => self.nodes.get(i).map(Slot::Node),
            Err(i) => self.stubs.get(i).map(Slot::Stub),
        }
    }

    /// The node at `id`, if it is one (not a stub, not the hole).
    pub(crate) fn node(&self, id: NodeId) -> Option<&Node<Light>> {
        match id.get()? {
            Ok(i) => self.nodes.get(i),
            Err(_) => None,
        }
    }

    /// The node at `id` for mutation, if it is one.
    pub(crate) fn node_mut(&mut self, id: NodeId) -> Option<&mut Node<Light>> {
        match id.get()? {
            Ok(i) => self.nodes.get_mut(i),
            Err(_) => None,
        }
    }

    /// Computes every missing label below and at `id`, returning its label. Each node is
    /// hashed once, bottom-up; labelled nodes are not revisited. The recursion is as deep as
    /// the tree, which the verifier bounds.
    pub(crate) fn seal<H: TreeHasher>(&mut self, id: NodeId) -> Digest {
        let node = match id.get() {
            Some(Ok(i)) => self.nodes.get_mut(i),
            Some(Err(i)) => return self.stubs.get(i).copied().unwrap_or([0; 32]),
            None => None,
        };
        let (left, right, balance) = match node.map(seal_step::<Light, H>) {
            // Never sealed in a finished walk; the zero label cannot match any real one.
            None => return [0; 32],
            Some(Ok(label)) => return label,
            Some(Err(children)) => children,
        };
        let l = self.seal::<H>(left);
        let r = self.seal::<H>(right);
        let label = H::internal(balance, &l, &r);
        if let Some(node) = self.node_mut(id) {
            node.label = Some(label);
        }
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `goes_left` is `key < route` on byte strings, for any lengths and for keys that share
    /// long prefixes (where the word-wise comparison runs past the first word).
    #[cfg(feature = "std")]
    #[test]
    fn goes_left_is_the_byte_order() {
        fn check(key: alloc::vec::Vec<u8>, route: alloc::vec::Vec<u8>, prefix: u8) -> bool {
            let shared: alloc::vec::Vec<u8> = (0..prefix % 40).collect();
            let key = [&shared[..], &key[..]].concat();
            let route = [&shared[..], &route[..]].concat();
            goes_left(&key, &route) == (key < route) && !goes_left(&key, &key)
        }
        quickcheck::QuickCheck::new()
            .tests(2000)
            .quickcheck(check as fn(_, _, _) -> bool);
        for (a, b) in [
            (&b""[..], &b""[..]),
            (b"", b"a"),
            (b"abcdefgh", b"abcdefghi"),
        ] {
            assert_eq!(goes_left(a, b), a < b);
            assert_eq!(goes_left(b, a), b < a);
        }
    }

    #[test]
    fn node_ids_are_four_bytes() {
        assert_eq!(core::mem::size_of::<NodeId>(), 4);
    }

    /// docs/design.md quotes the node sizes (64-bit targets); this keeps them true.
    #[cfg(all(feature = "std", target_pointer_width = "64"))]
    #[test]
    fn design_doc_quotes_the_node_sizes() {
        use core::mem::size_of;
        let doc = include_str!("../docs/design.md").replace('\n', " ");
        let quoted = alloc::format!(
            "a verifier's node is {} bytes, its stub {} and its node id {} (the prover's node:",
            size_of::<Node<Light>>(),
            size_of::<Digest>(),
            size_of::<NodeId>(),
        );
        assert!(doc.contains(&quoted), "docs/design.md should say: {quoted}");
    }

    /// The verifier's nodes hold no prover state: an internal node is its balance and two
    /// four-byte indices, a stub its label (the figures the decoder's memory charge is built
    /// from).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn verifier_nodes_carry_no_prover_fields() {
        use core::mem::size_of;
        assert_eq!(size_of::<Internal<Light>>(), 12);
        // The label and a leaf's content (88 bytes), which is larger than an internal node's.
        assert_eq!(size_of::<Node<Light>>(), 128);
        assert_eq!(size_of::<Slot>(), 16);
    }
}
