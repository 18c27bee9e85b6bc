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
        Self::hash(&[&[domain::VALUE], value])
    }

    /// The label of a leaf.
    fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
        let (klen, kn) = varint_buf(key.len() as u64);
        let klen = klen.get(..kn).unwrap_or(&[]);
        match next {
            None => Self::hash(&[&[domain::LEAF], klen, key, &[0x00], value_digest]),
            Some(next) => {
                let (nlen, nn) = varint_buf(next.len() as u64);
                let nlen = nlen.get(..nn).unwrap_or(&[]);
                Self::hash(&[
                    &[domain::LEAF],
                    klen,
                    key,
                    &[0x01],
                    nlen,
                    next,
                    value_digest,
                ])
            }
        }
    }

    /// The label of an internal node with balance `balance` (-1, 0 or +1).
    fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
        Self::hash(&[&[domain::INTERNAL, balance as u8], left, right])
    }
}

/// SHA-256 (FIPS 180-4), the default hash. Uses SHA-NI where the CPU has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sha256;

impl TreeHasher for Sha256 {
    const NAME: &'static str = "sha256";

    #[inline]
    fn hash(parts: &[&[u8]]) -> Digest {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }
}

/// BLAKE3 with a 32-byte output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blake3;

impl TreeHasher for Blake3 {
    const NAME: &'static str = "blake3";

    #[inline]
    fn hash(parts: &[&[u8]]) -> Digest {
        let mut h = blake3::Hasher::new();
        for p in parts {
            h.update(p);
        }
        *h.finalize().as_bytes()
    }
}

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

impl core::fmt::Display for RootDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
