//! The memory budget: after a commit or a read leaves more than the budget materialized,
//! the top levels that fit in half of it stay and everything deeper goes back to bare hash
//! references, reloaded on demand. Top levels are the ones every walk crosses.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Tree;
use crate::hash::TreeHasher;
use crate::node::{Kind, Link};
use crate::prover::node_bytes;

impl<H: TreeHasher> Tree<H> {
    /// Drops materialized nodes back to hash references when over the memory budget: the top
    /// levels that fit in half the budget stay, everything deeper goes.
    pub(super) fn melt(&self) {
        let Some(p) = &self.store else { return };
        let budget = p.config.memory_budget;
        if p.loaded.load(Ordering::Relaxed) <= budget {
            return;
        }
        // A reader on another thread holds the state: it melts when it is done.
        let Ok(mut state) = self.state.try_write() else {
            return;
        };
        let Some(root) = &mut state.root else {
            return;
        };
        let mut per_depth = Vec::new();
        measure(root, 0, &mut per_depth);
        let kept = evict(root, 0, keep_depth(&per_depth, budget));
        p.loaded.store(kept, Ordering::Relaxed);
    }
}

/// The deepest level a tree over its memory budget keeps, given the bytes in memory at each
/// depth: the top levels that fit in half the budget (the root's at least).
pub(crate) fn keep_depth(per_depth: &[usize], budget: usize) -> usize {
    let mut keep = 0;
    let mut total = 0usize;
    for (depth, bytes) in per_depth.iter().enumerate() {
        total = total.saturating_add(*bytes);
        if total > budget / 2 {
            break;
        }
        keep = depth;
    }
    keep
}

/// Bytes of materialized nodes per depth.
fn measure(link: &Link, depth: usize, per_depth: &mut Vec<usize>) {
    let node = match link {
        Link::Node(n) => n,
        Link::Stub(s) => match s.cached() {
            Some(n) => n,
            None => return,
        },
        Link::Hole => return,
    };
    if per_depth.len() <= depth {
        per_depth.resize(depth.saturating_add(1), 0);
    }
    if let Some(slot) = per_depth.get_mut(depth) {
        *slot = slot.saturating_add(node_bytes(node));
    }
    if let Kind::Internal(i) = &node.kind {
        measure(&i.left, depth.saturating_add(1), per_depth);
        measure(&i.right, depth.saturating_add(1), per_depth);
    }
}

/// Replaces every materialized node deeper than `keep_depth` by a bare reference; returns the
/// bytes still materialized. Nodes shared with another owner are left alone.
fn evict(link: &mut Link, depth: usize, keep_depth: usize) -> usize {
    if depth > keep_depth {
        if let Some(label) = link.label() {
            let version = link.version();
            let was_loaded = !matches!(link, Link::Stub(s) if s.cached().is_none());
            if was_loaded {
                *link = Link::stub(label, version);
            }
        }
        return 0;
    }
    let node = match link {
        Link::Node(n) => Arc::get_mut(n),
        Link::Stub(s) => Arc::get_mut(s)
            .and_then(|s| s.cache.get_mut())
            .and_then(Arc::get_mut),
        Link::Hole => None,
    };
    let Some(node) = node else { return 0 };
    let own = node_bytes(node);
    match &mut node.kind {
        Kind::Leaf(_) => own,
        Kind::Internal(i) => {
            let below = depth.saturating_add(1);
            own.saturating_add(evict(&mut i.left, below, keep_depth))
                .saturating_add(evict(&mut i.right, below, keep_depth))
        }
    }
}
