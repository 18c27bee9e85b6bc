//! Node records as the store returns them: arbitrary bytes under an arbitrary key, sealed
//! with their check (store format 2), so that the decoder past the check is reached.
//!
//! A record only decodes under the label it hashes to, which random bytes never reach. So
//! this file carries an independent reader of the record format (`src/store/record.rs`) that
//! computes the label a record *would* have; the target then asks the library to decode the
//! record under that label (or a wrong one) and holds the two readers to each other:
//! - never a panic;
//! - a record decodes only under its own label, and then re-encodes to exactly its bytes;
//! - a record this reader accepts under its label, the library accepts too (and vice versa).

use avlplus::__internal::node_record_round_trip;
use avlplus::__internal::{seal_record, NodeKey};
use avlplus::store::Table;
use avlplus::{Digest, Sha256, SizeLimits, TreeHasher};

use crate::input::Input;

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    /// Shortest-form LEB128, at most 64 bits.
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10u32 {
            let b = self.byte()?;
            let low = u64::from(b & 0x7f);
            if i == 9 && low > 1 {
                return None;
            }
            v |= low << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return None;
                }
                return Some(v);
            }
        }
        None
    }

    fn sized(&mut self, max: usize) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > max {
            return None;
        }
        self.take(len)
    }

    fn option(&mut self, max: usize) -> Option<Option<&'a [u8]>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.sized(max)?)),
            _ => None,
        }
    }
}

/// The label of a well-formed record written by `version`'s commit, or `None`.
pub fn label_of(bytes: &[u8], version: u64, limits: &SizeLimits) -> Option<Digest> {
    let mut c = Cursor(bytes);
    let label = match c.byte()? {
        0 => {
            let key = c.sized(limits.max_key_len)?;
            let next = c.option(limits.max_key_len)?;
            let value = c.sized(limits.max_value_len)?;
            Sha256::leaf(key, next, &Sha256::value(value))
        }
        1 => {
            let balance = match c.byte()? {
                0xFF => -1,
                0 => 0,
                1 => 1,
                _ => return None,
            };
            let left: Digest = c.take(32)?.try_into().ok()?;
            let left_version = c.varint()?;
            let right: Digest = c.take(32)?.try_into().ok()?;
            let right_version = c.varint()?;
            // Children are written by the same commit or an earlier one.
            if left_version > version || right_version > version {
                return None;
            }
            c.option(limits.max_key_len)?;
            Sha256::internal(balance, &left, &right)
        }
        _ => return None,
    };
    c.0.is_empty().then_some(label)
}

/// Runs the program in `data`: a mode byte, a record version, then the record.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let version = input.u64();
    // Small limits now and then, so that the length checks are reached with short inputs.
    let limits = if mode & 2 == 0 {
        SizeLimits::DEFAULT
    } else {
        SizeLimits {
            max_key_len: 4,
            max_value_len: 8,
        }
    };
    let wrong = if mode & 1 == 1 {
        Some(input.array32())
    } else {
        None
    };
    let record = input.rest();
    let shadow = label_of(record, version, &limits);
    let label = wrong.or(shadow).unwrap_or([0; 32]);
    let key = NodeKey { version, label };
    let stored = seal_record(Table::Nodes, &key.encode(), record.to_vec());
    match node_record_round_trip::<Sha256>(&stored, &key, &limits) {
        Ok((node_label, node_version, reencoded)) => {
            assert_eq!(
                shadow,
                Some(label),
                "decoded a record under a label it does not hash to"
            );
            assert_eq!(node_label, Some(label));
            assert_eq!(node_version, version);
            assert_eq!(
                reencoded.as_deref(),
                Some(record),
                "a decoded record re-encodes differently"
            );
        }
        Err(_) => assert!(
            shadow != Some(label),
            "a well-formed record was rejected under its own label"
        ),
    }
}
