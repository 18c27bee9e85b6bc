//! The memory budget's rule: beyond it, the top levels that fit in half of it stay in memory
//! and everything deeper goes back to the store, reloaded on demand. Top levels are the ones
//! every walk crosses.

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
