//! Serde for byte strings (keys, values, proof bytes): lower-case hex text in human-readable
//! formats (JSON, TOML, YAML), raw bytes in binary ones (postcard, CBOR, bincode).
//!
//! Deserialising reads untrusted input. Hex is parsed fallibly: an odd number of digits or a
//! character that is not a hex digit is an error that names the offset, never a panic. Either
//! case is accepted; serialising writes lower case. Nothing is allocated beyond what the input
//! itself holds (a binary sequence's length hint is capped). Lengths are not limited here:
//! [`Operation::check`](crate::Operation::check) and the verifier's limits apply later, as
//! they do to operations built in code.

use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use super::Bytes;

/// Most bytes a binary sequence's length hint may preallocate (the hint is untrusted).
const SEQ_PREALLOC: usize = 4096;

/// Serialises `bytes` as hex text or raw bytes, as the format prefers.
pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.collect_str(&Hex(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

/// Deserialises what [`serialize`] writes into a shared byte string.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
    deserialize_vec(d).map(Bytes::from)
}

/// Deserialises what [`serialize`] writes.
pub(crate) fn deserialize_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    if d.is_human_readable() {
        d.deserialize_str(HexVisitor)
    } else {
        d.deserialize_byte_buf(BytesVisitor)
    }
}

/// A borrowed byte string that serialises as [`serialize`] does.
pub(crate) struct ByteStr<'a>(pub(crate) &'a [u8]);

impl Serialize for ByteStr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(self.0, s)
    }
}

/// An owned byte string that deserialises as [`deserialize`] does.
pub(crate) struct ByteString(pub(crate) Bytes);

impl<'de> de::Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize(d).map(ByteString)
    }
}

/// Lower-case hex, written to the formatter in chunks (no intermediate `String`).
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        const CHUNK: usize = 64;
        let mut buf = [0u8; 2 * CHUNK];
        for chunk in self.0.chunks(CHUNK) {
            for (b, pair) in chunk.iter().zip(buf.chunks_exact_mut(2)) {
                if let [hi, lo] = pair {
                    *hi = DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                    *lo = DIGITS.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0');
                }
            }
            let text = buf.get(..chunk.len().saturating_mul(2)).ok_or(fmt::Error)?;
            f.write_str(core::str::from_utf8(text).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// Why text is not a hex byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadHex {
    /// An odd number of digits (this many bytes of text).
    OddLength(usize),
    /// Not a hex digit at this byte offset of the text.
    Digit(usize),
}

impl fmt::Display for BadHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadHex::OddLength(n) => write!(
                f,
                "a hex byte string has two digits per byte, not an odd number ({n} bytes of text)"
            ),
            BadHex::Digit(at) => write!(f, "not a hex digit at byte {at} of a hex byte string"),
        }
    }
}

/// Parses hex of any even length, either case.
pub(crate) fn parse_hex(s: &str) -> Result<Vec<u8>, BadHex> {
    // A stray character is reported before the length: "é0" is two characters but three
    // bytes, and "not a hex digit" is the message that helps.
    if let Some(at) = s.bytes().position(|c| !c.is_ascii_hexdigit()) {
        return Err(BadHex::Digit(at));
    }
    if !s.len().is_multiple_of(2) {
        return Err(BadHex::OddLength(s.len()));
    }
    // Half the text: bounded by input the deserializer already holds.
    let mut out = alloc::vec![0u8; s.len() >> 1];
    crate::codec::hex_into(s, &mut out).map_err(|e| match e {
        crate::codec::HexError::Length => BadHex::OddLength(s.len()),
        crate::codec::HexError::Digit(at) => BadHex::Digit(at),
    })?;
    Ok(out)
}

struct HexVisitor;

impl Visitor<'_> for HexVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string as hex text (two digits per byte)")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<u8>, E> {
        parse_hex(s).map_err(E::custom)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    /// Formats without a bytes type send a sequence of `u8`.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(SEQ_PREALLOC));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn hex_text() {
        assert_eq!(Hex(&[]).to_string(), "");
        let long: Vec<u8> = (0..=255).collect();
        let text = Hex(&long).to_string();
        assert_eq!(text, crate::codec::hex(&long));
        assert_eq!(parse_hex(&text), Ok(long));
        assert_eq!(parse_hex("0aFf"), Ok(vec![0x0a, 0xff]));
        assert_eq!(parse_hex("0aF"), Err(BadHex::OddLength(3)));
        assert_eq!(parse_hex("0g"), Err(BadHex::Digit(1)));
        assert_eq!(parse_hex("0g0"), Err(BadHex::Digit(1)));
        assert_eq!(parse_hex("\u{e9}0"), Err(BadHex::Digit(0)));
    }
}
