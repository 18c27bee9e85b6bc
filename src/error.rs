//! The prover's error type, shared by the tree, the walker that loads nodes for it and the
//! audit (kept apart from all three so that none of them imports another for it).

use crate::ops::OperationError;
use crate::store::StoreError;
use crate::zipper::Fault;

/// Why a prover call failed. The tree is unchanged after any error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeError {
    /// Operation `index` breaks the size limits; nothing was applied.
    Operation {
        /// Position in the batch.
        index: usize,
        /// What is wrong with it.
        error: OperationError,
    },
    /// The store failed, or returned a missing or corrupt record.
    Store(StoreError),
    /// A walk reached a leaf that does not bracket its key (a corrupted routing key).
    Misrouted,
    /// The tree's structure is inconsistent.
    Malformed,
    /// The call needs a store (versions, rollback, snapshots) and the tree has none.
    NotPersistent,
    /// A staged batch was computed on another version than the tree's head.
    StagedOutOfDate,
}

impl From<StoreError> for TreeError {
    fn from(e: StoreError) -> Self {
        TreeError::Store(e)
    }
}

impl TreeError {
    /// The prover's error for a fault of a walk.
    pub(crate) fn from_fault(f: Fault) -> Self {
        match f {
            Fault::Misrouted => TreeError::Misrouted,
            _ => TreeError::Malformed,
        }
    }
}

impl core::fmt::Display for TreeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TreeError::Operation { index, error } => write!(f, "operation {index}: {error}"),
            TreeError::Store(e) => write!(f, "{e}"),
            TreeError::Misrouted => {
                f.write_str("walk reached a leaf that does not bracket its key")
            }
            TreeError::Malformed => f.write_str("tree structure is inconsistent"),
            TreeError::NotPersistent => f.write_str("the tree has no store"),
            TreeError::StagedOutOfDate => {
                f.write_str("the staged batch was computed on another version")
            }
        }
    }
}

impl std::error::Error for TreeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TreeError::Store(e) => Some(e),
            TreeError::Operation { error, .. } => Some(error),
            _ => None,
        }
    }
}
