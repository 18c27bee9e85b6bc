//! The memory budget: beyond it, the top levels that fit in half of it stay in memory and
//! everything deeper goes back to the store as stubs, reloaded on demand. Top levels are the
//! ones every walk crosses.

use super::*;

impl<H: TreeHasher> Tree<H> {
    /// Beyond a persistent tree's memory budget: the top levels that fit in half of it stay,
    /// everything deeper becomes stubs again (reloaded on demand), and the strings no node
    /// holds any more are freed. Top levels are the ones every walk crosses.
    pub(super) fn melt(&mut self) {
        let Some(budget) = self.disk.as_ref().map(|d| d.config.memory_budget) else {
            return;
        };
        let Some(root) = self.state.root else { return };
        if self.loaded_bytes() <= budget {
            return;
        }
        let mut per_depth = Vec::new();
        self.measure(root, 0, &mut per_depth);
        self.evict(root, 0, keep_depth(&per_depth, budget));
        self.sweep_strings();
        self.generation = self.generation.wrapping_add(1);
    }

    /// Bytes of the nodes in memory below and at `id`, by depth.
    pub(super) fn measure(&self, id: NodeId, depth: usize, per_depth: &mut Vec<usize>) {
        let Some(node) = id.index().and_then(|i| self.nodes.get(i)) else {
            return;
        };
        if is_stub(node) {
            return;
        }
        if per_depth.len() <= depth {
            per_depth.resize(depth.saturating_add(1), 0);
        }
        let strings = match &node.kind {
            Kind::Leaf(leaf) => 2usize.saturating_add(usize::from(leaf.next.is_some())),
            Kind::Internal(_) => 1,
        };
        let bytes = NODE_BYTES.saturating_add(strings.saturating_mul(STRING_BYTES));
        if let Some(slot) = per_depth.get_mut(depth) {
            *slot = slot.saturating_add(bytes);
        }
        if let Kind::Internal(i) = &node.kind {
            let (left, right) = (i.left, i.right);
            self.measure(left, depth.saturating_add(1), per_depth);
            self.measure(right, depth.saturating_add(1), per_depth);
        }
    }

    /// Makes every node deeper than `keep_depth` below `id` a stub: the node at
    /// `keep_depth + 1` keeps its label and version, the nodes below it are freed.
    pub(super) fn evict(&mut self, id: NodeId, depth: usize, keep_depth: usize) {
        let Some(node) = id.index().and_then(|i| self.nodes.get(i)) else {
            return;
        };
        if is_stub(node) {
            return;
        }
        let children = node.as_internal().map(|i| (i.left, i.right));
        if depth > keep_depth {
            let label = node.label.committed();
            if let Some((left, right)) = children {
                self.free_subtree(left);
                self.free_subtree(right);
            }
            let version = self.version_of(id);
            self.put(Some(id), stub(label), version);
            return;
        }
        if let Some((left, right)) = children {
            let below = depth.saturating_add(1);
            self.evict(left, below, keep_depth);
            self.evict(right, below, keep_depth);
        }
    }

    /// Frees the slots of the subtree at `id` (its strings are swept after).
    pub(super) fn free_subtree(&mut self, id: NodeId) {
        let Some(node) = id.index().and_then(|i| self.nodes.get(i)) else {
            return;
        };
        let children = node
            .as_internal()
            .filter(|_| !is_stub(node))
            .map(|i| (i.left, i.right));
        if let Some((left, right)) = children {
            self.free_subtree(left);
            self.free_subtree(right);
        }
        self.put(Some(id), vacant(), 0);
        self.free.push(id);
    }

    /// The record version of committed node `id`.
    pub(super) fn version_of(&self, id: NodeId) -> u64 {
        let versions = self.disk.as_ref().map(|d| &d.versions);
        id.index()
            .and_then(|i| versions?.get(i).copied())
            .unwrap_or(0)
    }

    /// Frees every string of the pool that no node in memory holds (after an eviction: a
    /// key is held by its leaf, its predecessor and a routing key, which need not be
    /// evicted together).
    pub(super) fn sweep_strings(&mut self) {
        let mut short = vec![false; self.pool.short.len()];
        let mut long = vec![false; self.pool.long.len()];
        let mut stack: Vec<NodeId> = self.state.root.into_iter().collect();
        let mut hold = |r: Ref| {
            let held = if r.long() {
                long.get_mut(r.index())
            } else {
                short.get_mut(r.index())
            };
            if let Some(h) = held {
                *h = true;
            }
        };
        while let Some(id) = stack.pop() {
            let Some(node) = id.index().and_then(|i| self.nodes.get(i)) else {
                continue;
            };
            match &node.kind {
                Kind::Internal(_) if is_stub(node) => {}
                Kind::Internal(i) => {
                    if i.route.key != Ref::NONE {
                        hold(i.route.key);
                    }
                    stack.push(i.left);
                    stack.push(i.right);
                }
                Kind::Leaf(leaf) => {
                    hold(leaf.key);
                    hold(leaf.value);
                    if let Some(next) = leaf.next {
                        hold(next);
                    }
                }
            }
        }
        let pool = &mut self.pool;
        pool.free_short = (0u32..)
            .zip(&short)
            .filter(|(_, held)| !**held)
            .map(|(i, _)| i)
            .collect();
        pool.free_long.clear();
        for (i, (slot, held)) in (0u32..).zip(pool.long.iter_mut().zip(&long)) {
            if !held {
                *slot = None;
                pool.free_long.push(i);
            }
        }
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
