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
//!
//! Decoding treats the bytes as untrusted: every read is checked, lengths are bounded by
//! [`SizeLimits`], trailing bytes are rejected, and the record must hash to the label it was
//! requested under. The routing key is not hashed; a corrupted one can only send a walk to a
//! leaf that does not bracket its key, which the operations detect.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::layout::NodeKey;
use super::StoreError;
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
pub fn encode_node(node: &Node) -> Option<Vec<u8>> {
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

fn read_bytes(r: &mut Reader<'_>, max: usize) -> Option<Bytes> {
    let len = r.varint_at_most(max, ()).ok()?.ok()?;
    Some(Arc::from(r.bytes(len).ok()?))
}

fn read_option(r: &mut Reader<'_>, max: usize) -> Option<Option<Bytes>> {
    match r.u8().ok()? {
        0 => Some(None),
        1 => Some(Some(read_bytes(r, max)?)),
        _ => None,
    }
}

fn parse<H: TreeHasher>(bytes: &[u8], limits: &SizeLimits) -> Option<(Node, Digest)> {
    let mut r = Reader::new(bytes);
    let (kind, label) = match r.u8().ok()? {
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
            let balance = match r.u8().ok()? {
                0xFF => -1,
                0x00 => 0,
                0x01 => 1,
                _ => return None,
            };
            let left = r.array32().ok()?;
            let left_version = r.varint().ok()?;
            let right = r.array32().ok()?;
            let right_version = r.varint().ok()?;
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
        _ => return None,
    };
    if r.remaining() != 0 {
        return None;
    }
    Some((
        Node {
            label: Some(label),
            version: 0,
            kind,
        },
        label,
    ))
}

/// Decodes the record stored under `key`, checking that it hashes to `key.label`.
pub fn decode_node<H: TreeHasher>(
    bytes: &[u8],
    key: &NodeKey,
    limits: &SizeLimits,
) -> Result<Node, StoreError> {
    match parse::<H>(bytes, limits) {
        Some((mut node, actual)) if actual == key.label => {
            node.version = key.version;
            Ok(node)
        }
        _ => Err(StoreError::Corrupt(key.version, key.label)),
    }
}
