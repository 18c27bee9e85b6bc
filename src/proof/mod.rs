//! The proof: the state a batch started from, pruned to what the batch read, in one canonical
//! byte encoding (`docs/proof-format.md` describes every byte).
//!
//! ```text
//!  version | node count | key width | value width | shape bits | payloads | direction bits
//!    u8       varint       varint       varint        post-order   post-order
//! ```
//!
//! The shape is the pruned tree in post-order, one token per node: a bare hash (`0`), an
//! internal node with its balance (`1 b b`), or a leaf (`1 1 1 n v`, with flags for "has a next
//! key" and "value in full"). The payloads follow in the same order: 32 bytes per bare hash;
//! key, next key and value (or value digest) per leaf. A leaf's key is omitted when the
//! previous node in post-order, internal nodes aside, is a leaf with a next key: the two
//! leaves are then neighbours and that next key is this key. The direction bits say, for each
//! internal node a lookup walks through, which child it enters.
//!
//! Labels of expanded nodes are never in the bytes: the verifier recomputes them, so a proof
//! cannot claim a label its content does not have.

mod decode;
mod encode;

pub(crate) use decode::decode_with_room;
pub use decode::{decode, DecodeError, DecodeLimits};
pub(crate) use encode::{encode, Prune, Shown, View};
#[cfg(feature = "std")]
pub(crate) use encode::{encode_with, Buffers};

use alloc::vec::Vec;

use crate::hash::TreeHasher;
use crate::node::{Arena, Kind, LeafValue, Light, NodeId, Slot};

/// Format version written as the first byte of every proof.
pub const VERSION: u8 = 1;

/// Shape code of a bare hash reference (one bit).
pub(crate) const TOKEN_STUB: u32 = 0;
/// Two-bit codes that follow a leading `1` bit.
pub(crate) const CODE_EVEN: u32 = 0;
pub(crate) const CODE_LEFT_HEAVY: u32 = 1;
pub(crate) const CODE_RIGHT_HEAVY: u32 = 2;
pub(crate) const CODE_LEAF: u32 = 3;

/// The lengths of one class of items (keys and next keys, or values) seen so far: none, all
/// the same, or mixed. The encoder derives a width field from it; the decoder checks that
/// the field it read is the one the lengths call for.
#[derive(Clone, Copy)]
pub(crate) enum Width {
    None,
    Common(usize),
    Mixed,
}

impl Width {
    /// Counts one more item of length `len`.
    pub(crate) fn add(&mut self, len: usize) {
        *self = match *self {
            Width::None => Width::Common(len),
            Width::Common(c) if c == len => Width::Common(c),
            _ => Width::Mixed,
        };
    }

    /// Width field: `w + 1` when every item has length `w`, else 0 (each item carries a
    /// length).
    pub(crate) fn field(self) -> usize {
        match self {
            Width::Common(c) => c.saturating_add(1),
            Width::None | Width::Mixed => 0,
        }
    }
}

/// An encoded proof: canonical bytes, as sent to a verifier.
///
/// ```
/// use avlplus::{Operation, Tree};
/// let mut tree = Tree::new();
/// let batch = tree.apply(&[Operation::insert(b"k", b"v")])?;
/// let bytes: &[u8] = batch.proof.as_bytes();
/// assert_eq!(bytes[0], avlplus::proof::VERSION);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proof(Vec<u8>);

impl Proof {
    /// Wraps bytes received from elsewhere (nothing is checked until verification).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Proof(bytes)
    }
    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The encoded bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True for a zero-length byte string (never produced by a prover).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl AsRef<[u8]> for Proof {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Feature `serde`: lower-case hex text in human-readable formats (JSON), raw bytes in binary
/// ones, as the fixtures in `fixtures/` spell a proof.
///
/// Deserialising checks only the encoding of the byte string (hex digits, an even count):
/// like [`Proof::from_bytes`], nothing about the proof is checked until verification, which
/// applies the verifier's [`Limits`](crate::Limits) (proof size included).
///
/// ```
/// use avlplus::{Operation, Proof, Tree};
/// let mut tree = Tree::new();
/// let batch = tree.apply(&[Operation::insert(b"k", b"v")])?;
/// let json = serde_json::to_string(&batch.proof)?;
/// assert!(json.starts_with("\"01")); // the format version, in hex
/// assert_eq!(serde_json::from_str::<Proof>(&json)?, batch.proof);
/// assert!(serde_json::from_str::<Proof>("\"0\"").is_err()); // odd number of digits
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "serde")]
impl serde::Serialize for Proof {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::node::serde_bytes::serialize(&self.0, s)
    }
}

/// Feature `serde`: reads what [`Serialize`](serde::Serialize) writes.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Proof {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::node::serde_bytes::deserialize_vec(d).map(Proof)
    }
}

/// A decoded proof: the pruned tree and the raw direction bits.
///
/// Decoding checks the format only; whether the proof belongs to a given root is the
/// verifier's business. Re-encoding gives back exactly the bytes it was decoded from.
#[derive(Clone, Debug)]
pub struct ProofTree {
    /// The verifier's nodes, in one buffer: labels and content, nothing the prover keeps for
    /// its store.
    pub(crate) arena: Arena,
    /// The root's index in `arena`; `None` for the empty tree.
    pub(crate) root: Option<NodeId>,
    /// See [`ProofTree::height`].
    pub(crate) height: Option<usize>,
    pub(crate) directions: Vec<u8>,
}

/// Counts of the nodes a proof carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProofStats {
    /// Bare hash references (cut subtrees).
    pub stubs: usize,
    /// Expanded internal nodes.
    pub internal: usize,
    /// Leaves.
    pub leaves: usize,
    /// Leaves that carry only their value digest.
    pub withheld_values: usize,
    /// Bytes of direction bits.
    pub direction_bytes: usize,
}

struct AsDecoded<'a>(&'a Arena);

impl<'a> Prune<'a> for AsDecoded<'a> {
    type Side = Light;
    type Error = core::convert::Infallible;
    fn view(&mut self, link: &'a NodeId) -> Result<View<'a, Light>, Self::Error> {
        Ok(match self.0.slot(*link) {
            Some(Slot::Stub(label)) => View::Stub(*label),
            // Decoded trees have no holes (only a zipper in mid-move makes them).
            None => View::Stub([0; 32]),
            Some(Slot::Node(n)) => match &n.kind {
                Kind::Leaf(leaf) => View::Leaf {
                    key: &leaf.key,
                    next: leaf.next.as_deref(),
                    value: match &leaf.value {
                        LeafValue::Full { bytes, .. } => Shown::Full(bytes),
                        LeafValue::Withheld(digest) => Shown::Digest(*digest),
                    },
                },
                Kind::Internal(i) => View::Internal(i),
            },
        })
    }
}

impl ProofTree {
    /// Encodes the tree back to bytes (the inverse of [`decode`]). A decoded tree holds
    /// every digest its bytes carry, so nothing is hashed: `H` names the proof's hash only.
    ///
    /// ```
    /// use avlplus::{proof, Operation, Sha256, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])?;
    /// let batch = tree.prove(&[Operation::lookup(b"a")])?;
    /// let decoded = proof::decode(batch.proof.as_bytes(), &proof::DecodeLimits::default())?;
    /// assert_eq!(decoded.encode::<Sha256>(), batch.proof.as_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode<H: TreeHasher>(&self) -> Vec<u8> {
        match encode(
            self.root.as_ref(),
            &self.directions,
            &mut AsDecoded(&self.arena),
        ) {
            Ok(bytes) => bytes,
            Err(never) => match never {},
        }
    }

    /// The height of the tree this proof was cut from, as the proof itself implies it: `0`
    /// for the proof with no nodes (the empty tree), and otherwise the height that the
    /// balances along a *fully expanded path* (expanded internal nodes from the root down to
    /// a leaf) give, going up from the leaf (height 0): `1 + h + max(b, 0)` over a left child
    /// of height `h`, `1 + h + max(-b, 0)` over a right one, for a node of balance `b`; the
    /// left child's when both children give one. `None` when no such path exists (the root,
    /// or every path from it, ends in a stub).
    ///
    /// Nothing here is checked: once the proof's labels match a trusted root, every
    /// expanded node is a node of that tree and this is its exact height, which the verifier
    /// then requires the trusted digest to state (`docs/proof-format.md` §6.1).
    ///
    /// ```
    /// use avlplus::{proof, Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])?;
    /// let limits = proof::DecodeLimits::default();
    /// let batch = tree.prove(&[Operation::lookup(b"a")])?;
    /// assert_eq!(proof::decode(batch.proof.as_bytes(), &limits)?.height(), Some(1));
    /// let nothing = tree.prove(&[])?;
    /// assert_eq!(proof::decode(nothing.proof.as_bytes(), &limits)?.height(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn height(&self) -> Option<usize> {
        self.height
    }

    /// How many nodes of each kind the proof carries.
    pub fn stats(&self) -> ProofStats {
        fn walk(arena: &Arena, id: NodeId, s: &mut ProofStats) {
            match arena.slot(id) {
                Some(Slot::Stub(_)) => s.stubs = s.stubs.saturating_add(1),
                None => {}
                Some(Slot::Node(n)) => match &n.kind {
                    Kind::Leaf(l) => {
                        s.leaves = s.leaves.saturating_add(1);
                        if l.value.bytes().is_none() {
                            s.withheld_values = s.withheld_values.saturating_add(1);
                        }
                    }
                    Kind::Internal(i) => {
                        s.internal = s.internal.saturating_add(1);
                        walk(arena, i.left, s);
                        walk(arena, i.right, s);
                    }
                },
            }
        }
        let mut s = ProofStats {
            direction_bytes: self.directions.len(),
            ..ProofStats::default()
        };
        if let Some(root) = self.root {
            walk(&self.arena, root, &mut s);
        }
        s
    }
}
