//! The audit of a persistent tree's store: every kept version's structure, every record a
//! kept version reaches present and no other, the identity, window and version records
//! consistent with them.

use std::collections::HashSet;
use std::sync::Arc;

use super::Tree;
use crate::audit::{Audit, AuditError};
use crate::hash::{RootDigest, TreeHasher};
use crate::node::Kind;
use crate::ops::SizeLimits;
use crate::store::layout::{self, NodeKey};
use crate::store::record::{decode_node, read_record};
use crate::store::{StoreBackend, Table};

/// Audits a store's bookkeeping against the kept versions of `tree`; returns the number of
/// node records.
pub(super) fn store<H: TreeHasher>(
    tree: &Tree<H>,
    backend: &dyn StoreBackend,
    oldest: u64,
) -> Result<usize, AuditError> {
    let audit_of = |v| {
        let snapshot = tree.snapshot(v)?;
        Ok((snapshot.audit()?, snapshot.root()))
    };
    records::<H>(backend, (oldest, tree.version()), *tree.limits(), audit_of)
}

/// Audits the store `backend` holding versions `oldest..=head` made with `limits`:
/// `audit_of(v)` audits version `v`'s structure and gives its root. Returns the number of
/// node records.
pub(crate) fn records<H: TreeHasher>(
    backend: &dyn StoreBackend,
    (oldest, head): (u64, u64),
    limits: SizeLimits,
    audit_of: impl Fn(u64) -> Result<(Audit, RootDigest), AuditError>,
) -> Result<usize, AuditError> {
    let w = layout::read_window(backend)?;
    if w.head != head || w.oldest != oldest {
        return Err(AuditError::BadWindow);
    }
    layout::read_identity(backend)?.admit::<H>(&limits)?;
    let all = |table| backend.scan(table, &[], &[0xff; 49], usize::MAX);
    let versions: Vec<Vec<u8>> = all(Table::Versions)?.into_iter().map(|(k, _)| k).collect();
    let expected: Vec<Vec<u8>> = (oldest..=head).map(layout::version_prefix).collect();
    if versions != expected {
        return Err(AuditError::BadWindow);
    }
    let mut reachable: HashSet<NodeKey> = HashSet::new();
    for v in oldest..=head {
        let (audit, root) = audit_of(v)?;
        let counted = audit.leaves as u64;
        let record = layout::read_version(backend, v)?;
        if record.root != root {
            return Err(AuditError::BadWindow);
        }
        if record.len != counted {
            return Err(AuditError::BadWindow);
        }
        if record.root.label == H::empty() {
            continue;
        }
        let mut stack = vec![NodeKey {
            version: record.root_record,
            label: record.root.label,
        }];
        while let Some(key) = stack.pop() {
            if !reachable.insert(key) {
                continue;
            }
            let bytes = read_record(backend, &key)?;
            let node = Arc::new(decode_node::<H>(&bytes, &key, &limits)?);
            if let Kind::Internal(i) = &node.kind {
                for child in [&i.left, &i.right] {
                    let label = child.label().ok_or(AuditError::LabelMismatch)?;
                    stack.push(NodeKey {
                        version: child.version(),
                        label,
                    });
                }
            }
        }
    }
    let records = all(Table::Nodes)?;
    for (k, _) in &records {
        let key = NodeKey::decode(k).ok_or(AuditError::BadWindow)?;
        if !reachable.contains(&key) {
            return Err(AuditError::Orphaned(key));
        }
    }
    Ok(records.len())
}
