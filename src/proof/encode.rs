//! Proof encoding. The prover encodes straight from the state the batch started from, pruning
//! as it goes; a decoded proof re-encodes through the same code (generic over the side whose
//! nodes it reads: the prover's tree or the verifier's proof tree).

use alloc::vec::Vec;

use super::{Width, CODE_EVEN, CODE_LEAF, CODE_LEFT_HEAVY, CODE_RIGHT_HEAVY, TOKEN_STUB, VERSION};
use crate::codec::{put_varint, BitWriter};
use crate::hash::{Digest, TreeHasher};
use crate::node::{Internal, Leaf, LeafValue, Side};

/// How one link appears in a proof.
pub(crate) enum View<'a, S: Side> {
    /// Cut: only the label.
    Stub(Digest),
    /// Expanded leaf; `ship_value` false sends only the value digest.
    Leaf {
        /// The leaf.
        leaf: &'a Leaf,
        /// Whether the value goes in full.
        ship_value: bool,
    },
    /// Expanded internal node.
    Internal(&'a Internal<S>),
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

enum Token<'a> {
    Stub(Digest),
    Internal(i8),
    Leaf {
        key: &'a [u8],
        /// The key is implied by the previous leaf's next key.
        implied: bool,
        next: Option<&'a [u8]>,
        value: TokenValue<'a>,
    },
}

enum TokenValue<'a> {
    Full(&'a [u8]),
    Digest(Digest),
}

/// The tokens of a proof in post-order, and what the header needs to know of them.
struct Tokens<'a> {
    list: Vec<Token<'a>>,
    /// The previous leaf's next key, while no stub came since (it implies the next key).
    prev_next: Option<&'a [u8]>,
    /// Lengths of the keys and next keys written out.
    keys: Width,
    /// Lengths of the values written out.
    values: Width,
}

fn collect<'a, H: TreeHasher, P: Prune<'a>>(
    link: &'a <P::Side as Side>::Link,
    prune: &mut P,
    out: &mut Tokens<'a>,
) -> Result<(), P::Error> {
    match prune.view(link)? {
        View::Stub(label) => {
            out.prev_next = None;
            out.list.push(Token::Stub(label));
        }
        View::Internal(i) => {
            collect::<H, P>(&i.left, prune, out)?;
            collect::<H, P>(&i.right, prune, out)?;
            out.list.push(Token::Internal(i.balance));
        }
        View::Leaf { leaf, ship_value } => {
            debug_assert!(out.prev_next.is_none_or(|n| n == &leaf.key[..]));
            let implied = out.prev_next.is_some();
            if !implied {
                out.keys.add(leaf.key.len());
            }
            if let Some(next) = &leaf.next {
                out.keys.add(next.len());
            }
            let value = match (&leaf.value, ship_value) {
                (LeafValue::Full { bytes, .. }, true) => {
                    out.values.add(bytes.len());
                    TokenValue::Full(bytes)
                }
                (LeafValue::Full { bytes, digest }, false) => {
                    TokenValue::Digest(digest.unwrap_or_else(|| H::value(bytes)))
                }
                (LeafValue::Withheld(d), _) => TokenValue::Digest(*d),
            };
            out.prev_next = leaf.next.as_deref();
            out.list.push(Token::Leaf {
                key: &leaf.key,
                implied,
                next: leaf.next.as_deref(),
                value,
            });
        }
    }
    Ok(())
}

fn put_sized(out: &mut Vec<u8>, bytes: &[u8], width: usize) {
    if width == 0 {
        put_varint(out, bytes.len() as u64);
    }
    out.extend_from_slice(bytes);
}

/// Encodes the tree at `root` (`None`: the empty tree) with the given direction bits.
pub(crate) fn encode<'a, H: TreeHasher, P: Prune<'a>>(
    root: Option<&'a <P::Side as Side>::Link>,
    directions: &[u8],
    prune: &mut P,
) -> Result<Vec<u8>, P::Error> {
    let mut collected = Tokens {
        list: Vec::with_capacity(prune.tokens_hint()),
        prev_next: None,
        keys: Width::None,
        values: Width::None,
    };
    if let Some(root) = root {
        collect::<H, P>(root, prune, &mut collected)?;
    }
    let (tokens, key_width, value_width) = (
        collected.list,
        collected.keys.field(),
        collected.values.field(),
    );

    let capacity = tokens
        .len()
        .saturating_mul(24)
        .saturating_add(directions.len());
    let mut out = Vec::with_capacity(capacity);
    out.push(VERSION);
    put_varint(&mut out, tokens.len() as u64);
    put_varint(&mut out, key_width as u64);
    put_varint(&mut out, value_width as u64);

    let mut shape = BitWriter::new();
    for t in &tokens {
        match t {
            Token::Stub(_) => shape.push_bits(TOKEN_STUB, 1),
            Token::Internal(b) => {
                shape.push(true);
                let code = match b {
                    -1 => CODE_LEFT_HEAVY,
                    1 => CODE_RIGHT_HEAVY,
                    _ => CODE_EVEN,
                };
                shape.push_bits(code, 2);
            }
            Token::Leaf { next, value, .. } => {
                shape.push(true);
                shape.push_bits(CODE_LEAF, 2);
                shape.push(next.is_some());
                shape.push(matches!(value, TokenValue::Full(_)));
            }
        }
    }
    out.extend_from_slice(&shape.into_bytes());

    for t in &tokens {
        match t {
            Token::Stub(label) => out.extend_from_slice(label),
            Token::Internal(_) => {}
            Token::Leaf {
                key,
                implied,
                next,
                value,
            } => {
                if !implied {
                    put_sized(&mut out, key, key_width);
                }
                if let Some(next) = next {
                    put_sized(&mut out, next, key_width);
                }
                match value {
                    TokenValue::Full(v) => put_sized(&mut out, v, value_width),
                    TokenValue::Digest(d) => out.extend_from_slice(d),
                }
            }
        }
    }
    out.extend_from_slice(directions);
    Ok(out)
}
