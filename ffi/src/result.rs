//! The result codes: one flat list of every outcome of every entry point, numbered forever.
//!
//! Groups: 0-99 the ABI's own codes, 100-199 why a batch did not verify (`VerifyError`),
//! 200-299 why proof bytes were malformed (`DecodeError`), 300-399 why operation or result
//! bytes were malformed (`WireError`). A number is never reused or renumbered; a new error in
//! the library gets a new number (until then it is `AVLPLUS_RESULT_UNEXPECTED_ERROR`).

use core::ffi::{c_char, CStr};

use avlplus::wire::WireError;
use avlplus::{DecodeError, OperationError, VerifyError};

/// What a call did. Travels as `uint32_t`: compare it with the `AVLPLUS_RESULT_*` constants,
/// and get a message with `avlplus_result_message`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum avlplus_result {
    /// Success: every output was written.
    Ok = 0,
    /// A required pointer was NULL (a buffer may be NULL only with length 0).
    NullParameter = 1,
    /// An output buffer is too small: every `*needed` of the call was set, nothing else
    /// was written; call again with buffers at least that large.
    InsufficientSize = 2,
    /// The library panicked; nothing was written. A bug: please report it.
    Panic = 3,
    /// A parameter has a value the function does not accept (an unknown hash, preset or
    /// limit field; a length over `PTRDIFF_MAX`).
    InvalidParameter = 4,
    /// The root digest is not 33 bytes.
    InvalidRoot = 5,
    /// The proof is valid for the root, but the key's value is not the expected one (or the
    /// key is present where absence was expected, or absent where a value was).
    ValueMismatch = 6,
    /// The library returned an error this version of the ABI has no code for.
    UnexpectedError = 7,

    /// The batch has more operations than the verifier's limit.
    TooManyOperations = 100,
    /// An operation's key is longer than the verifier's limit.
    OperationKeyTooLong = 101,
    /// An operation's value is longer than the verifier's limit.
    OperationValueTooLong = 102,
    /// The proof does not belong to the trusted root.
    RootMismatch = 103,
    /// The trusted root's height contradicts the proof.
    HeightMismatch = 104,
    /// An operation needs a part of the tree that the proof cut off.
    Incomplete = 105,
    /// An operation reads a value the proof sent only as a digest.
    ValueWithheld = 106,
    /// A walk reached a leaf that does not bracket its key.
    WrongLeaf = 107,
    /// The proof's direction bits ran out.
    DirectionsExhausted = 108,
    /// Direction bits are left over, or their padding is not zero.
    UnusedDirections = 109,
    /// The proof tree is inconsistent with its own shape.
    Malformed = 110,

    /// The proof is longer than the verifier's limit.
    ProofTooLong = 200,
    /// The proof bytes end before the proof does.
    ProofTruncated = 201,
    /// The proof's version byte is not one this library reads.
    ProofUnsupportedVersion = 202,
    /// A varint in the proof is too long or not in shortest form.
    ProofBadVarint = 203,
    /// The proof's node count exceeds its bytes or the verifier's limit for the batch.
    ProofTooManyNodes = 204,
    /// The proof could need more memory than the verifier's limit.
    ProofTooMuchMemory = 205,
    /// The proof's shape is not exactly one binary tree.
    ProofMalformedShape = 206,
    /// The proof tree is deeper than the limit or the trusted root's height.
    ProofTooDeep = 207,
    /// A key in the proof is longer than the limit.
    ProofKeyTooLong = 208,
    /// A value in the proof is longer than the limit.
    ProofValueTooLong = 209,
    /// Padding bits of the proof's shape are not zero.
    ProofNonZeroPadding = 210,
    /// A width field of the proof is not the canonical one.
    ProofNonCanonicalWidth = 211,
    /// The proof's leaves are not in strictly increasing key order.
    ProofUnorderedLeaves = 212,

    /// The operation (or result) bytes end before the list does.
    WireTruncated = 300,
    /// The wire version byte is not one this library reads.
    WireUnsupportedVersion = 301,
    /// A varint in the wire bytes is too long or not in shortest form.
    WireBadVarint = 302,
    /// The wire list declares more items than the limit (the verifier's operation limit).
    WireTooManyItems = 303,
    /// The wire list declares more items than its bytes could hold.
    WireCountExceedsInput = 304,
    /// A wire item has an undefined tag.
    WireBadTag = 305,
    /// A key in the wire bytes is longer than the limit.
    WireKeyTooLong = 306,
    /// A value in the wire bytes is longer than the limit.
    WireValueTooLong = 307,
    /// Bytes follow the last wire item.
    WireTrailingBytes = 308,
}

impl avlplus_result {
    /// Every code, in numeric order.
    #[doc(hidden)]
    pub const ALL: &[avlplus_result] = {
        use avlplus_result::*;
        &[
            Ok,
            NullParameter,
            InsufficientSize,
            Panic,
            InvalidParameter,
            InvalidRoot,
            ValueMismatch,
            UnexpectedError,
            TooManyOperations,
            OperationKeyTooLong,
            OperationValueTooLong,
            RootMismatch,
            HeightMismatch,
            Incomplete,
            ValueWithheld,
            WrongLeaf,
            DirectionsExhausted,
            UnusedDirections,
            Malformed,
            ProofTooLong,
            ProofTruncated,
            ProofUnsupportedVersion,
            ProofBadVarint,
            ProofTooManyNodes,
            ProofTooMuchMemory,
            ProofMalformedShape,
            ProofTooDeep,
            ProofKeyTooLong,
            ProofValueTooLong,
            ProofNonZeroPadding,
            ProofNonCanonicalWidth,
            ProofUnorderedLeaves,
            WireTruncated,
            WireUnsupportedVersion,
            WireBadVarint,
            WireTooManyItems,
            WireCountExceedsInput,
            WireBadTag,
            WireKeyTooLong,
            WireValueTooLong,
            WireTrailingBytes,
        ]
    };

    /// The code with number `code`, if there is one.
    #[doc(hidden)]
    pub fn from_u32(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| *c as u32 == code)
    }

    /// The message of this code.
    #[doc(hidden)]
    pub fn message(self) -> &'static CStr {
        use avlplus_result::*;
        match self {
            Ok => c"success",
            NullParameter => c"a required pointer is NULL",
            InsufficientSize => c"an output buffer is too small (see *needed)",
            Panic => c"the library panicked (a bug: please report it)",
            InvalidParameter => c"a parameter has a value the function does not accept",
            InvalidRoot => c"the root digest is not 33 bytes",
            ValueMismatch => c"the key's value under the root is not the expected one",
            UnexpectedError => c"an error this version of the ABI has no code for",
            TooManyOperations => c"too many operations",
            OperationKeyTooLong => c"an operation's key is longer than the limit",
            OperationValueTooLong => c"an operation's value is longer than the limit",
            RootMismatch => c"proof does not match the trusted root",
            HeightMismatch => c"the trusted root's height contradicts the proof",
            Incomplete => c"proof does not cover the operations",
            ValueWithheld => c"proof withholds a value that is read",
            WrongLeaf => c"walk reached a leaf that does not bracket the key",
            DirectionsExhausted => c"direction bits ran out",
            UnusedDirections => c"direction bits left over",
            Malformed => c"proof tree is malformed",
            ProofTooLong => c"malformed proof: longer than the limit",
            ProofTruncated => c"malformed proof: truncated",
            ProofUnsupportedVersion => c"malformed proof: unsupported version",
            ProofBadVarint => c"malformed proof: malformed varint",
            ProofTooManyNodes => c"malformed proof: node count exceeds the input or the limit",
            ProofTooMuchMemory => c"malformed proof: would need more memory than allowed",
            ProofMalformedShape => c"malformed proof: shape is not one binary tree",
            ProofTooDeep => c"malformed proof: tree deeper than the limit",
            ProofKeyTooLong => c"malformed proof: key longer than the limit",
            ProofValueTooLong => c"malformed proof: value longer than the limit",
            ProofNonZeroPadding => c"malformed proof: non-zero padding bits",
            ProofNonCanonicalWidth => c"malformed proof: non-canonical width field",
            ProofUnorderedLeaves => c"malformed proof: leaves out of key order",
            WireTruncated => c"malformed wire bytes: truncated",
            WireUnsupportedVersion => c"malformed wire bytes: unsupported version",
            WireBadVarint => c"malformed wire bytes: malformed varint",
            WireTooManyItems => c"malformed wire bytes: more items than the limit",
            WireCountExceedsInput => c"malformed wire bytes: item count exceeds the input",
            WireBadTag => c"malformed wire bytes: unknown tag",
            WireKeyTooLong => c"malformed wire bytes: key longer than the limit",
            WireValueTooLong => c"malformed wire bytes: value longer than the limit",
            WireTrailingBytes => c"malformed wire bytes: trailing bytes after the last item",
        }
    }
}

impl From<DecodeError> for avlplus_result {
    fn from(e: DecodeError) -> Self {
        use avlplus_result::*;
        match e {
            DecodeError::TooLong => ProofTooLong,
            DecodeError::Truncated => ProofTruncated,
            DecodeError::UnsupportedVersion(_) => ProofUnsupportedVersion,
            DecodeError::BadVarint => ProofBadVarint,
            DecodeError::TooManyNodes => ProofTooManyNodes,
            DecodeError::TooMuchMemory => ProofTooMuchMemory,
            DecodeError::MalformedShape => ProofMalformedShape,
            DecodeError::TooDeep => ProofTooDeep,
            DecodeError::KeyTooLong => ProofKeyTooLong,
            DecodeError::ValueTooLong => ProofValueTooLong,
            DecodeError::NonZeroPadding => ProofNonZeroPadding,
            DecodeError::NonCanonicalWidth => ProofNonCanonicalWidth,
            DecodeError::UnorderedLeaves => ProofUnorderedLeaves,
            _ => UnexpectedError,
        }
    }
}

impl From<VerifyError> for avlplus_result {
    fn from(e: VerifyError) -> Self {
        use avlplus_result::*;
        match e {
            VerifyError::Decode(e) => e.into(),
            VerifyError::TooManyOperations => TooManyOperations,
            VerifyError::Operation { error, .. } => match error {
                OperationError::KeyTooLong => OperationKeyTooLong,
                OperationError::ValueTooLong => OperationValueTooLong,
                _ => UnexpectedError,
            },
            VerifyError::RootMismatch => RootMismatch,
            VerifyError::HeightMismatch => HeightMismatch,
            VerifyError::Incomplete => Incomplete,
            VerifyError::ValueWithheld => ValueWithheld,
            VerifyError::WrongLeaf => WrongLeaf,
            VerifyError::DirectionsExhausted => DirectionsExhausted,
            VerifyError::UnusedDirections => UnusedDirections,
            VerifyError::Malformed => Malformed,
            _ => UnexpectedError,
        }
    }
}

impl From<WireError> for avlplus_result {
    fn from(e: WireError) -> Self {
        use avlplus_result::*;
        match e {
            WireError::Truncated => WireTruncated,
            WireError::UnsupportedVersion(_) => WireUnsupportedVersion,
            WireError::BadVarint => WireBadVarint,
            WireError::TooManyItems => WireTooManyItems,
            WireError::CountExceedsInput => WireCountExceedsInput,
            WireError::BadTag { .. } => WireBadTag,
            WireError::TooLong { error, .. } => match error {
                OperationError::KeyTooLong => WireKeyTooLong,
                OperationError::ValueTooLong => WireValueTooLong,
                _ => UnexpectedError,
            },
            WireError::TrailingBytes => WireTrailingBytes,
            _ => UnexpectedError,
        }
    }
}

/// The message for result code `code`, as a static NUL-terminated string: never NULL, never
/// to be freed, valid for the life of the program; `"unknown result code"` for a number that
/// is no code.
///
/// A static string rather than a caller's buffer: codes carry no payload, so every message is
/// a constant; the caller needs no buffer, no size query and no free, and the call cannot
/// fail.
#[no_mangle]
pub extern "C" fn avlplus_result_message(code: u32) -> *const c_char {
    const UNKNOWN: &CStr = c"unknown result code";
    crate::boundary::guard_value(
        || {
            avlplus_result::from_u32(code)
                .map_or(UNKNOWN, avlplus_result::message)
                .as_ptr()
        },
        UNKNOWN.as_ptr(),
    )
}
