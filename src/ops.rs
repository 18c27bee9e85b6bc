//! The operations, written once over the zipper and run by the prover on its tree and by the
//! verifier on the proof tree.

use alloc::sync::Arc;

use crate::node::{Bytes, DefaultSide, Dir, Internal, Kind, Leaf, Node, Side};
use crate::zipper::{Fault, Position, Walker, Zipper};

#[cfg(feature = "serde")]
mod serde_impls;
#[cfg(feature = "serde")]
pub use serde_impls::{serde_result, serde_results};

/// One operation of a batch.
///
/// Keys and values are byte strings (`Arc<[u8]>`, so a batch shares them with the tree instead
/// of copying). Use the constructors for convenience:
///
/// ```
/// use avlplus::Operation;
/// let ops = [
///     Operation::insert(b"alice", b"10"),
///     Operation::lookup(b"alice"),
///     Operation::remove(b"bob"),
/// ];
/// assert_eq!(ops[1].key(), b"alice");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Read the value of a key. Succeeds with [`Outcome::Found`] or [`Outcome::NotFound`].
    Lookup(Bytes),
    /// Add a key that must be absent; fails with [`Failure::KeyExists`].
    Insert(Bytes, Bytes),
    /// Replace the value of a key that must be present; fails with [`Failure::KeyMissing`].
    Update(Bytes, Bytes),
    /// Insert or update.
    Upsert(Bytes, Bytes),
    /// Remove a key that must be present; fails with [`Failure::KeyMissing`].
    Remove(Bytes),
    /// Remove a key if present; [`Outcome::NotFound`] otherwise.
    RemoveIfPresent(Bytes),
}

impl Operation {
    /// A [`Operation::Lookup`].
    pub fn lookup(key: impl AsRef<[u8]>) -> Self {
        Operation::Lookup(Arc::from(key.as_ref()))
    }
    /// An [`Operation::Insert`].
    pub fn insert(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        Operation::Insert(Arc::from(key.as_ref()), Arc::from(value.as_ref()))
    }
    /// An [`Operation::Update`].
    pub fn update(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        Operation::Update(Arc::from(key.as_ref()), Arc::from(value.as_ref()))
    }
    /// An [`Operation::Upsert`].
    pub fn upsert(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        Operation::Upsert(Arc::from(key.as_ref()), Arc::from(value.as_ref()))
    }
    /// An [`Operation::Remove`].
    pub fn remove(key: impl AsRef<[u8]>) -> Self {
        Operation::Remove(Arc::from(key.as_ref()))
    }
    /// An [`Operation::RemoveIfPresent`].
    pub fn remove_if_present(key: impl AsRef<[u8]>) -> Self {
        Operation::RemoveIfPresent(Arc::from(key.as_ref()))
    }

    /// The key the operation acts on.
    pub fn key(&self) -> &[u8] {
        match self {
            Operation::Lookup(k)
            | Operation::Insert(k, _)
            | Operation::Update(k, _)
            | Operation::Upsert(k, _)
            | Operation::Remove(k)
            | Operation::RemoveIfPresent(k) => k,
        }
    }

    /// The value the operation writes, if any.
    pub fn value(&self) -> Option<&[u8]> {
        match self {
            Operation::Insert(_, v) | Operation::Update(_, v) | Operation::Upsert(_, v) => Some(v),
            _ => None,
        }
    }

    /// Checks the key and value lengths against `limits`.
    pub fn check(&self, limits: &SizeLimits) -> Result<(), OperationError> {
        if self.key().len() > limits.max_key_len {
            return Err(OperationError::KeyTooLong);
        }
        if self.value().is_some_and(|v| v.len() > limits.max_value_len) {
            return Err(OperationError::ValueTooLong);
        }
        Ok(())
    }
}

/// Limits on key and value lengths. The prover and the verifier must use the same ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeLimits {
    /// Longest key accepted, in bytes.
    pub max_key_len: usize,
    /// Longest value accepted, in bytes.
    pub max_value_len: usize,
}

impl SizeLimits {
    /// 1 KiB keys, 64 KiB values.
    pub const DEFAULT: SizeLimits = SizeLimits {
        max_key_len: 1024,
        max_value_len: 64 * 1024,
    };
}

impl Default for SizeLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why an operation is not acceptable in a batch at all (checked before anything runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperationError {
    /// The key is longer than [`SizeLimits::max_key_len`].
    KeyTooLong,
    /// The value is longer than [`SizeLimits::max_value_len`].
    ValueTooLong,
}

impl core::fmt::Display for OperationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            OperationError::KeyTooLong => "key longer than the limit",
            OperationError::ValueTooLong => "value longer than the limit",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for OperationError {}

#[cfg(feature = "std")]
impl std::error::Error for Failure {}

/// What a successful operation did.
///
/// Modifications do not return the old value: returning it would force every proof to ship
/// it. A caller that needs it puts a [`Operation::Lookup`] before the modification.
///
/// Feature `serde`: `{"found": hex}`, `"not_found"`, `"inserted"`, `"updated"` or `"removed"`
/// in human-readable formats; in binary ones, the variant index in declaration order (then the
/// value's bytes for `Found`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Outcome {
    /// The key is present with this value.
    Found(#[cfg_attr(feature = "serde", serde(with = "crate::node::serde_bytes"))] Bytes),
    /// The key is absent (a lookup, or a remove-if-present of an absent key).
    NotFound,
    /// The key was added.
    Inserted,
    /// The key's value was replaced.
    Updated,
    /// The key was removed.
    Removed,
}

/// Why an operation failed. A failed operation leaves the tree unchanged.
///
/// Feature `serde`: `"key_exists"` or `"key_missing"` in human-readable formats; the variant
/// index (0, 1) in binary ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Failure {
    /// `Insert` of a key that is present.
    KeyExists,
    /// `Update` or `Remove` of a key that is absent.
    KeyMissing,
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Failure::KeyExists => "key exists",
            Failure::KeyMissing => "key missing",
        })
    }
}

/// The result of one operation.
///
/// Feature `serde`: being a `Result`, it serialises as serde writes any `Result`
/// (`{"Ok": outcome}`, `{"Err": failure}`); for the fixtures' flat spelling (`{"found": hex}`,
/// `"inserted"`, …, `{"failure": "key_exists"}`) put `#[serde(with =
/// "avlplus::serde_result")]` on a field, or `avlplus::serde_results` on a `Vec<OpResult>`.
pub type OpResult = Result<Outcome, Failure>;

/// A tree's root and height, as the operations see it: the prover's tree, or (`State<Light>`)
/// the verifier's proof tree (whose root is an index into the verifier's arena).
#[derive(Clone, Debug)]
pub(crate) struct State<S: Side = DefaultSide> {
    /// The root, `None` for the empty tree.
    pub root: Option<S::Link>,
    /// Height of the root (0 for the empty tree or one leaf).
    pub height: u8,
}

impl<S: Side> Default for State<S> {
    /// The empty tree.
    fn default() -> Self {
        State {
            root: None,
            height: 0,
        }
    }
}

fn new_leaf<S: Side>(key: S::Key, next: Option<S::Key>, value: S::Value) -> Node<S> {
    Node::new(Kind::Leaf(Leaf { key, next, value }))
}

fn new_internal<S: Side>(left: S::Link, right: S::Link, route: S::Route) -> Node<S> {
    Node::new(Kind::Internal(Internal {
        balance: 0,
        left,
        right,
        route,
    }))
}

/// Applies `op` to `state`. On `Err` the state is unusable and the batch must be abandoned;
/// an operation that merely fails (`Ok(Err(_))`) leaves the state unchanged.
pub(crate) fn apply<W: Walker>(
    state: &mut State<W::Side>,
    op: &Operation,
    walker: &mut W,
) -> Result<OpResult, W::Error> {
    let Some(root) = state.root.take() else {
        return Ok(match op {
            Operation::Lookup(_) | Operation::RemoveIfPresent(_) => Ok(Outcome::NotFound),
            Operation::Update(..) | Operation::Remove(_) => Err(Failure::KeyMissing),
            Operation::Insert(k, v) | Operation::Upsert(k, v) => {
                let leaf = new_leaf(walker.new_key(k)?, None, walker.new_value(v)?);
                state.root = Some(walker.alloc(leaf)?);
                Ok(Outcome::Inserted)
            }
        });
    };
    let key = op.key();
    let mut z = Zipper::with_height(root, walker, state.height);
    z.seek(key)?;
    let position = z.locate(key)?;
    let found = position == Position::Found;
    let (result, delta) = match (op, found) {
        (Operation::Lookup(_), true) => (Ok(Outcome::Found(z.read_value()?)), 0),
        (Operation::Lookup(_) | Operation::RemoveIfPresent(_), false) => (Ok(Outcome::NotFound), 0),
        (Operation::Insert(..), true) => (Err(Failure::KeyExists), 0),
        (Operation::Update(..) | Operation::Remove(_), false) => (Err(Failure::KeyMissing), 0),
        (Operation::Update(_, v) | Operation::Upsert(_, v), true) => {
            let v = z.new_value(v)?;
            let old = core::mem::replace(&mut z.leaf_mut()?.value, v);
            z.released(&old);
            (Ok(Outcome::Updated), 0)
        }
        (Operation::Insert(k, v) | Operation::Upsert(k, v), false) => {
            insert_at(&mut z, position, k, v)?;
            (Ok(Outcome::Inserted), 1)
        }
        (Operation::Remove(_) | Operation::RemoveIfPresent(_), true) => {
            if z.depth() == 0 {
                // The only leaf: the tree becomes empty, whose height is 0 whatever the
                // height was (a one-leaf tree's is 0 too, and the verifier has checked the
                // trusted height against the proof).
                z.removing_focus();
                state.height = 0;
                return Ok(Ok(Outcome::Removed));
            }
            remove_focused_leaf(&mut z)?;
            (Ok(Outcome::Removed), -1)
        }
    };
    let (root, root_delta) = z.finish(delta)?;
    state.root = Some(root);
    state.height = match root_delta {
        1 => state
            .height
            .checked_add(1)
            .ok_or_else(|| W::fault(Fault::Malformed))?,
        -1 => state
            .height
            .checked_sub(1)
            .ok_or_else(|| W::fault(Fault::Malformed))?,
        _ => state.height,
    };
    Ok(result)
}

/// Replaces the focused leaf with an internal node holding it and a new leaf for `key`.
fn insert_at<W: Walker>(
    z: &mut Zipper<'_, W>,
    position: Position,
    key: &Bytes,
    value: &Bytes,
) -> Result<(), W::Error> {
    let key = z.new_key(key)?;
    let value = z.new_value(value)?;
    let leaf = z.leaf()?;
    let pair = if position == Position::BeforeFirst {
        let old_first = leaf.key.clone();
        let new = z.alloc(new_leaf(key, Some(old_first.clone()), value))?;
        let old = z.replace(W::hole());
        new_internal(new, old, z.route(Some(&old_first)))
    } else {
        let new = new_leaf(key.clone(), leaf.next.clone(), value);
        let mut old = leaf.clone();
        old.next = Some(key.clone());
        let old = z.alloc(Node::new(Kind::Leaf(old)))?;
        let new = z.alloc(new)?;
        new_internal(old, new, z.route(Some(&key)))
    };
    let pair = z.alloc(pair)?;
    z.replace(pair);
    Ok(())
}

/// Removes the focused leaf (which is not the root): fixes its predecessor's next key and the
/// routing key that named it, then lets its sibling take its parent's place.
fn remove_focused_leaf<W: Walker>(z: &mut Zipper<'_, W>) -> Result<(), W::Error> {
    let leaf = z.leaf()?;
    let key = leaf.key.clone();
    let next = leaf.next.clone();
    if let Some(turn) = z.last_right_turn() {
        // The leaf is the least key of the right subtree at `turn`, whose routing key names
        // it; its predecessor is the greatest leaf of that node's left subtree.
        z.up_to(turn)?;
        let route = z.route(next.as_ref());
        if let Kind::Internal(a) = &mut z.node_mut()?.kind {
            a.route = route;
        }
        z.descend(Dir::Left)?;
        z.seek_extreme(Dir::Right)?;
        z.leaf_mut()?.next = next;
        z.up_to(turn)?;
        z.descend(Dir::Right)?;
        z.seek_extreme(Dir::Left)?;
        if !z.leaf_key_is(&key)? {
            return Err(W::fault(Fault::Malformed));
        }
    }
    z.removing_focus();
    z.remove_focus()
}
