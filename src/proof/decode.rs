//! Proof decoding: untrusted bytes in, a [`ProofTree`] or a typed error out.
//!
//! Memory is bounded by the input: the node count is checked against the bits available
//! before anything is allocated for it, every length against its limit and against the bytes
//! left, and the tree depth against [`DecodeLimits::max_depth`].

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{ProofTree, CODE_EVEN, CODE_LEAF, CODE_LEFT_HEAVY, CODE_RIGHT_HEAVY, VERSION};
use crate::codec::{BitReader, ReadError, Reader};
use crate::node::{Bytes, Internal, Kind, Leaf, LeafValue, Link, Node, Route};

/// Limits applied while decoding a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest proof accepted, in bytes.
    pub max_proof_bytes: usize,
    /// Deepest proof tree accepted (a leaf at the root has depth 0).
    pub max_depth: usize,
    /// Most nodes (tokens) accepted. The verifier derives it from the batch: an operation
    /// reads at most `4 h + 1` nodes of a tree of height `h`, each with at most two children.
    pub max_nodes: usize,
    /// Longest key accepted.
    pub max_key_len: usize,
    /// Longest value accepted.
    pub max_value_len: usize,
}

impl Default for DecodeLimits {
    /// 64 MiB proofs, depth 96, node count bounded by the bytes only, keys up to 1 KiB,
    /// values up to 64 KiB.
    fn default() -> Self {
        DecodeLimits {
            max_proof_bytes: 64 << 20,
            max_depth: 96,
            max_nodes: usize::MAX,
            max_key_len: crate::SizeLimits::DEFAULT.max_key_len,
            max_value_len: crate::SizeLimits::DEFAULT.max_value_len,
        }
    }
}

/// Why proof bytes were rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Longer than [`DecodeLimits::max_proof_bytes`].
    TooLong,
    /// The bytes end before the proof does.
    Truncated,
    /// The version byte is not [`VERSION`](super::VERSION).
    UnsupportedVersion(u8),
    /// A varint is too long or not in shortest form.
    BadVarint,
    /// The node count exceeds what the bytes could hold or [`DecodeLimits::max_nodes`].
    TooManyNodes,
    /// The shape is not exactly one binary tree.
    MalformedShape,
    /// The tree is deeper than [`DecodeLimits::max_depth`].
    TooDeep,
    /// A key (or the key width) exceeds [`DecodeLimits::max_key_len`].
    KeyTooLong,
    /// A value (or the value width) exceeds [`DecodeLimits::max_value_len`].
    ValueTooLong,
    /// Padding bits of the shape are not zero.
    NonZeroPadding,
    /// A width field is not the canonical one for the lengths that follow.
    NonCanonicalWidth,
    /// Leaves are not in strictly increasing key order, or a next key is not above its key.
    UnorderedLeaves,
}

impl From<ReadError> for DecodeError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Truncated => DecodeError::Truncated,
            ReadError::BadVarint => DecodeError::BadVarint,
        }
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::TooLong => f.write_str("proof longer than the limit"),
            DecodeError::Truncated => f.write_str("proof truncated"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported proof version {v}"),
            DecodeError::BadVarint => f.write_str("malformed varint"),
            DecodeError::TooManyNodes => f.write_str("node count exceeds the input"),
            DecodeError::MalformedShape => f.write_str("shape is not one binary tree"),
            DecodeError::TooDeep => f.write_str("proof tree deeper than the limit"),
            DecodeError::KeyTooLong => f.write_str("key longer than the limit"),
            DecodeError::ValueTooLong => f.write_str("value longer than the limit"),
            DecodeError::NonZeroPadding => f.write_str("non-zero padding bits"),
            DecodeError::NonCanonicalWidth => f.write_str("non-canonical width field"),
            DecodeError::UnorderedLeaves => f.write_str("leaves out of key order"),
        }
    }
}

#[derive(Clone, Copy)]
enum Shape {
    Stub,
    Internal(i8),
    Leaf { has_next: bool, full_value: bool },
}

/// Tracks whether every explicitly written length in one class is the same.
struct Widths {
    field: usize,
    max: usize,
    common: Option<usize>,
    mixed: bool,
}

impl Widths {
    fn new(field: usize, max: usize) -> Self {
        Widths {
            field,
            max,
            common: None,
            mixed: false,
        }
    }

    /// Reads one item: its length is the width, or a varint when the width field is 0.
    fn read<'a>(
        &mut self,
        r: &mut Reader<'a>,
        too_long: DecodeError,
    ) -> Result<&'a [u8], DecodeError> {
        let len = match self.field.checked_sub(1) {
            Some(w) => w,
            None => r.varint_at_most(self.max, too_long)??,
        };
        match self.common {
            None => self.common = Some(len),
            Some(c) if c != len => self.mixed = true,
            Some(_) => {}
        }
        Ok(r.bytes(len)?)
    }

    /// The field must be 0 exactly when there are no items or their lengths differ.
    fn canonical(&self) -> bool {
        match (self.field, self.common) {
            (0, None) => true,
            (0, Some(_)) => self.mixed,
            (_, None) => false,
            (_, Some(_)) => true,
        }
    }
}

/// Decodes proof bytes.
///
/// ```
/// use avlplus::proof::{decode, DecodeError, DecodeLimits};
/// assert_eq!(decode(&[], &DecodeLimits::default()).unwrap_err(), DecodeError::Truncated);
/// assert_eq!(decode(&[9], &DecodeLimits::default()).unwrap_err(), DecodeError::UnsupportedVersion(9));
/// ```
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<ProofTree, DecodeError> {
    // No root digest describes a tree higher than 255, and the decoded tree is dropped and
    // walked recursively: the depth bound is also a stack bound.
    let max_depth = limits.max_depth.min(usize::from(u8::MAX));
    if bytes.len() > limits.max_proof_bytes {
        return Err(DecodeError::TooLong);
    }
    let mut r = Reader::new(bytes);
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let node_count = r.varint()?;
    let key_field = r.varint_at_most(
        limits.max_key_len.saturating_add(1),
        DecodeError::KeyTooLong,
    )??;
    let value_field = r.varint_at_most(
        limits.max_value_len.saturating_add(1),
        DecodeError::ValueTooLong,
    )??;
    // Every token takes at least one bit.
    let node_count = usize::try_from(node_count)
        .ok()
        .filter(|n| *n <= r.remaining().saturating_mul(8) && *n <= limits.max_nodes)
        .ok_or(DecodeError::TooManyNodes)?;

    let rest = r.take_rest();
    let mut bits = BitReader::new(rest);
    // Grows as tokens are read; a hostile count cannot reserve memory up front.
    let mut shape = Vec::with_capacity(node_count.min(rest.len()).min(1 << 16));
    for _ in 0..node_count {
        let token = if !bits.bit().ok_or(DecodeError::Truncated)? {
            Shape::Stub
        } else {
            match bits.bits(2).ok_or(DecodeError::Truncated)? {
                CODE_EVEN => Shape::Internal(0),
                CODE_LEFT_HEAVY => Shape::Internal(-1),
                CODE_RIGHT_HEAVY => Shape::Internal(1),
                CODE_LEAF => Shape::Leaf {
                    has_next: bits.bit().ok_or(DecodeError::Truncated)?,
                    full_value: bits.bit().ok_or(DecodeError::Truncated)?,
                },
                _ => return Err(DecodeError::MalformedShape),
            }
        };
        shape.push(token);
    }
    let shape_bytes = bits.bytes_used();
    if !bits.rest_of_byte_is_zero() {
        return Err(DecodeError::NonZeroPadding);
    }
    let mut r = Reader::new(rest.get(shape_bytes..).unwrap_or(&[]));

    let mut keys = Widths::new(key_field, limits.max_key_len);
    let mut values = Widths::new(value_field, limits.max_value_len);
    let mut stack: Vec<(Link, usize)> = Vec::new();
    let mut prev_next: Option<Bytes> = None;
    // Leaves come in key order in an honest proof; checking it here also makes every leaf
    // cost distinct key bytes, so a proof cannot describe many free leaves.
    let mut last_key: Option<Bytes> = None;
    for token in shape {
        match token {
            Shape::Stub => {
                prev_next = None;
                stack.push((Link::stub(r.array32()?, 0), 0));
            }
            Shape::Internal(balance) => {
                let (right, hr) = stack.pop().ok_or(DecodeError::MalformedShape)?;
                let (left, hl) = stack.pop().ok_or(DecodeError::MalformedShape)?;
                let height = hl.max(hr).saturating_add(1);
                if height > max_depth {
                    return Err(DecodeError::TooDeep);
                }
                let node = Node::new(Kind::Internal(Internal {
                    balance,
                    left,
                    right,
                    route: Route::None,
                }));
                stack.push((Link::new(node), height));
            }
            Shape::Leaf {
                has_next,
                full_value,
            } => {
                let key = match prev_next.take() {
                    Some(k) => k,
                    None => Arc::from(keys.read(&mut r, DecodeError::KeyTooLong)?),
                };
                let next: Option<Bytes> = if has_next {
                    Some(Arc::from(keys.read(&mut r, DecodeError::KeyTooLong)?))
                } else {
                    None
                };
                let value = if full_value {
                    LeafValue::full(Arc::from(values.read(&mut r, DecodeError::ValueTooLong)?))
                } else {
                    LeafValue::Withheld(r.array32()?)
                };
                if last_key.as_ref().is_some_and(|last| key <= *last)
                    || next.as_ref().is_some_and(|n| *n <= key)
                {
                    return Err(DecodeError::UnorderedLeaves);
                }
                last_key = Some(key.clone());
                prev_next = next.clone();
                let node = Node::new(Kind::Leaf(Leaf { key, next, value }));
                stack.push((Link::new(node), 0));
            }
        }
    }
    if !keys.canonical() || !values.canonical() {
        return Err(DecodeError::NonCanonicalWidth);
    }
    let root = match (stack.pop(), stack.is_empty()) {
        (None, _) => None,
        (Some((root, _)), true) => Some(root),
        (Some(_), false) => return Err(DecodeError::MalformedShape),
    };
    Ok(ProofTree {
        root,
        directions: r.take_rest().to_vec(),
    })
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}
