//! Node hashing: the [`TreeHasher`] trait, SHA-256 and BLAKE3, and the domain tags.
//!
//! Every preimage starts with a one-byte domain tag, so a leaf can never be read as an internal
//! node, a value digest or the empty tree. The preimages, byte by byte (`varint` is unsigned
//! LEB128, shortest form; see `docs/proof-format.md`):
//!
//! ```text
//! value digest   = H( 0x03 || value )
//! leaf           = H( 0x00 || varint(len key) || key
//!                          || 0x00                                  (no next key: last leaf)
//!                           | 0x01 || varint(len next) || next       (next key in order)
//!                          || value digest )
//! internal node  = H( 0x01 || balance || left label || right label )
//!                  balance: 0xFF left subtree taller, 0x00 even, 0x01 right subtree taller
//! empty tree     = H( 0x02 )
//! ```
//!
//! BLAKE3 hashes internal nodes in one compression instead of two: the tag and balance bytes
//! select a key, and the 64 bytes of child labels are the whole input
//! (`internal = BLAKE3-keyed( BLAKE3(0x01 || balance), left label || right label )`, see
//! [`BLAKE3_INTERNAL_KEYS`]). Keyed and unkeyed BLAKE3 differ in the compression function's
//! flags, so internal labels stay domain-separated from leaves, values and the empty tree.
//!
//! Internal nodes hash neither a routing key nor a height: the verifier navigates by the
//! direction bits in the proof, and soundness comes from the leaves, which form an
//! authenticated sorted list (each leaf hashes the key that follows it).

use crate::codec::varint_buf;

/// Length in bytes of every digest this crate produces.
pub const DIGEST_LEN: usize = 32;

/// A 32-byte node label: the hash of a node's preimage.
pub type Digest = [u8; DIGEST_LEN];

/// Domain-separation tags: the first byte of every hashed preimage.
pub mod domain {
    /// Tag of a leaf preimage.
    pub const LEAF: u8 = 0x00;
    /// Tag of an internal-node preimage.
    pub const INTERNAL: u8 = 0x01;
    /// Tag of the empty tree's preimage (the tag alone).
    pub const EMPTY: u8 = 0x02;
    /// Tag of a value-digest preimage.
    pub const VALUE: u8 = 0x03;
}

/// A hash function for tree nodes.
///
/// Implementations hash the concatenation of `parts`; the crate builds the domain-separated
/// preimages. The two shipped implementations are [`Sha256`] (the default) and [`Blake3`].
///
/// ```
/// use avlplus::{Sha256, TreeHasher};
/// let a = Sha256::hash(&[b"ab", b"c"]);
/// let b = Sha256::hash(&[b"abc"]);
/// assert_eq!(a, b);
/// ```
pub trait TreeHasher: Send + Sync + 'static {
    /// Short name used in fixtures and diagnostics, e.g. `"sha256"`.
    const NAME: &'static str;

    /// Hashes the concatenation of `parts`.
    fn hash(parts: &[&[u8]]) -> Digest;

    /// The label of the empty tree.
    fn empty() -> Digest {
        Self::hash(&[&[domain::EMPTY]])
    }

    /// The digest of a leaf's value, as it enters the leaf's preimage.
    fn value(value: &[u8]) -> Digest {
        let mut buf = [0u8; VALUE_BUF];
        match concat(&[&[domain::VALUE], value], &mut buf) {
            Some(preimage) => Self::hash(&[preimage]),
            None => Self::hash(&[&[domain::VALUE], value]),
        }
    }

    /// The label of a leaf.
    fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
        leaf_preimage(key, next, value_digest, |parts| {
            // Typical leaves (keys up to ~60 bytes) fit one stack buffer, and hashing one
            // slice is markedly cheaper than feeding seven small ones to a streaming hasher.
            let mut buf = [0u8; LEAF_BUF];
            match concat(parts, &mut buf) {
                Some(preimage) => Self::hash(&[preimage]),
                None => Self::hash(parts),
            }
        })
    }

    /// The label of an internal node with balance `balance` (-1, 0 or +1).
    fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
        let mut buf = [0u8; 2 + 2 * DIGEST_LEN];
        let (head, children) = buf.split_at_mut(2);
        head.copy_from_slice(&[domain::INTERNAL, balance as u8]);
        let (l, r) = children.split_at_mut(DIGEST_LEN);
        l.copy_from_slice(left);
        r.copy_from_slice(right);
        Self::hash(&[&buf])
    }
}

/// Calls `f` with the parts of a leaf's preimage (see the module docs).
#[inline]
fn leaf_preimage<R>(
    key: &[u8],
    next: Option<&[u8]>,
    value_digest: &Digest,
    f: impl FnOnce(&[&[u8]]) -> R,
) -> R {
    let (klen, kn) = varint_buf(key.len() as u64);
    let klen = klen.get(..kn).unwrap_or(&[]);
    let (nlen, nn) = varint_buf(next.map_or(0, <[u8]>::len) as u64);
    let nlen = nlen.get(..nn).unwrap_or(&[]);
    let parts: [&[u8]; 7] = match next {
        None => [&[domain::LEAF], klen, key, &[0x00], &[], &[], value_digest],
        Some(next) => [
            &[domain::LEAF],
            klen,
            key,
            &[0x01],
            nlen,
            next,
            value_digest,
        ],
    };
    f(&parts)
}

/// Stack buffer for value preimages (tag and values up to 127 bytes).
const VALUE_BUF: usize = 128;

/// Stack buffer for leaf preimages: tag, two one-byte lengths, flag, digest and two keys of
/// up to 60 bytes each.
const LEAF_BUF: usize = 160;

/// Copies `parts` one after another into `buf`; `None` if they do not fit.
fn concat<'b>(parts: &[&[u8]], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut at = 0usize;
    for part in parts {
        let end = at.checked_add(part.len())?;
        buf.get_mut(at..end)?.copy_from_slice(part);
        at = end;
    }
    buf.get(..at)
}

/// SHA-256 (FIPS 180-4), the default hash. Uses SHA-NI where the CPU has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sha256;

impl TreeHasher for Sha256 {
    const NAME: &'static str = "sha256";

    #[inline]
    fn hash(parts: &[&[u8]]) -> Digest {
        use sha2::Digest as _;
        if let Some(digest) = sha256_short(parts) {
            return digest;
        }
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    /// The generic preimage, its parts copied once, straight into the padded message.
    #[inline]
    fn value(value: &[u8]) -> Digest {
        Self::hash(&[&[domain::VALUE], value])
    }

    /// The generic preimage, its parts copied once, straight into the padded message.
    #[inline]
    fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
        leaf_preimage(key, next, value_digest, Self::hash)
    }

    /// The generic preimage, assembled in the padded message.
    #[inline]
    fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
        Self::hash(&[&[domain::INTERNAL, balance as u8], left, right])
    }
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Most 64-byte blocks [`sha256_short`] pads into: 183 bytes of message, which holds every
/// node preimage with keys up to 40 bytes.
const SHORT_BLOCKS: usize = 3;

/// SHA-256 of the concatenation of `parts`, if it fits [`SHORT_BLOCKS`] padded blocks: the
/// parts are copied once, into the padded message on the stack, which goes to the
/// compression function in one call, without the streaming hasher's buffering. `None` for a
/// longer message.
#[inline]
fn sha256_short(parts: &[&[u8]]) -> Option<Digest> {
    let mut blocks = [[0u8; 64]; SHORT_BLOCKS];
    let message = blocks.as_flattened_mut();
    let mut len = 0usize;
    for part in parts {
        let end = len.checked_add(part.len())?;
        message.get_mut(len..end)?.copy_from_slice(part);
        len = end;
    }
    // The 0x80 byte, zeros, and the length in bits as 8 big-endian bytes.
    let used = len.checked_add(9)?.div_ceil(64);
    let end = used.checked_mul(64)?;
    *message.get_mut(len)? = 0x80;
    let bits = u64::try_from(len).ok()?.checked_mul(8)?;
    message
        .get_mut(end.checked_sub(8)?..end)?
        .copy_from_slice(&bits.to_be_bytes());
    let mut state = SHA256_IV;
    sha2::block_api::compress256(&mut state, blocks.get(..used)?);
    let mut digest = [0u8; DIGEST_LEN];
    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    Some(digest)
}

/// BLAKE3 with a 32-byte output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blake3;

impl TreeHasher for Blake3 {
    const NAME: &'static str = "blake3";

    #[inline]
    fn hash(parts: &[&[u8]]) -> Digest {
        // The one-shot function skips the streaming hasher's set-up (a 1.7 KiB stack of
        // chaining values), which dominates for node-sized inputs.
        if let [one] = parts {
            return *blake3::hash(one).as_bytes();
        }
        let mut h = blake3::Hasher::new();
        for p in parts {
            h.update(p);
        }
        *h.finalize().as_bytes()
    }

    /// One compression instead of two: the 66-byte generic preimage becomes a keyed hash of
    /// the 64 bytes of child labels, keyed by the hash of the two-byte prefix it replaces.
    #[inline]
    fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
        // Balances are -1, 0 or +1 wherever a node is built (decoders reject other bytes, and
        // the zipper rotates a ±2 away before anything is sealed).
        let key = match balance {
            -1 => &BLAKE3_INTERNAL_KEYS[0],
            0 => &BLAKE3_INTERNAL_KEYS[1],
            _ => &BLAKE3_INTERNAL_KEYS[2],
        };
        let mut buf = [0u8; 2 * DIGEST_LEN];
        let (l, r) = buf.split_at_mut(DIGEST_LEN);
        l.copy_from_slice(left);
        r.copy_from_slice(right);
        *blake3::keyed_hash(key, &buf).as_bytes()
    }
}

/// BLAKE3's internal-node keys, `BLAKE3(0x01 || balance)` for balance -1 (`0xFF`), 0 and +1
/// (checked by a test): the tag and balance bytes of the generic preimage move into the key.
pub const BLAKE3_INTERNAL_KEYS: [[u8; 32]; 3] = [
    [
        0xac, 0x6c, 0x01, 0xbc, 0x32, 0xec, 0xb4, 0x77, 0x25, 0xb7, 0x68, 0x80, 0x93, 0xca, 0x89,
        0x9d, 0x0c, 0x60, 0x5a, 0x25, 0x48, 0xaf, 0x3f, 0xc4, 0xd2, 0xfd, 0xf9, 0xf4, 0xdc, 0xdc,
        0xb5, 0x3d,
    ],
    [
        0x68, 0x73, 0x76, 0xc9, 0x30, 0xd7, 0x02, 0x0a, 0x32, 0xf0, 0x4c, 0x39, 0x6f, 0xc2, 0xe5,
        0xea, 0xb4, 0x9c, 0xd0, 0x9a, 0x73, 0x8f, 0xa0, 0x3d, 0x57, 0x30, 0x33, 0x41, 0x6a, 0x6a,
        0x47, 0xce,
    ],
    [
        0x20, 0x22, 0xec, 0x9d, 0x57, 0x1b, 0xa7, 0x74, 0xcf, 0x9e, 0x83, 0xd0, 0x19, 0x49, 0x62,
        0xf5, 0xd1, 0xe3, 0xaa, 0x1a, 0x48, 0xd4, 0x86, 0xa6, 0x7e, 0x27, 0x62, 0xa6, 0xc7, 0x95,
        0x90, 0x15,
    ],
];

/// The authenticated identity of a state: the root label and the tree's height.
///
/// A light client trusts exactly this value (from a block header, say) and nothing else. Its
/// canonical byte form is 33 bytes: the label followed by the height.
///
/// ```
/// use avlplus::{RootDigest, Sha256};
/// let empty = RootDigest::empty::<Sha256>();
/// let bytes = empty.to_bytes();
/// assert_eq!(RootDigest::from_bytes(&bytes), Some(empty));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RootDigest {
    /// Label of the root node (or of the empty tree).
    pub label: Digest,
    /// Height of the root: 0 for the empty tree and for a single leaf.
    pub height: u8,
}

impl RootDigest {
    /// Length of [`RootDigest::to_bytes`].
    pub const LEN: usize = DIGEST_LEN + 1;

    /// The digest of the empty tree under hash `H`.
    pub fn empty<H: TreeHasher>() -> Self {
        RootDigest {
            label: H::empty(),
            height: 0,
        }
    }

    /// The canonical 33-byte form: label, then height.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let (label, height) = out.split_at_mut(DIGEST_LEN);
        label.copy_from_slice(&self.label);
        if let Some(h) = height.first_mut() {
            *h = self.height;
        }
        out
    }

    /// Parses the 33-byte form; `None` if the length is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        let (label, height) = bytes.split_at(DIGEST_LEN);
        Some(RootDigest {
            label: label.try_into().ok()?,
            height: *height.first()?,
        })
    }

    /// Lower-case hex of the 33-byte form.
    pub fn to_hex(&self) -> alloc::string::String {
        crate::codec::hex(&self.to_bytes())
    }
}

/// Lower-case hex of the 33-byte form (66 digits), as [`RootDigest::to_hex`]; parsed back by
/// [`str::parse`].
impl core::fmt::Display for RootDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Parses the hex of the 33-byte form: exactly 66 hex digits, either case, nothing around
/// them (the form [`Display`](core::fmt::Display) writes and the fixtures use).
///
/// ```
/// use avlplus::{RootDigest, Sha256};
/// use avlplus::hash::ParseRootError;
/// let empty = RootDigest::empty::<Sha256>();
/// assert_eq!(empty.to_string().parse::<RootDigest>(), Ok(empty));
/// assert_eq!("00".parse::<RootDigest>(), Err(ParseRootError::Length(2)));
/// let mut text = empty.to_string();
/// text.replace_range(64.., "0g");
/// assert_eq!(text.parse::<RootDigest>(), Err(ParseRootError::Digit(65)));
/// ```
impl core::str::FromStr for RootDigest {
    type Err = ParseRootError;

    fn from_str(s: &str) -> Result<Self, ParseRootError> {
        let mut bytes = [0u8; Self::LEN];
        crate::codec::hex_into(s, &mut bytes).map_err(|e| match e {
            crate::codec::HexError::Length => ParseRootError::Length(s.len()),
            crate::codec::HexError::Digit(at) => ParseRootError::Digit(at),
        })?;
        Self::from_bytes(&bytes).ok_or(ParseRootError::Length(s.len()))
    }
}

/// Why text is not a [`RootDigest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseRootError {
    /// The text is this many bytes long, not 66.
    Length(usize),
    /// The byte at this offset is not a hex digit.
    Digit(usize),
}

impl core::fmt::Display for ParseRootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseRootError::Length(n) => {
                write!(f, "a root digest is 66 hex digits, not {n} bytes of text")
            }
            ParseRootError::Digit(at) => write!(f, "not a hex digit at byte {at}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ParseRootError {}

/// Feature `serde`: the 66-digit hex text of [`Display`](core::fmt::Display) in
/// human-readable formats (JSON), the 33 bytes of [`RootDigest::to_bytes`] in binary ones.
///
/// ```
/// use avlplus::{RootDigest, Sha256};
/// let empty = RootDigest::empty::<Sha256>();
/// let json = serde_json::to_string(&empty)?;
/// assert_eq!(json, format!("\"{empty}\""));
/// assert_eq!(serde_json::from_str::<RootDigest>(&json)?, empty);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg(feature = "serde")]
impl serde::Serialize for RootDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_bytes(&self.to_bytes())
        }
    }
}

/// Feature `serde`: reads what [`Serialize`](serde::Serialize) writes. Text must be exactly 66
/// hex digits (either case) and bytes exactly 33, else the error says which
/// ([`ParseRootError`]'s message for text).
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for RootDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            d.deserialize_str(RootVisitor)
        } else {
            d.deserialize_bytes(RootVisitor)
        }
    }
}

/// One visitor for both forms: each format calls only the methods its form needs.
#[cfg(feature = "serde")]
struct RootVisitor;

#[cfg(feature = "serde")]
impl<'de> serde::de::Visitor<'de> for RootVisitor {
    type Value = RootDigest;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a root digest: 33 bytes (label, then height), or their 66 hex digits as text")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RootDigest, E> {
        s.parse().map_err(E::custom)
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<RootDigest, E> {
        RootDigest::from_bytes(v).ok_or_else(|| E::invalid_length(v.len(), &self))
    }

    /// Formats without a bytes type send a sequence of `u8`: exactly 33 of them.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RootDigest, A::Error> {
        use serde::de::Error as _;
        let mut bytes = [0u8; RootDigest::LEN];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(i, &self))?;
        }
        if seq.next_element::<u8>()?.is_some() {
            return Err(A::Error::invalid_length(
                RootDigest::LEN.saturating_add(1),
                &self,
            ));
        }
        RootDigest::from_bytes(&bytes)
            .ok_or_else(|| A::Error::invalid_length(RootDigest::LEN, &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The padded one-call path and the streaming hasher agree at every length around the
    /// block and padding boundaries, however the message is split into parts.
    #[test]
    fn sha256_matches_the_streaming_hasher_at_every_length() {
        use sha2::Digest as _;
        let message: alloc::vec::Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..=message.len() {
            let m = &message[..len];
            let expected: Digest = sha2::Sha256::digest(m).into();
            assert_eq!(Sha256::hash(&[m]), expected, "{len}");
            for cut in [0, 1, len / 3, len / 2, len.saturating_sub(1), len] {
                let (a, b) = m.split_at(cut.min(len));
                assert_eq!(Sha256::hash(&[a, &[], b]), expected, "{len} {cut}");
            }
            assert_eq!(sha256_short(&[m]).is_some(), len <= 64 * SHORT_BLOCKS - 9);
        }
    }

    /// SHA-256's node labels are the hashes of the generic preimages of the module docs.
    #[test]
    fn sha256_node_labels_hash_the_documented_preimages() {
        use sha2::Digest as _;
        let sha = |m: &[u8]| -> Digest { sha2::Sha256::digest(m).into() };
        let (l, r) = ([7u8; 32], [9u8; 32]);
        for balance in [-1i8, 0, 1] {
            let mut m = alloc::vec![domain::INTERNAL, balance as u8];
            m.extend_from_slice(&l);
            m.extend_from_slice(&r);
            assert_eq!(Sha256::internal(balance, &l, &r), sha(&m));
        }
        let bytes: alloc::vec::Vec<u8> = (0..200u8).collect();
        for key_len in [0usize, 1, 32, 40, 41, 127, 128, 200] {
            let key = &bytes[..key_len];
            let next = &bytes[..key_len.saturating_sub(1)];
            let mut m = alloc::vec![domain::VALUE];
            m.extend_from_slice(key);
            assert_eq!(Sha256::value(key), sha(&m));
            let vd = [5u8; 32];
            for with_next in [false, true] {
                let mut m = alloc::vec![domain::LEAF];
                let (k, kn) = varint_buf(key.len() as u64);
                m.extend_from_slice(&k[..kn]);
                m.extend_from_slice(key);
                if with_next {
                    m.push(0x01);
                    let (n, nn) = varint_buf(next.len() as u64);
                    m.extend_from_slice(&n[..nn]);
                    m.extend_from_slice(next);
                } else {
                    m.push(0x00);
                }
                m.extend_from_slice(&vd);
                let label = Sha256::leaf(key, with_next.then_some(next), &vd);
                assert_eq!(label, sha(&m), "{key_len} {with_next}");
            }
        }
    }

    #[test]
    fn blake3_internal_keys_are_the_hashed_prefixes() {
        for (key, balance) in BLAKE3_INTERNAL_KEYS.iter().zip([0xFFu8, 0x00, 0x01]) {
            assert_eq!(blake3::hash(&[domain::INTERNAL, balance]).as_bytes(), key);
        }
    }

    #[test]
    fn blake3_internal_is_keyed_and_sha256_is_generic() {
        let (l, r) = ([7u8; 32], [9u8; 32]);
        let mut children = [0u8; 64];
        children[..32].copy_from_slice(&l);
        children[32..].copy_from_slice(&r);
        for (i, balance) in [-1i8, 0, 1].into_iter().enumerate() {
            let key = blake3::hash(&[domain::INTERNAL, balance as u8]);
            assert_eq!(
                Blake3::internal(balance, &l, &r),
                *blake3::keyed_hash(key.as_bytes(), &children).as_bytes()
            );
            assert_eq!(BLAKE3_INTERNAL_KEYS[i], *key.as_bytes());
            assert_eq!(
                Sha256::internal(balance, &l, &r),
                Sha256::hash(&[&[domain::INTERNAL, balance as u8], &l, &r])
            );
        }
    }
}
