//! Audits: the structure of a tree (every label, balance, order, next key, routing key and the
//! height) and the bookkeeping of a store (nothing missing, nothing orphaned, journals and
//! version records consistent).

use crate::error::TreeError;
use crate::hash::{Digest, RootDigest, TreeHasher};
use crate::node::{Bytes, Full, Kind, LabelSlot, Node, Side};
use crate::ops::SizeLimits;
use crate::ops::State;
use crate::store::layout::NodeKey;
use crate::store::record::read_node;
use crate::store::{StoreBackend, StoreError};

/// What an audit counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Number of leaves (keys).
    pub leaves: usize,
    /// Number of internal nodes.
    pub internal: usize,
    /// Height of the root.
    pub height: usize,
    /// Node records in the store (persistent trees; 0 in memory).
    pub records: usize,
}

/// What an audit found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditError {
    /// A node could not be loaded.
    Store(StoreError),
    /// Walking the tree failed for another reason (a misrouted walk, a malformed node).
    Tree(TreeError),
    /// A node's label is not the hash of its content, or the root label differs.
    LabelMismatch,
    /// A node's balance field is wrong or its subtrees differ in height by more than one.
    Unbalanced,
    /// Leaves are out of order or a next key does not name the following leaf.
    BrokenLeafChain,
    /// A routing key is not the least key of its right subtree.
    BadRoute,
    /// The root digest's height is not the tree's.
    HeightMismatch,
    /// A record no kept version reaches.
    Orphaned(NodeKey),
    /// Head, oldest version or version records disagree with the tree.
    BadWindow,
}

impl core::fmt::Display for AuditError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AuditError::Store(e) => write!(f, "{e}"),
            AuditError::Tree(e) => write!(f, "{e}"),
            AuditError::LabelMismatch => f.write_str("a label is not the hash of its node"),
            AuditError::Unbalanced => f.write_str("a node is unbalanced or has a wrong balance"),
            AuditError::BrokenLeafChain => f.write_str("leaves out of order or next keys broken"),
            AuditError::BadRoute => {
                f.write_str("a routing key is not its right subtree's least key")
            }
            AuditError::HeightMismatch => f.write_str("root height differs from the tree's"),
            AuditError::Orphaned(k) => write!(
                f,
                "record {}@{} is reached by no kept version",
                crate::codec::hex(&k.label),
                k.version
            ),
            AuditError::BadWindow => f.write_str("version bookkeeping inconsistent"),
        }
    }
}

impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuditError::Store(e) => Some(e),
            AuditError::Tree(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TreeError> for AuditError {
    fn from(e: TreeError) -> Self {
        match e {
            TreeError::Store(s) => AuditError::Store(s),
            other => AuditError::Tree(other),
        }
    }
}

impl From<StoreError> for AuditError {
    fn from(e: StoreError) -> Self {
        AuditError::Store(e)
    }
}

/// Where an audit reads a tree's nodes: the prover's store-backed links, or an arena.
pub(crate) trait Nodes<S: Side> {
    /// Calls `f` with the node behind `link` and the label the link itself names (a stub's,
    /// or the node's own where the link is only an index).
    fn with<H: TreeHasher, R>(
        &self,
        link: &S::Link,
        f: impl FnOnce(&Node<S>, Option<Digest>) -> Result<R, AuditError>,
    ) -> Result<R, AuditError>;

    /// A leaf key's bytes.
    fn key<'a>(&'a self, key: &'a S::Key) -> &'a [u8];

    /// A value's bytes, if held in full.
    fn value<'a>(&'a self, value: &'a S::Value) -> Option<&'a [u8]>;

    /// A routing key's bytes, if set.
    fn route<'a>(&'a self, route: &'a S::Route) -> Option<&'a [u8]>;

    /// The stored subtree `link` stands for, if it is not in memory: where its records are
    /// read from, and its root's record key.
    fn stored(&self, _link: &S::Link) -> Option<(Records<'_>, NodeKey)> {
        None
    }
}

/// A store's node records, read for an audit (checked, kept by nobody).
pub(crate) struct Records<'t> {
    /// The store.
    pub backend: &'t dyn StoreBackend,
    /// The limits its records were written under.
    pub limits: SizeLimits,
}

impl Nodes<Full> for Records<'_> {
    fn with<H: TreeHasher, R>(
        &self,
        key: &NodeKey,
        f: impl FnOnce(&Node<Full>, Option<Digest>) -> Result<R, AuditError>,
    ) -> Result<R, AuditError> {
        let node = read_node::<H>(self.backend, key, &self.limits)?;
        f(&node, Some(key.label))
    }

    fn key<'a>(&'a self, key: &'a Bytes) -> &'a [u8] {
        key
    }

    fn value<'a>(&'a self, value: &'a crate::node::LeafValue) -> Option<&'a [u8]> {
        value.bytes().map(|b| &b[..])
    }

    fn route<'a>(&'a self, route: &'a Option<Bytes>) -> Option<&'a [u8]> {
        route.as_deref()
    }
}

/// Audits the structure of `state`, whose digest should be `root`.
pub(crate) fn structure<H: TreeHasher, S: Side, N: Nodes<S> + ?Sized>(
    source: &N,
    state: &State<S>,
    root: &RootDigest,
) -> Result<Audit, AuditError> {
    let mut audit = Audit::default();
    let Some(link) = &state.root else {
        return if *root == RootDigest::empty::<H>() {
            Ok(audit)
        } else {
            Err(AuditError::LabelMismatch)
        };
    };
    let mut leaves = Chain::default();
    let (label, height, _) = audit_link::<H, S, N>(source, link, &mut leaves, &mut audit)?;
    if label != root.label {
        return Err(AuditError::LabelMismatch);
    }
    if height != usize::from(root.height) {
        return Err(AuditError::HeightMismatch);
    }
    if leaves.broken || leaves.next.is_some() {
        return Err(AuditError::BrokenLeafChain);
    }
    audit.leaves = leaves.count;
    audit.height = height;
    Ok(audit)
}

/// The leaves an audit has met, in key order: how many, whether each one's key followed
/// the one before it (greater, and named by its next key), and the last one's key and next
/// key, in buffers reused from leaf to leaf (so an audit holds no copy of the keys).
#[derive(Default)]
struct Chain {
    count: usize,
    broken: bool,
    key: Vec<u8>,
    next: Option<Vec<u8>>,
}

impl Chain {
    fn push(&mut self, key: &[u8], next: Option<&[u8]>) {
        if self.count > 0 && (self.key.as_slice() >= key || self.next.as_deref() != Some(key)) {
            self.broken = true;
        }
        self.key.clear();
        self.key.extend_from_slice(key);
        match next {
            Some(n) => {
                let buffer = self.next.get_or_insert_with(Vec::new);
                buffer.clear();
                buffer.extend_from_slice(n);
            }
            None => self.next = None,
        }
        self.count = self.count.saturating_add(1);
    }
}

/// Returns (label, height, least key) of the subtree.
fn audit_link<H: TreeHasher, S: Side, N: Nodes<S> + ?Sized>(
    source: &N,
    link: &S::Link,
    leaves: &mut Chain,
    audit: &mut Audit,
) -> Result<(Digest, usize, Vec<u8>), AuditError> {
    if let Some((records, stub)) = source.stored(link) {
        return audit_link::<H, Full, Records<'_>>(&records, &stub, leaves, audit);
    }
    source.with::<H, _>(link, |node, link_label| {
        audit_node::<H, S, N>(source, node, link_label, leaves, audit)
    })
}

fn audit_node<H: TreeHasher, S: Side, N: Nodes<S> + ?Sized>(
    source: &N,
    node: &Node<S>,
    link_label: Option<Digest>,
    leaves: &mut Chain,
    audit: &mut Audit,
) -> Result<(Digest, usize, Vec<u8>), AuditError> {
    let (label, height, min) = match &node.kind {
        Kind::Leaf(l) => {
            let value = source.value(&l.value).ok_or(AuditError::LabelMismatch)?;
            let key = source.key(&l.key);
            let next = l.next.as_ref().map(|n| source.key(n));
            leaves.push(key, next);
            let label = H::leaf(key, next, &H::value(value));
            (label, 0, key.to_vec())
        }
        Kind::Internal(i) => {
            audit.internal = audit.internal.saturating_add(1);
            let (ll, lh, lmin) = audit_link::<H, S, N>(source, &i.left, leaves, audit)?;
            let (rl, rh, rmin) = audit_link::<H, S, N>(source, &i.right, leaves, audit)?;
            let diff = (rh as i64).saturating_sub(lh as i64);
            if diff != i64::from(i.balance) || !(-1..=1).contains(&diff) {
                return Err(AuditError::Unbalanced);
            }
            if source.route(&i.route) != Some(&rmin[..]) {
                return Err(AuditError::BadRoute);
            }
            (
                H::internal(i.balance, &ll, &rl),
                lh.max(rh).saturating_add(1),
                lmin,
            )
        }
    };
    if node.label.get() != Some(label) || link_label != Some(label) {
        return Err(AuditError::LabelMismatch);
    }
    Ok((label, height, min))
}

#[cfg(test)]
mod tests {
    use super::Chain;

    fn chain(leaves: &[(&[u8], Option<&[u8]>)]) -> Chain {
        let mut chain = Chain::default();
        for (key, next) in leaves {
            chain.push(key, *next);
        }
        chain
    }

    /// The next-key chain: each leaf greater than the one before and named by its next key;
    /// the last leaf's next key is what the audit checks is absent.
    #[test]
    fn the_chain_finds_broken_links() {
        let whole = chain(&[(b"a", Some(b"b")), (b"b", Some(b"c")), (b"c", None)]);
        assert!(!whole.broken && whole.next.is_none() && whole.count == 3);
        let wrong_next = chain(&[(b"a", Some(b"x")), (b"b", None)]);
        assert!(wrong_next.broken);
        let out_of_order = chain(&[(b"b", Some(b"a")), (b"a", None)]);
        assert!(out_of_order.broken);
        let open_end = chain(&[(b"a", Some(b"b")), (b"b", Some(b"c"))]);
        assert!(!open_end.broken && open_end.next.is_some());
    }
}
