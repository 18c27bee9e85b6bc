//! Byte-level building blocks shared by the proof format and the store format: a fallible
//! cursor over untrusted bytes, shortest-form LEB128 varints, and LSB-first bit streams.
//!
//! Every accessor of [`Reader`] and [`BitReader`] returns a typed error instead of panicking,
//! and never allocates more than the bytes it has already checked are present.

use alloc::string::String;
use alloc::vec::Vec;

/// Why a low-level read failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The input ended before the item did.
    Truncated,
    /// A varint longer than its type or not in shortest form.
    BadVarint,
}

/// A cursor over untrusted bytes.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `bytes` from the beginning.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The unread bytes, consuming them.
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// Reads one byte.
    pub(crate) fn u8(&mut self) -> Result<u8, ReadError> {
        let (first, rest) = self.rest.split_first().ok_or(ReadError::Truncated)?;
        self.rest = rest;
        Ok(*first)
    }

    /// Reads exactly `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        if n > self.rest.len() {
            return Err(ReadError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Reads a 32-byte array.
    pub(crate) fn array32(&mut self) -> Result<[u8; 32], ReadError> {
        let b = self.bytes(32)?;
        b.try_into().map_err(|_| ReadError::Truncated)
    }

    /// Reads a shortest-form unsigned LEB128 value of at most 64 bits.
    pub(crate) fn varint(&mut self) -> Result<u64, ReadError> {
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let byte = self.u8()?;
            let low = u64::from(byte & 0x7f);
            let shift = i.saturating_mul(7);
            if i == 9 && low > 1 {
                return Err(ReadError::BadVarint);
            }
            value |= low.checked_shl(shift).ok_or(ReadError::BadVarint)?;
            if byte & 0x80 == 0 {
                // Shortest form: a multi-byte varint may not end in a zero group.
                if i > 0 && byte == 0 {
                    return Err(ReadError::BadVarint);
                }
                return Ok(value);
            }
        }
        Err(ReadError::BadVarint)
    }

    /// Reads a varint that must not exceed `max`; `over` is returned when it does.
    pub(crate) fn varint_at_most<E>(
        &mut self,
        max: usize,
        over: E,
    ) -> Result<Result<usize, E>, ReadError> {
        let v = self.varint()?;
        Ok(match usize::try_from(v) {
            Ok(v) if v <= max => Ok(v),
            _ => Err(over),
        })
    }
}

/// Encodes `v` as a shortest-form LEB128 varint into a stack buffer; returns it and its length.
pub(crate) fn varint_buf(mut v: u64) -> ([u8; 10], usize) {
    let mut buf = [0u8; 10];
    let mut n: usize = 0;
    for slot in buf.iter_mut() {
        let low = (v & 0x7f) as u8;
        v >>= 7;
        n = n.saturating_add(1);
        if v == 0 {
            *slot = low;
            break;
        }
        *slot = low | 0x80;
    }
    (buf, n)
}

/// Appends `v` as a shortest-form LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, v: u64) {
    // Widths and small counts are one byte: no buffer, no copy.
    if let Ok(byte @ 0..0x80) = u8::try_from(v) {
        out.push(byte);
        return;
    }
    let (buf, n) = varint_buf(v);
    out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
}

#[cfg(test)]
/// Number of bytes `put_varint(v)` writes.
pub(crate) fn varint_len(v: u64) -> usize {
    varint_buf(v).1
}

/// `v` emptied, if it has room for `n` items; else a new vector with that room (growing an
/// emptied vector would copy its old contents, all of its capacity, for nothing).
pub(crate) fn emptied<T>(mut v: Vec<T>, n: usize) -> Vec<T> {
    v.clear();
    if v.capacity() >= n {
        v
    } else {
        Vec::with_capacity(n)
    }
}

/// Writes bits least-significant first into bytes.
///
/// Bits gather in a 64-bit word that is appended eight bytes at a time: proofs write one or
/// two bits per node and one per direction, and a byte-at-a-time writer spent more on its
/// bookkeeping than on the bits.
#[derive(Clone, Debug, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Pending bits, least significant first.
    word: u64,
    /// Number of pending bits in `word` (always < 64 between calls).
    pending: u32,
}

impl BitWriter {
    /// An empty stream in `bytes` (cleared; a buffer kept from an earlier stream's
    /// [`BitWriter::into_bytes`], or a new one), with room for about `bits` bits (it grows
    /// past them as needed).
    pub(crate) fn reuse(bytes: Vec<u8>, bits: usize) -> Self {
        // Whole words are appended, and the last partial one at the end.
        let room = bits.div_ceil(64).saturating_add(1).saturating_mul(8);
        BitWriter {
            bytes: emptied(bytes, room),
            word: 0,
            pending: 0,
        }
    }

    /// Appends one bit.
    #[inline]
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the provers' direction bits
    pub(crate) fn push(&mut self, bit: bool) {
        self.push_bits(u32::from(bit), 1);
    }

    /// Appends the low `n` bits of `v` (`n` ≤ 32), least significant first.
    #[inline]
    pub(crate) fn push_bits(&mut self, v: u32, n: u32) {
        let n = n.min(32);
        let bits = u64::from(v) & 1u64.wrapping_shl(n).wrapping_sub(1);
        self.word |= bits.wrapping_shl(self.pending);
        let total = self.pending.wrapping_add(n);
        if total >= 64 {
            self.bytes.extend_from_slice(&self.word.to_le_bytes());
            // The bits that did not fit (none when `total` is exactly 64).
            let spilled = total.wrapping_sub(64);
            let used = n.wrapping_sub(spilled);
            self.word = if spilled == 0 {
                0
            } else {
                bits.wrapping_shr(used)
            };
            self.pending = spilled;
        } else {
            self.pending = total;
        }
    }

    /// The bytes, with zero padding in the last one.
    pub(crate) fn into_bytes(mut self) -> Vec<u8> {
        let tail = usize::try_from(self.pending.div_ceil(8))
            .unwrap_or(8)
            .min(8);
        let word = self.word.to_le_bytes();
        self.bytes
            .extend_from_slice(word.get(..tail).unwrap_or(&word));
        self.bytes
    }
}

/// Reads bits least-significant first from untrusted bytes.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// Starts at the first bit of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    /// Reads one bit; `None` at the end of the input.
    pub(crate) fn bit(&mut self) -> Option<bool> {
        let byte = self.bytes.get(self.pos / 8)?;
        let bit = (byte >> (self.pos % 8)) & 1 == 1;
        self.pos = self.pos.checked_add(1)?;
        Some(bit)
    }

    /// The next unread bits, least significant first, and how many of them there are: at
    /// least 9 unless the input ends sooner (then all that is left), at most 16. Reading a
    /// short token through this costs one bounds check instead of one per bit.
    #[inline]
    pub(crate) fn window(&self) -> (u32, u32) {
        let at = self.pos / 8;
        let shift = (self.pos % 8) as u32;
        match (self.bytes.get(at), self.bytes.get(at.wrapping_add(1))) {
            (Some(&lo), Some(&hi)) => (
                (u32::from(lo) | u32::from(hi) << 8) >> shift,
                16u32.wrapping_sub(shift),
            ),
            (Some(&lo), None) => (u32::from(lo) >> shift, 8u32.wrapping_sub(shift)),
            (None, _) => (0, 0),
        }
    }

    /// Skips `n` bits that [`BitReader::window`] showed to be there.
    #[inline]
    pub(crate) fn skip(&mut self, n: u32) {
        self.pos = self.pos.saturating_add(n as usize);
    }

    /// Bytes touched so far (a partly read byte counts).
    pub(crate) fn bytes_used(&self) -> usize {
        self.pos.div_ceil(8)
    }

    /// True if the unread bits of the current byte (if partly read) are all zero.
    pub(crate) fn rest_of_byte_is_zero(&self) -> bool {
        let rem = self.pos % 8;
        if rem == 0 {
            return true;
        }
        match self.bytes.get(self.pos / 8) {
            Some(byte) => byte >> rem == 0,
            None => true,
        }
    }

    /// True when every bit up to the end of the current byte was read or is zero padding,
    /// and no whole byte is left unread.
    pub(crate) fn at_canonical_end(&self) -> bool {
        if self.bytes_used() != self.bytes.len() {
            return false;
        }
        self.rest_of_byte_is_zero()
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let digit = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b & 0x0f));
    }
    s
}

/// The value of one hex digit (either case).
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(c.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(c.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// Parses lower- or upper-case hex; `None` on odd length or a non-hex character.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2)
        .map(|pair| match pair {
            [h, l] => Some((nibble(*h)? << 4) | nibble(*l)?),
            _ => None,
        })
        .collect()
}

/// Why hex text does not give the expected bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HexError {
    /// Not exactly two digits per output byte.
    Length,
    /// A character that is not a hex digit, at this byte offset of the text.
    Digit(usize),
}

/// Parses exactly `out.len()` bytes of hex (either case) into `out`, without allocating.
/// `out` is left partly written on error.
pub(crate) fn hex_into(s: &str, out: &mut [u8]) -> Result<(), HexError> {
    let s = s.as_bytes();
    if s.len() != out.len().saturating_mul(2) {
        return Err(HexError::Length);
    }
    for (i, (pair, byte)) in s.chunks_exact(2).zip(out.iter_mut()).enumerate() {
        let at = i.saturating_mul(2);
        let [h, l] = pair else {
            return Err(HexError::Length);
        };
        let h = nibble(*h).ok_or(HexError::Digit(at))?;
        let l = nibble(*l).ok_or(HexError::Digit(at.saturating_add(1)))?;
        *byte = (h << 4) | l;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn varint_round_trip_and_shortest_form() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16383,
            16384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v));
            let (buf, n) = varint_buf(v);
            assert_eq!(out, buf[..n]);
            assert_eq!(Reader::new(&out).varint(), Ok(v));
        }
        assert_eq!(
            Reader::new(&[0x80, 0x00]).varint(),
            Err(ReadError::BadVarint)
        );
        assert_eq!(Reader::new(&[0x80]).varint(), Err(ReadError::Truncated));
        assert_eq!(Reader::new(&[0xff; 11]).varint(), Err(ReadError::BadVarint));
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).varint(),
            Err(ReadError::BadVarint)
        );
    }

    #[test]
    fn bits_round_trip_and_padding() {
        let mut w = BitWriter::default();
        w.push_bits(0b1011, 4);
        w.push(true);
        let bytes = w.into_bytes();
        assert_eq!(bytes, vec![0b1_1011]);
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.window(), (0b1_1011, 8));
        r.skip(4);
        assert_eq!(r.bit(), Some(true));
        assert!(r.at_canonical_end());
        let mut r = BitReader::new(&[0b1000_0001]);
        assert_eq!(r.bit(), Some(true));
        assert!(!r.at_canonical_end());
    }

    /// The window shows the next bits as reading them one by one would, as far as it says.
    #[test]
    fn windows_show_what_bits_read_one_by_one() {
        let bytes = [0b1010_0110u8, 0xff, 0x00, 0b0101_1001];
        for start in 0..=bytes.len() * 8 {
            for end in start..=bytes.len() {
                let Some(slice) = bytes.get(..end) else {
                    continue;
                };
                let mut r = BitReader::new(slice);
                for _ in 0..start {
                    r.bit();
                }
                let (window, available) = r.window();
                let left = (slice.len() * 8).saturating_sub(start);
                assert_eq!(available as usize, left.min(16 - start % 8));
                assert!(available >= 9 || available as usize == left);
                let mut one_by_one = r.clone();
                for i in 0..available {
                    assert_eq!(one_by_one.bit(), Some(window >> i & 1 == 1));
                }
                if available < 16 - (start % 8) as u32 {
                    assert_eq!(one_by_one.bit(), None);
                }
                let mut skipped = r.clone();
                skipped.skip(available);
                assert_eq!(skipped.bytes_used(), one_by_one.bytes_used());
            }
        }
    }

    #[test]
    fn bit_writer_matches_a_bit_by_bit_model() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200 {
            let mut w = BitWriter::default();
            let mut model: Vec<bool> = Vec::new();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for _ in 0..(seed >> 56) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Half the steps push one bit through `push`, which has its own path.
                let single = (seed >> 61) & 1 == 0;
                let n = if single {
                    1
                } else {
                    ((seed >> 33) % 33) as u32
                };
                let v = (seed >> 7) as u32;
                if single {
                    w.push(v & 1 == 1);
                } else {
                    w.push_bits(v, n);
                }
                model.extend((0..n).map(|i| (v >> i) & 1 == 1));
            }
            let mut expected = vec![0u8; model.len().div_ceil(8)];
            for (i, bit) in model.iter().enumerate() {
                expected[i / 8] |= u8::from(*bit) << (i % 8);
            }
            assert_eq!(w.into_bytes(), expected);
        }
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00abFF"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
        let mut out = [0u8; 2];
        assert_eq!(hex_into("0aFf", &mut out), Ok(()));
        assert_eq!(out, [0x0a, 0xff]);
        assert_eq!(hex_into("0aF", &mut out), Err(HexError::Length));
        assert_eq!(hex_into("0aFf00", &mut out), Err(HexError::Length));
        assert_eq!(hex_into("0aFg", &mut out), Err(HexError::Digit(3)));
        assert_eq!(hex_into("0\u{e9}f", &mut out), Err(HexError::Digit(1)));
    }
}
