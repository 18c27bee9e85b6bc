//! Proof encoding. The prover encodes straight from the state the batch started from, pruning
//! as it goes; a decoded proof re-encodes through the same code (generic over the side whose
//! nodes it reads: the prover's tree or the verifier's proof tree).

use alloc::vec::Vec;

use super::{Width, CODE_EVEN, CODE_LEAF, CODE_LEFT_HEAVY, CODE_RIGHT_HEAVY, TOKEN_STUB, VERSION};
use crate::codec::{emptied, put_varint, BitWriter};
use crate::hash::Digest;
use crate::node::{Internal, Side};

/// How one link appears in a proof.
pub(crate) enum View<'a, S: Side> {
    /// Cut: only the label.
    Stub(Digest),
    /// Expanded leaf.
    Leaf {
        /// Its key.
        key: &'a [u8],
        /// Its next key.
        next: Option<&'a [u8]>,
        /// Its value, in full or only its digest.
        value: Shown<'a>,
    },
    /// Expanded internal node.
    Internal(&'a Internal<S>),
}

/// How a leaf's value appears in a proof.
pub(crate) enum Shown<'a> {
    /// In full.
    Full(&'a [u8]),
    /// Only its digest.
    Digest(Digest),
}

/// Decides, link by link, what a proof carries.
pub(crate) trait Prune<'a> {
    /// Whose nodes are encoded.
    type Side: Side + 'static;
    /// Error raised while deciding (the prover may have to load a node).
    type Error;
    /// How `link` appears in the proof.
    fn view(
        &mut self,
        link: &'a <Self::Side as Side>::Link,
    ) -> Result<View<'a, Self::Side>, Self::Error>;

    /// About how many tokens the proof will have (room is reserved for them up front).
    fn tokens_hint(&self) -> usize {
        0
    }
}

/// The proof's parts as one walk writes them: shape bits and payloads in post-order, and what
/// the header needs to know of them.
struct Writer<'a> {
    shape: BitWriter,
    /// Payloads with every key and value written bare: the encoding whenever each class has
    /// one common length (the usual case for keys). Where a class turns out mixed, its
    /// lengths go in front of its items when the proof is assembled ([`put_with_lengths`]).
    payload: Vec<u8>,
    /// Where each key and value starts in `payload`, and its length.
    items: Vec<Item>,
    /// Tokens written.
    tokens: u64,
    /// The previous leaf's next key, while no stub came since (it implies the next key).
    prev_next: Option<&'a [u8]>,
    /// Lengths of the keys and next keys written out.
    keys: Width,
    /// Lengths of the values written out.
    values: Width,
}

/// A key or value in a writer's payload.
#[derive(Debug)]
struct Item {
    at: usize,
    len: usize,
    value: bool,
}

/// The buffers an encoding writes its parts into, kept by a caller that encodes often
/// (each encoding clears them first) so that it allocates them once.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    shape: Vec<u8>,
    payload: Vec<u8>,
    items: Vec<Item>,
}

impl<'a> Writer<'a> {
    fn new(tokens_hint: usize, buffers: &mut Buffers) -> Self {
        // At most five bits per token; a payload of about a stub's 32 bytes for every
        // other token (internal nodes carry none, a stub 32 bytes, a leaf about 100);
        // a leaf (and its key and value items) for about one token in four.
        let payload = emptied(
            core::mem::take(&mut buffers.payload),
            tokens_hint.saturating_mul(20),
        );
        let items = emptied(core::mem::take(&mut buffers.items), tokens_hint / 4);
        Writer {
            shape: BitWriter::reuse(
                core::mem::take(&mut buffers.shape),
                tokens_hint.saturating_mul(5),
            ),
            payload,
            items,
            tokens: 0,
            prev_next: None,
            keys: Width::None,
            values: Width::None,
        }
    }

    fn put_item(&mut self, bytes: &[u8], value: bool) {
        self.items.push(Item {
            at: self.payload.len(),
            len: bytes.len(),
            value,
        });
        self.payload.extend_from_slice(bytes);
    }

    fn put_key(&mut self, key: &[u8]) {
        self.keys.add(key.len());
        self.put_item(key, false);
    }

    fn put_value(&mut self, value: &[u8]) {
        self.values.add(value.len());
        self.put_item(value, true);
    }
}

fn collect<'a, P: Prune<'a>>(
    link: &'a <P::Side as Side>::Link,
    prune: &mut P,
    out: &mut Writer<'a>,
) -> Result<(), P::Error> {
    match prune.view(link)? {
        View::Stub(label) => {
            out.prev_next = None;
            out.shape.push_bits(TOKEN_STUB, 1);
            out.payload.extend_from_slice(&label);
        }
        View::Internal(i) => {
            collect::<P>(&i.left, prune, out)?;
            collect::<P>(&i.right, prune, out)?;
            let code = match i.balance {
                -1 => CODE_LEFT_HEAVY,
                1 => CODE_RIGHT_HEAVY,
                _ => CODE_EVEN,
            };
            // A leading `1`, then the two-bit code.
            out.shape.push_bits(1 | (code << 1), 3);
        }
        View::Leaf { key, next, value } => {
            debug_assert!(out.prev_next.is_none_or(|n| n == key));
            let full = matches!(value, Shown::Full(_));
            // `1`, the leaf code, then the flags "has a next key" and "value in full".
            let flags = u32::from(next.is_some()) | (u32::from(full) << 1);
            out.shape.push_bits(1 | (CODE_LEAF << 1) | (flags << 3), 5);
            if out.prev_next.is_none() {
                out.put_key(key);
            }
            if let Some(next) = next {
                out.put_key(next);
            }
            match value {
                Shown::Full(bytes) => out.put_value(bytes),
                Shown::Digest(digest) => out.payload.extend_from_slice(&digest),
            }
            out.prev_next = next;
        }
    }
    out.tokens = out.tokens.saturating_add(1);
    Ok(())
}

/// Appends `payload`, putting its length in front of every item of a class whose width
/// field is 0 (its lengths are mixed).
fn put_with_lengths(out: &mut Vec<u8>, payload: &[u8], items: &[Item], fields: (usize, usize)) {
    let mut from = 0;
    for item in items {
        let field = if item.value { fields.1 } else { fields.0 };
        if field == 0 {
            out.extend_from_slice(payload.get(from..item.at).unwrap_or_default());
            put_varint(out, item.len as u64);
            from = item.at;
        }
    }
    out.extend_from_slice(payload.get(from..).unwrap_or_default());
}

/// Encodes the tree at `root` (`None`: the empty tree) with the given direction bits.
///
/// One walk writes the shape bits and the payloads; the header, which counts them, is put in
/// front when it is done, and lengths before the items of a class with mixed lengths.
pub(crate) fn encode<'a, P: Prune<'a>>(
    root: Option<&'a <P::Side as Side>::Link>,
    directions: &[u8],
    prune: &mut P,
) -> Result<Vec<u8>, P::Error> {
    encode_with::<P>(root, directions, prune, &mut Buffers::default())
}

/// [`encode`], writing its parts into `buffers` (and leaving them there for the next).
pub(crate) fn encode_with<'a, P: Prune<'a>>(
    root: Option<&'a <P::Side as Side>::Link>,
    directions: &[u8],
    prune: &mut P,
    buffers: &mut Buffers,
) -> Result<Vec<u8>, P::Error> {
    let mut written = Writer::new(prune.tokens_hint(), buffers);
    if let Some(root) = root {
        collect::<P>(root, prune, &mut written)?;
    }
    let fields = (written.keys.field(), written.values.field());
    let shape = written.shape.into_bytes();
    let lengths = written.items.len().saturating_mul(2);
    let capacity = shape
        .len()
        .saturating_add(written.payload.len())
        .saturating_add(directions.len())
        .saturating_add(lengths)
        .saturating_add(31);
    let mut out = Vec::with_capacity(capacity);
    out.push(VERSION);
    put_varint(&mut out, written.tokens);
    put_varint(&mut out, fields.0 as u64);
    put_varint(&mut out, fields.1 as u64);
    out.extend_from_slice(&shape);
    if matches!(written.keys, Width::Mixed) || matches!(written.values, Width::Mixed) {
        put_with_lengths(&mut out, &written.payload, &written.items, fields);
    } else {
        out.extend_from_slice(&written.payload);
    }
    out.extend_from_slice(directions);
    *buffers = Buffers {
        shape,
        payload: written.payload,
        items: written.items,
    };
    Ok(out)
}
