//! What the prover's engine (`src/engine.rs`) shares with the rest of the crate: a batch's
//! outcome, the bounds of an iteration, the memory budget's rule and the store audit.

mod budget;
mod reads;
pub(crate) mod store_audit;

pub(crate) use budget::keep_depth;
pub(crate) use reads::{yielded, KeyRange};

use crate::hash::RootDigest;
use crate::ops::OpResult;
use crate::proof::Proof;

/// What a batch produced: per-operation results, one proof, and the roots around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchProof {
    /// One result per operation, in order.
    pub results: Vec<OpResult>,
    /// The proof a verifier replays the batch on.
    pub proof: Proof,
    /// The root before the batch (what the verifier must trust).
    pub old_root: RootDigest,
    /// The root after the batch.
    pub new_root: RootDigest,
    /// The version the batch committed (for a what-if proof: the version it would be).
    pub version: u64,
}
