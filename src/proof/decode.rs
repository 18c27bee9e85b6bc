//! Proof decoding: untrusted bytes in, a [`ProofTree`] or a typed error out.
//!
//! Memory is bounded by the input: the node count is checked against the bits available
//! before anything is allocated for it, every length against its limit and against the bytes
//! left, and the tree depth against [`DecodeLimits::max_depth`]. Beyond the decoded tree
//! itself (one arena for every token, allocated once at the size the shape's token counts
//! give, and one allocation per key, next key and full value, each holding bytes copied once
//! from the input; a proof that cannot decode gets no arena)
//! and the direction bytes (copied by [`decode`]; the verifier reads them in place), decoding
//! allocates only its stack of subtrees waiting for a
//! parent (the shape is read twice, in place).

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{ProofTree, Width, CODE_EVEN, CODE_LEAF, CODE_LEFT_HEAVY, CODE_RIGHT_HEAVY, VERSION};
use crate::codec::{BitReader, ReadError, Reader};
use crate::node::{Arena, Bytes, Internal, Kind, Leaf, LeafValue, Light, Node, NodeId};

/// Limits applied while decoding a proof.
///
/// Start from [`DecodeLimits::DEFAULT`] and change what differs:
///
/// ```
/// use avlplus::proof::DecodeLimits;
/// let limits = DecodeLimits::DEFAULT.max_proof_bytes(1 << 20).max_depth(40);
/// assert_eq!(limits.max_depth, 40);
/// assert_eq!(limits.max_key_len, DecodeLimits::DEFAULT.max_key_len);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeLimits {
    /// Longest proof accepted, in bytes.
    pub max_proof_bytes: usize,
    /// Deepest proof tree accepted (a leaf at the root has depth 0). Capped at 255 whatever
    /// is set: no root digest is higher, and the decoded tree is walked recursively.
    pub max_depth: usize,
    /// Most nodes (tokens) accepted. The verifier derives it from the batch: an operation
    /// reads at most `4 H + 2` nodes of a tree of height `H` (`H` the trusted height plus
    /// `2 + bits(ops)` for the batch's own inserts), each bringing at most two tokens.
    pub max_nodes: usize,
    /// Longest key accepted.
    pub max_key_len: usize,
    /// Longest value accepted.
    pub max_value_len: usize,
    /// Most bytes decoding may allocate: a proof whose declared node count could make the
    /// decoded tree larger, by [`DecodeLimits::memory_bound`], is refused before anything is
    /// allocated ([`DecodeError::TooMuchMemory`]).
    pub max_memory_bytes: usize,
}

impl DecodeLimits {
    /// 64 MiB proofs, depth 96, node count bounded by the bytes only (one bit per token),
    /// keys up to 1 KiB, values up to 64 KiB, memory bounded by those only.
    pub const DEFAULT: DecodeLimits = DecodeLimits {
        max_proof_bytes: 64 << 20,
        max_depth: 96,
        max_nodes: usize::MAX,
        max_key_len: crate::SizeLimits::DEFAULT.max_key_len,
        max_value_len: crate::SizeLimits::DEFAULT.max_value_len,
        max_memory_bytes: usize::MAX,
    };

    /// The most bytes decoding a proof of `len` bytes that declares `nodes` tokens can
    /// allocate: `nodes × 236 + len` on 64-bit targets. Each token is charged its slot in
    /// the verifier's arena (one buffer for the whole proof tree, sized from the declared count)
    /// and, were it a leaf, three byte strings' overhead (200 bytes), and three entries of the
    /// decoder's stack (12 bytes each: a hostile proof can keep every token waiting there, and
    /// a growing stack briefly holds its old and its new buffer); every input byte is copied at
    /// most once (into a key, next key, value, or the direction bytes). The bytes counted are
    /// those requested from the allocator, not its own bookkeeping.
    pub fn memory_bound(&self, nodes: usize, len: usize) -> usize {
        nodes
            .saturating_mul(TOKEN_BYTES.saturating_add(STACK_ENTRY_BYTES.saturating_mul(3)))
            .saturating_add(len)
    }

    /// These limits with [`DecodeLimits::max_proof_bytes`] set to `n`.
    #[must_use]
    pub const fn max_proof_bytes(mut self, n: usize) -> Self {
        self.max_proof_bytes = n;
        self
    }

    /// These limits with [`DecodeLimits::max_depth`] set to `n`.
    #[must_use]
    pub const fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// These limits with [`DecodeLimits::max_nodes`] set to `n`.
    #[must_use]
    pub const fn max_nodes(mut self, n: usize) -> Self {
        self.max_nodes = n;
        self
    }

    /// These limits with [`DecodeLimits::max_key_len`] set to `n`.
    #[must_use]
    pub const fn max_key_len(mut self, n: usize) -> Self {
        self.max_key_len = n;
        self
    }

    /// These limits with [`DecodeLimits::max_value_len`] set to `n`.
    #[must_use]
    pub const fn max_value_len(mut self, n: usize) -> Self {
        self.max_value_len = n;
        self
    }

    /// These limits with [`DecodeLimits::max_memory_bytes`] set to `n`.
    #[must_use]
    pub const fn max_memory_bytes(mut self, n: usize) -> Self {
        self.max_memory_bytes = n;
        self
    }
}

impl Default for DecodeLimits {
    /// [`DecodeLimits::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
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
    /// The node count could make the decoded tree exceed [`DecodeLimits::max_memory_bytes`]
    /// (for the verifier: [`Limits::max_memory_bytes`](crate::Limits::max_memory_bytes)).
    TooMuchMemory,
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

impl DecodeError {
    /// A cursor failure as a decoding error.
    fn from_read(e: ReadError) -> Self {
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
            DecodeError::TooMuchMemory => f.write_str("proof would need more memory than allowed"),
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

#[derive(Clone, Copy, Debug)]
enum Shape {
    Stub,
    Internal(i8),
    Leaf { has_next: bool, full_value: bool },
}

/// Reads one shape token: a stub is one bit, an internal node three, a leaf five. Every
/// bit a token needs must be there ([`DecodeError::Truncated`] otherwise), as if it were
/// read bit by bit.
#[inline]
fn token(bits: &mut BitReader<'_>) -> Result<Shape, DecodeError> {
    let (w, available) = bits.window();
    if available == 0 {
        return Err(DecodeError::Truncated);
    }
    if w & 1 == 0 {
        bits.skip(1);
        return Ok(Shape::Stub);
    }
    let code = (w >> 1) & 0b11;
    let need = if code == CODE_LEAF { 5 } else { 3 };
    if available < need {
        return Err(DecodeError::Truncated);
    }
    bits.skip(need);
    Ok(match code {
        CODE_EVEN => Shape::Internal(0),
        CODE_LEFT_HEAVY => Shape::Internal(-1),
        CODE_RIGHT_HEAVY => Shape::Internal(1),
        CODE_LEAF => Shape::Leaf {
            has_next: (w >> 3) & 1 == 1,
            full_value: (w >> 4) & 1 == 1,
        },
        _ => return Err(DecodeError::MalformedShape),
    })
}

/// What the shape pre-pass learns: whether the tokens form one tree, and the fewest payload
/// bytes they need (an item of a fixed width needs the width, a varint-prefixed one a byte).
struct PayloadNeed {
    key_item: usize,
    value_item: usize,
    /// Subtrees a post-order walk would have waiting.
    waiting: usize,
    /// The previous leaf sent its successor's key (no stub since).
    implied: bool,
    /// An internal token found fewer than two subtrees waiting.
    malformed: bool,
    leaves: usize,
    stubs: usize,
    bytes: usize,
}

impl PayloadNeed {
    fn new(key_field: usize, value_field: usize) -> Self {
        let item = |field: usize| field.checked_sub(1).unwrap_or(1);
        PayloadNeed {
            key_item: item(key_field),
            value_item: item(value_field),
            waiting: 0,
            implied: false,
            malformed: false,
            leaves: 0,
            stubs: 0,
            bytes: 0,
        }
    }

    fn add(&mut self, token: Shape) {
        let bytes = match token {
            Shape::Stub => {
                self.implied = false;
                self.stubs = self.stubs.saturating_add(1);
                LABEL_BYTES
            }
            Shape::Internal(_) => {
                // Pops two subtrees, pushes one.
                if self.waiting < 2 {
                    self.malformed = true;
                }
                self.waiting = self.waiting.saturating_sub(2);
                0
            }
            Shape::Leaf {
                has_next,
                full_value,
            } => {
                self.leaves = self.leaves.saturating_add(1);
                let key = if self.implied { 0 } else { self.key_item };
                let next = if has_next { self.key_item } else { 0 };
                let value = if full_value {
                    self.value_item
                } else {
                    LABEL_BYTES
                };
                self.implied = has_next;
                key.saturating_add(next).saturating_add(value)
            }
        };
        self.waiting = self.waiting.saturating_add(1);
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Whether tokens of this shape can decode from `payload` bytes: one tree, at most one
    /// leaf when every key is empty (two cannot be in order), and payloads that fit. When
    /// not, decoding fails for certain; which error it reports is found in order by the
    /// decoding itself.
    fn can_decode(&self, payload: usize) -> bool {
        !self.malformed
            && self.waiting <= 1
            && (self.key_item != 0 || self.leaves <= 1)
            && self.bytes <= payload
    }
}

/// Bytes of a label or withheld-value digest in the payloads.
const LABEL_BYTES: usize = 32;

/// Word size: reference counts, lengths and pointers.
const WORD: usize = core::mem::size_of::<usize>();

/// Most bytes one decoded token can take beyond the input bytes it copies: its node in the
/// verifier's arena (a verifier's node: no routing key, record version or cache; the arena
/// is allocated once, sized from the shape's token counts; a stub takes only its label) and,
/// for a leaf, three byte
/// strings (key, next key, value), each an `Arc<[u8]>` whose allocation adds two counters and
/// up to a word of padding to its bytes.
pub(crate) const TOKEN_BYTES: usize = core::mem::size_of::<Node<Light>>() + 3 * 3 * WORD;

/// Bytes of one decoder stack entry.
const STACK_ENTRY_BYTES: usize = core::mem::size_of::<Pending>();

/// A finished subtree waiting on the decoder's stack for its parent.
struct Pending {
    link: NodeId,
    /// Height of the proof tree below it (stubs and leaves 0), at most `max_depth` ≤ 255.
    depth: u8,
    /// Height of the real subtree, when the balances of a fully expanded path to a leaf
    /// imply it (see [`ProofTree::height`]): at most two per level of depth.
    height: Option<u16>,
}

/// Reads the items of one class, tracking their lengths.
struct Widths {
    field: usize,
    max: usize,
    seen: Width,
}

impl Widths {
    fn new(field: usize, max: usize) -> Self {
        Widths {
            field,
            max,
            seen: Width::None,
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
            None => r
                .varint_at_most(self.max, too_long)
                .map_err(DecodeError::from_read)??,
        };
        self.seen.add(len);
        r.bytes(len).map_err(DecodeError::from_read)
    }

    /// The field must be the one the encoder derives from the lengths: 0 exactly when there
    /// are no items or their lengths differ.
    fn canonical(&self) -> bool {
        self.field == self.seen.field()
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
    let (mut tree, directions) = decode_with_room(bytes, limits, 0)?;
    tree.directions = directions.to_vec();
    Ok(tree)
}

/// [`decode`], with room in the arena for `room` more nodes beyond the proof's (the
/// verifier's replay adds its new nodes there without growing the buffer). The direction
/// bytes are returned in place, not copied: the tree's own are left empty.
pub(crate) fn decode_with_room<'b>(
    bytes: &'b [u8],
    limits: &DecodeLimits,
    room: usize,
) -> Result<(ProofTree, &'b [u8]), DecodeError> {
    // No root digest describes a tree higher than 255, and the decoded tree is dropped and
    // walked recursively: the depth bound is also a stack bound.
    let max_depth = limits.max_depth.min(usize::from(u8::MAX));
    if bytes.len() > limits.max_proof_bytes {
        return Err(DecodeError::TooLong);
    }
    let mut r = Reader::new(bytes);
    let version = r.u8().map_err(DecodeError::from_read)?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let node_count = r.varint().map_err(DecodeError::from_read)?;
    let key_field = r
        .varint_at_most(
            limits.max_key_len.saturating_add(1),
            DecodeError::KeyTooLong,
        )
        .map_err(DecodeError::from_read)??;
    let value_field = r
        .varint_at_most(
            limits.max_value_len.saturating_add(1),
            DecodeError::ValueTooLong,
        )
        .map_err(DecodeError::from_read)??;
    // Every token takes at least one bit.
    let node_count = usize::try_from(node_count)
        .ok()
        .filter(|n| *n <= r.remaining().saturating_mul(8) && *n <= limits.max_nodes)
        .ok_or(DecodeError::TooManyNodes)?;
    if limits.memory_bound(node_count, bytes.len()) > limits.max_memory_bytes {
        return Err(DecodeError::TooMuchMemory);
    }

    let rest = r.take_rest();
    // The shape is read twice, allocation-free: once here to find where it ends (the
    // payloads start at the next byte), how many tokens are stubs, and whether the tokens
    // can decode at all (one tree, payloads that fit); once below in step with the payloads.
    let mut bits = BitReader::new(rest);
    let mut need = PayloadNeed::new(key_field, value_field);
    for _ in 0..node_count {
        need.add(token(&mut bits)?);
    }
    let shape_bytes = bits.bytes_used();
    if !bits.rest_of_byte_is_zero() {
        return Err(DecodeError::NonZeroPadding);
    }
    // A proof that can decode gets its arena in one allocation of the exact size, with room
    // for the replay. One that cannot is still read through, building nothing, to refuse it
    // with the first error in the order of §5.1: a proof cannot claim memory for nodes its
    // bytes do not describe.
    let build = need.can_decode(rest.len().saturating_sub(shape_bytes));
    let mut arena = if build {
        Arena::with_capacity(
            node_count.saturating_sub(need.stubs).saturating_add(room),
            need.stubs,
        )
    } else {
        Arena::default()
    };
    let mut shape = BitReader::new(rest);
    let mut r = Reader::new(rest.get(shape_bytes..).unwrap_or(&[]));

    let mut keys = Widths::new(key_field, limits.max_key_len);
    let mut values = Widths::new(value_field, limits.max_value_len);
    // An honest proof never has more than `max_depth + 1` subtrees waiting; a hostile one
    // can have up to `node_count`, and is refused only when an internal token or the end
    // shows it is not one tree (memory_bound charges the stack for every token).
    let mut stack: Vec<Pending> = Vec::with_capacity(node_count.min(max_depth.saturating_add(1)));
    let mut prev_next: Option<Bytes> = None;
    // Leaves come in key order in an honest proof; checking it here also makes every leaf
    // cost distinct key bytes, so a proof cannot describe many free leaves.
    let mut last_key: Option<Bytes> = None;
    for _ in 0..node_count {
        let pending = match token(&mut shape)? {
            Shape::Stub => {
                prev_next = None;
                let label = r.array32().map_err(DecodeError::from_read)?;
                Pending {
                    link: if build {
                        arena.push_stub(label).ok_or(DecodeError::TooManyNodes)?
                    } else {
                        NodeId::HOLE
                    },
                    depth: 0,
                    height: None,
                }
            }
            Shape::Internal(balance) => {
                let right = stack.pop().ok_or(DecodeError::MalformedShape)?;
                let left = stack.pop().ok_or(DecodeError::MalformedShape)?;
                let depth = usize::from(left.depth.max(right.depth)).saturating_add(1);
                if depth > max_depth {
                    return Err(DecodeError::TooDeep);
                }
                // max_depth is at most 255.
                let depth = u8::try_from(depth).map_err(|_| DecodeError::TooDeep)?;
                // height = 1 + max(left, right) and balance = right - left, so either
                // child's height gives the node's.
                let height = match (left.height, right.height) {
                    (Some(l), _) => {
                        Some(l.saturating_add(1).saturating_add(u16::from(balance > 0)))
                    }
                    (None, Some(r)) => {
                        Some(r.saturating_add(1).saturating_add(u16::from(balance < 0)))
                    }
                    (None, None) => None,
                };
                let node = Node::new(Kind::Internal(Internal {
                    balance,
                    left: left.link,
                    right: right.link,
                    route: (),
                }));
                Pending {
                    link: if build {
                        arena.push(node).ok_or(DecodeError::TooManyNodes)?
                    } else {
                        NodeId::HOLE
                    },
                    depth,
                    height,
                }
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
                    LeafValue::Withheld(r.array32().map_err(DecodeError::from_read)?)
                };
                if last_key.as_ref().is_some_and(|last| key <= *last)
                    || next.as_ref().is_some_and(|n| *n <= key)
                {
                    return Err(DecodeError::UnorderedLeaves);
                }
                last_key = Some(key.clone());
                prev_next = next.clone();
                let node = Node::new(Kind::Leaf(Leaf { key, next, value }));
                Pending {
                    link: if build {
                        arena.push(node).ok_or(DecodeError::TooManyNodes)?
                    } else {
                        NodeId::HOLE
                    },
                    depth: 0,
                    height: Some(0),
                }
            }
        };
        stack.push(pending);
    }
    if !keys.canonical() || !values.canonical() {
        return Err(DecodeError::NonCanonicalWidth);
    }
    let (root, height) = match (stack.pop(), stack.is_empty()) {
        // No nodes: the empty tree, whose height is 0.
        (None, _) => (None, Some(0)),
        (Some(root), true) => (Some(root.link), root.height.map(usize::from)),
        (Some(_), false) => return Err(DecodeError::MalformedShape),
    };
    // Unreachable: a proof that decodes is one tree whose payloads fit. Refused all the
    // same, rather than returned with nodes missing.
    if !build {
        return Err(DecodeError::MalformedShape);
    }
    Ok((
        ProofTree {
            arena,
            root,
            height,
            directions: Vec::new(),
        },
        r.take_rest(),
    ))
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

#[cfg(all(test, feature = "std", target_pointer_width = "64"))]
mod tests {
    use super::*;

    /// The token as §3 of docs/proof-format.md reads it, bit by bit.
    fn token_bit_by_bit(bits: &mut BitReader<'_>) -> Result<Shape, DecodeError> {
        let mut bit = || bits.bit().ok_or(DecodeError::Truncated);
        if !bit()? {
            return Ok(Shape::Stub);
        }
        let code = u32::from(bit()?) | u32::from(bit()?) << 1;
        Ok(match code {
            CODE_EVEN => Shape::Internal(0),
            CODE_LEFT_HEAVY => Shape::Internal(-1),
            CODE_RIGHT_HEAVY => Shape::Internal(1),
            _ => Shape::Leaf {
                has_next: bit()?,
                full_value: bit()?,
            },
        })
    }

    /// Every token at every bit position of every one- and two-byte input reads as it does
    /// bit by bit, error and bits consumed included.
    #[test]
    fn tokens_read_as_bit_by_bit() {
        for pattern in 0..=u16::MAX {
            let bytes = pattern.to_le_bytes();
            for len in 0..=2usize {
                let Some(input) = bytes.get(..len) else {
                    continue;
                };
                for start in 0..=len * 8 {
                    let mut fast = BitReader::new(input);
                    let mut slow = BitReader::new(input);
                    for _ in 0..start {
                        fast.bit();
                        slow.bit();
                    }
                    let (a, b) = (token(&mut fast), token_bit_by_bit(&mut slow));
                    assert_eq!(
                        format!("{a:?}"),
                        format!("{b:?}"),
                        "{pattern:#x} {len} {start}"
                    );
                    if a.is_ok() {
                        assert_eq!(fast.bytes_used(), slow.bytes_used());
                        assert_eq!(fast.bit(), slow.bit());
                    }
                }
            }
        }
    }

    /// The figures `DecodeLimits::memory_bound` and `docs/proof-format.md` §5.2 quote.
    #[test]
    fn memory_charges_are_the_documented_ones() {
        assert_eq!(TOKEN_BYTES, 200);
        assert_eq!(STACK_ENTRY_BYTES, 12);
        assert_eq!(DecodeLimits::DEFAULT.memory_bound(10, 7), 2367);
    }
}
