//! # avlplus
//!
//! An authenticated AVL+ map for blockchain state: values live only in leaves, every node is
//! hashed, and one [`RootDigest`] identifies a state. A full node applies blocks of
//! [`Operation`]s to a [`Tree`] and gets, for each block, the results, the new root and one
//! [`Proof`]. A light client holding only the old root replays the block on the proof with a
//! [`Verifier`] and gets the same results and the same new root, or a typed error.
//!
//! - One operation code path (`src/ops.rs` over the zipper in `src/zipper.rs`) runs on both
//!   sides.
//! - The verifier needs no store and no `std` (build with `--no-default-features`).
//! - A proof is the pre-state tree pruned to what the batch read; expanded nodes' labels are
//!   always recomputed, never read from the proof.
//!
//! ```
//! use avlplus::{Operation, Outcome, Tree, Verifier};
//!
//! let mut full_node = Tree::new();
//! let genesis = full_node.root();
//! let block = vec![
//!     Operation::insert(b"alice", b"100"),
//!     Operation::insert(b"bob", b"50"),
//!     Operation::lookup(b"alice"),
//! ];
//! let batch = full_node.apply(&block)?;
//!
//! let light_client: Verifier = Verifier::new();
//! let verified = light_client.verify(&genesis, batch.proof.as_bytes(), &block)?;
//! assert_eq!(verified.results, batch.results);
//! assert_eq!(verified.new_root, full_node.root());
//! assert_eq!(verified.results[2], Ok(Outcome::Found(b"100"[..].into())));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(unreachable_pub, unnameable_types)]
// Every module may meet untrusted bytes (proofs, operations, records read back from disk):
// no unwrap, expect, panic, unchecked indexing or unchecked arithmetic anywhere in the library.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

extern crate alloc;

mod codec;
pub mod hash;
mod node;
mod ops;
pub mod proof;
mod verifier;
pub mod wire;
mod zipper;

#[cfg(feature = "std")]
mod audit;
#[cfg(feature = "std")]
mod error;
#[cfg(feature = "std")]
pub mod store;
#[cfg(feature = "std")]
mod tree;

pub use hash::{Blake3, Digest, ParseRootError, RootDigest, Sha256, TreeHasher, DIGEST_LEN};
pub use node::Bytes;
#[cfg(feature = "serde")]
pub use ops::{serde_result, serde_results};
pub use ops::{Failure, OpResult, Operation, OperationError, Outcome, SizeLimits};
pub use proof::{DecodeError, Proof};
pub use verifier::{Limits, Verified, Verifier, VerifyError};

#[cfg(feature = "std")]
pub use audit::{Audit, AuditError};
#[cfg(feature = "std")]
pub use error::TreeError;
#[cfg(feature = "std")]
pub use tree::{BatchProof, Entries, Snapshot, StagedBatch, Tree};

/// The README's example runs as a doctest.
#[cfg(all(doctest, feature = "rocksdb"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Internals that the test suite and the fuzz targets reach into (record layouts, byte
/// helpers). Not part of the API: no stability promise, hidden from the docs.
#[doc(hidden)]
pub mod __internal {
    pub use crate::codec::{from_hex, hex};
    #[cfg(feature = "std")]
    pub use crate::store::layout::{seal_record, write_identity, Identity, NodeKey, FORMAT};

    /// Bytes a tree holds in memory: its node slots, mark slots and strings, free ones
    /// included (the benchmarks' memory report).
    #[cfg(feature = "std")]
    pub fn heap_bytes<H: crate::TreeHasher>(tree: &crate::Tree<H>) -> usize {
        tree.heap_bytes()
    }

    /// What [`node_record_round_trip`] found: the node's label, its record version and the
    /// record encoded again.
    #[cfg(feature = "std")]
    pub type RoundTrip = (Option<crate::Digest>, u64, Option<alloc::vec::Vec<u8>>);

    /// Decodes the stored node record `stored` under `key` and encodes the node again (for
    /// the record fuzz target).
    #[cfg(feature = "std")]
    pub fn node_record_round_trip<H: crate::TreeHasher>(
        stored: &[u8],
        key: &NodeKey,
        limits: &crate::SizeLimits,
    ) -> Result<RoundTrip, crate::store::StoreError> {
        let node = crate::store::record::decode_node::<H>(stored, key, limits)?;
        Ok((
            node.label,
            node.version,
            crate::store::record::encode_node(&node),
        ))
    }
}
