//! Proof format v1 as tokens: a total reader that also records where each part sits in the
//! bytes, a writer, and the labels of a token sequence (`docs/proof-format.md`).
//!
//! The decoded proof tree of the library is crate-private, so the tests and the fuzz targets
//! that craft hostile proofs need their own model of the format. This file is that one model:
//! `tests/tamper.rs` and `tests/adversarial.rs` include it with `#[path]`, and the fuzz crate
//! includes it as its module `format`. It uses only avlplus's public API with the `std`
//! feature, as the fuzz crate builds avlplus.
//!
//! The reader returns `None` on anything malformed instead of judging it: it only has to
//! understand honest proofs, which callers then edit as tokens (or in place, at the recorded
//! positions) and write back. The writer writes whatever tokens it is given, including shapes
//! no prover produces.

use std::ops::Range;

use avlplus::{Digest, TreeHasher};

/// A leaf's value as the proof carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// The value in full.
    Full(Vec<u8>),
    /// Only its digest.
    Digest(Digest),
}

/// One node of the proof, in post-order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A cut subtree: its label.
    Stub(Digest),
    /// An internal node with its two-bit shape code: 0 even, 1 left heavy, 2 right heavy
    /// (3 is the leaf code; writing it for an internal node makes a malformed shape).
    Internal(u32),
    /// A leaf; `key` is filled in also where the bytes imply it.
    Leaf {
        /// The leaf's key.
        key: Vec<u8>,
        /// The key of the next leaf in order.
        next: Option<Vec<u8>>,
        /// The value or its digest.
        value: Val,
    },
}

/// A proof as tokens and direction bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    /// The pruned tree in post-order.
    pub tokens: Vec<Tok>,
    /// The direction bytes, as they follow the payloads.
    pub directions: Vec<u8>,
}

/// Header fields to write instead of the canonical ones.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fields {
    /// Node count.
    pub count: Option<u64>,
    /// Key width field.
    pub key_field: Option<u64>,
    /// Value width field.
    pub value_field: Option<u64>,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn field(&mut self) -> Option<Field> {
        let start = self.pos;
        let value = self.varint()?;
        Some(Field {
            value,
            at: start..self.pos,
        })
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn digest(&mut self) -> Option<Digest> {
        self.take(32)?.try_into().ok()
    }

    fn sized(&mut self, field: u64) -> Option<Vec<u8>> {
        let len = match field {
            0 => usize::try_from(self.varint()?).ok()?,
            w => usize::try_from(w - 1).ok()?,
        };
        Some(self.take(len)?.to_vec())
    }
}

/// Bit `i` of `b`, least significant bit of each byte first (as the shape and the direction
/// bits are packed).
pub fn get_bit(b: &[u8], i: usize) -> Option<bool> {
    Some(b.get(i / 8)? >> (i % 8) & 1 == 1)
}

/// Sets bit `i` of `b` to `v` (panics if `b` is too short).
pub fn set_bit(b: &mut [u8], i: usize, v: bool) {
    if v {
        b[i / 8] |= 1 << (i % 8);
    } else {
        b[i / 8] &= !(1 << (i % 8));
    }
}

/// A header field: its value and where its varint sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The value read.
    pub value: u64,
    /// The byte range of its varint.
    pub at: Range<usize>,
}

/// A parsed proof and where its parts sit in the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The tokens and direction bytes.
    pub model: Model,
    /// Node count.
    pub count: Field,
    /// Key width field.
    pub key_field: Field,
    /// Value width field.
    pub value_field: Field,
    /// The byte range of the shape bits.
    pub shape: Range<usize>,
    /// Bit offset of each token within the shape.
    pub token_bits: Vec<usize>,
    /// Byte range of each token's payload (empty for internal nodes).
    pub payloads: Vec<Range<usize>>,
    /// Offset of the direction bytes.
    pub directions: usize,
}

/// Reads proof bytes into tokens; `None` if they are not a well-formed proof.
pub fn parse(bytes: &[u8]) -> Option<Model> {
    parse_layout(bytes).map(|layout| layout.model)
}

/// Reads proof bytes into tokens and records where each part sits; `None` if they are not a
/// well-formed proof.
pub fn parse_layout(bytes: &[u8]) -> Option<Layout> {
    let mut c = Cursor { b: bytes, pos: 0 };
    if c.byte()? != avlplus::proof::VERSION {
        return None;
    }
    let count = c.field()?;
    let key_field = c.field()?;
    let value_field = c.field()?;
    let n = usize::try_from(count.value).ok()?;
    if n > bytes.len().saturating_mul(8) {
        return None;
    }
    enum Shape {
        Stub,
        Internal(u32),
        Leaf(bool, bool),
    }
    let shape_bytes = bytes.get(c.pos..)?;
    let mut bit = 0;
    let mut shapes = Vec::with_capacity(n);
    let mut token_bits = Vec::with_capacity(n);
    for _ in 0..n {
        token_bits.push(bit);
        if !get_bit(shape_bytes, bit)? {
            shapes.push(Shape::Stub);
            bit += 1;
            continue;
        }
        let code = u32::from(get_bit(shape_bytes, bit + 1)?)
            | u32::from(get_bit(shape_bytes, bit + 2)?) << 1;
        if code == 3 {
            shapes.push(Shape::Leaf(
                get_bit(shape_bytes, bit + 3)?,
                get_bit(shape_bytes, bit + 4)?,
            ));
            bit += 5;
        } else {
            shapes.push(Shape::Internal(code));
            bit += 3;
        }
    }
    let shape = c.pos..c.pos + bit.div_ceil(8);
    c.pos = shape.end;

    let mut tokens = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    let mut prev_next: Option<Vec<u8>> = None;
    for s in shapes {
        let start = c.pos;
        tokens.push(match s {
            Shape::Stub => {
                prev_next = None;
                Tok::Stub(c.digest()?)
            }
            Shape::Internal(code) => Tok::Internal(code),
            Shape::Leaf(has_next, full) => {
                let key = match prev_next.take() {
                    Some(k) => k,
                    None => c.sized(key_field.value)?,
                };
                let next = if has_next {
                    Some(c.sized(key_field.value)?)
                } else {
                    None
                };
                let value = if full {
                    Val::Full(c.sized(value_field.value)?)
                } else {
                    Val::Digest(c.digest()?)
                };
                prev_next.clone_from(&next);
                Tok::Leaf { key, next, value }
            }
        });
        payloads.push(start..c.pos);
    }
    Some(Layout {
        model: Model {
            tokens,
            directions: bytes.get(c.pos..)?.to_vec(),
        },
        count,
        key_field,
        value_field,
        shape,
        token_bits,
        payloads,
        directions: c.pos,
    })
}

/// Appends `v` as a varint (LEB128: seven bits a byte, least significant group first).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let low = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// The canonical width field: `w + 1` when every length is `w`, else 0.
fn width(mut lengths: impl Iterator<Item = usize>) -> u64 {
    let Some(first) = lengths.next() else {
        return 0;
    };
    if lengths.all(|l| l == first) {
        first as u64 + 1
    } else {
        0
    }
}

/// Writes `model` as format v1. A leaf's key is left out whenever the previous token,
/// internal nodes aside, is a leaf with a next key (as the decoder expects, even where that
/// next key differs from the key: the decoder will then see the next key instead). An item
/// whose length disagrees with a fixed width field is written as it is, so the field lies.
pub fn write(model: &Model, fields: Fields) -> Vec<u8> {
    let tokens = &model.tokens;
    let mut implied = vec![false; tokens.len()];
    let mut prev_next: Option<&Vec<u8>> = None;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Tok::Stub(_) => prev_next = None,
            Tok::Internal(_) => {}
            Tok::Leaf { next, .. } => {
                implied[i] = prev_next.is_some();
                prev_next = next.as_ref();
            }
        }
    }
    let key_lengths = tokens
        .iter()
        .zip(&implied)
        .flat_map(|(t, implied)| match t {
            Tok::Leaf { key, next, .. } => {
                [(!implied).then_some(key.len()), next.as_ref().map(Vec::len)]
            }
            _ => [None, None],
        })
        .flatten();
    let key_field = fields.key_field.unwrap_or_else(|| width(key_lengths));
    let value_field = fields.value_field.unwrap_or_else(|| {
        width(tokens.iter().filter_map(|t| match t {
            Tok::Leaf {
                value: Val::Full(v),
                ..
            } => Some(v.len()),
            _ => None,
        }))
    });

    let mut out = vec![avlplus::proof::VERSION];
    put_varint(&mut out, fields.count.unwrap_or(tokens.len() as u64));
    put_varint(&mut out, key_field);
    put_varint(&mut out, value_field);

    let mut bits: Vec<bool> = Vec::new();
    for t in tokens {
        match t {
            Tok::Stub(_) => bits.push(false),
            Tok::Internal(code) => bits.extend([true, code & 1 == 1, code & 2 == 2]),
            Tok::Leaf { next, value, .. } => bits.extend([
                true,
                true,
                true,
                next.is_some(),
                matches!(value, Val::Full(_)),
            ]),
        }
    }
    let mut shape = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.iter().enumerate() {
        set_bit(&mut shape, i, *b);
    }
    out.extend_from_slice(&shape);

    let put_sized = |out: &mut Vec<u8>, item: &[u8], field: u64| {
        if field == 0 {
            put_varint(out, item.len() as u64);
        }
        out.extend_from_slice(item);
    };
    for (t, implied) in tokens.iter().zip(&implied) {
        match t {
            Tok::Stub(d) => out.extend_from_slice(d),
            Tok::Internal(_) => {}
            Tok::Leaf { key, next, value } => {
                if !implied {
                    put_sized(&mut out, key, key_field);
                }
                if let Some(next) = next {
                    put_sized(&mut out, next, key_field);
                }
                match value {
                    Val::Full(v) => put_sized(&mut out, v, value_field),
                    Val::Digest(d) => out.extend_from_slice(d),
                }
            }
        }
    }
    out.extend_from_slice(&model.directions);
    out
}

/// The balance of a shape code (`None` for the leaf code).
pub fn balance(code: u32) -> Option<i8> {
    match code {
        0 => Some(0),
        1 => Some(-1),
        2 => Some(1),
        _ => None,
    }
}

/// The label of every token's subtree, or `None` if the tokens are not one post-order tree.
pub fn labels<H: TreeHasher>(tokens: &[Tok]) -> Option<Vec<Digest>> {
    let mut stack = Vec::new();
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        let label = match t {
            Tok::Stub(d) => *d,
            Tok::Internal(code) => {
                let right = stack.pop()?;
                let left = stack.pop()?;
                H::internal(balance(*code)?, &left, &right)
            }
            Tok::Leaf { key, next, value } => {
                let digest = match value {
                    Val::Full(v) => H::value(v),
                    Val::Digest(d) => *d,
                };
                H::leaf(key, next.as_deref(), &digest)
            }
        };
        stack.push(label);
        out.push(label);
    }
    Some(out)
}

/// The index of the first token of every token's subtree (`None` if not one tree).
pub fn starts(tokens: &[Tok]) -> Option<Vec<usize>> {
    let mut stack = Vec::new();
    let mut out = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        let start = match t {
            Tok::Internal(_) => {
                stack.pop()?;
                stack.pop()?
            }
            _ => i,
        };
        stack.push(start);
        out.push(start);
    }
    Some(out)
}
