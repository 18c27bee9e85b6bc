//! The wire format of operations and results: how a batch's [`Operation`]s and its
//! [`OpResult`]s cross a boundary (the C ABI, other languages, files, the network) as bytes.
//! `docs/wire-format.md` specifies every byte; `fixtures/wire.json` has the test vectors.
//!
//! ```text
//!  operations = version 0x01 | varint count | count × ( tag | varint len | key [| varint len | value] )
//!  results    = version 0x01 | varint count | count × ( tag [| varint len | value] )
//!
//!  operation tags: 00 lookup  01 insert  02 update  03 upsert  04 remove  05 remove_if_present
//!  result tags:    00 found   01 not_found  02 inserted  03 updated  04 removed
//!                  05 key_exists (failure)  06 key_missing (failure)
//! ```
//!
//! One encoding for each list, canonical: varints in shortest form, no trailing bytes, no
//! other tags. Decoding is bounded by its input and its [`WireLimits`]: a declared count is
//! checked against [`WireLimits::max_count`] and against what the remaining bytes could hold
//! (an operation takes at least two bytes, a result one) before anything is reserved for it,
//! and every length prefix against its limit ([`SizeLimits`]) before the bytes it announces
//! are read. Each key and value is copied once from the input into its own allocation.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::codec::{put_varint, ReadError, Reader};
use crate::node::Bytes;
use crate::ops::{Failure, OpResult, Operation, OperationError, Outcome, SizeLimits};
use crate::verifier::Limits;

/// Format version written as the first byte of both encodings.
pub const VERSION: u8 = 1;

/// Fewest bytes one operation takes (a tag and an empty key's length).
const MIN_OPERATION_BYTES: usize = 2;
/// Fewest bytes one result takes (a tag).
const MIN_RESULT_BYTES: usize = 1;

/// Operation tags.
mod op_tag {
    pub(super) const LOOKUP: u8 = 0x00;
    pub(super) const INSERT: u8 = 0x01;
    pub(super) const UPDATE: u8 = 0x02;
    pub(super) const UPSERT: u8 = 0x03;
    pub(super) const REMOVE: u8 = 0x04;
    pub(super) const REMOVE_IF_PRESENT: u8 = 0x05;
}

/// Result tags.
mod result_tag {
    pub(super) const FOUND: u8 = 0x00;
    pub(super) const NOT_FOUND: u8 = 0x01;
    pub(super) const INSERTED: u8 = 0x02;
    pub(super) const UPDATED: u8 = 0x03;
    pub(super) const REMOVED: u8 = 0x04;
    pub(super) const KEY_EXISTS: u8 = 0x05;
    pub(super) const KEY_MISSING: u8 = 0x06;
}

/// What a decoder accepts.
///
/// A verifier's limits give the matching ones (`WireLimits::from(&limits)`): its operation
/// count and its key and value sizes.
///
/// ```
/// use avlplus::wire::WireLimits;
/// use avlplus::{Limits, SizeLimits};
/// let limits = WireLimits::from(&Limits::PHONE);
/// assert_eq!(limits.max_count, Limits::PHONE.max_operations);
/// let small = WireLimits::DEFAULT.max_count(16).sizes(SizeLimits { max_key_len: 32, max_value_len: 64 });
/// assert_eq!(small.sizes.max_key_len, 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WireLimits {
    /// Most items (operations or results) in one list.
    pub max_count: usize,
    /// Longest key and value accepted.
    pub sizes: SizeLimits,
}

impl WireLimits {
    /// [`Limits::DEFAULT`]'s operation count (2^20) and [`SizeLimits::DEFAULT`].
    pub const DEFAULT: WireLimits = WireLimits {
        max_count: Limits::DEFAULT.max_operations,
        sizes: SizeLimits::DEFAULT,
    };

    /// These limits with [`WireLimits::max_count`] set to `n`.
    ///
    /// ```
    /// use avlplus::wire::WireLimits;
    /// assert_eq!(WireLimits::DEFAULT.max_count(3).max_count, 3);
    /// ```
    #[must_use]
    pub const fn max_count(mut self, n: usize) -> Self {
        self.max_count = n;
        self
    }

    /// These limits with key and value sizes `sizes`.
    ///
    /// ```
    /// use avlplus::wire::WireLimits;
    /// use avlplus::SizeLimits;
    /// let sizes = SizeLimits { max_key_len: 8, max_value_len: 8 };
    /// assert_eq!(WireLimits::DEFAULT.sizes(sizes).sizes, sizes);
    /// ```
    #[must_use]
    pub const fn sizes(mut self, sizes: SizeLimits) -> Self {
        self.sizes = sizes;
        self
    }
}

impl Default for WireLimits {
    /// [`WireLimits::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<&Limits> for WireLimits {
    /// A verifier's operation count and sizes: what it would accept anyway.
    fn from(limits: &Limits) -> Self {
        WireLimits {
            max_count: limits.max_operations,
            sizes: limits.sizes,
        }
    }
}

/// Why wire bytes were rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The bytes end before the list does (also: no bytes at all).
    Truncated,
    /// The version byte is not [`VERSION`].
    UnsupportedVersion(u8),
    /// A varint is too long or not in shortest form.
    BadVarint,
    /// The declared count exceeds [`WireLimits::max_count`].
    TooManyItems,
    /// The declared count is more than the remaining bytes could hold.
    CountExceedsInput,
    /// Item `index` has a tag that is not defined.
    BadTag {
        /// Position in the list.
        index: usize,
        /// The tag byte.
        tag: u8,
    },
    /// Item `index` has a key or value longer than [`WireLimits::sizes`] allows.
    TooLong {
        /// Position in the list.
        index: usize,
        /// Which length ([`OperationError::KeyTooLong`] or [`OperationError::ValueTooLong`]).
        error: OperationError,
    },
    /// Bytes follow the last item.
    TrailingBytes,
}

impl WireError {
    fn from_read(e: ReadError) -> Self {
        match e {
            ReadError::Truncated => WireError::Truncated,
            ReadError::BadVarint => WireError::BadVarint,
        }
    }
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("wire bytes truncated"),
            WireError::UnsupportedVersion(v) => write!(f, "unsupported wire version {v}"),
            WireError::BadVarint => f.write_str("malformed varint"),
            WireError::TooManyItems => f.write_str("more items than the limit"),
            WireError::CountExceedsInput => f.write_str("item count exceeds the input"),
            WireError::BadTag { index, tag } => write!(f, "item {index}: unknown tag {tag:#04x}"),
            WireError::TooLong { index, error } => write!(f, "item {index}: {error}"),
            WireError::TrailingBytes => f.write_str("trailing bytes after the last item"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WireError::TooLong { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Encodes `ops` (any number, any lengths: limits apply when decoding).
///
/// ```
/// use avlplus::wire::encode_operations;
/// use avlplus::Operation;
/// let bytes = encode_operations(&[Operation::insert(b"k", b"v"), Operation::lookup(b"k")]);
/// assert_eq!(bytes, [0x01, 0x02, 0x01, 0x01, b'k', 0x01, b'v', 0x00, 0x01, b'k']);
/// ```
pub fn encode_operations(ops: &[Operation]) -> Vec<u8> {
    let len = ops.iter().fold(header_len(ops.len()), |n, op| {
        let value = op.value().map_or(0, prefixed_len);
        n.saturating_add(1)
            .saturating_add(prefixed_len(op.key()))
            .saturating_add(value)
    });
    let mut out = Vec::with_capacity(len);
    out.push(VERSION);
    put_varint(&mut out, ops.len() as u64);
    for op in ops {
        out.push(match op {
            Operation::Lookup(_) => op_tag::LOOKUP,
            Operation::Insert(..) => op_tag::INSERT,
            Operation::Update(..) => op_tag::UPDATE,
            Operation::Upsert(..) => op_tag::UPSERT,
            Operation::Remove(_) => op_tag::REMOVE,
            Operation::RemoveIfPresent(_) => op_tag::REMOVE_IF_PRESENT,
        });
        put_prefixed(&mut out, op.key());
        if let Some(value) = op.value() {
            put_prefixed(&mut out, value);
        }
    }
    out
}

/// Decodes a list of operations written by [`encode_operations`].
///
/// ```
/// use avlplus::wire::{decode_operations, encode_operations, WireError, WireLimits};
/// use avlplus::Operation;
/// let ops = vec![Operation::upsert(b"alice", b"90"), Operation::remove(b"bob")];
/// let bytes = encode_operations(&ops);
/// assert_eq!(decode_operations(&bytes, &WireLimits::DEFAULT)?, ops);
/// assert_eq!(
///     decode_operations(&bytes[..bytes.len() - 1], &WireLimits::DEFAULT),
///     Err(WireError::Truncated)
/// );
/// # Ok::<(), WireError>(())
/// ```
pub fn decode_operations(bytes: &[u8], limits: &WireLimits) -> Result<Vec<Operation>, WireError> {
    let mut r = Reader::new(bytes);
    let count = header(&mut r, limits, MIN_OPERATION_BYTES)?;
    let mut ops = Vec::with_capacity(count);
    for index in 0..count {
        let tag = r.u8().map_err(WireError::from_read)?;
        let too_long = |error| WireError::TooLong { index, error };
        let key = |r: &mut Reader<'_>| {
            prefixed(
                r,
                limits.sizes.max_key_len,
                too_long(OperationError::KeyTooLong),
            )
        };
        let value = |r: &mut Reader<'_>| {
            prefixed(
                r,
                limits.sizes.max_value_len,
                too_long(OperationError::ValueTooLong),
            )
        };
        // Key, then value: the arguments are read left to right.
        ops.push(match tag {
            op_tag::LOOKUP => Operation::Lookup(key(&mut r)?),
            op_tag::INSERT => Operation::Insert(key(&mut r)?, value(&mut r)?),
            op_tag::UPDATE => Operation::Update(key(&mut r)?, value(&mut r)?),
            op_tag::UPSERT => Operation::Upsert(key(&mut r)?, value(&mut r)?),
            op_tag::REMOVE => Operation::Remove(key(&mut r)?),
            op_tag::REMOVE_IF_PRESENT => Operation::RemoveIfPresent(key(&mut r)?),
            tag => return Err(WireError::BadTag { index, tag }),
        });
    }
    finish(&r)?;
    Ok(ops)
}

/// Encodes `results` (one per operation of a batch, in order).
///
/// ```
/// use avlplus::wire::encode_results;
/// use avlplus::{Failure, Outcome};
/// let bytes = encode_results(&[Ok(Outcome::Found(b"v"[..].into())), Err(Failure::KeyExists)]);
/// assert_eq!(bytes, [0x01, 0x02, 0x00, 0x01, b'v', 0x05]);
/// ```
pub fn encode_results(results: &[OpResult]) -> Vec<u8> {
    let len = results.iter().fold(header_len(results.len()), |n, r| {
        let value = match r {
            Ok(Outcome::Found(v)) => prefixed_len(v),
            _ => 0,
        };
        n.saturating_add(1).saturating_add(value)
    });
    let mut out = Vec::with_capacity(len);
    out.push(VERSION);
    put_varint(&mut out, results.len() as u64);
    for result in results {
        match result {
            Ok(Outcome::Found(v)) => {
                out.push(result_tag::FOUND);
                put_prefixed(&mut out, v);
            }
            Ok(Outcome::NotFound) => out.push(result_tag::NOT_FOUND),
            Ok(Outcome::Inserted) => out.push(result_tag::INSERTED),
            Ok(Outcome::Updated) => out.push(result_tag::UPDATED),
            Ok(Outcome::Removed) => out.push(result_tag::REMOVED),
            Err(Failure::KeyExists) => out.push(result_tag::KEY_EXISTS),
            Err(Failure::KeyMissing) => out.push(result_tag::KEY_MISSING),
        }
    }
    out
}

/// Decodes a list of results written by [`encode_results`]. A found value may be as long as
/// [`SizeLimits::max_value_len`]; key sizes do not apply.
///
/// ```
/// use avlplus::wire::{decode_results, encode_results, WireError, WireLimits};
/// use avlplus::{Failure, Outcome};
/// let results = vec![Ok(Outcome::Inserted), Ok(Outcome::NotFound), Err(Failure::KeyMissing)];
/// let bytes = encode_results(&results);
/// assert_eq!(decode_results(&bytes, &WireLimits::DEFAULT)?, results);
/// let mut longer = bytes.clone();
/// longer.push(0x00);
/// assert_eq!(decode_results(&longer, &WireLimits::DEFAULT), Err(WireError::TrailingBytes));
/// # Ok::<(), WireError>(())
/// ```
pub fn decode_results(bytes: &[u8], limits: &WireLimits) -> Result<Vec<OpResult>, WireError> {
    let mut r = Reader::new(bytes);
    let count = header(&mut r, limits, MIN_RESULT_BYTES)?;
    let mut results = Vec::with_capacity(count);
    for index in 0..count {
        let tag = r.u8().map_err(WireError::from_read)?;
        results.push(match tag {
            result_tag::FOUND => {
                let over = WireError::TooLong {
                    index,
                    error: OperationError::ValueTooLong,
                };
                Ok(Outcome::Found(prefixed(
                    &mut r,
                    limits.sizes.max_value_len,
                    over,
                )?))
            }
            result_tag::NOT_FOUND => Ok(Outcome::NotFound),
            result_tag::INSERTED => Ok(Outcome::Inserted),
            result_tag::UPDATED => Ok(Outcome::Updated),
            result_tag::REMOVED => Ok(Outcome::Removed),
            result_tag::KEY_EXISTS => Err(Failure::KeyExists),
            result_tag::KEY_MISSING => Err(Failure::KeyMissing),
            tag => return Err(WireError::BadTag { index, tag }),
        });
    }
    finish(&r)?;
    Ok(results)
}

/// Bytes of the version and the count.
fn header_len(count: usize) -> usize {
    1usize.saturating_add(crate::codec::varint_buf(count as u64).1)
}

/// Bytes of a length-prefixed byte string.
fn prefixed_len(bytes: &[u8]) -> usize {
    header_len(bytes.len())
        .saturating_sub(1)
        .saturating_add(bytes.len())
}

fn put_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads the version and the count; the count is within the limit and within what the rest
/// of the input could hold at `min_item` bytes per item.
fn header(r: &mut Reader<'_>, limits: &WireLimits, min_item: usize) -> Result<usize, WireError> {
    let version = r.u8().map_err(WireError::from_read)?;
    if version != VERSION {
        return Err(WireError::UnsupportedVersion(version));
    }
    let count = r
        .varint_at_most(limits.max_count, WireError::TooManyItems)
        .map_err(WireError::from_read)??;
    if count > r.remaining().checked_div(min_item).unwrap_or(0) {
        return Err(WireError::CountExceedsInput);
    }
    Ok(count)
}

/// Reads a length prefix no greater than `max` (else `over`), then that many bytes.
fn prefixed(r: &mut Reader<'_>, max: usize, over: WireError) -> Result<Bytes, WireError> {
    let len = r
        .varint_at_most(max, over)
        .map_err(WireError::from_read)??;
    let bytes = r.bytes(len).map_err(WireError::from_read)?;
    Ok(Arc::from(bytes))
}

fn finish(r: &Reader<'_>) -> Result<(), WireError> {
    if r.remaining() == 0 {
        Ok(())
    } else {
        Err(WireError::TrailingBytes)
    }
}
