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

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::layout::{open_record, seal_record, NodeKey};
use super::{StoreError, Table};
use crate::codec::{put_varint, Reader};
use crate::hash::{Digest, TreeHasher};
use crate::node::{Bytes, Internal, Kind, Leaf, LeafValue, Link, Node, Route};
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

/// Encodes a node whose children are labelled. `None` if a child has no label yet or a
/// leaf's value is withheld (neither happens to a sealed prover node).
pub(crate) fn encode_node(node: &Node) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match &node.kind {
        Kind::Leaf(leaf) => {
            out.push(TAG_LEAF);
            put_bytes(&mut out, &leaf.key);
            put_option(&mut out, leaf.next.as_deref());
            put_bytes(&mut out, leaf.value.bytes()?);
        }
        Kind::Internal(i) => {
            out.push(TAG_INTERNAL);
            out.push(i.balance as u8);
            out.extend_from_slice(&i.left.label()?);
            put_varint(&mut out, i.left.version());
            out.extend_from_slice(&i.right.label()?);
            put_varint(&mut out, i.right.version());
            put_option(&mut out, i.route.get());
        }
    }
    Some(out)
}

/// Why a record's bytes were refused.
enum Refusal {
    Malformed,
    OverLimits,
}

fn read_bytes(r: &mut Reader<'_>, max: usize) -> Result<Bytes, Refusal> {
    let len = r.varint().map_err(|_| Refusal::Malformed)?;
    if len > max as u64 {
        return Err(Refusal::OverLimits);
    }
    let len = usize::try_from(len).map_err(|_| Refusal::Malformed)?;
    Ok(Arc::from(r.bytes(len).map_err(|_| Refusal::Malformed)?))
}

fn read_option(r: &mut Reader<'_>, max: usize) -> Result<Option<Bytes>, Refusal> {
    match r.u8().map_err(|_| Refusal::Malformed)? {
        0 => Ok(None),
        1 => Ok(Some(read_bytes(r, max)?)),
        _ => Err(Refusal::Malformed),
    }
}

/// Parses a record written by `version`'s commit; returns the node and the label its content
/// hashes to.
fn parse<H: TreeHasher>(
    bytes: &[u8],
    version: u64,
    limits: &SizeLimits,
) -> Result<(Node, Digest), Refusal> {
    let m = |_| Refusal::Malformed;
    let mut r = Reader::new(bytes);
    let (kind, label) = match r.u8().map_err(m)? {
        TAG_LEAF => {
            let key = read_bytes(&mut r, limits.max_key_len)?;
            let next = read_option(&mut r, limits.max_key_len)?;
            let value = read_bytes(&mut r, limits.max_value_len)?;
            let digest = H::value(&value);
            let label = H::leaf(&key, next.as_deref(), &digest);
            let value = LeafValue::Full {
                bytes: value,
                digest: Some(digest),
            };
            (Kind::Leaf(Leaf { key, next, value }), label)
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
            let internal = Internal {
                balance,
                left: Link::stub(left, left_version),
                right: Link::stub(right, right_version),
                route: Route::from_option(route.as_ref()),
            };
            (Kind::Internal(internal), label)
        }
        _ => return Err(Refusal::Malformed),
    };
    if r.remaining() != 0 {
        return Err(Refusal::Malformed);
    }
    Ok((
        Node {
            label: Some(label),
            version,
            kind,
        },
        label,
    ))
}

/// Decodes the record stored under `key`: its check (which covers the unhashed child
/// versions and routing key) must hold, it must decode exactly within `limits`, and its
/// content must hash to `key.label`.
pub(crate) fn decode_node<H: TreeHasher>(
    bytes: &[u8],
    key: &NodeKey,
    limits: &SizeLimits,
) -> Result<Node, StoreError> {
    let corrupt = StoreError::Corrupt(key.version, key.label);
    let payload = open_record(Table::Nodes, &key.encode(), bytes).ok_or(corrupt.clone())?;
    match parse::<H>(payload, key.version, limits) {
        Ok((node, actual)) if actual == key.label => Ok(node),
        Err(Refusal::OverLimits) => Err(StoreError::OverLimits(key.version, key.label)),
        _ => Err(corrupt),
    }
}

/// The value stored for a node under `key`: its record and the record's check.
pub(crate) fn node_value(key: &NodeKey, node: &Node) -> Option<Vec<u8>> {
    Some(seal_record(Table::Nodes, &key.encode(), encode_node(node)?))
}
