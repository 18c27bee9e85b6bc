//! The bounds of an ordered iteration and the rule for its end, shared by the tree's and the
//! snapshots' iterators.

use crate::error::TreeError;

/// The bounds of an iteration, owned.
#[derive(Debug)]
pub(crate) struct KeyRange {
    start: core::ops::Bound<Vec<u8>>,
    end: core::ops::Bound<Vec<u8>>,
}

impl KeyRange {
    pub(crate) fn new<K: AsRef<[u8]>, R: core::ops::RangeBounds<K>>(range: R) -> Self {
        use core::ops::Bound;
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        KeyRange {
            start: own(range.start_bound()),
            end: own(range.end_bound()),
        }
    }

    /// Whether `key` is before the range.
    pub(crate) fn before_start(&self, key: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.start {
            Bound::Included(s) => key < s.as_slice(),
            Bound::Excluded(s) => key <= s.as_slice(),
            Bound::Unbounded => false,
        }
    }

    /// Whether `key` is after the range.
    pub(crate) fn after_end(&self, key: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.end {
            Bound::Included(e) => key > e.as_slice(),
            Bound::Excluded(e) => key >= e.as_slice(),
            Bound::Unbounded => false,
        }
    }

    /// Whether every key below `route` (a left subtree's) is before the range.
    pub(crate) fn before_start_all_left(&self, route: &[u8]) -> bool {
        use core::ops::Bound;
        match &self.start {
            // Left keys are < route; all of them are < s when route <= s.
            Bound::Included(s) | Bound::Excluded(s) => route <= s.as_slice(),
            Bound::Unbounded => false,
        }
    }
}

/// What an iteration yields for the outcome of one step: an entry, or its end (after which,
/// as after an error, `done` is set and it yields nothing more).
pub(crate) fn yielded<T>(
    done: &mut bool,
    step: Result<Option<T>, TreeError>,
) -> Option<Result<T, TreeError>> {
    match step {
        Ok(Some(e)) => Some(Ok(e)),
        Ok(None) => {
            *done = true;
            None
        }
        Err(e) => {
            *done = true;
            Some(Err(e))
        }
    }
}
