//! The node record: how one node is stored under its label.
//!
//! ```text
//! leaf      0x00 | varint len | key | next | varint len | value
//! internal  0x01 | balance | left label (32) | varint left version
//!                          | right label (32) | varint right version | route
//! next, route: 0x00 (none) | 0x01 varint len | bytes
//! balance: 0xFF (left taller), 0x00, 0x01 (right taller)
//! ```
//!
//! A child is referenced by its record key: label and the version whose commit wrote it.
//! The stored value is the record followed by its 8-byte check (layout.rs).
//!
//! Decoding treats the bytes as untrusted: every read is checked, lengths are bounded by
//! [`SizeLimits`] (a length over them is its own error, not corruption), trailing bytes are
//! rejected, and the record must hash to the label it was requested under. The routing key
//! and the child versions are not hashed; the record's check covers them, so a damaged one is
//! refused on load and never carried into a new commit.

use alloc::vec::Vec;

use super::layout::{open_record, NodeKey};
use super::{StoreBackend, StoreError, Table};
use crate::codec::{put_varint, Reader};
use crate::hash::{Digest, TreeHasher};
use crate::node::{Bytes, Internal, Kind, Leaf, LeafValue, Node};
use crate::ops::SizeLimits;

const TAG_LEAF: u8 = 0x00;
const TAG_INTERNAL: u8 = 0x01;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_option(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            put_bytes(out, b);
        }
    }
}

/// A node record's content, borrowed from the bytes it was parsed from or the node it was
/// taken from: what both engines write and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored<'a> {
    /// A leaf.
    Leaf {
        /// Its key.
        key: &'a [u8],
        /// Its next key (`None`: the last leaf).
        next: Option<&'a [u8]>,
        /// Its value.
        value: &'a [u8],
    },
    /// An internal node.
    Internal {
        /// Its balance (-1, 0, 1).
        balance: i8,
        /// The record key of its left child.
        left: NodeKey,
        /// The record key of its right child.
        right: NodeKey,
        /// Its routing key (`None` only transiently).
        route: Option<&'a [u8]>,
    },
}

/// Encodes a record.
pub(crate) fn encode_stored(stored: &Stored<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    match stored {
        Stored::Leaf { key, next, value } => {
            out.push(TAG_LEAF);
            put_bytes(&mut out, key);
            put_option(&mut out, *next);
            put_bytes(&mut out, value);
        }
        Stored::Internal {
            balance,
            left,
            right,
            route,
        } => {
            out.push(TAG_INTERNAL);
            out.push(*balance as u8);
            out.extend_from_slice(&left.label);
            put_varint(&mut out, left.version);
            out.extend_from_slice(&right.label);
            put_varint(&mut out, right.version);
            put_option(&mut out, *route);
        }
    }
    out
}

/// Reads and checks the record `key` (cold reads: the audit's and the collector's, kept by
/// nobody).
pub(crate) fn read_node<H: TreeHasher>(
    store: &dyn StoreBackend,
    key: &NodeKey,
    limits: &SizeLimits,
) -> Result<Node, StoreError> {
    decode_node::<H>(&read_record(store, key)?, key, limits)
}

/// Encodes a stored node again (the record fuzz target's round trip). `None` if a leaf's
/// value is withheld (never in a decoded record).
pub(crate) fn encode_node(node: &Node) -> Option<Vec<u8>> {
    let stored = match &node.kind {
        Kind::Leaf(leaf) => Stored::Leaf {
            key: &leaf.key,
            next: leaf.next.as_deref(),
            value: leaf.value.bytes()?,
        },
        Kind::Internal(i) => Stored::Internal {
            balance: i.balance,
            left: i.left,
            right: i.right,
            route: i.route.as_deref(),
        },
    };
    Some(encode_stored(&stored))
}

/// Why a record's bytes were refused.
enum Refusal {
    Malformed,
    OverLimits,
}

fn read_bytes<'a>(r: &mut Reader<'a>, max: usize) -> Result<&'a [u8], Refusal> {
    let len = r.varint().map_err(|_| Refusal::Malformed)?;
    if len > max as u64 {
        return Err(Refusal::OverLimits);
    }
    let len = usize::try_from(len).map_err(|_| Refusal::Malformed)?;
    r.bytes(len).map_err(|_| Refusal::Malformed)
}

fn read_option<'a>(r: &mut Reader<'a>, max: usize) -> Result<Option<&'a [u8]>, Refusal> {
    match r.u8().map_err(|_| Refusal::Malformed)? {
        0 => Ok(None),
        1 => Ok(Some(read_bytes(r, max)?)),
        _ => Err(Refusal::Malformed),
    }
}

/// Parses a record written by `version`'s commit; returns its content, the label it hashes
/// to and, for a leaf, its value's digest.
fn parse<'a, H: TreeHasher>(
    bytes: &'a [u8],
    version: u64,
    limits: &SizeLimits,
) -> Result<(Stored<'a>, Digest, Option<Digest>), Refusal> {
    let m = |_| Refusal::Malformed;
    let mut r = Reader::new(bytes);
    let (stored, label, digest) = match r.u8().map_err(m)? {
        TAG_LEAF => {
            let key = read_bytes(&mut r, limits.max_key_len)?;
            let next = read_option(&mut r, limits.max_key_len)?;
            let value = read_bytes(&mut r, limits.max_value_len)?;
            let digest = H::value(value);
            let label = H::leaf(key, next, &digest);
            (Stored::Leaf { key, next, value }, label, Some(digest))
        }
        TAG_INTERNAL => {
            let balance = match r.u8().map_err(m)? {
                0xFF => -1,
                0x00 => 0,
                0x01 => 1,
                _ => return Err(Refusal::Malformed),
            };
            let left = r.array32().map_err(m)?;
            let left_version = r.varint().map_err(m)?;
            let right = r.array32().map_err(m)?;
            let right_version = r.varint().map_err(m)?;
            // A child was written by the same commit or an earlier one.
            if left_version > version || right_version > version {
                return Err(Refusal::Malformed);
            }
            let route = read_option(&mut r, limits.max_key_len)?;
            let label = H::internal(balance, &left, &right);
            let stored = Stored::Internal {
                balance,
                left: NodeKey {
                    version: left_version,
                    label: left,
                },
                right: NodeKey {
                    version: right_version,
                    label: right,
                },
                route,
            };
            (stored, label, None)
        }
        _ => return Err(Refusal::Malformed),
    };
    if r.remaining() != 0 {
        return Err(Refusal::Malformed);
    }
    Ok((stored, label, digest))
}

/// Decodes the record stored under `key` into its content (borrowed from `bytes`) and, for
/// a leaf, its value's digest: the record's check (which covers the unhashed child versions
/// and routing key) must hold, it must decode exactly within `limits`, and its content must
/// hash to `key.label`.
pub(crate) fn decode_stored<'a, H: TreeHasher>(
    bytes: &'a [u8],
    key: &NodeKey,
    limits: &SizeLimits,
) -> Result<(Stored<'a>, Option<Digest>), StoreError> {
    let corrupt = StoreError::Corrupt(key.version, key.label);
    let payload = open_record(Table::Nodes, &key.encode(), bytes).ok_or(corrupt.clone())?;
    match parse::<H>(payload, key.version, limits) {
        Ok((stored, actual, digest)) if actual == key.label => Ok((stored, digest)),
        Err(Refusal::OverLimits) => Err(StoreError::OverLimits(key.version, key.label)),
        _ => Err(corrupt),
    }
}

/// Reads and checks the record `key` (as [`read_node`] does) for its children's record keys
/// (`None` for a leaf): all that the collector's and the store audit's walks need, without
/// building the node.
pub(crate) fn read_children<H: TreeHasher>(
    store: &dyn StoreBackend,
    key: &NodeKey,
    limits: &SizeLimits,
) -> Result<Option<[NodeKey; 2]>, StoreError> {
    let bytes = read_record(store, key)?;
    Ok(match decode_stored::<H>(&bytes, key, limits)?.0 {
        Stored::Internal { left, right, .. } => Some([left, right]),
        Stored::Leaf { .. } => None,
    })
}

/// The bytes stored under `key` in `store`; [`StoreError::Missing`] if there are none.
pub(crate) fn read_record(store: &dyn StoreBackend, key: &NodeKey) -> Result<Vec<u8>, StoreError> {
    store
        .get(Table::Nodes, &key.encode())?
        .ok_or(StoreError::Missing(key.version, key.label))
}

/// Decodes the record stored under `key` into a node whose children are stubs (see
/// [`decode_stored`] for what is checked).
pub(crate) fn decode_node<H: TreeHasher>(
    bytes: &[u8],
    key: &NodeKey,
    limits: &SizeLimits,
) -> Result<Node, StoreError> {
    let (stored, digest) = decode_stored::<H>(bytes, key, limits)?;
    let kind = match stored {
        Stored::Leaf { key, next, value } => Kind::Leaf(Leaf {
            key: Bytes::from(key),
            next: next.map(Bytes::from),
            value: LeafValue::Full {
                bytes: Bytes::from(value),
                digest,
            },
        }),
        Stored::Internal {
            balance,
            left,
            right,
            route,
        } => Kind::Internal(Internal {
            balance,
            left,
            right,
            route: route.map(Bytes::from),
        }),
    };
    Ok(Node {
        label: Some(key.label),
        version: key.version,
        kind,
    })
}
