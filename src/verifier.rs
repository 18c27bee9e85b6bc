//! The light client's side: replays a batch on its proof, with no store and no `std`.
//!
//! The verifier trusts exactly three things: the old root digest, the operations and its own
//! limits. It decodes the proof, recomputes the label of every expanded node bottom-up and
//! compares the root's with the trusted one, and the trusted height with the height the proof
//! implies; then it runs the same operation code as the prover (the zipper) over the proof
//! tree, taking each direction from the proof's direction bits. A walk that needs a subtree
//! the proof cut, a leaf that does not bracket its key, or a direction bit too many or too
//! few is an error. The new root is computed from the result.
//!
//! Cost: decoding is linear in the proof; every operation walks at most the tree height; the
//! memory held is the decoded proof plus what the operations insert, both bounded before
//! decoding by [`Limits::max_memory_bytes`].

use alloc::vec::Vec;
use core::marker::PhantomData;

use crate::codec::BitReader;
use crate::hash::{RootDigest, Sha256, TreeHasher};
use crate::node::{Arena, Bytes, Dir, Kind, LeafValue, Light, Node, NodeId, Slot};
use crate::ops::{apply, OpResult, Operation, OperationError, SizeLimits, State};
use crate::proof::{decode_with_room, DecodeError, DecodeLimits};
use crate::zipper::{Fault, Frame, Walker, FRAME_BYTES};

/// What a verifier accepts. Anything beyond is rejected before work proportional to it.
///
/// Start from a preset ([`Limits::DEFAULT`], [`Limits::PHONE`]) and change what differs;
/// the struct is `#[non_exhaustive]`, so limits can be added without breaking callers.
///
/// ```
/// use avlplus::{Limits, Sha256, Verifier};
/// let limits = Limits::PHONE.max_memory_bytes(32 << 20).max_operations(4096);
/// let verifier = Verifier::<Sha256>::with_limits(limits);
/// assert_eq!(verifier.limits().max_memory_bytes, 32 << 20);
/// assert_eq!(verifier.limits().max_proof_bytes, Limits::PHONE.max_proof_bytes);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest proof accepted, in bytes.
    pub max_proof_bytes: usize,
    /// Most operations in one batch.
    pub max_operations: usize,
    /// Deepest proof tree accepted.
    pub max_depth: usize,
    /// Most bytes one verification may allocate (as requested from the allocator), whatever
    /// the batch: the decoded proof, bounded from its declared node count before anything is
    /// allocated for it ([`DecodeLimits::memory_bound`]), plus the replay (per operation its
    /// result, per insert or upsert up to three new nodes, and one walk's path). A batch or a
    /// proof that could need more is refused with
    /// [`DecodeError::TooMuchMemory`].
    pub max_memory_bytes: usize,
    /// Key and value lengths; must equal the prover's.
    pub sizes: SizeLimits,
}

impl Limits {
    /// 64 MiB proofs, a million operations, depth 96, default key and value sizes, and no
    /// memory cap beyond what those imply (the node count an honest proof of the batch can
    /// have, `docs/security.md` §2.3): hostile proofs near the limits can make a verifier
    /// allocate gigabytes. Clients with a memory budget set
    /// [`Limits::max_memory_bytes`] or start from [`Limits::PHONE`].
    pub const DEFAULT: Limits = Limits {
        max_proof_bytes: 64 << 20,
        max_operations: 1 << 20,
        max_depth: 96,
        max_memory_bytes: usize::MAX,
        sizes: SizeLimits::DEFAULT,
    };

    /// For a phone or a browser tab: at most 64 MiB of memory per verification, 8 MiB
    /// proofs, 65 536 operations, depth 96, default key and value sizes. Honest blocks of
    /// thousands of operations on trees of millions of keys fit (`tests/bounds.rs` verifies
    /// 4 096 mixed operations on 200 000 keys under it); a hostile proof is refused before
    /// it is decoded once it could need more than the cap.
    pub const PHONE: Limits = Limits {
        max_proof_bytes: 8 << 20,
        max_operations: 1 << 16,
        max_depth: 96,
        max_memory_bytes: 64 << 20,
        sizes: SizeLimits::DEFAULT,
    };

    /// These limits with [`Limits::max_proof_bytes`] set to `n`.
    #[must_use]
    pub const fn max_proof_bytes(mut self, n: usize) -> Self {
        self.max_proof_bytes = n;
        self
    }

    /// These limits with [`Limits::max_operations`] set to `n`.
    #[must_use]
    pub const fn max_operations(mut self, n: usize) -> Self {
        self.max_operations = n;
        self
    }

    /// These limits with [`Limits::max_depth`] set to `n`.
    #[must_use]
    pub const fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// These limits with [`Limits::max_memory_bytes`] set to `n`.
    #[must_use]
    pub const fn max_memory_bytes(mut self, n: usize) -> Self {
        self.max_memory_bytes = n;
        self
    }

    /// These limits with key and value sizes `sizes` (the prover's).
    #[must_use]
    pub const fn sizes(mut self, sizes: SizeLimits) -> Self {
        self.sizes = sizes;
        self
    }
}

impl Default for Limits {
    /// [`Limits::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a batch was not verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The proof bytes are malformed.
    Decode(DecodeError),
    /// More operations than [`Limits::max_operations`].
    TooManyOperations,
    /// Operation `index` breaks the size limits.
    Operation {
        /// Position in the batch.
        index: usize,
        /// What is wrong with it.
        error: OperationError,
    },
    /// The proof does not belong to the trusted root (also: a proof with nodes against the
    /// empty tree's root, which only the proof with no nodes matches).
    RootMismatch,
    /// The trusted root's height is not the height the proof's balances imply (the label
    /// matched: the trusted digest's height byte is wrong).
    HeightMismatch,
    /// An operation needs a part of the tree that the proof cut off.
    Incomplete,
    /// An operation needs a value the proof sent only as a digest.
    ValueWithheld,
    /// A walk reached a leaf that does not bracket its key.
    WrongLeaf,
    /// The direction bits ran out.
    DirectionsExhausted,
    /// Direction bits are left over, or their padding is not zero.
    UnusedDirections,
    /// The proof tree is inconsistent with its own shape (or the height overflows).
    Malformed,
}

impl From<DecodeError> for VerifyError {
    fn from(e: DecodeError) -> Self {
        VerifyError::Decode(e)
    }
}

impl VerifyError {
    /// The verifier's error for a fault of a walk.
    pub(crate) fn from_fault(f: Fault) -> Self {
        match f {
            Fault::Unexpanded => VerifyError::Incomplete,
            Fault::ValueWithheld => VerifyError::ValueWithheld,
            Fault::Misrouted => VerifyError::WrongLeaf,
            Fault::Malformed => VerifyError::Malformed,
        }
    }
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VerifyError::Decode(e) => write!(f, "malformed proof: {e}"),
            VerifyError::TooManyOperations => f.write_str("too many operations"),
            VerifyError::Operation { index, error } => write!(f, "operation {index}: {error}"),
            VerifyError::RootMismatch => f.write_str("proof does not match the trusted root"),
            VerifyError::HeightMismatch => {
                f.write_str("the trusted root's height contradicts the proof")
            }
            VerifyError::Incomplete => f.write_str("proof does not cover the operations"),
            VerifyError::ValueWithheld => f.write_str("proof withholds a value that is read"),
            VerifyError::WrongLeaf => {
                f.write_str("walk reached a leaf that does not bracket the key")
            }
            VerifyError::DirectionsExhausted => f.write_str("direction bits ran out"),
            VerifyError::UnusedDirections => f.write_str("direction bits left over"),
            VerifyError::Malformed => f.write_str("proof tree is malformed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::Decode(e) => Some(e),
            VerifyError::Operation { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A verified batch: each operation's result and the root after the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// One result per operation, in order.
    pub results: Vec<OpResult>,
    /// The root digest after the batch.
    pub new_root: RootDigest,
}

/// The height the tree can reach during a batch of `ops` operations from height `height`:
/// AVL height grows by one per doubling of the leaves, so by at most `bits(ops)`, plus margin.
fn max_batch_height(ops: usize, height: u8) -> usize {
    let growth = usize::BITS.saturating_sub(ops.leading_zeros()) as usize;
    usize::from(height).saturating_add(2).saturating_add(growth)
}

/// The most nodes an honest proof for `ops` operations on a tree of height `height` has.
///
/// An operation reads at most `4 H + 2` nodes (its path, a predecessor's path, and two nodes
/// per rotation on the way up) where `H` is the tree's height at that moment, at most
/// [`max_batch_height`]. Each expanded node adds at most two tokens. Decoding stops before
/// allocating anything for a larger count, so the memory a hostile proof can claim is bounded
/// by the batch, not only by the proof's length.
fn max_proof_nodes(ops: usize, height: u8) -> usize {
    let h = max_batch_height(ops, height);
    ops.saturating_mul(h.saturating_mul(8).saturating_add(4))
        .saturating_add(1)
}

/// Bytes of one node the replay adds: a node of the arena (reserved before decoding, so the
/// arena is never reallocated).
const NODE_BYTES: usize = core::mem::size_of::<Node<Light>>();

/// Nodes an insert or upsert can add: the new leaf, the new internal node, and a copy of the
/// leaf it splits (byte strings are shared with the operation, never copied).
const NODES_PER_INSERT: usize = 3;

/// Inserts and upserts in `ops`: the operations that add nodes.
fn inserts(ops: &[Operation]) -> usize {
    ops.iter()
        .filter(|op| matches!(op, Operation::Insert(..) | Operation::Upsert(..)))
        .count()
}

/// The most bytes replaying `ops` allocates beyond the decoded proof: one result per
/// operation; for an insert or upsert, [`NODES_PER_INSERT`] slots of the arena (reserved
/// with the proof's); and one walk's path at a time. Updates, removals and rotations change
/// the proof's own nodes in place (the verifier holds them alone), removed nodes stay in the
/// arena unused, and lookups return shared values.
fn replay_bound(ops: &[Operation], height: u8) -> usize {
    let per_result = core::mem::size_of::<OpResult>();
    ops.len()
        .saturating_mul(per_result)
        .saturating_add(inserts(ops).saturating_mul(NODES_PER_INSERT.saturating_mul(NODE_BYTES)))
        .saturating_add(
            max_batch_height(ops.len(), height)
                .saturating_add(2)
                .saturating_mul(FRAME_BYTES),
        )
}

/// The verifier's walker: directions from the proof, nodes in the arena it owns.
struct Replay<'p> {
    directions: BitReader<'p>,
    arena: Arena,
    /// The frame buffer of the replay's walks, kept between operations.
    path: Vec<Frame<NodeId>>,
}

impl Walker for Replay<'_> {
    type Side = Light;
    type Error = VerifyError;

    fn fault(f: Fault) -> VerifyError {
        VerifyError::from_fault(f)
    }

    #[inline]
    fn hole() -> NodeId {
        NodeId::HOLE
    }

    #[inline]
    fn direction(&mut self, link: &NodeId, _key: &[u8]) -> Result<Option<Dir>, VerifyError> {
        match self.arena.node(*link).map(|n| &n.kind) {
            Some(Kind::Internal(_)) => {}
            Some(Kind::Leaf(_)) => return Ok(None),
            None => return Err(VerifyError::from_fault(Fault::Malformed)),
        }
        match self.directions.bit() {
            Some(false) => Ok(Some(Dir::Left)),
            Some(true) => Ok(Some(Dir::Right)),
            None => Err(VerifyError::DirectionsExhausted),
        }
    }

    #[inline]
    fn expand(&mut self, link: &mut NodeId) -> Result<(), VerifyError> {
        match self.arena.slot(*link) {
            Some(Slot::Stub(_)) => Err(VerifyError::from_fault(Fault::Unexpanded)),
            Some(Slot::Node(_)) | None => Ok(()),
        }
    }

    #[inline]
    fn get<'a>(&'a self, link: &'a NodeId) -> Option<&'a Node<Light>> {
        self.arena.node(*link)
    }

    #[inline]
    fn get_mut<'a>(&'a mut self, link: &'a mut NodeId) -> Option<&'a mut Node<Light>> {
        self.arena.node_mut(*link)
    }

    #[inline]
    fn get_unique<'a>(&'a mut self, link: &'a mut NodeId) -> Option<&'a mut Node<Light>> {
        self.arena.node_mut(*link)
    }

    #[inline]
    fn alloc(&mut self, node: Node<Light>) -> Result<NodeId, VerifyError> {
        self.arena.push(node).ok_or(VerifyError::Malformed)
    }

    #[inline]
    fn visit(&mut self, _link: &NodeId) {}

    #[inline]
    fn read_value(&mut self, _link: &NodeId) {}
    #[inline]
    fn key<'a>(&'a self, key: &'a Bytes) -> &'a [u8] {
        key
    }

    #[inline]
    fn new_key(&mut self, bytes: &Bytes) -> Result<Bytes, VerifyError> {
        Ok(bytes.clone())
    }

    #[inline]
    fn new_value(&mut self, bytes: &Bytes) -> Result<LeafValue, VerifyError> {
        Ok(LeafValue::full(bytes.clone()))
    }

    #[inline]
    fn route(&self, _key: Option<&Bytes>) {}

    #[inline]
    fn frames(&mut self) -> Option<&mut Vec<Frame<NodeId>>> {
        Some(&mut self.path)
    }

    #[inline]
    fn value(&self, value: &LeafValue) -> Option<Bytes> {
        value.bytes().cloned()
    }
}

/// Verifies batches against trusted roots, with hash `H` (SHA-256 by default).
///
/// ```
/// use avlplus::{Operation, Outcome, Sha256, Tree, Verifier};
///
/// // A full node applies a block and publishes the proof.
/// let mut node = Tree::new();
/// let trusted = node.root();
/// let block = [Operation::insert(b"alice", b"10"), Operation::lookup(b"alice")];
/// let batch = node.apply(&block)?;
///
/// // A light client holding only `trusted` checks it.
/// let verified = Verifier::<Sha256>::new().verify(&trusted, batch.proof.as_bytes(), &block)?;
/// assert_eq!(verified.results[1], Ok(Outcome::Found(b"10"[..].into())));
/// assert_eq!(verified.new_root, node.root());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Verifier<H: TreeHasher = Sha256> {
    limits: Limits,
    hasher: PhantomData<fn() -> H>,
}

impl<H: TreeHasher> Default for Verifier<H> {
    /// [`Verifier::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<H: TreeHasher> Verifier<H> {
    /// A verifier with hash `H` and [`Limits::DEFAULT`]. Name the hash where nothing else
    /// does (`Verifier::<Blake3>::new()`, or `let v: Verifier = Verifier::new()` for the
    /// default, SHA-256).
    ///
    /// ```
    /// use avlplus::{Blake3, Limits, Operation, Tree, Verifier};
    /// let mut node = Tree::<Blake3>::empty();
    /// let trusted = node.root();
    /// let block = [Operation::insert(b"k", b"v")];
    /// let batch = node.apply(&block)?;
    /// let verifier = Verifier::<Blake3>::new();
    /// assert_eq!(*verifier.limits(), Limits::DEFAULT);
    /// let verified = verifier.verify(&trusted, batch.proof.as_bytes(), &block)?;
    /// assert_eq!(verified.new_root, node.root());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Self {
        Self::with_limits(Limits::DEFAULT)
    }

    /// A verifier with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Verifier {
            limits,
            hasher: PhantomData,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Replays `ops` on `proof` against the trusted `old_root`.
    pub fn verify(
        &self,
        old_root: &RootDigest,
        proof: &[u8],
        ops: &[Operation],
    ) -> Result<Verified, VerifyError> {
        let limits = &self.limits;
        if ops.len() > limits.max_operations {
            return Err(VerifyError::TooManyOperations);
        }
        for (index, op) in ops.iter().enumerate() {
            op.check(&limits.sizes)
                .map_err(|error| VerifyError::Operation { index, error })?;
        }
        let max_depth = limits.max_depth.min(usize::from(old_root.height));
        let (mut tree, directions) = decode_with_room(
            proof,
            &DecodeLimits {
                max_proof_bytes: limits.max_proof_bytes,
                // A proof tree is a pruned copy of the trusted tree: never deeper than it.
                max_depth,
                max_nodes: max_proof_nodes(ops.len(), old_root.height),
                max_key_len: limits.sizes.max_key_len,
                max_value_len: limits.sizes.max_value_len,
                // What the replay may need is set aside first; if that alone is over the
                // cap, no proof fits (every proof has at least one byte).
                max_memory_bytes: limits
                    .max_memory_bytes
                    .saturating_sub(replay_bound(ops, old_root.height)),
            },
            inserts(ops).saturating_mul(NODES_PER_INSERT),
        )?;
        let label = match tree.root {
            Some(root) => tree.arena.seal::<H>(root),
            None => H::empty(),
        };
        // Only the proof with no nodes stands for the empty tree: a proof with nodes whose
        // root label is the empty tree's (a stub labelled H(0x02)) describes no tree.
        if label != old_root.label || (tree.root.is_some() && label == H::empty()) {
            return Err(VerifyError::RootMismatch);
        }
        // The labels matched, so every expanded node is the trusted tree's and the height the
        // proof implies (when it has a fully expanded path) is the tree's exact height. Every
        // batch that searches has such a path, so the height the batch computes from is never
        // one the proof contradicts.
        if tree
            .height
            .is_some_and(|h| h != usize::from(old_root.height))
        {
            return Err(VerifyError::HeightMismatch);
        }
        let mut state = State {
            root: tree.root,
            height: old_root.height,
        };
        let mut replay = Replay {
            directions: BitReader::new(directions),
            arena: core::mem::take(&mut tree.arena),
            path: Vec::new(),
        };
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            results.push(apply(&mut state, op, &mut replay)?);
        }
        if !replay.directions.at_canonical_end() {
            return Err(VerifyError::UnusedDirections);
        }
        let label = match state.root {
            Some(root) => replay.arena.seal::<H>(root),
            None => H::empty(),
        };
        Ok(Verified {
            results,
            new_root: RootDigest {
                label,
                height: state.height,
            },
        })
    }
}
