//! The light client's side: replays a batch on its proof, with no store and no `std`.
//!
//! The verifier trusts exactly three things: the old root digest, the operations and its own
//! limits. It decodes the proof, recomputes the label of every expanded node bottom-up and
//! compares the root's with the trusted one, then runs the same operation code as the prover
//! (the zipper) over the proof tree, taking each direction from the proof's direction bits.
//! A walk that needs a subtree the proof cut, a leaf that does not bracket its key, or a
//! direction bit too many or too few is an error. The new root is computed from the result.
//!
//! Cost: decoding is linear in the proof; every operation walks at most the tree height; the
//! memory held is the decoded proof plus what the operations insert.

use alloc::vec::Vec;
use core::marker::PhantomData;

use crate::codec::BitReader;
use crate::hash::{RootDigest, Sha256, TreeHasher};
use crate::node::{seal, Dir, Internal, Node, Stub};
use crate::ops::{apply, OpResult, Operation, OperationError, SizeLimits, State};
use crate::proof::{decode, DecodeError, DecodeLimits};
use crate::zipper::{Fault, Walker};

/// What a verifier accepts. Anything beyond is rejected before work proportional to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest proof accepted, in bytes.
    pub max_proof_bytes: usize,
    /// Most operations in one batch.
    pub max_operations: usize,
    /// Deepest proof tree accepted.
    pub max_depth: usize,
    /// Key and value lengths; must equal the prover's.
    pub sizes: SizeLimits,
}

impl Default for Limits {
    /// 64 MiB proofs, a million operations, depth 96, default key and value limits.
    fn default() -> Self {
        Limits {
            max_proof_bytes: 64 << 20,
            max_operations: 1 << 20,
            max_depth: 96,
            sizes: SizeLimits::DEFAULT,
        }
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
    /// The proof does not belong to the trusted root.
    RootMismatch,
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

impl From<Fault> for VerifyError {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Unexpanded => VerifyError::Incomplete,
            Fault::ValueWithheld => VerifyError::ValueWithheld,
            Fault::Misrouted => VerifyError::WrongLeaf,
            Fault::DirectionsExhausted => VerifyError::DirectionsExhausted,
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
impl std::error::Error for VerifyError {}

/// A verified batch: each operation's result and the root after the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// One result per operation, in order.
    pub results: Vec<OpResult>,
    /// The root digest after the batch.
    pub new_root: RootDigest,
}

/// The most nodes an honest proof for `ops` operations on a tree of height `height` has.
///
/// An operation reads at most `4 H + 2` nodes (its path, a predecessor's path, and two nodes
/// per rotation on the way up) where `H` is the tree's height at that moment: at most
/// `height + 1 + log2(ops + 1)`, the batch's own inserts included (AVL height grows by one per
/// doubling, with margin). Each expanded node adds at most two tokens. Decoding stops before
/// allocating anything for a larger count, so the memory a hostile proof can claim is bounded
/// by the batch, not only by the proof's length.
fn max_proof_nodes(ops: usize, height: u8) -> usize {
    let growth = usize::BITS.saturating_sub(ops.leading_zeros()) as usize;
    let h = usize::from(height).saturating_add(2).saturating_add(growth);
    ops.saturating_mul(h.saturating_mul(8).saturating_add(4))
        .saturating_add(1)
}

struct Replay<'p> {
    directions: BitReader<'p>,
}

impl Walker for Replay<'_> {
    type Error = VerifyError;

    fn direction(&mut self, _node: &Internal, _key: &[u8]) -> Result<Dir, VerifyError> {
        match self.directions.bit() {
            Some(false) => Ok(Dir::Left),
            Some(true) => Ok(Dir::Right),
            None => Err(VerifyError::DirectionsExhausted),
        }
    }

    fn load(&mut self, _stub: &Stub) -> Result<alloc::sync::Arc<Node>, VerifyError> {
        Err(VerifyError::Incomplete)
    }

    fn visit(&mut self, _node: &Node) {}

    fn read_value(&mut self, _node: &Node) {}
}

/// Verifies batches against trusted roots, with hash `H` (SHA-256 by default).
///
/// ```
/// use avlplus::{Operation, Outcome, Tree, Verifier};
///
/// // A full node applies a block and publishes the proof.
/// let mut node = Tree::new();
/// let trusted = node.root();
/// let block = [Operation::insert(b"alice", b"10"), Operation::lookup(b"alice")];
/// let batch = node.apply(&block)?;
///
/// // A light client holding only `trusted` checks it.
/// let verified = Verifier::new().verify(&trusted, batch.proof.as_bytes(), &block)?;
/// assert_eq!(verified.results[1], Ok(Outcome::Found(b"10"[..].into())));
/// assert_eq!(verified.new_root, node.root());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Verifier<H: TreeHasher = Sha256> {
    limits: Limits,
    hasher: PhantomData<fn() -> H>,
}

impl Verifier<Sha256> {
    /// A SHA-256 verifier with default limits.
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }
}

impl Default for Verifier<Sha256> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: TreeHasher> Verifier<H> {
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
        let tree = decode(
            proof,
            &DecodeLimits {
                max_proof_bytes: limits.max_proof_bytes,
                // A proof tree is a pruned copy of the trusted tree: never deeper than it.
                max_depth: limits.max_depth.min(usize::from(old_root.height)),
                max_nodes: max_proof_nodes(ops.len(), old_root.height),
                max_key_len: limits.sizes.max_key_len,
                max_value_len: limits.sizes.max_value_len,
            },
        )?;
        let mut state = State {
            root: tree.root,
            height: old_root.height,
        };
        let label = match &mut state.root {
            Some(root) => seal::<H>(root, 0, &mut |_, _| {}),
            None => H::empty(),
        };
        if label != old_root.label {
            return Err(VerifyError::RootMismatch);
        }
        let mut replay = Replay {
            directions: BitReader::new(&tree.directions),
        };
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            results.push(apply(&mut state, op, &mut replay)?);
        }
        if !replay.directions.at_canonical_end() {
            return Err(VerifyError::UnusedDirections);
        }
        let label = match &mut state.root {
            Some(root) => seal::<H>(root, 0, &mut |_, _| {}),
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
