//! The fuzzer's bytes, read as a stream of choices.
//!
//! Every read succeeds: once the bytes run out, reads return zeros (and empty slices), so any
//! input, cut anywhere, is still a complete program. Small choices take one byte, so that
//! libFuzzer's byte-level mutations move between neighbouring programs.

/// A cursor over the fuzzer's input.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads `data` from the beginning.
    pub fn new(data: &'a [u8]) -> Self {
        Input { rest: data }
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Bytes not yet read.
    pub fn len(&self) -> usize {
        self.rest.len()
    }

    /// One byte (0 when exhausted).
    pub fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((b, rest)) => {
                self.rest = rest;
                *b
            }
            None => 0,
        }
    }

    /// A boolean from one byte.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A number below `n` (0 when `n` is 0 or 1): one byte for `n <= 256`, two above.
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 | 1 => 0,
            2..=256 => usize::from(self.byte()) % n,
            _ => {
                let v = usize::from(self.byte()) | usize::from(self.byte()) << 8;
                v % n
            }
        }
    }

    /// Up to `n` bytes (fewer when the input runs out).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.rest.len());
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        head
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub fn blob(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max.saturating_add(1));
        self.bytes(n)
    }

    /// 32 bytes, zero-padded when the input runs out.
    pub fn array32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        let b = self.bytes(32);
        out[..b.len()].copy_from_slice(b);
        out
    }

    /// A big-endian `u64` from 8 bytes, zero-padded.
    pub fn u64(&mut self) -> u64 {
        let mut out = [0u8; 8];
        let b = self.bytes(8);
        out[..b.len()].copy_from_slice(b);
        u64::from_be_bytes(out)
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }
}

#[cfg(test)]
mod tests {
    use super::Input;

    #[test]
    fn reads_past_the_end_give_zeros() {
        let mut i = Input::new(&[7, 1]);
        assert_eq!(i.byte(), 7);
        assert_eq!(i.below(10), 1);
        assert_eq!(i.byte(), 0);
        assert_eq!(i.bytes(3), &[] as &[u8]);
        assert_eq!(i.array32(), [0u8; 32]);
        assert!(i.is_empty());
    }
}
