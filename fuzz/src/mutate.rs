//! Structured mutations of an honest proof, chosen by the fuzzer's bytes.
//!
//! First edits on tokens (balances, stub hashes, keys, next keys, values, whole subtrees,
//! header fields, direction bits), written back with the format writer; then edits on the raw
//! bytes (bit flips, cuts, splices from other proofs, swapped 32-byte blocks). Some edits are
//! semantically neutral (cutting an expanded subtree down to its true label, withholding a
//! value as its true digest): the judge accepts those only with the honest answer.

use avlplus::{Digest, Sha256, TreeHasher};

use crate::cases::{cases, Case};
use crate::format::{self, Fields, Model, Tok, Val};
use crate::input::Input;

/// Indices of tokens matching `f`.
fn find(model: &Model, f: impl Fn(&Tok) -> bool) -> Vec<usize> {
    (0..model.tokens.len())
        .filter(|i| f(&model.tokens[*i]))
        .collect()
}

fn pick(input: &mut Input<'_>, items: &[usize]) -> Option<usize> {
    if items.is_empty() {
        None
    } else {
        Some(items[input.below(items.len())])
    }
}

/// A key near the ones the case uses: a neighbour's key, an operation's key, a variant of
/// `key`, or bytes from the input.
fn other_key(case: &Case, model: &Model, key: &[u8], input: &mut Input<'_>) -> Vec<u8> {
    match input.below(6) {
        0 => {
            let leaves: Vec<&Vec<u8>> = model
                .tokens
                .iter()
                .filter_map(|t| match t {
                    Tok::Leaf { key, .. } => Some(key),
                    _ => None,
                })
                .collect();
            if leaves.is_empty() {
                Vec::new()
            } else {
                leaves[input.below(leaves.len())].clone()
            }
        }
        1 => case.ops[input.below(case.ops.len())].key().to_vec(),
        2 => {
            let mut k = key.to_vec();
            k.push(input.byte());
            k
        }
        3 => {
            let mut k = key.to_vec();
            k.pop();
            k
        }
        4 => {
            let mut k = key.to_vec();
            if let Some(last) = k.last_mut() {
                *last = last.wrapping_add(if input.bool() { 1 } else { 0xff });
            }
            k
        }
        _ => input.blob(40).to_vec(),
    }
}

/// A label to put where a hash was: random, another node's of this chain, or a bit flip.
fn other_label(case: &Case, old: &Digest, input: &mut Input<'_>) -> Digest {
    match input.below(3) {
        0 => input.array32(),
        1 if !case.labels.is_empty() => case.labels[input.below(case.labels.len())],
        _ => {
            let mut d = *old;
            let bit = input.below(256);
            d[bit / 8] ^= 1 << (bit % 8);
            d
        }
    }
}

/// One edit of the token model.
fn edit_tokens(case: &Case, model: &mut Model, fields: &mut Fields, input: &mut Input<'_>) {
    let n = model.tokens.len();
    match input.below(14) {
        // A balance: any of the four codes (3 turns the node into a malformed leaf shape).
        0 => {
            if let Some(i) = pick(input, &find(model, |t| matches!(t, Tok::Internal(_)))) {
                model.tokens[i] = Tok::Internal(input.below(4) as u32);
            }
        }
        // A stub's hash.
        1 => {
            if let Some(i) = pick(input, &find(model, |t| matches!(t, Tok::Stub(_)))) {
                if let Tok::Stub(d) = &model.tokens[i] {
                    let new = other_label(case, d, input);
                    model.tokens[i] = Tok::Stub(new);
                }
            }
        }
        // Cut an expanded subtree down to a stub with its true label (neutral).
        2 => {
            let (Some(labels), Some(starts)) = (
                format::labels::<Sha256>(&model.tokens),
                format::starts(&model.tokens),
            ) else {
                return;
            };
            if let Some(i) = pick(input, &find(model, |t| !matches!(t, Tok::Stub(_)))) {
                model.tokens.splice(starts[i]..=i, [Tok::Stub(labels[i])]);
            }
        }
        // A leaf's key.
        3 => {
            if let Some(i) = pick(input, &find(model, |t| matches!(t, Tok::Leaf { .. }))) {
                let old = match &model.tokens[i] {
                    Tok::Leaf { key, .. } => key.clone(),
                    _ => return,
                };
                let new = other_key(case, model, &old, input);
                if let Tok::Leaf { key, .. } = &mut model.tokens[i] {
                    *key = new;
                }
            }
        }
        // A leaf's next key: replaced, added or dropped.
        4 => {
            if let Some(i) = pick(input, &find(model, |t| matches!(t, Tok::Leaf { .. }))) {
                let old = match &model.tokens[i] {
                    Tok::Leaf { next, key, .. } => next.clone().unwrap_or_else(|| key.clone()),
                    _ => return,
                };
                let new = if input.below(4) == 0 {
                    None
                } else {
                    Some(other_key(case, model, &old, input))
                };
                if let Tok::Leaf { next, .. } = &mut model.tokens[i] {
                    *next = new;
                }
            }
        }
        // A leaf's value: other bytes, withheld as its true digest (neutral), a wrong digest,
        // or a digest replaced by bytes.
        5 => {
            if let Some(i) = pick(input, &find(model, |t| matches!(t, Tok::Leaf { .. }))) {
                let choice = input.below(4);
                if let Tok::Leaf { value, .. } = &mut model.tokens[i] {
                    *value = match (choice, &*value) {
                        (0, Val::Full(v)) => Val::Digest(Sha256::value(v)),
                        (1, Val::Full(v)) => {
                            let mut v = v.clone();
                            match v.last_mut() {
                                Some(b) => *b ^= 1,
                                None => v.push(0),
                            }
                            Val::Full(v)
                        }
                        (2, _) => Val::Digest(input.array32()),
                        _ => Val::Full(input.blob(40).to_vec()),
                    };
                }
            }
        }
        // Swap two disjoint subtrees.
        6 => {
            let Some(starts) = format::starts(&model.tokens) else {
                return;
            };
            if n < 2 {
                return;
            }
            let a = input.below(n);
            let b = input.below(n);
            let (a, b) = (a.min(b), a.max(b));
            let (ra, rb) = (starts[a]..a + 1, starts[b]..b + 1);
            if ra.end > rb.start {
                return;
            }
            let first: Vec<Tok> = model.tokens[ra.clone()].to_vec();
            let second: Vec<Tok> = model.tokens[rb.clone()].to_vec();
            model.tokens.splice(rb, first);
            model.tokens.splice(ra, second);
        }
        // A subtree the root's hash does not cover: a copy of a subtree inserted elsewhere,
        // optionally tied in by a new internal node.
        7 => {
            let Some(starts) = format::starts(&model.tokens) else {
                return;
            };
            if n == 0 {
                return;
            }
            let src = input.below(n);
            let copy: Vec<Tok> = model.tokens[starts[src]..=src].to_vec();
            let at = input.below(n + 1);
            // Token `at - 1` ends a subtree `X`; `copy, Internal` after it make the pair
            // (X, copy) one subtree where X was.
            let tie = input.bool();
            let mut insert = copy;
            if tie && at > 0 {
                insert.push(Tok::Internal(input.below(3) as u32));
            }
            model.tokens.splice(at..at, insert);
        }
        // Drop a token, or insert one.
        8 => {
            if n > 0 && input.bool() {
                model.tokens.remove(input.below(n));
            } else {
                let at = input.below(n + 1);
                let t = match input.below(3) {
                    0 => Tok::Stub(input.array32()),
                    1 => Tok::Internal(input.below(3) as u32),
                    _ => Tok::Leaf {
                        key: input.blob(8).to_vec(),
                        next: input.bool().then(|| input.blob(8).to_vec()),
                        value: Val::Full(input.blob(8).to_vec()),
                    },
                };
                model.tokens.insert(at, t);
            }
        }
        // Header fields.
        9 => {
            let v = match input.below(4) {
                0 => (n as u64).wrapping_add(1),
                1 => (n as u64).saturating_sub(1),
                2 => u64::from(input.byte()),
                _ => input.u64(),
            };
            match input.below(3) {
                0 => fields.count = Some(v),
                1 => fields.key_field = Some(v),
                _ => fields.value_field = Some(v),
            }
        }
        // Direction bits.
        10 => {
            let d = &mut model.directions;
            match input.below(5) {
                0 if !d.is_empty() => {
                    let bit = input.below(d.len() * 8);
                    d[bit / 8] ^= 1 << (bit % 8);
                }
                1 => {
                    d.pop();
                }
                2 => d.push(input.byte()),
                3 => d.clear(),
                _ => *d = input.blob(16).to_vec(),
            }
        }
        // Swap the contents of two leaves.
        11 => {
            let leaves = find(model, |t| matches!(t, Tok::Leaf { .. }));
            if let (Some(a), Some(b)) = (pick(input, &leaves), pick(input, &leaves)) {
                model.tokens.swap(a, b);
            }
        }
        // Replace a whole leaf by a stub with a foreign label, or a stub by a fresh leaf.
        12 => {
            if n == 0 {
                return;
            }
            let i = input.below(n);
            model.tokens[i] = match &model.tokens[i] {
                Tok::Stub(_) => Tok::Leaf {
                    key: other_key(case, model, &[], input),
                    next: input.bool().then(|| other_key(case, model, &[], input)),
                    value: Val::Digest(input.array32()),
                },
                Tok::Leaf { .. } | Tok::Internal(_) => {
                    Tok::Stub(other_label(case, &[0; 32], input))
                }
            };
        }
        // Splice a subtree from another case's honest proof.
        _ => {
            let other = &cases()[input.below(cases().len())].model;
            let (Some(starts), Some(theirs)) =
                (format::starts(&model.tokens), format::starts(&other.tokens))
            else {
                return;
            };
            if n == 0 || other.tokens.is_empty() {
                return;
            }
            let mine = input.below(n);
            let src = input.below(other.tokens.len());
            let graft: Vec<Tok> = other.tokens[theirs[src]..=src].to_vec();
            model.tokens.splice(starts[mine]..=mine, graft);
        }
    }
}

/// One edit of the raw bytes.
fn edit_bytes(bytes: &mut Vec<u8>, input: &mut Input<'_>) {
    let len = bytes.len();
    match input.below(6) {
        0 if len > 0 => {
            let bit = input.below(len * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
        1 => bytes.truncate(input.below(len + 1)),
        2 => {
            let other = &cases()[input.below(cases().len())].proof;
            let from = input.below(other.len() + 1);
            let to = (from + input.below(64)).min(other.len());
            let at = input.below(len + 1);
            bytes.splice(at..at, other[from..to].iter().copied());
        }
        3 if len >= 64 => {
            let a = input.below(len - 31);
            let b = input.below(len - 31);
            if a.abs_diff(b) >= 32 {
                let block: Vec<u8> = bytes[a..a + 32].to_vec();
                bytes.copy_within(b..b + 32, a);
                bytes[b..b + 32].copy_from_slice(&block);
            }
        }
        4 if len > 0 => {
            let at = input.below(len);
            let to = (at + 1 + input.below(8)).min(len);
            bytes.drain(at..to);
        }
        _ => {
            let at = input.below(len + 1);
            let extra = input.blob(8);
            bytes.splice(at..at, extra.iter().copied());
        }
    }
}

/// A mutated version of `case`'s honest proof, driven by `input`.
pub fn mutate(case: &Case, input: &mut Input<'_>) -> Vec<u8> {
    let mut model = case.model.clone();
    let mut fields = Fields::default();
    let token_edits = input.below(5);
    for _ in 0..token_edits {
        edit_tokens(case, &mut model, &mut fields, input);
    }
    let mut bytes = format::write(&model, fields);
    let byte_edits = if token_edits == 0 {
        1 + input.below(3)
    } else {
        input.below(3)
    };
    for _ in 0..byte_edits {
        edit_bytes(&mut bytes, input);
    }
    bytes
}
