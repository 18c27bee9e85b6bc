//! The audit of a persistent tree's store: every kept version's structure, every record a
//! kept version reaches present and no other, the identity, window and version records
//! consistent with them.

use std::collections::HashSet;

use crate::audit::{Audit, AuditError};
use crate::hash::{RootDigest, TreeHasher};
use crate::ops::SizeLimits;
use crate::store::layout::{self, NodeKey};
use crate::store::record::read_children;
use crate::store::{StoreBackend, Table};

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
            stack.extend(
                read_children::<H>(backend, &key, &limits)?
                    .into_iter()
                    .flatten(),
            );
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
