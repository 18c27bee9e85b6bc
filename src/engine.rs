//! The prover's next engine (issue 11), in memory for now: every node in one arena, indexed
//! by 32-bit ids, copy-on-write by index.
//!
//! A batch reads the committed nodes (`base`, frozen while the batch runs) and writes only
//! into its own `new` region: changing a committed node copies it there and re-points the
//! link (the zipper's `get_mut`); a node the batch made is edited in place. Ids past the end
//! of `base` name nodes of the batch's region. So the state the batch started from stays
//! intact (a what-if proof changes nothing, and the proof is cut from that state), exactly as
//! with the reference-counted engine, but with no heap object, no reference count and no
//! `free` per node: a child is a 4-byte id, and copying a node bumps no counts.
//!
//! Committing places the batch's reachable nodes, children first, into the slots of the
//! committed nodes the batch replaced (every one of them was read by the batch: a node is
//! replaced only by walking through it, so the batch's touched set holds them all), then at
//! the end of the arena. The arena therefore holds exactly the live tree plus free slots that
//! the next batches reuse: `2 * len - 1` live nodes for `len` keys (tested).
//!
//! The operation code is the same as everywhere: `ops::apply` and the zipper, over this
//! engine's [`Walker`]; the proof is encoded by the same `proof::encode`, with a [`Prune`]
//! that asks the batch's record of what it read: the tree's per-slot marks for a batch that
//! commits, an id set of its own for a what-if proof. Byte-identical proofs, results and
//! roots to [`Tree`](crate::Tree) are tested.
//!
//! Committed ids and a batch's own are below 2^30 (the ids from 2^30 to 2^31 name what a
//! batch loaded from the store; the top bit names a verifier's stub), so an arena holds at
//! most 2^30 nodes: a batch that would go past fails with [`TreeError::Malformed`] and
//! changes nothing.
//!
//! On a store ([`Tree::create_store`], [`Tree::open_store`]), subtrees not in
//! memory are stubs; a batch loads what it reaches into a region of its own, and a commit
//! writes the same records as [`Tree`](crate::Tree)'s before it places the loaded nodes
//! (docs/design.md, "The arena on a store").
//!
//! Not yet here (the rest of issue 11): the audit of a store and of a tree with stubs, and
//! taking `Tree`'s place.

use core::num::NonZeroU32;
use core::ops::ControlFlow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;

use std::sync::Arc;

use crate::codec::BitWriter;
use crate::error::TreeError;
use crate::hash::{Digest, RootDigest, Sha256, TreeHasher};
use crate::node::{Bytes, Dir, Internal, Kind, LabelSlot, Leaf, Node, NodeId, Side};
use crate::ops::{apply, OpResult, Operation, Outcome, SizeLimits, State};
use crate::proof::{encode_with, Buffers, Proof, Prune, Shown, View};
use crate::store::cache::RecordCache;
use crate::store::layout::{self, NodeKey, VersionRecord};
use crate::store::record::{decode_stored, encode_stored, Stored};
use crate::store::{collect, Durability, StoreBackend, StoreConfig, StoreError, Table, WriteBatch};
use crate::tree::store_audit::records;
use crate::tree::{yielded, BatchProof, KeyRange};
use crate::zipper::{Fault, Frame, Walker};

/// The arena engine's side: children are ids into the arena, and keys, next keys, routing
/// keys and values are references into its byte pool ([`Pool`]), so that a node holds no
/// heap object and one key is stored once for its leaf, its predecessor and its route.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Packed {}

impl Side for Packed {
    type Version = ();
    type Route = Fork;
    type Link = NodeId;
    type Key = Ref;
    type Value = Ref;
    type Label = ZeroLabel;
}

/// A node's label, all zeros while it has none: no `Option` tag, which with the node's
/// alignment cost four bytes a node. Committed nodes are all labelled, so their digest is
/// read as is ([`ZeroLabel::committed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ZeroLabel(Digest);

impl ZeroLabel {
    /// The label of a committed node (labelled by construction; all zeros only with
    /// probability 2^-256, and then it is its label).
    #[inline]
    fn committed(&self) -> Digest {
        self.0
    }
}

impl LabelSlot for ZeroLabel {
    const NONE: Self = ZeroLabel([0; 32]);

    #[inline]
    fn get(&self) -> Option<Digest> {
        (self.0 != [0; 32]).then_some(self.0)
    }

    #[inline]
    fn set(&mut self, label: Digest) {
        self.0 = label;
    }
}

/// An internal node's routing key: the key in the pool, and its first four bytes inline
/// (big-endian, zero-padded), which decide almost every step of a walk without a read of
/// the pool (a cache miss per level, as costly as the node's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fork {
    key: Ref,
    head: u32,
}

impl Fork {
    /// No routing key: only transiently, in a node about to be removed (a walk that meets
    /// one fails with a malformed-tree error).
    const NONE: Fork = Fork {
        key: Ref::NONE,
        head: 0,
    };
}

/// The first four bytes of `bytes` as a big-endian word, zero-padded. Of two keys whose
/// heads differ, the one with the smaller head is the smaller key.
#[inline]
fn head(bytes: &[u8]) -> u32 {
    if let Some(word) = bytes.first_chunk::<4>() {
        return u32::from_be_bytes(*word);
    }
    let mut word = [0u8; 4];
    for (w, b) in word.iter_mut().zip(bytes) {
        *w = *b;
    }
    u32::from_be_bytes(word)
}

type PNode = Node<Packed>;

/// A byte string (a key or a value) in a [`Pool`]: bit 31 set names the running batch's own
/// pool, bit 29 the pool of strings the batch loaded from the store, bit 30 the pool's table
/// of long strings; the low 29 bits are the index plus one (so a reference is never zero,
/// and `Option<Ref>` takes four bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Ref(NonZeroU32);

/// Bit of a [`Ref`] into the batch's own pool.
const OWN: u32 = 1 << 31;
/// Bit of a [`Ref`] into a pool's long strings.
const LONG: u32 = 1 << 30;
/// Bit of a [`Ref`] into the running batch's strings loaded from the store.
const STORED: u32 = 1 << 29;
/// The index bits of a [`Ref`].
const INDEX: u32 = STORED - 1;

impl Ref {
    /// No string: every bit set, which [`Ref::new`] never makes.
    const NONE: Ref = Ref(NonZeroU32::MAX);

    /// A reference into the pool `home` names (0, [`OWN`] or [`STORED`]).
    fn new(home: u32, long: bool, index: usize) -> Option<Ref> {
        let raw = u32::try_from(index)
            .ok()?
            .checked_add(1)
            .filter(|&i| i < INDEX)?;
        let raw = raw | home | if long { LONG } else { 0 };
        NonZeroU32::new(raw).map(Ref)
    }

    /// Into the running batch's own strings.
    #[inline]
    fn own(self) -> bool {
        self.0.get() & OWN != 0
    }

    /// Into the running batch's strings loaded from the store.
    #[inline]
    fn stored(self) -> bool {
        self.0.get() & STORED != 0
    }

    /// Into the committed pool.
    #[inline]
    fn committed(self) -> bool {
        self.0.get() & (OWN | STORED) == 0
    }

    #[inline]
    fn long(self) -> bool {
        self.0.get() & LONG != 0
    }

    #[inline]
    fn index(self) -> usize {
        (self.0.get() & INDEX).wrapping_sub(1) as usize
    }

    /// The raw reference (the key of a batch's value digests).
    #[inline]
    fn raw(self) -> u32 {
        self.0.get()
    }
}

/// Bits of a slot index that address within one chunk of [`Chunks`].
const CHUNK_BITS: u32 = 14;
/// Slots in a chunk of [`Chunks`].
const CHUNK: usize = 1 << CHUNK_BITS;

/// Slots in fixed chunks of 2^14: growing never copies (a grown vector's old block stays
/// resident in the allocator, a third of a 10^5-key tree), and at most one chunk is slack.
#[derive(Debug)]
pub(crate) struct Chunks<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunks<T> {
    fn default() -> Self {
        Chunks {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunks<T> {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&T> {
        self.chunks
            .get(i >> CHUNK_BITS)?
            .get(i & CHUNK.wrapping_sub(1))
    }

    #[inline]
    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks
            .get_mut(i >> CHUNK_BITS)?
            .get_mut(i & CHUNK.wrapping_sub(1))
    }

    fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len = self.len.saturating_add(1);
    }

    /// Bytes of the chunks (their slots, used or not).
    fn bytes(&self) -> usize {
        self.chunks
            .len()
            .saturating_mul(CHUNK)
            .saturating_mul(core::mem::size_of::<T>())
    }

    #[cfg(test)]
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }

    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

/// Longest string held in a pool's own slots; longer ones are shared with the operation
/// that wrote them.
const SHORT: usize = 32;

/// A pool slot: the length, then the bytes (zero-padded).
type Slot = [u8; SHORT + 1];

/// Byte strings by reference, reused once freed: strings of up to [`SHORT`] bytes in
/// fixed slots (33 bytes, no allocation of their own), longer ones as shared `Bytes`.
#[derive(Debug, Default)]
struct Pool {
    short: Chunks<Slot>,
    long: Vec<Option<Bytes>>,
    free_short: Vec<u32>,
    free_long: Vec<u32>,
}

impl Pool {
    #[inline]
    fn get(&self, r: Ref) -> &[u8] {
        if r.long() {
            return self
                .long
                .get(r.index())
                .and_then(Option::as_deref)
                .unwrap_or_default();
        }
        self.short
            .get(r.index())
            .and_then(|slot| {
                let (len, bytes) = slot.split_first()?;
                bytes.get(..usize::from(*len))
            })
            .unwrap_or_default()
    }

    /// The string at `r` as shared bytes (a long one is not copied).
    fn shared(&self, r: Ref) -> Bytes {
        match self.long.get(r.index()) {
            Some(Some(bytes)) if r.long() => bytes.clone(),
            _ => Bytes::from(self.get(r)),
        }
    }

    /// Stores `bytes` (in a freed slot if there is one), as a reference into the pool `home`
    /// names.
    fn put(&mut self, bytes: &[u8], home: u32) -> Option<Ref> {
        match u8::try_from(bytes.len()) {
            Ok(len) if usize::from(len) <= SHORT => {
                let mut slot = [0u8; SHORT + 1];
                let (head, tail) = slot.split_first_mut()?;
                *head = len;
                tail.get_mut(..bytes.len())?.copy_from_slice(bytes);
                self.put_slot(slot, home)
            }
            _ => self.put_long(Bytes::from(bytes), home),
        }
    }

    fn put_long(&mut self, bytes: Bytes, home: u32) -> Option<Ref> {
        let index = match self.free_long.pop() {
            Some(i) => {
                *self.long.get_mut(i as usize)? = Some(bytes);
                i as usize
            }
            None => {
                self.long.push(Some(bytes));
                self.long.len().wrapping_sub(1)
            }
        };
        Ref::new(home, true, index)
    }

    fn put_slot(&mut self, slot: Slot, home: u32) -> Option<Ref> {
        let index = match self.free_short.pop() {
            Some(i) => {
                *self.short.get_mut(i as usize)? = slot;
                i as usize
            }
            None => {
                self.short.push(slot);
                self.short.len().wrapping_sub(1)
            }
        };
        Ref::new(home, false, index)
    }

    /// Frees the string at `r` for reuse.
    fn free(&mut self, r: Ref) {
        let Ok(index) = u32::try_from(r.index()) else {
            return;
        };
        if r.long() {
            if let Some(slot) = self.long.get_mut(r.index()) {
                *slot = None;
                self.free_long.push(index);
            }
        } else if r.index() < self.short.len() {
            self.free_short.push(index);
        }
    }

    /// Moves the batch's string `r` (of `own`, its own or its loaded strings) into this
    /// pool, once: `moved` remembers where each went.
    fn adopt(&mut self, own: &mut Pool, moved: &mut Moved, r: Ref) -> Ref {
        let seen = if r.long() {
            moved.long.get_mut(r.index())
        } else {
            moved.short.get_mut(r.index())
        };
        let Some(seen) = seen else { return r };
        if let Some(done) = *seen {
            return done;
        }
        let placed = if r.long() {
            let bytes = own.long.get_mut(r.index()).and_then(Option::take);
            bytes.and_then(|b| self.put_long(b, 0))
        } else {
            let slot = own.short.get(r.index()).copied();
            slot.and_then(|s| self.put_slot(s, 0))
        };
        *seen = placed;
        placed.unwrap_or(r)
    }

    /// Bytes held, slots and tables included (free slots too).
    fn bytes(&self) -> usize {
        self.short
            .bytes()
            .saturating_add(
                self.long
                    .iter()
                    .flatten()
                    .map(|b| b.len().saturating_add(16))
                    .sum(),
            )
            .saturating_add(self.long.capacity().saturating_mul(16))
    }
}

/// Where a commit moved each of a batch's strings (of one of its pools).
struct Moved {
    short: Vec<Option<Ref>>,
    long: Vec<Option<Ref>>,
}

impl Moved {
    /// Nothing moved yet from `pool`.
    fn from(pool: &Pool) -> Self {
        Moved {
            short: vec![None; pool.short.len()],
            long: vec![None; pool.long.len()],
        }
    }
}

/// The strings a batch reads: the committed pool, its own and those it loaded.
#[derive(Clone, Copy)]
struct Strings<'a> {
    base: &'a Pool,
    own: &'a Pool,
    stored: &'a Pool,
}

impl<'a> Strings<'a> {
    #[inline(always)]
    fn get(&self, r: Ref) -> &'a [u8] {
        if r.committed() {
            self.base.get(r)
        } else if r.own() {
            self.own.get(r)
        } else {
            self.stored.get(r)
        }
    }

    /// A leaf's label (its value digest from `digests` if a batch computed it already).
    fn leaf_label<H: TreeHasher>(&self, leaf: &Leaf<Packed>, digests: &Digests) -> Digest {
        let digest = digests
            .get(&leaf.value.raw())
            .copied()
            .unwrap_or_else(|| H::value(self.get(leaf.value)));
        H::leaf(self.get(leaf.key), leaf.next.map(|n| self.get(n)), &digest)
    }
}

/// Hashes for the batch's maps: a raw [`Ref`] multiplicatively (references are dense), a
/// byte string by its length and first eight bytes (values are hashes or hash-like in most
/// states; equal prefixes only cost a probe).
#[derive(Default)]
struct RefHasher(u64);

impl Hasher for RefHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 ^= crate::node::first_word(bytes);
    }

    fn write_u32(&mut self, v: u32) {
        self.0 ^= u64::from(v);
    }

    fn write_usize(&mut self, v: usize) {
        self.0 ^= (v as u64).rotate_left(32);
    }
}

/// The committed values a batch returned, by content: a proof ships every value equal to
/// one the batch returned (as the reference-counted prover, which keys them by digest).
type ReadValues<'t> = HashSet<&'t [u8], BuildHasherDefault<RefHasher>>;

/// Value digests of committed values a batch computed, by raw reference: the arena keeps
/// no value digests (32 bytes per key), so a batch hashes a committed value when its proof
/// withholds it or its leaf is relabelled, and once only.
type Digests = HashMap<u32, Digest, BuildHasherDefault<RefHasher>>;

/// A set of node ids, as a batch records what it read: open addressing with linear probing
/// in a power-of-two table of raw ids, at most 7/8 full. An id's home slot is the top bits of
/// its product with a 32-bit golden-ratio constant (ids are dense, so this spreads them).
#[derive(Debug)]
struct IdSet {
    slots: Vec<u32>,
    len: usize,
    /// 32 minus log2 of the table size.
    shift: u32,
}

/// A slot that holds no id (the raw value of no node id).
const EMPTY: u32 = u32::MAX;

impl IdSet {
    /// A set with room for `n` ids before it grows.
    fn with_capacity(n: usize) -> Self {
        let size = n
            .saturating_mul(8)
            .checked_div(7)
            .unwrap_or(0)
            .saturating_add(1)
            .max(16)
            .checked_next_power_of_two()
            .unwrap_or(1 << 31);
        IdSet {
            slots: vec![EMPTY; size],
            len: 0,
            shift: 32u32.saturating_sub(size.trailing_zeros()),
        }
    }

    /// The raw id (below 2^31, so never `EMPTY`).
    fn raw(id: NodeId) -> Option<u32> {
        id.index().and_then(|i| u32::try_from(i).ok())
    }

    /// The slot holding `v`, or the empty slot where it would go.
    fn slot(&self, v: u32) -> Option<usize> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = (v.wrapping_mul(0x9E37_79B9) >> self.shift) as usize & mask;
        // The table is never full, so a probe ends within one lap.
        for _ in 0..self.slots.len() {
            match self.slots.get(i) {
                Some(&s) if s == v || s == EMPTY => return Some(i),
                Some(_) => i = i.wrapping_add(1) & mask,
                None => return None,
            }
        }
        None
    }

    /// Adds `id`; false if it was there.
    fn insert(&mut self, id: NodeId) -> bool {
        Self::raw(id).is_some_and(|v| self.insert_raw(v))
    }

    /// Adds the raw value `v` (not `EMPTY`); false if it was there.
    fn insert_raw(&mut self, v: u32) -> bool {
        if self.len.saturating_add(1).saturating_mul(8) > self.slots.len().saturating_mul(7) {
            self.grow();
        }
        match self.slot(v).and_then(|i| self.slots.get_mut(i)) {
            Some(s) if *s == EMPTY => {
                *s = v;
                self.len = self.len.saturating_add(1);
                true
            }
            _ => false,
        }
    }

    fn grow(&mut self) {
        let mut bigger = IdSet::with_capacity(self.slots.len());
        for v in self.slots.iter().copied().filter(|&v| v != EMPTY) {
            if let Some(s) = bigger.slot(v).and_then(|i| bigger.slots.get_mut(i)) {
                *s = v;
                bigger.len = bigger.len.saturating_add(1);
            }
        }
        *self = bigger;
    }

    fn contains(&self, id: NodeId) -> bool {
        Self::raw(id).is_some_and(|v| self.contains_raw(v))
    }

    fn contains_raw(&self, v: u32) -> bool {
        self.slot(v)
            .and_then(|i| self.slots.get(i))
            .is_some_and(|&s| s == v)
    }

    /// Ids in the set.
    fn len(&self) -> usize {
        self.len
    }

    /// The ids in the set, in no order.
    fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.slots
            .iter()
            .filter(|&&v| v != EMPTY)
            .filter_map(|&v| NodeId::node(v as usize))
    }
}

/// A node that holds nothing: what a freed slot and a node moved out of a batch's region
/// are left as.
fn vacant() -> PNode {
    Node::new(Kind::Internal(Internal {
        balance: 0,
        left: NodeId::HOLE,
        right: NodeId::HOLE,
        route: Fork::NONE,
    }))
}

/// The balance that marks a stub (no node has it): a subtree of a persistent tree that is
/// not in memory, known by its label (and its record version, in the tree's side table).
const STUB: i8 = i8::MIN;

/// A stub for the subtree labelled `label`.
fn stub(label: Digest) -> PNode {
    let mut node = Node::new(Kind::Internal(Internal {
        balance: STUB,
        left: NodeId::HOLE,
        right: NodeId::HOLE,
        route: Fork::NONE,
    }));
    LabelSlot::set(&mut node.label, label);
    node
}

/// Whether `node` is a stub.
#[inline(always)]
fn is_stub(node: &PNode) -> bool {
    matches!(&node.kind, Kind::Internal(i) if i.balance == STUB)
}

/// First id of a batch's loaded region: the nodes it read from the store and the stubs of
/// their children. They are pre-state nodes like the committed ones (a batch copies them to
/// change them); the committed nodes and the batch's own stay below.
const LOADED: usize = 1 << 30;

/// Where an id points for a batch over `base` committed nodes: a committed node, one of
/// the batch's own (index into its region) or one it loaded (index into its loaded region).
#[derive(Clone, Copy, Debug)]
enum Region {
    Base(usize),
    New(usize),
    Loaded(usize),
}

#[inline(always)]
fn region(id: NodeId, base: usize) -> Option<Region> {
    region_of::<true>(id, base)
}

/// [`region`] for a batch of a persistent tree (`STORE`) or an in-memory one, which loads
/// nothing.
#[inline(always)]
fn region_of<const STORE: bool>(id: NodeId, base: usize) -> Option<Region> {
    let i = id.index()?;
    Some(if i < base {
        Region::Base(i)
    } else if let Some(j) = i.checked_sub(LOADED).filter(|_| STORE) {
        Region::Loaded(j)
    } else {
        Region::New(i.wrapping_sub(base))
    })
}

/// The index of `id` in a batch's region, or the label of the pre-state node it names
/// (pre-state nodes are all labelled; for an id that names nothing, the zero label, which
/// matches no real one).
#[inline(always)]
fn own_or_label<const STORE: bool>(
    id: NodeId,
    base: &Chunks<PNode>,
    loaded: &[PNode],
) -> Result<usize, Digest> {
    let label = |node: Option<&PNode>| node.map_or([0; 32], |n| n.label.committed());
    match region_of::<STORE>(id, base.len()) {
        Some(Region::New(j)) => Ok(j),
        Some(Region::Base(i)) => Err(label(base.get(i))),
        Some(Region::Loaded(j)) => Err(label(loaded.get(j))),
        None => Err([0; 32]),
    }
}

/// Where a batch of a persistent tree loads stubs from: the store, the limits its records
/// must decode within, and the record versions of the committed nodes.
#[derive(Clone, Copy)]
struct Source<'t> {
    backend: &'t dyn StoreBackend,
    limits: SizeLimits,
    versions: &'t Chunks<u64>,
    cache: &'t RecordCache,
    /// Whether what is read goes into the cache (for a batch that will not keep it).
    keep: bool,
}

impl Source<'_> {
    /// Reads the record `key` (through the cache), decodes and checks it and hands its
    /// content and, for a leaf, its value's digest to `f`.
    fn with<H: TreeHasher, R>(
        &self,
        key: &NodeKey,
        f: impl FnOnce(Stored<'_>, Option<Digest>) -> R,
    ) -> Result<R, StoreError> {
        let record = self.cache.read(self.backend, key, self.keep)?;
        let (stored, digest) = decode_stored::<H>(&record, key, &self.limits)?;
        Ok(f(stored, digest))
    }
}

/// What a batch of a persistent tree read from its store: nodes at ids from [`LOADED`] on
/// (the children of a loaded internal node are stubs there, loaded in place when a walk
/// reaches them), their record versions, their strings, and the committed stubs they open.
#[derive(Default)]
struct Loaded {
    nodes: Vec<PNode>,
    versions: Vec<u64>,
    /// Per loaded node: the batch read it (a walk visited it).
    read: Vec<bool>,
    /// Committed stub (index) to the loaded node that stands for it.
    opened: HashMap<u32, NodeId, BuildHasherDefault<RefHasher>>,
    strings: Pool,
    /// The loaded values the batch returned, by content (committed ones are in the batch's
    /// `read`, by reference into the committed pool).
    values: HashSet<Box<[u8]>, BuildHasherDefault<RefHasher>>,
}

impl Loaded {
    /// The index of the loaded node committed stub `i` stands for.
    fn opened_index(&self, i: usize) -> Option<usize> {
        let id = self.opened.get(&u32::try_from(i).ok()?)?;
        id.index()?.checked_sub(LOADED)
    }

    /// The loaded node committed stub `i` stands for.
    fn opened(&self, i: usize) -> Option<&PNode> {
        self.nodes.get(self.opened_index(i)?)
    }

    /// Adds `node` with record version `version`.
    fn push(&mut self, node: PNode, version: u64) -> Result<NodeId, TreeError> {
        let id = LOADED
            .checked_add(self.nodes.len())
            .and_then(NodeId::node)
            .ok_or_else(|| TreeError::Malformed)?;
        self.nodes.push(node);
        self.versions.push(version);
        self.read.push(false);
        Ok(id)
    }
}

/// The committed nodes a batch read.
enum Touched<'t> {
    /// In the tree's own marks (a batch that commits, so has the tree to itself): node `i`
    /// was read if `marks[i] == mark`. Each id is listed once, when first marked.
    Marks {
        marks: &'t mut Vec<u16>,
        mark: u16,
        list: Vec<NodeId>,
    },
    /// In a set of its own (a what-if proof, which runs on a shared tree).
    Set(IdSet),
}

impl Touched<'_> {
    #[inline]
    fn insert(&mut self, id: NodeId) {
        match self {
            Touched::Marks { marks, mark, list } => {
                if let Some(m) = id.index().and_then(|i| marks.get_mut(i)) {
                    if *m != *mark {
                        *m = *mark;
                        list.push(id);
                    }
                }
            }
            Touched::Set(set) => {
                set.insert(id);
            }
        }
    }

    #[inline]
    fn contains(&self, id: NodeId) -> bool {
        match self {
            Touched::Marks { marks, mark, .. } => id
                .index()
                .and_then(|i| marks.get(i))
                .is_some_and(|m| m == mark),
            Touched::Set(set) => set.contains(id),
        }
    }

    fn len(&self) -> usize {
        match self {
            Touched::Marks { list, .. } => list.len(),
            Touched::Set(set) => set.len(),
        }
    }
}

/// One batch's walker over the committed nodes and its own region.
struct Batch<'t, H, const STORE: bool> {
    base: &'t Chunks<PNode>,
    /// The committed strings.
    pool: &'t Pool,
    /// The batch's own nodes: ids from `base.len()` on.
    new: Vec<PNode>,
    /// The batch's own strings (keys and values it wrote).
    own: Pool,
    /// Room reserved in `new` at its first node (a batch of lookups makes none).
    room: usize,
    /// Direction bits and values read are recorded (a proof is wanted).
    proof: bool,
    /// Committed nodes whose content the batch read.
    touched: Touched<'t>,
    /// Committed values the batch returned.
    read: ReadValues<'t>,
    /// Room for `read` at its first value (the batch's operations).
    lookups: usize,
    /// Committed strings the batch's operations took out of the tree (freed at commit).
    released: Vec<Ref>,
    /// Digests of committed values, computed once.
    digests: Digests,
    /// The frame buffer of the batch's walks, kept between operations.
    path: Vec<Frame<NodeId>>,
    directions: BitWriter,
    /// Where stubs are loaded from (a persistent tree's batch).
    source: Option<Source<'t>>,
    /// What the batch loaded.
    loaded: Loaded,
    hasher: PhantomData<fn() -> H>,
}

impl<'t, H: TreeHasher, const STORE: bool> Batch<'t, H, STORE> {
    /// A batch of `ops` operations with room for `room` nodes, in buffers taken from
    /// `scratch` (`Tree::run` gives them back).
    fn new(
        (base, pool, source): Base<'t>,
        touched: Touched<'t>,
        (proof, ops, room): (bool, usize, usize),
        scratch: &mut Scratch,
    ) -> Self {
        // About one direction per node a batch reads.
        let bits = if proof { room } else { 0 };
        Batch {
            base,
            pool,
            new: Vec::new(),
            own: Pool::default(),
            room,
            proof,
            touched,
            read: ReadValues::default(),
            lookups: ops,
            released: Vec::new(),
            digests: Digests::default(),
            path: core::mem::take(&mut scratch.path),
            directions: BitWriter::reuse(core::mem::take(&mut scratch.directions), bits),
            source,
            loaded: Loaded::default(),
            hasher: PhantomData,
        }
    }

    #[inline]
    fn strings(&self) -> Strings<'_> {
        Strings {
            base: self.pool,
            own: &self.own,
            stored: &self.loaded.strings,
        }
    }

    /// The node `id` names (`None` for a stub not loaded).
    #[inline(always)]
    fn node(&self, id: NodeId) -> Option<&PNode> {
        let i = id.index()?;
        if i < self.base.len() {
            let node = self.base.get(i)?;
            if STORE && is_stub(node) {
                return self.loaded.opened(i);
            }
            return Some(node);
        }
        match i.checked_sub(LOADED).filter(|_| STORE) {
            Some(j) => self.loaded.nodes.get(j).filter(|n| !is_stub(n)),
            None => self.new.get(i.wrapping_sub(self.base.len())),
        }
    }

    /// Whether `id` names a pre-state node (committed or loaded), which the batch copies to
    /// change.
    #[inline]
    fn pre_state(&self, i: usize) -> bool {
        i < self.base.len() || (STORE && i >= LOADED)
    }

    /// The batch's own node `id`, for mutation (`None` for a pre-state node).
    fn own_mut(&mut self, id: NodeId) -> Option<&mut PNode> {
        let j = id.index().filter(|&i| i < LOADED)?;
        let j = j.checked_sub(self.base.len())?;
        self.new.get_mut(j)
    }

    /// What the batch made, for its commit, and its record of what it read.
    fn made(self) -> (Made, Touched<'t>) {
        let made = Made {
            nodes: self.new,
            strings: self.own,
            released: self.released,
            loaded: self.loaded,
        };
        (made, self.touched)
    }

    /// Reads and checks the record `key` (its label recomputed), as a node whose strings are
    /// in the loaded pool and whose children are new stubs of the loaded region.
    fn fetch(&mut self, source: Source<'_>, key: NodeKey) -> Result<PNode, TreeError> {
        let into = |stored: Stored<'_>, digest| self.packed(stored, digest, key.label);
        source.with::<H, _>(&key, into)?
    }

    /// A loaded record's content as a node labelled `label` (its strings into the loaded
    /// pool, its children new stubs of the loaded region).
    fn packed(
        &mut self,
        stored: Stored<'_>,
        digest: Option<Digest>,
        label: Digest,
    ) -> Result<PNode, TreeError> {
        let put =
            |pool: &mut Pool, b: &[u8]| pool.put(b, STORED).ok_or_else(|| TreeError::Malformed);
        let kind = match stored {
            Stored::Leaf { key, next, value } => {
                let strings = &mut self.loaded.strings;
                let value = put(strings, value)?;
                let leaf = Leaf {
                    key: put(strings, key)?,
                    next: next.map(|n| put(strings, n)).transpose()?,
                    value,
                };
                if let Some(digest) = digest {
                    self.digests.insert(value.raw(), digest);
                }
                Kind::Leaf(leaf)
            }
            Stored::Internal {
                balance,
                left,
                right,
                route,
            } => {
                let route = match route {
                    Some(r) => Fork {
                        key: put(&mut self.loaded.strings, r)?,
                        head: head(r),
                    },
                    None => Fork::NONE,
                };
                Kind::Internal(Internal {
                    balance,
                    left: self.loaded.push(stub(left.label), left.version)?,
                    right: self.loaded.push(stub(right.label), right.version)?,
                    route,
                })
            }
        };
        let mut node = Node::new(kind);
        LabelSlot::set(&mut node.label, label);
        Ok(node)
    }

    /// Loads the node `link` names if it is a stub. The link stays as it is: a committed
    /// stub's id names the node it opens, and a loaded stub is replaced by its node in place.
    #[inline(never)]
    fn load(&mut self, source: Source<'t>, link: NodeId) -> Result<(), TreeError> {
        match region(link, self.base.len()) {
            Some(Region::Base(i)) => {
                let node = self.base.get(i).ok_or_else(|| TreeError::Malformed)?;
                let index = u32::try_from(i).map_err(|_| TreeError::Malformed)?;
                if !is_stub(node) || self.loaded.opened.contains_key(&index) {
                    return Ok(());
                }
                let key = NodeKey {
                    version: source.versions.get(i).copied().unwrap_or(0),
                    label: node.label.committed(),
                };
                let node = self.fetch(source, key)?;
                let id = self.loaded.push(node, key.version)?;
                self.loaded.opened.insert(index, id);
            }
            Some(Region::Loaded(j)) => {
                let key = match (self.loaded.nodes.get(j), self.loaded.versions.get(j)) {
                    (Some(node), Some(&version)) if is_stub(node) => NodeKey {
                        version,
                        label: node.label.committed(),
                    },
                    _ => return Ok(()),
                };
                let node = self.fetch(source, key)?;
                if let Some(slot) = self.loaded.nodes.get_mut(j) {
                    *slot = node;
                }
            }
            Some(Region::New(_)) | None => {}
        }
        Ok(())
    }

    fn push(&mut self, node: PNode) -> Option<NodeId> {
        let i = self.base.len().checked_add(self.new.len())?;
        let id = NodeId::node(i).filter(|_| i < LOADED)?;
        if self.new.capacity() == 0 {
            self.new.reserve(self.room);
        }
        self.new.push(node);
        Some(id)
    }

    /// Labels every unlabelled node below and at `id`, bottom-up, returning `id`'s label.
    /// The recursion is as deep as the batch's part of the tree.
    fn seal(&mut self, id: NodeId) -> Digest {
        let j = match own_or_label::<STORE>(id, self.base, &self.loaded.nodes) {
            Ok(j) => j,
            Err(label) => return label,
        };
        let Some(node) = self.new.get(j) else {
            return [0; 32];
        };
        if let Some(label) = node.label.get() {
            return label;
        }
        let (left, right, balance) = match &node.kind {
            Kind::Internal(i) => (i.left, i.right, i.balance),
            Kind::Leaf(leaf) => {
                let label = self.strings().leaf_label::<H>(leaf, &self.digests);
                if let Some(node) = self.new.get_mut(j) {
                    node.label.set(label);
                }
                return label;
            }
        };
        let l = self.seal(left);
        let r = self.seal(right);
        let label = H::internal(balance, &l, &r);
        if let Some(node) = self.new.get_mut(j) {
            node.label.set(label);
        }
        label
    }

    /// Labels the batch's tree at `root`: on two threads (the root's subtrees, one each)
    /// if the batch made at least `split` nodes, else on this one. The same labels and the
    /// same hash calls either way.
    fn seal_root(&mut self, root: NodeId, split: Option<usize>) -> Digest {
        if split.is_some_and(|min| self.new.len() >= min) {
            if let Some(label) = self.seal_split(root) {
                return label;
            }
        }
        self.seal(root)
    }

    /// Seals the root's two subtrees on two threads. Both read the batch's nodes shared and
    /// return what they computed, which is written back once both are done. `None`, with
    /// nothing written, if the root is not an unlabelled node of the batch's own, or the
    /// helper thread could not start or failed.
    fn seal_split(&mut self, root: NodeId) -> Option<Digest> {
        let Region::New(j) = region(root, self.base.len())? else {
            return None;
        };
        let node = self.new.get(j)?;
        let (left, right, balance) = match &node.kind {
            Kind::Internal(i) if node.label.get().is_none() => (i.left, i.right, i.balance),
            _ => return None,
        };
        let view = Sealing {
            base: self.base,
            loaded: &self.loaded.nodes,
            new: &self.new,
            strings: self.strings(),
            digests: &self.digests,
        };
        let ((l, from_left), (r, from_right)) = std::thread::scope(|scope| {
            // Builder::spawn_scoped, unlike Scope::spawn, reports a thread the system
            // refuses instead of panicking; the batch then seals on this thread.
            let helper = std::thread::Builder::new()
                .spawn_scoped(scope, move || labels::<H>(view, left))
                .ok()?;
            let ours = labels::<H>(view, right);
            helper.join().ok().map(|theirs| (theirs, ours))
        })?;
        for (index, label) in from_left.into_iter().chain(from_right) {
            if let Some(node) = self.new.get_mut(index) {
                node.label.set(label);
            }
        }
        let label = H::internal(balance, &l, &r);
        if let Some(node) = self.new.get_mut(j) {
            node.label.set(label);
        }
        Some(label)
    }
}

/// Fewest nodes a batch must have made for its seal to be split over two threads. Starting
/// a thread costs tens of microseconds: at 1024 nodes (batches of about 128 operations on
/// 10^5 keys) the split measured about 10% slower than one thread; at batches of 1024
/// operations (about 10,000 nodes) and more, faster.
const SPLIT_SEAL_MIN: usize = 4096;

/// What a sealing thread reads: the batch's nodes and strings, shared.
#[derive(Clone, Copy)]
struct Sealing<'a> {
    base: &'a Chunks<PNode>,
    loaded: &'a [PNode],
    new: &'a [PNode],
    strings: Strings<'a>,
    digests: &'a Digests,
}

/// The label of the tree at `id`, computing (without writing) the label of every unlabelled
/// node of the batch's region below and at it, children first, as (index in the batch's
/// region, label): what [`Batch::seal`] does, on nodes shared with another thread.
/// Committed nodes are all labelled.
fn labels<H: TreeHasher>(view: Sealing<'_>, id: NodeId) -> (Digest, Vec<(usize, Digest)>) {
    fn walk<H: TreeHasher>(
        view: Sealing<'_>,
        id: NodeId,
        out: &mut Vec<(usize, Digest)>,
    ) -> Digest {
        let j = match own_or_label::<true>(id, view.base, view.loaded) {
            Ok(j) => j,
            Err(label) => return label,
        };
        let Some(node) = view.new.get(j) else {
            return [0; 32];
        };
        if let Some(label) = node.label.get() {
            return label;
        }
        let label = match &node.kind {
            Kind::Leaf(leaf) => view.strings.leaf_label::<H>(leaf, view.digests),
            Kind::Internal(internal) => {
                let l = walk::<H>(view, internal.left, out);
                let r = walk::<H>(view, internal.right, out);
                H::internal(internal.balance, &l, &r)
            }
        };
        out.push((j, label));
        label
    }
    let mut out = Vec::new();
    let label = walk::<H>(view, id, &mut out);
    (label, out)
}

impl<'t, H: TreeHasher, const STORE: bool> Walker for Batch<'t, H, STORE> {
    type Side = Packed;
    type Error = TreeError;

    fn fault(f: Fault) -> TreeError {
        TreeError::from_fault(f)
    }

    #[inline]
    fn hole() -> NodeId {
        NodeId::HOLE
    }

    fn direction(&mut self, link: &NodeId, key: &[u8]) -> Result<Option<Dir>, TreeError> {
        Ok(self.direction_and_child(link, key)?.map(|(dir, _)| dir))
    }

    #[inline]
    fn direction_and_child(
        &mut self,
        link: &NodeId,
        key: &[u8],
    ) -> Result<Option<(Dir, Option<NodeId>)>, TreeError> {
        let i = link.index().ok_or_else(|| TreeError::Malformed)?;
        let committed = self.pre_state(i);
        let node = self.node(*link).ok_or_else(|| TreeError::Malformed)?;
        let Kind::Internal(internal) = &node.kind else {
            return Ok(None);
        };
        let route = internal.route;
        if route.key == Ref::NONE {
            return Err(TreeError::Malformed);
        }
        let mine = head(key);
        let left = if mine != route.head {
            mine < route.head
        } else {
            crate::node::goes_left(key, self.strings().get(route.key))
        };
        let dir = if left { Dir::Left } else { Dir::Right };
        // A pre-state node is shared with the pre-state: its child link is copied.
        let child = committed.then(|| *internal.child(dir));
        if self.proof {
            self.directions.push(dir == Dir::Right);
        }
        Ok(Some((dir, child)))
    }

    #[inline]
    fn expand(&mut self, link: &mut NodeId) -> Result<(), TreeError> {
        // Every node of an in-memory arena is in memory.
        match self.source {
            Some(source) if STORE => self.load(source, *link),
            _ => Ok(()),
        }
    }

    #[inline]
    fn get<'a>(&'a self, link: &'a NodeId) -> Option<&'a PNode> {
        self.node(*link)
    }

    fn get_mut<'a>(&'a mut self, link: &'a mut NodeId) -> Option<&'a mut PNode> {
        let i = link.index()?;
        if self.pre_state(i) {
            let copy = self.node(*link)?.clone();
            *link = self.push(copy)?;
        }
        self.own_mut(*link)
    }

    #[inline]
    fn get_unique<'a>(&'a mut self, link: &'a mut NodeId) -> Option<&'a mut PNode> {
        self.own_mut(*link)
    }

    #[inline]
    fn alloc(&mut self, node: PNode) -> Result<NodeId, TreeError> {
        self.push(node).ok_or_else(|| TreeError::Malformed)
    }

    #[inline]
    fn visit(&mut self, link: &NodeId) {
        match region_of::<STORE>(*link, self.base.len()) {
            Some(Region::Base(_)) => self.touched.insert(*link),
            Some(Region::Loaded(j)) => {
                if let Some(read) = self.loaded.read.get_mut(j) {
                    *read = true;
                }
            }
            Some(Region::New(_)) | None => {}
        }
    }

    fn read_value(&mut self, link: &NodeId) {
        // By content (the reference-counted prover keys them by digest): a leaf copied by
        // this batch carries its committed value (the same reference), which must then be
        // shipped, and so must every withheld leaf with an equal value. Values the batch
        // wrote are its own and never shipped as pre-state.
        if !self.proof {
            return;
        }
        let value = match self.node(*link).map(|n| &n.kind) {
            Some(Kind::Leaf(leaf)) if !leaf.value.own() => leaf.value,
            _ => return,
        };
        if value.stored() {
            let bytes = self.loaded.strings.get(value);
            if !self.loaded.values.contains(bytes) {
                self.loaded.values.insert(Box::from(bytes));
            }
            return;
        }
        let pool: &'t Pool = self.pool;
        if self.read.capacity() == 0 {
            self.read.reserve(self.lookups);
        }
        self.read.insert(pool.get(value));
    }

    #[inline]
    fn key<'a>(&'a self, key: &'a Ref) -> &'a [u8] {
        self.strings().get(*key)
    }

    #[inline]
    fn new_key(&mut self, bytes: &Bytes) -> Result<Ref, TreeError> {
        self.own.put(bytes, OWN).ok_or_else(|| TreeError::Malformed)
    }

    #[inline]
    fn new_value(&mut self, bytes: &Bytes) -> Result<Ref, TreeError> {
        self.own.put(bytes, OWN).ok_or_else(|| TreeError::Malformed)
    }

    #[inline]
    fn route(&self, key: Option<&Ref>) -> Fork {
        match key {
            Some(&key) => Fork {
                key,
                head: head(self.strings().get(key)),
            },
            None => Fork::NONE,
        }
    }

    fn value(&self, value: &Ref) -> Option<Bytes> {
        Some(if value.own() {
            self.own.shared(*value)
        } else if value.stored() {
            self.loaded.strings.shared(*value)
        } else {
            self.pool.shared(*value)
        })
    }

    #[inline]
    fn frames(&mut self) -> Option<&mut Vec<Frame<NodeId>>> {
        Some(&mut self.path)
    }

    fn released(&mut self, value: &Ref) {
        // The batch's own and loaded strings need no freeing: a commit moves only those the
        // new tree holds.
        if value.committed() {
            self.released.push(*value);
        }
    }

    fn removed(&mut self, link: &NodeId) {
        if let Some(Kind::Leaf(leaf)) = self.node(*link).map(|n| &n.kind) {
            let (key, value) = (leaf.key, leaf.value);
            for r in [key, value] {
                self.released(&r);
            }
        }
    }
}

/// What the proof encoder reads of a batch: the pre-state (committed and loaded nodes) and
/// what the batch read of it.
struct Cut<'a, 't, H, const STORE: bool> {
    base: &'a Chunks<PNode>,
    pool: &'a Pool,
    loaded: &'a Loaded,
    touched: &'a Touched<'t>,
    read: &'a ReadValues<'t>,
    /// Value digests, computed once (shared with the seal).
    digests: &'a mut Digests,
    hasher: PhantomData<fn() -> H>,
}

impl<'a, 't: 'a, H: TreeHasher, const STORE: bool> Cut<'a, 't, H, STORE> {
    /// A string of a pre-state node.
    #[inline]
    fn string(&self, r: Ref) -> &'a [u8] {
        if STORE && r.stored() {
            self.loaded.strings.get(r)
        } else {
            self.pool.get(r)
        }
    }
}

/// Cuts the pre-state to the nodes the batch read.
impl<'a, 't: 'a, H: TreeHasher, const STORE: bool> Prune<'a> for Cut<'a, 't, H, STORE> {
    type Side = Packed;
    type Error = TreeError;

    fn tokens_hint(&self) -> usize {
        self.touched
            .len()
            .saturating_add(self.loaded.nodes.len())
            .saturating_mul(2)
            .saturating_add(1)
    }

    #[inline]
    fn view(&mut self, link: &'a NodeId) -> Result<View<'a, Packed>, TreeError> {
        let (base, loaded): (&'a Chunks<PNode>, &'a Loaded) = (self.base, self.loaded);
        let at = region_of::<STORE>(*link, base.len());
        let (node, read) = match at.ok_or_else(|| TreeError::Malformed)? {
            Region::Base(i) => {
                let node = base.get(i).ok_or_else(|| TreeError::Malformed)?;
                let node = match STORE && is_stub(node) {
                    false => node,
                    true => match loaded.opened(i) {
                        Some(opened) => opened,
                        None => return Ok(View::Stub(node.label.committed())),
                    },
                };
                (node, self.touched.contains(*link))
            }
            Region::Loaded(j) => {
                let node = loaded.nodes.get(j).ok_or_else(|| TreeError::Malformed)?;
                (node, !is_stub(node) && loaded.read.get(j) == Some(&true))
            }
            Region::New(_) => return Err(TreeError::Malformed),
        };
        if !read {
            return Ok(View::Stub(node.label.committed()));
        }
        Ok(match &node.kind {
            Kind::Internal(i) => View::Internal(i),
            Kind::Leaf(leaf) => {
                let bytes = self.string(leaf.value);
                // A value goes in full if it is shorter than its digest or the batch
                // returned it.
                let value = if bytes.len() < 32
                    || self.read.contains(bytes)
                    || loaded.values.contains(bytes)
                {
                    Shown::Full(bytes)
                } else {
                    let digest = self
                        .digests
                        .entry(leaf.value.raw())
                        .or_insert_with(|| H::value(bytes));
                    Shown::Digest(*digest)
                };
                View::Leaf {
                    key: self.string(leaf.key),
                    next: leaf.next.map(|n| self.string(n)),
                    value,
                }
            }
        })
    }
}

/// The committed tree as an audit reads it: nodes by id (an id names no label of its own)
/// and strings by reference.
struct Committed<'a> {
    nodes: &'a Chunks<PNode>,
    pool: &'a Pool,
    /// The store stubs stand for (a persistent tree), and the limits of its records.
    disk: Option<(&'a Disk, SizeLimits)>,
}

impl crate::audit::Nodes<Packed> for Committed<'_> {
    fn with<H: TreeHasher, R>(
        &self,
        link: &NodeId,
        f: impl FnOnce(&PNode, Option<Digest>) -> Result<R, crate::AuditError>,
    ) -> Result<R, crate::AuditError> {
        let node = link
            .index()
            .and_then(|i| self.nodes.get(i))
            .ok_or(crate::AuditError::Tree(TreeError::Malformed))?;
        f(node, node.label.get())
    }

    fn key<'a>(&'a self, key: &'a Ref) -> &'a [u8] {
        self.pool.get(*key)
    }

    fn value<'a>(&'a self, value: &'a Ref) -> Option<&'a [u8]> {
        Some(self.pool.get(*value))
    }

    /// The routing key, if there is one and its inline head is its own.
    fn route<'a>(&'a self, route: &'a Fork) -> Option<&'a [u8]> {
        let key = (route.key != Ref::NONE).then(|| self.pool.get(route.key))?;
        (head(key) == route.head).then_some(key)
    }

    /// A stub's records, read (and checked) from the store without being kept.
    fn stored(&self, link: &NodeId) -> Option<(crate::audit::Records<'_>, NodeKey)> {
        let (disk, limits) = self.disk?;
        let i = link.index()?;
        let node = self.nodes.get(i).filter(|n| is_stub(n))?;
        let version = disk.versions.get(i).copied()?;
        let records = crate::audit::Records {
            backend: disk.backend.as_ref(),
            limits,
        };
        let label = node.label.committed();
        Some((records, NodeKey { version, label }))
    }
}

/// What a batch reads of the committed state: its nodes, its strings and, for a persistent
/// tree, where stubs load from.
type Base<'t> = (&'t Chunks<PNode>, &'t Pool, Option<Source<'t>>);

/// What `Tree::run` reads: the committed state, the limits and the two-thread seal's
/// threshold.
type Parts<'t, 's> = (Base<'t>, &'s State<Packed>, &'s SizeLimits, Option<usize>);

/// What a batch made, for its commit: its nodes, its strings, the committed strings it
/// took out of the tree, and what it loaded.
struct Made {
    nodes: Vec<PNode>,
    strings: Pool,
    released: Vec<Ref>,
    loaded: Loaded,
}

/// A node a commit places, children first: one the batch made, one it loaded (or a stub of
/// the loaded region), or the node a committed stub opened, which goes into the stub's slot.
#[derive(Clone, Copy, Debug)]
enum Place {
    New(usize),
    Loaded(usize),
    Opened(usize, usize),
}

/// Where the batches and reads of a tree with store `disk` load stubs from; `keep`: whether
/// what they read goes into the record cache (for a batch that will not keep it).
fn source(disk: &Option<Box<Disk>>, limits: SizeLimits, keep: bool) -> Option<Source<'_>> {
    disk.as_ref().map(|d| Source {
        backend: d.backend.as_ref(),
        limits,
        versions: &d.versions,
        cache: &d.cache,
        keep,
    })
}

/// A persistent arena's store and bookkeeping.
struct Disk {
    backend: Arc<dyn StoreBackend>,
    config: StoreConfig,
    /// The oldest kept version.
    oldest: u64,
    /// What this tree's own recent commits made stale (for the collector).
    recent: collect::Recent,
    /// Per slot, the version whose commit wrote its node's record (with the label, the
    /// record's key).
    versions: Chunks<u64>,
    /// Slots that hold a stub.
    stubs: usize,
    /// Records the read paths (`&self`) fetched lately, up to half the memory budget.
    cache: RecordCache,
}

/// Approximate bytes of a node in memory: its slot, its version and its mark.
const NODE_BYTES: usize = core::mem::size_of::<PNode>() + 10;
/// Approximate bytes of a string in memory (a short one's slot).
const STRING_BYTES: usize = SHORT + 1;

impl<H, const STORE: bool> Ran<'_, H, STORE> {
    /// The results, the proof and the new root.
    fn outcome(self) -> (Vec<OpResult>, Proof, RootDigest) {
        (self.results, self.proof, self.root)
    }
}

/// A batch run on the committed state, not yet committed.
struct Ran<'t, H, const STORE: bool> {
    /// The post-state, sealed.
    state: State<Packed>,
    /// Its root.
    root: RootDigest,
    results: Vec<OpResult>,
    /// The proof (empty bytes if none was asked for).
    proof: Proof,
    batch: Batch<'t, H, STORE>,
}

/// An authenticated AVL+ map on the prover's side.
///
/// The tree lives in memory ([`Tree::new`]) or in a store ([`Tree::create_store`],
/// [`Tree::open_store`]), where every
/// batch is committed atomically as a new version, the last versions stay readable
/// ([`Tree::snapshot`]) and can be rolled back to ([`Tree::rollback`]), older ones are
/// collected, and nodes are loaded only when operations reach them and dropped again beyond a
/// memory budget. Every batch yields one proof; a light client checks it with a
/// [`Verifier`](crate::Verifier).
///
/// ```
/// use avlplus::{Operation, Outcome, Tree};
/// let mut tree = Tree::new();
/// let batch = tree.apply(&[Operation::insert(b"a", b"1"), Operation::update(b"b", b"2")])?;
/// assert_eq!(batch.results[0], Ok(Outcome::Inserted));
/// assert_eq!(batch.results[1], Err(avlplus::Failure::KeyMissing));
/// assert_eq!(tree.root(), batch.new_root);
/// # Ok::<(), avlplus::TreeError>(())
/// ```
pub struct Tree<H: TreeHasher = Sha256> {
    nodes: Chunks<PNode>,
    /// The keys and values the nodes hold.
    pool: Pool,
    /// Slots of nodes no longer in the tree, reused by the next batches.
    free: Vec<NodeId>,
    /// Per slot, the mark of the last committing batch that read it ([`Touched::Marks`]).
    marks: Vec<u16>,
    /// The last committing batch's mark (even; a commit marks what it keeps with `mark + 1`).
    mark: u16,
    state: State<Packed>,
    root: RootDigest,
    version: u64,
    len: u64,
    limits: SizeLimits,
    /// Batches that made at least this many nodes seal on two threads
    /// ([`Tree::seal_on_two_threads`]); `None`: every batch seals on one.
    split_seal: Option<usize>,
    /// Buffers a committing batch uses and gives back, so that batches allocate them once.
    scratch: Scratch,
    /// The store, for a persistent tree (boxed: an in-memory tree carries one word for it).
    disk: Option<Box<Disk>>,
    /// Changes whenever the slots change (a commit, an eviction, a reload): a staged batch
    /// names slots, so it commits only on the generation it was staged on.
    generation: u64,
    hasher: PhantomData<fn() -> H>,
}

/// What a batch borrows from the tree and gives back: its direction bits, its list of
/// touched nodes, its walks' frames and the proof encoder's parts.
#[derive(Default)]
struct Scratch {
    directions: Vec<u8>,
    list: Vec<NodeId>,
    path: Vec<Frame<NodeId>>,
    encode: Buffers,
}

impl<H: TreeHasher> core::fmt::Debug for Tree<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tree")
            .field("root", &self.root)
            .field("version", &self.version)
            .field("hash", &H::NAME)
            .field("persistent", &self.disk.is_some())
            .finish()
    }
}

impl Default for Tree<Sha256> {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree<Sha256> {
    /// An empty in-memory SHA-256 tree with default size limits.
    pub fn new() -> Self {
        Self::empty()
    }
}

impl<H: TreeHasher> Tree<H> {
    /// An empty in-memory tree with hash `H`.
    ///
    /// ```
    /// use avlplus::{Blake3, RootDigest, Tree};
    /// let tree = Tree::<Blake3>::empty();
    /// assert_eq!(tree.root(), RootDigest::empty::<Blake3>());
    /// ```
    pub fn empty() -> Self {
        Tree {
            nodes: Chunks::default(),
            pool: Pool::default(),
            free: Vec::new(),
            marks: Vec::new(),
            mark: 0,
            state: State::default(),
            root: RootDigest {
                label: H::empty(),
                height: 0,
            },
            version: 0,
            len: 0,
            limits: SizeLimits::default(),
            split_seal: None,
            scratch: Scratch::default(),
            disk: None,
            generation: 0,
            hasher: PhantomData,
        }
    }

    /// Makes a new store in the empty back end `backend`: records its identity (format, hash
    /// `H`, `config.limits`) and version 0, the empty tree. Fails with
    /// [`StoreError::AlreadyExists`](crate::store::StoreError::AlreadyExists) if the back end holds anything, changing nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use avlplus::{store::{MemoryStore, StoreConfig, StoreError}, Tree, TreeError};
    /// let store = Arc::new(MemoryStore::new());
    /// let tree: Tree = Tree::create_store(store.clone(), StoreConfig::default())?;
    /// assert_eq!(tree.version(), 0);
    /// let again = Tree::<avlplus::Sha256>::create_store(store, StoreConfig::default());
    /// assert_eq!(again.unwrap_err(), TreeError::Store(StoreError::AlreadyExists));
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn create_store(
        backend: Arc<dyn StoreBackend>,
        config: StoreConfig,
    ) -> Result<Self, TreeError> {
        layout::initialize::<H>(backend.as_ref(), config.limits)?;
        Ok(Self::persistent(backend, config, 0))
    }

    /// Opens the store in `backend` at its head version. Only the root node is read; the
    /// rest is loaded as operations reach it.
    ///
    /// Nothing is written. The store must have been made by [`Tree::create_store`] with the
    /// same hash and `config.limits` (else [`StoreError::NotAStore`](crate::store::StoreError::NotAStore),
    /// [`StoreError::HasherMismatch`](crate::store::StoreError::HasherMismatch), [`StoreError::LimitsMismatch`](crate::store::StoreError::LimitsMismatch) or
    /// [`StoreError::UnsupportedFormat`](crate::store::StoreError::UnsupportedFormat)), and its bookkeeping must be intact and consistent:
    /// the window of kept versions, one checked version record for each and none outside
    /// it, each kept root record present and the head's hashing to its label, and no node
    /// record newer than the head ([`StoreError::BadRecord`](crate::store::StoreError::BadRecord), [`StoreError::Inconsistent`](crate::store::StoreError::Inconsistent),
    /// [`StoreError::Missing`](crate::store::StoreError::Missing), [`StoreError::Corrupt`](crate::store::StoreError::Corrupt)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use avlplus::{store::{MemoryStore, StoreConfig}, Operation, Tree};
    /// let store = Arc::new(MemoryStore::new());
    /// let mut tree: Tree = Tree::create_store(store.clone(), StoreConfig::default())?;
    /// let batch = tree.apply(&[Operation::insert(b"k", b"v")])?;
    /// assert_eq!(batch.version, 1);
    /// let reopened: Tree = Tree::open_store(store, StoreConfig::default())?;
    /// assert_eq!((reopened.version(), reopened.root()), (1, batch.new_root));
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn open_store(
        backend: Arc<dyn StoreBackend>,
        config: StoreConfig,
    ) -> Result<Self, TreeError> {
        let window = layout::admit::<H>(backend.as_ref(), &config.limits)?;
        let mut tree = Self::persistent(backend, config, window.oldest);
        tree.load_version(window.head)?;
        Ok(tree)
    }

    /// Replaces the tree in memory by version `v` as stored: its root record is read and
    /// checked, and the tree starts from its stub.
    fn load_version(&mut self, v: u64) -> Result<(), TreeError> {
        let records = self.source().ok_or(TreeError::NotPersistent)?;
        let record = layout::read_version(records.backend, v)?;
        let root_key = record.root_key::<H>();
        if let Some(key) = &root_key {
            // Checked now, and cached for the first batch or read.
            records.with::<H, _>(key, |_, _| ())?;
        }
        let disk = self.disk.as_mut().ok_or(TreeError::NotPersistent)?;
        let (mut nodes, mut versions, mut root) = (Chunks::default(), Chunks::default(), None);
        if let Some(key) = root_key {
            nodes.push(stub(key.label));
            versions.push(key.version);
            root = NodeId::node(0);
        }
        disk.stubs = nodes.len();
        disk.versions = versions;
        self.state = State {
            root,
            height: record.root.height,
        };
        self.nodes = nodes;
        self.pool = Pool::default();
        self.free = Vec::new();
        self.marks = Vec::new();
        self.root = record.root;
        self.version = v;
        self.len = record.len;
        self.generation = self.generation.wrapping_add(1);
        Ok(())
    }

    /// The store, if version `v` is one it keeps.
    fn kept(&self, v: u64) -> Result<&Disk, TreeError> {
        let disk = self.disk.as_deref().ok_or(TreeError::NotPersistent)?;
        if v < disk.oldest || v > self.version {
            return Err(StoreError::NoSuchVersion(v).into());
        }
        Ok(disk)
    }

    /// The versions that can be read and rolled back to, oldest first (`None` in memory).
    pub fn kept_versions(&self) -> Option<core::ops::RangeInclusive<u64>> {
        self.disk.as_ref().map(|d| d.oldest..=self.version)
    }

    /// Rolls the head back to kept version `v`: later versions are discarded from the store
    /// in one atomic batch, and the tree continues from `v`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use avlplus::{store::{MemoryStore, StoreConfig}, Operation, Tree};
    /// let mut tree: Tree = Tree::create_store(Arc::new(MemoryStore::new()), StoreConfig::default())?;
    /// let first = tree.apply(&[Operation::insert(b"a", b"1")])?;
    /// tree.apply(&[Operation::insert(b"b", b"2")])?;
    /// tree.rollback(first.version)?;
    /// assert_eq!(tree.root(), first.new_root);
    /// assert_eq!(tree.get(b"b")?, None);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn rollback(&mut self, v: u64) -> Result<(), TreeError> {
        self.kept(v)?;
        let disk = self.disk.as_mut().ok_or(TreeError::NotPersistent)?;
        if v == self.version {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        layout::discard_after(&mut batch, v, self.version);
        let window = layout::Window {
            oldest: disk.oldest,
            head: v,
        };
        layout::write_window(&mut batch, window);
        disk.backend.write(batch, true)?;
        disk.recent.discard_after(v);
        self.load_version(v)
    }

    /// A read-only view of kept version `v` that answers lookups and what-if proofs while
    /// this tree goes on committing. It loads nodes through its own cache.
    ///
    /// A snapshot reads records of its version, which stay in the store until the version
    /// leaves the kept window; reading an expired snapshot fails with
    /// [`StoreError::Missing`].
    pub fn snapshot(&self, v: u64) -> Result<Snapshot<H>, TreeError> {
        let disk = self.kept(v)?;
        let mut tree = Self::persistent(Arc::clone(&disk.backend), disk.config, disk.oldest);
        tree.load_version(v)?;
        Ok(Snapshot { tree })
    }

    fn persistent(backend: Arc<dyn StoreBackend>, config: StoreConfig, oldest: u64) -> Self {
        Tree {
            limits: config.limits,
            disk: Some(Box::new(Disk {
                backend,
                config,
                oldest,
                recent: collect::Recent::default(),
                versions: Chunks::default(),
                stubs: 0,
                cache: RecordCache::new(config.memory_budget / 2),
            })),
            ..Self::empty()
        }
    }

    /// The committed version: 0 for a new tree, +1 per applied batch.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// An empty in-memory tree with hash `H` and other size limits (the verifier must use
    /// the same).
    ///
    /// ```
    /// use avlplus::{Sha256, SizeLimits, Tree};
    /// let tree = Tree::<Sha256>::with_limits(SizeLimits::DEFAULT);
    /// assert_eq!(tree.limits(), &SizeLimits::DEFAULT);
    /// ```
    pub fn with_limits(limits: SizeLimits) -> Self {
        Tree {
            limits,
            ..Self::empty()
        }
    }

    /// The size limits in force.
    pub fn limits(&self) -> &SizeLimits {
        &self.limits
    }

    /// Reads a value without a proof: one walk down the routing keys, loading what it
    /// reaches (and keeping within the memory budget).
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1")])?;
    /// assert_eq!(tree.get(b"a")?.as_deref(), Some(&b"1"[..]));
    /// assert_eq!(tree.get(b"b")?, None);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TreeError> {
        if key.len() > self.limits.max_key_len {
            return Ok(None);
        }
        let Some(mut id) = self.state.root else {
            return Ok(None);
        };
        let mut walk = Descent {
            depth: 0,
            height: usize::from(self.state.height),
            all_left: true,
        };
        let mut record = loop {
            let i = id.index().ok_or_else(|| TreeError::Malformed)?;
            let node = self.nodes.get(i).ok_or_else(|| TreeError::Malformed)?;
            if is_stub(node) {
                break NodeKey {
                    version: self.version_of(id),
                    label: node.label.committed(),
                };
            }
            match &node.kind {
                Kind::Internal(internal) => {
                    if internal.route.key == Ref::NONE {
                        return Err(TreeError::Malformed);
                    }
                    let left = crate::node::goes_left(key, self.pool.get(internal.route.key));
                    walk.step(left)?;
                    id = if left { internal.left } else { internal.right };
                }
                Kind::Leaf(leaf) => {
                    let next = leaf.next.map(|n| self.pool.get(n));
                    let found = answer(key, self.pool.get(leaf.key), next, walk.all_left)?;
                    return Ok(found.then(|| self.pool.shared(leaf.value)));
                }
            }
        };
        let records = self.source().ok_or_else(|| TreeError::Malformed)?;
        loop {
            // The leaf's answer, or the step to the child the walk goes to.
            let went_left = walk.all_left;
            let read = |stored: Stored<'_>, _| match stored {
                Stored::Internal {
                    left: l,
                    right: r,
                    route,
                    ..
                } => {
                    let route = route.ok_or_else(|| TreeError::Malformed)?;
                    let left = crate::node::goes_left(key, route);
                    Ok(ControlFlow::Continue((left, if left { l } else { r })))
                }
                Stored::Leaf {
                    key: leaf,
                    next,
                    value,
                } => {
                    let found = answer(key, leaf, next, went_left)?;
                    Ok::<_, TreeError>(ControlFlow::Break(found.then(|| Bytes::from(value))))
                }
            };
            match records.with::<H, _>(&record, read)?? {
                ControlFlow::Break(found) => return Ok(found),
                ControlFlow::Continue((left, child)) => {
                    walk.step(left)?;
                    record = child;
                }
            }
        }
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1")])?;
    /// assert!(tree.contains_key(b"a")? && !tree.contains_key(b"b")?);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn contains_key(&self, key: &[u8]) -> Result<bool, TreeError> {
        Ok(self.get(key)?.is_some())
    }

    /// Every entry in key order, as one vector. Nodes are read without being kept, so the
    /// memory budget holds; for large trees prefer [`Tree::iter`], which streams.
    pub fn entries(&self) -> Result<Vec<(Bytes, Bytes)>, TreeError> {
        self.iter().collect()
    }

    /// The entries in key order, streamed: nodes the walk reads are not kept (beyond those
    /// already loaded), so memory stays within the budget plus one path.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"b", b"2"), Operation::insert(b"a", b"1")])?;
    /// let keys: Vec<_> = tree.iter().map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![b"a"[..].into(), b"b"[..].into()]);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn iter(&self) -> Entries<'_, H> {
        self.range::<&[u8], _>(..)
    }

    /// The entries with keys in `range`, in key order, streamed like [`Tree::iter`].
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// let ops: Vec<_> = (0u8..10).map(|i| Operation::insert([i], [i])).collect();
    /// tree.apply(&ops)?;
    /// let keys: Vec<u8> = tree.range(&[3u8][..]..&[6u8][..]).map(|e| e.map(|(k, _)| k[0])).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![3, 4, 5]);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn range<K: AsRef<[u8]>, R: core::ops::RangeBounds<K>>(&self, range: R) -> Entries<'_, H> {
        Entries {
            tree: self,
            stack: self.state.root.map(Pending::Memory).into_iter().collect(),
            range: KeyRange::new(range),
            done: false,
        }
    }

    /// Where the batches load stubs from (a persistent tree).
    /// Where a read path (`&self`: it cannot keep what it loads) reads records.
    fn source(&self) -> Option<Source<'_>> {
        source(&self.disk, self.limits, true)
    }

    /// Approximate bytes of nodes held in memory (persistent trees; 0 in memory): the nodes
    /// and strings loaded into the tree, and the records its read paths cached. After each
    /// commit it is within [`StoreConfig::memory_budget`].
    pub fn loaded_bytes(&self) -> usize {
        let Some(disk) = self.disk.as_deref() else {
            return 0;
        };
        let stubs = disk.stubs;
        let nodes = self.live_nodes().saturating_sub(stubs);
        let p = &self.pool;
        let strings = (p.short.len().saturating_add(p.long.len()))
            .saturating_sub(p.free_short.len().saturating_add(p.free_long.len()));
        let cached = disk.cache.bytes();
        nodes
            .saturating_mul(NODE_BYTES)
            .saturating_add(strings.saturating_mul(STRING_BYTES))
            .saturating_add(cached)
    }

    /// Whether a batch that made at least 4096 nodes labels them on two threads, the root's
    /// left subtree on a helper thread and its right one on the caller's (off by default).
    /// Labels, proofs and hash calls are the same either way.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let (mut one, mut two) = (Tree::new(), Tree::new());
    /// two.seal_on_two_threads(true);
    /// let ops: Vec<Operation> = (0u32..5000).map(|i| Operation::insert(i.to_be_bytes(), b"v")).collect();
    /// assert_eq!(one.apply(&ops)?, two.apply(&ops)?);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn seal_on_two_threads(&mut self, on: bool) {
        self.split_seal = on.then_some(SPLIT_SEAL_MIN);
    }

    /// The root digest of the committed state.
    pub fn root(&self) -> RootDigest {
        self.root
    }

    /// Number of entries (keys) in the committed state; kept in each version record, so it
    /// costs nothing on a persistent tree.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// assert!(tree.is_empty());
    /// tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])?;
    /// assert_eq!(tree.len(), 2);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the committed state has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks the whole committed tree: every label recomputed, AVL balance and balance
    /// fields, key order, the next-key chain, routing keys and the root height. For a
    /// persistent tree, also the store: every kept version is audited, every record a kept
    /// version reaches is present, no other record is, the identity matches, and the window
    /// and version records agree with them.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])?;
    /// assert_eq!(tree.audit()?.leaves, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn audit(&self) -> Result<crate::Audit, crate::AuditError> {
        let mut audit = self.structure()?;
        if let Some(disk) = &self.disk {
            let audit_of = |v| {
                let snapshot = self.snapshot(v)?;
                Ok((snapshot.tree.structure()?, snapshot.root()))
            };
            let window = (disk.oldest, self.version);
            let backend = disk.backend.as_ref();
            audit.records = records::<H>(backend, window, self.limits, audit_of)?;
        }
        Ok(audit)
    }

    /// The audit of the tree's structure.
    fn structure(&self) -> Result<crate::Audit, crate::AuditError> {
        let committed = Committed {
            nodes: &self.nodes,
            pool: &self.pool,
            disk: self.disk.as_deref().map(|d| (d, self.limits)),
        };
        crate::audit::structure::<H, Packed, _>(&committed, &self.state, &self.root)
    }

    /// Slots in the arena that hold a node of the tree (the rest are free).
    pub(crate) fn live_nodes(&self) -> usize {
        self.nodes.len().saturating_sub(self.free.len())
    }

    /// Strings (keys and values) in the pool (the rest of its slots are free).
    #[cfg(test)]
    fn live_strings(&self) -> usize {
        let p = &self.pool;
        (p.short.len().saturating_add(p.long.len()))
            .saturating_sub(p.free_short.len().saturating_add(p.free_long.len()))
    }

    /// Bytes the tree holds: node slots, mark slots and strings, free ones included.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes
            .bytes()
            .saturating_add(self.disk.as_ref().map_or(0, |d| d.versions.bytes()))
            .saturating_add(self.marks.capacity().saturating_mul(2))
            .saturating_add(self.free.capacity().saturating_mul(4))
            .saturating_add(self.pool.bytes())
    }

    /// Room for what a batch of `ops` operations on a tree of height `height` reads and makes:
    /// the distinct nodes of `ops` paths (the top `log2(ops)` levels are shared by them all,
    /// the rest are each path's own) and a few rotation or new nodes each. A batch that
    /// makes more grows its region once; one reserved far beyond what it uses kept that
    /// memory resident in the allocator (a tenth of a 10^5-key tree, for 4096 inserts).
    fn room(ops: usize, height: u8) -> usize {
        let height = usize::from(height);
        let shared = (ops.checked_ilog2().unwrap_or(0) as usize).min(height);
        let top = 2usize.saturating_pow(u32::try_from(shared).unwrap_or(0).saturating_add(1));
        ops.saturating_mul(height.saturating_sub(shared).saturating_add(3))
            .saturating_add(top)
            .min(1 << 18)
    }

    /// Runs `ops` on the committed state `pre` (its nodes `nodes`, limits `limits`): the
    /// post-state sealed, with the proof if `proof`.
    fn run<'t, const STORE: bool>(
        (committed, pre, limits, split): Parts<'t, '_>,
        touched: Touched<'t>,
        ops: &[Operation],
        proof: bool,
        scratch: &mut Scratch,
    ) -> Result<Ran<'t, H, STORE>, TreeError> {
        for (index, op) in ops.iter().enumerate() {
            op.check(limits)
                .map_err(|error| TreeError::Operation { index, error })?;
        }
        let mut state = pre.clone();
        let room = Self::room(ops.len(), state.height);
        let mut batch = Batch::new(committed, touched, (proof, ops.len(), room), scratch);
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            results.push(apply(&mut state, op, &mut batch)?);
        }
        let bytes = if proof {
            let directions = core::mem::take(&mut batch.directions).into_bytes();
            let mut cut = Cut::<H, STORE> {
                base: batch.base,
                pool: batch.pool,
                loaded: &batch.loaded,
                touched: &batch.touched,
                read: &batch.read,
                digests: &mut batch.digests,
                hasher: PhantomData,
            };
            let bytes = encode_with(
                pre.root.as_ref(),
                &directions,
                &mut cut,
                &mut scratch.encode,
            )?;
            scratch.directions = directions;
            bytes
        } else {
            Vec::new()
        };
        scratch.path = core::mem::take(&mut batch.path);
        let label = match state.root {
            Some(root) => batch.seal_root(root, split),
            None => H::empty(),
        };
        let root = RootDigest {
            label,
            height: state.height,
        };
        Ok(Ran {
            state,
            root,
            results,
            proof: Proof::from_bytes(bytes),
            batch,
        })
    }

    /// Proves a batch without applying it ("what if"). The tree, its root and every later
    /// proof are exactly as if this call never happened; `&self` guarantees it.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1")])?;
    /// let before = tree.root();
    /// let what_if = tree.prove(&[Operation::remove(b"a")])?;
    /// assert_eq!(tree.root(), before);
    /// assert_ne!(what_if.new_root, before);
    /// # Ok::<(), avlplus::TreeError>(())
    /// ```
    pub fn prove(&self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let set = IdSet::with_capacity(Self::room(ops.len(), self.state.height));
        let committed = (&self.nodes, &self.pool, self.source());
        let parts = (committed, &self.state, &self.limits, self.split_seal);
        let (touched, scratch) = (Touched::Set(set), &mut Scratch::default());
        let (results, proof, new_root) = match self.disk {
            Some(_) => Self::run::<true>(parts, touched, ops, true, scratch)?.outcome(),
            None => Self::run::<false>(parts, touched, ops, true, scratch)?.outcome(),
        };
        Ok(BatchProof {
            results,
            proof,
            old_root: self.root,
            new_root,
            version: self.version.saturating_add(1),
        })
    }

    /// Applies a batch: every operation in order, one proof for all of them, the new root,
    /// committed as the next version.
    ///
    /// Operations that fail ([`Failure`](crate::Failure)) leave the tree unchanged and are
    /// still proven. An `Err` means nothing was applied.
    pub fn apply(&mut self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let old_root = self.root;
        let (results, proof, root, _) = self.apply_with(ops, true)?;
        Ok(BatchProof {
            results,
            proof,
            old_root,
            new_root: root,
            version: self.version,
        })
    }

    /// Runs and proves a batch and prepares its commit without committing it: the caller
    /// owns the commit. A full node writes [`StagedBatch::writes`] in the same atomic write
    /// as its own block data (its back end then maps the tables into its own database) and
    /// calls [`Tree::adopt_staged`]; or it lets the tree write them with
    /// [`Tree::commit_staged`]; or it drops the staged batch, and nothing happened.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use avlplus::{store::{MemoryStore, StoreBackend, StoreConfig}, Operation, Tree};
    /// let store = Arc::new(MemoryStore::new());
    /// let mut tree: Tree = Tree::create_store(store.clone(), StoreConfig::default())?;
    /// let staged = tree.stage(&[Operation::insert(b"a", b"1")])?;
    /// assert_eq!(tree.version(), 0); // nothing committed yet
    /// let mut writes = staged.writes().clone();
    /// // ... add the node's own block data to the same atomic write here ...
    /// store.write(writes, true)?;
    /// let batch = tree.adopt_staged(staged)?;
    /// assert_eq!((tree.version(), tree.root()), (1, batch.new_root));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stage(&self, ops: &[Operation]) -> Result<StagedBatch, TreeError> {
        match self.disk {
            Some(_) => self.stage_in::<true>(ops),
            None => self.stage_in::<false>(ops),
        }
    }

    fn stage_in<const STORE: bool>(&self, ops: &[Operation]) -> Result<StagedBatch, TreeError> {
        let set = IdSet::with_capacity(Self::room(ops.len(), self.state.height));
        let committed = (&self.nodes, &self.pool, self.source());
        let parts = (committed, &self.state, &self.limits, self.split_seal);
        let (touched, scratch) = (Touched::Set(set), &mut Scratch::default());
        let Ran {
            state,
            root,
            results,
            proof,
            batch,
        } = Self::run::<STORE>(parts, touched, ops, true, scratch)?;
        let (made, touched) = batch.made();
        let Touched::Set(set) = touched else {
            return Err(TreeError::Malformed);
        };
        // A touched node is kept the first time the new tree reaches it.
        let mut kept = IdSet::with_capacity(set.len());
        let mut keep = |id: NodeId| set.contains(id) && kept.insert(id);
        let order = plan::<STORE>((&self.nodes, &made), &state, self.state.root, &mut keep);
        let replaced = match order {
            None => Vec::new(),
            Some(_) => set.ids().filter(|id| !kept.contains(*id)).collect(),
        };
        let order = (order.unwrap_or_default(), replaced);
        let planned = self.prepare(state, made, order, root, &results)?;
        Ok(StagedBatch {
            batch: BatchProof {
                results,
                proof,
                old_root: self.root,
                new_root: root,
                version: planned.version,
            },
            base: (self.version, self.root, self.generation),
            planned,
        })
    }

    /// Writes a staged batch (synced per [`StoreConfig::durability`](crate::store::StoreConfig::durability)) and makes it the
    /// tree's head; [`TreeError::StagedOutOfDate`] if the tree moved since it was staged.
    pub fn commit_staged(&mut self, mut staged: StagedBatch) -> Result<BatchProof, TreeError> {
        self.check_staged(&staged)?;
        if let (Some(disk), Some(batch)) = (&self.disk, staged.planned.writes.take()) {
            let sync = disk.config.durability == Durability::Sync;
            disk.backend.write(batch, sync)?;
        }
        self.adopt(staged.planned);
        Ok(staged.batch)
    }

    /// Makes a staged batch the tree's head after the caller wrote
    /// [`StagedBatch::writes`] to the store itself (durably, all at once).
    /// [`TreeError::StagedOutOfDate`] if the tree moved since it was staged.
    pub fn adopt_staged(&mut self, staged: StagedBatch) -> Result<BatchProof, TreeError> {
        self.check_staged(&staged)?;
        self.adopt(staged.planned);
        Ok(staged.batch)
    }

    /// A staged batch names slots: it commits only on the tree, version and slots it was
    /// staged on.
    fn check_staged(&self, staged: &StagedBatch) -> Result<(), TreeError> {
        if staged.base != (self.version, self.root, self.generation) {
            return Err(TreeError::StagedOutOfDate);
        }
        Ok(())
    }

    /// Places a planned commit whose write is made, then keeps the memory budget.
    fn adopt(&mut self, planned: Planned) {
        match self.disk {
            Some(_) => self.place::<true>(planned),
            None => self.place::<false>(planned),
        };
        self.melt();
    }

    /// Applies a batch without building a proof (a full node replaying blocks).
    pub fn apply_unproven(&mut self, ops: &[Operation]) -> Result<Vec<OpResult>, TreeError> {
        Ok(self.apply_with(ops, false)?.0)
    }

    /// Runs a batch that commits, marking what it reads in the tree's own marks.
    fn apply_with(
        &mut self,
        ops: &[Operation],
        proof: bool,
    ) -> Result<(Vec<OpResult>, Proof, RootDigest, usize), TreeError> {
        match self.disk {
            Some(_) => self.apply_in::<true>(ops, proof),
            None => self.apply_in::<false>(ops, proof),
        }
    }

    /// [`Tree::apply_with`] for a persistent tree (`STORE`) or an in-memory one.
    fn apply_in<const STORE: bool>(
        &mut self,
        ops: &[Operation],
        proof: bool,
    ) -> Result<(Vec<OpResult>, Proof, RootDigest, usize), TreeError> {
        self.mark = match self.mark.checked_add(2).filter(|&m| m < u16::MAX) {
            Some(m) => m,
            None => {
                // Every 32767 batches: forget every old mark (a pass over the slots; with a
                // byte a slot, every 127 batches, that pass cost a batch of one lookup at
                // 10^5 keys a sixth of its instructions).
                self.marks.iter_mut().for_each(|m| *m = 0);
                2
            }
        };
        self.marks.resize(self.nodes.len(), 0);
        let list = crate::codec::emptied(
            core::mem::take(&mut self.scratch.list),
            Self::room(ops.len(), self.state.height),
        );
        let touched = Touched::Marks {
            marks: &mut self.marks,
            mark: self.mark,
            list,
        };
        let committed = (
            &self.nodes,
            &self.pool,
            source(&self.disk, self.limits, false),
        );
        let parts = (committed, &self.state, &self.limits, self.split_seal);
        let Ran {
            state,
            root,
            results,
            proof: bytes,
            batch,
        } = Self::run::<STORE>(parts, touched, ops, proof, &mut self.scratch)?;
        let (made, touched) = batch.made();
        let list = match touched {
            Touched::Marks { list, .. } => list,
            Touched::Set(_) => Vec::new(),
        };
        let placed = self.commit::<STORE>(state, made, &list, root, &results);
        self.scratch.list = list;
        let placed = placed?;
        self.melt();
        Ok((results, bytes, root, placed))
    }

    /// Makes a sealed batch the committed state: frees the committed nodes it replaced and
    /// places its reachable nodes, children first, into free slots or at the end (the nodes
    /// committed stubs opened into the stubs' slots). A persistent tree first writes the
    /// batch's records, its version and the window's advance in one atomic write; if that
    /// fails, the tree is unchanged. Returns how many nodes it placed.
    fn commit<const STORE: bool>(
        &mut self,
        state: State<Packed>,
        made: Made,
        touched: &[NodeId],
        root: RootDigest,
        results: &[OpResult],
    ) -> Result<usize, TreeError> {
        // The batch's reachable nodes in post-order; the touched committed nodes the new tree
        // still holds are marked kept (`mark + 1`), so the touched ones still at `mark` are
        // what the batch replaced, whose slots are freed.
        let (mark, marks) = (self.mark, &mut self.marks);
        let mut keep = |id: NodeId| match id.index().and_then(|i| marks.get_mut(i)) {
            Some(m) if *m == mark => {
                *m = mark.wrapping_add(1);
                true
            }
            _ => false,
        };
        let order = plan::<STORE>((&self.nodes, &made), &state, self.state.root, &mut keep);
        let replaced = match order {
            None => Vec::new(),
            Some(_) => touched
                .iter()
                .filter(|id| id.index().and_then(|i| self.marks.get(i)) == Some(&mark))
                .copied()
                .collect(),
        };
        let order = order.unwrap_or_default();
        let mut planned = self.prepare(state, made, (order, replaced), root, results)?;
        if let (Some(disk), Some(batch)) = (&self.disk, planned.writes.take()) {
            let sync = disk.config.durability == Durability::Sync;
            disk.backend.write(batch, sync)?;
        }
        Ok(self.place::<STORE>(planned))
    }

    /// The rest of a commit of `state` as the next version, computed without changing the
    /// tree: its length and version, and for a persistent tree the store write.
    fn prepare(
        &self,
        state: State<Packed>,
        made: Made,
        (order, replaced): (Vec<Place>, Vec<NodeId>),
        root: RootDigest,
        results: &[OpResult],
    ) -> Result<Planned, TreeError> {
        let version = self
            .version
            .checked_add(1)
            .ok_or_else(|| TreeError::Malformed)?;
        let mut len = self.len;
        for r in results {
            match r {
                Ok(Outcome::Inserted) => {
                    len = len.checked_add(1).ok_or_else(|| TreeError::Malformed)?
                }
                Ok(Outcome::Removed) => {
                    len = len.checked_sub(1).ok_or_else(|| TreeError::Malformed)?
                }
                _ => {}
            }
        }
        // Placement puts each node into a freed slot or at the end.
        if self.nodes.len().saturating_add(order.len()) >= LOADED {
            return Err(TreeError::Malformed);
        }
        let mut planned = Planned {
            changed: state.root != self.state.root,
            state,
            made,
            order,
            replaced,
            root,
            len,
            version,
            writes: None,
            stale: Vec::new(),
            oldest: 0,
            expired: Vec::new(),
        };
        if let Some(disk) = &self.disk {
            let Made {
                nodes,
                strings,
                loaded,
                ..
            } = &planned.made;
            let strings = Strings {
                base: &self.pool,
                own: strings,
                stored: &loaded.strings,
            };
            let written = Written {
                base: &self.nodes,
                new: nodes,
                loaded,
                strings,
                versions: &disk.versions,
                version,
            };
            let (order, replaced) = (&planned.order, &planned.replaced);
            let (batch, stale) = written.records(order, replaced, planned.state.root, root, len)?;
            let (batch, oldest, expired) = written.advance::<H>(disk, batch, &stale)?;
            planned.writes = Some(batch);
            planned.stale = stale;
            planned.oldest = oldest;
            planned.expired = expired;
        }
        Ok(planned)
    }

    /// Makes a planned commit the tree's (its store write is made): the bookkeeping of
    /// expiry, then the placement. Returns how many nodes it placed.
    fn place<const STORE: bool>(&mut self, planned: Planned) -> usize {
        let Planned {
            state,
            made,
            order,
            replaced,
            changed,
            root,
            len,
            version,
            stale,
            oldest,
            expired,
            ..
        } = planned;
        if let Some(disk) = &mut self.disk {
            for w in expired {
                disk.recent.take(w);
            }
            disk.recent.insert(version, stale);
            disk.oldest = oldest;
        }
        self.generation = self.generation.wrapping_add(1);
        let Made {
            nodes: mut new,
            strings: mut own,
            released,
            mut loaded,
        } = made;
        let base_len = self.nodes.len();
        let free_before = self.free.len();
        self.free.extend(replaced);
        let remap = |id: NodeId, new: &[NodeId], loaded: &[NodeId]| match region_of::<STORE>(
            id, base_len,
        ) {
            Some(Region::New(j)) => new.get(j).copied(),
            Some(Region::Loaded(j)) => loaded.get(j).copied(),
            _ => Some(id),
        };
        // The strings the batch took out of the tree are free now; the batch's own and loaded
        // strings that the new tree holds move into the pool (each once, however many nodes
        // hold it).
        if changed {
            for r in released {
                self.pool.free(r);
            }
        }
        let mut moved = (Moved::from(&own), Moved::from(&loaded.strings));
        let mut placed_new = vec![NodeId::HOLE; new.len()];
        let mut placed_loaded = vec![NodeId::HOLE; loaded.nodes.len()];
        let placing = order.len();
        for place in order {
            let (slot, node_version) = match place {
                Place::New(j) => (new.get_mut(j), version),
                Place::Loaded(j) | Place::Opened(_, j) => (
                    loaded.nodes.get_mut(j),
                    loaded.versions.get(j).copied().unwrap_or(0),
                ),
            };
            let Some(slot) = slot else { continue };
            let mut node = core::mem::replace(slot, vacant());
            let pool = &mut self.pool;
            let mut adopt = |r: Ref| {
                if r.own() {
                    pool.adopt(&mut own, &mut moved.0, r)
                } else if r.stored() {
                    pool.adopt(&mut loaded.strings, &mut moved.1, r)
                } else {
                    r
                }
            };
            match &mut node.kind {
                Kind::Internal(i) => {
                    i.left = remap(i.left, &placed_new, &placed_loaded).unwrap_or(NodeId::HOLE);
                    i.right = remap(i.right, &placed_new, &placed_loaded).unwrap_or(NodeId::HOLE);
                    if i.route.key != Ref::NONE {
                        i.route.key = adopt(i.route.key);
                    }
                }
                Kind::Leaf(leaf) => {
                    leaf.key = adopt(leaf.key);
                    leaf.next = leaf.next.map(&mut adopt);
                    leaf.value = adopt(leaf.value);
                }
            }
            let at = match place {
                Place::Opened(i, _) => NodeId::node(i),
                Place::New(_) | Place::Loaded(_) => self.free.pop(),
            };
            let id = self.put(at, node, node_version);
            let placed = match place {
                Place::New(j) => placed_new.get_mut(j),
                Place::Loaded(j) => placed_loaded.get_mut(j),
                Place::Opened(..) => None,
            };
            if let Some(p) = placed {
                *p = id;
            }
        }
        // Placement took this commit's freed slots first (the free list is a stack); the ones
        // it left still hold the replaced nodes, which go now (their strings are still held
        // or were released).
        for k in free_before..self.free.len() {
            if let Some(&id) = self.free.get(k) {
                self.put(Some(id), vacant(), 0);
            }
        }
        self.state = State {
            root: state
                .root
                .and_then(|r| remap(r, &placed_new, &placed_loaded)),
            height: state.height,
        };
        self.len = len;
        self.root = root;
        self.version = version;
        placing
    }

    /// Writes `node` (record version `version`) into slot `at`, or a new slot at the end if
    /// `None`; returns its id. Keeps the count of stubs.
    #[inline(always)]
    fn put(&mut self, at: Option<NodeId>, node: PNode, version: u64) -> NodeId {
        if self.disk.is_some() {
            return self.put_stored(at, node, version);
        }
        // In memory: no stubs, no record versions.
        let slot = at.and_then(|id| Some((id, self.nodes.get_mut(id.index()?)?)));
        if let Some((id, slot)) = slot {
            *slot = node;
            return id;
        }
        let id = NodeId::node(self.nodes.len()).unwrap_or(NodeId::HOLE);
        self.nodes.push(node);
        id
    }

    /// [`Tree::put`] for a persistent tree.
    #[inline(never)]
    fn put_stored(&mut self, at: Option<NodeId>, node: PNode, version: u64) -> NodeId {
        let stub_now = is_stub(&node);
        let slot = at.and_then(|id| Some((id, id.index()?)));
        let (id, was_stub) = match slot.and_then(|(id, i)| Some((id, self.nodes.get_mut(i)?))) {
            Some((id, slot)) => {
                let was = is_stub(slot);
                *slot = node;
                if let Some(disk) = &mut self.disk {
                    if let Some(v) = id.index().and_then(|i| disk.versions.get_mut(i)) {
                        *v = version;
                    }
                }
                (id, was)
            }
            None => {
                let id = NodeId::node(self.nodes.len()).unwrap_or(NodeId::HOLE);
                self.nodes.push(node);
                if let Some(disk) = &mut self.disk {
                    disk.versions.push(version);
                }
                (id, false)
            }
        };
        if let Some(disk) = &mut self.disk {
            disk.stubs = disk
                .stubs
                .saturating_add(usize::from(stub_now))
                .saturating_sub(usize::from(was_stub));
        }
        id
    }

    /// Beyond a persistent tree's memory budget: the top levels that fit in half of it stay,
    /// everything deeper becomes stubs again (reloaded on demand), and the strings no node
    /// holds any more are freed. Top levels are the ones every walk crosses.
    fn melt(&mut self) {
        let Some(budget) = self.disk.as_ref().map(|d| d.config.memory_budget) else {
            return;
        };
        let Some(root) = self.state.root else { return };
        if self.loaded_bytes() <= budget {
            return;
        }
        let mut per_depth = Vec::new();
        self.measure(root, 0, &mut per_depth);
        self.evict(root, 0, crate::tree::keep_depth(&per_depth, budget));
        self.sweep_strings();
        self.generation = self.generation.wrapping_add(1);
    }

    /// Bytes of the nodes in memory below and at `id`, by depth.
    fn measure(&self, id: NodeId, depth: usize, per_depth: &mut Vec<usize>) {
        let Some(node) = id.index().and_then(|i| self.nodes.get(i)) else {
            return;
        };
        if is_stub(node) {
            return;
        }
        if per_depth.len() <= depth {
            per_depth.resize(depth.saturating_add(1), 0);
        }
        let strings = match &node.kind {
            Kind::Leaf(leaf) => 2usize.saturating_add(usize::from(leaf.next.is_some())),
            Kind::Internal(_) => 1,
        };
        let bytes = NODE_BYTES.saturating_add(strings.saturating_mul(STRING_BYTES));
        if let Some(slot) = per_depth.get_mut(depth) {
            *slot = slot.saturating_add(bytes);
        }
        if let Kind::Internal(i) = &node.kind {
            let (left, right) = (i.left, i.right);
            self.measure(left, depth.saturating_add(1), per_depth);
            self.measure(right, depth.saturating_add(1), per_depth);
        }
    }

    /// Makes every node deeper than `keep_depth` below `id` a stub: the node at
    /// `keep_depth + 1` keeps its label and version, the nodes below it are freed.
    fn evict(&mut self, id: NodeId, depth: usize, keep_depth: usize) {
        let Some(node) = id.index().and_then(|i| self.nodes.get(i)) else {
            return;
        };
        if is_stub(node) {
            return;
        }
        let children = node.as_internal().map(|i| (i.left, i.right));
        if depth > keep_depth {
            let label = node.label.committed();
            if let Some((left, right)) = children {
                self.free_subtree(left);
                self.free_subtree(right);
            }
            let version = self.version_of(id);
            self.put(Some(id), stub(label), version);
            return;
        }
        if let Some((left, right)) = children {
            let below = depth.saturating_add(1);
            self.evict(left, below, keep_depth);
            self.evict(right, below, keep_depth);
        }
    }

    /// Frees the slots of the subtree at `id` (its strings are swept after).
    fn free_subtree(&mut self, id: NodeId) {
        let Some(node) = id.index().and_then(|i| self.nodes.get(i)) else {
            return;
        };
        let children = node
            .as_internal()
            .filter(|_| !is_stub(node))
            .map(|i| (i.left, i.right));
        if let Some((left, right)) = children {
            self.free_subtree(left);
            self.free_subtree(right);
        }
        self.put(Some(id), vacant(), 0);
        self.free.push(id);
    }

    /// The record version of committed node `id`.
    fn version_of(&self, id: NodeId) -> u64 {
        let versions = self.disk.as_ref().map(|d| &d.versions);
        id.index()
            .and_then(|i| versions?.get(i).copied())
            .unwrap_or(0)
    }

    /// Frees every string of the pool that no node in memory holds (after an eviction: a
    /// key is held by its leaf, its predecessor and a routing key, which need not be
    /// evicted together).
    fn sweep_strings(&mut self) {
        let mut short = vec![false; self.pool.short.len()];
        let mut long = vec![false; self.pool.long.len()];
        let mut stack: Vec<NodeId> = self.state.root.into_iter().collect();
        let mut hold = |r: Ref| {
            let held = if r.long() {
                long.get_mut(r.index())
            } else {
                short.get_mut(r.index())
            };
            if let Some(h) = held {
                *h = true;
            }
        };
        while let Some(id) = stack.pop() {
            let Some(node) = id.index().and_then(|i| self.nodes.get(i)) else {
                continue;
            };
            match &node.kind {
                Kind::Internal(_) if is_stub(node) => {}
                Kind::Internal(i) => {
                    if i.route.key != Ref::NONE {
                        hold(i.route.key);
                    }
                    stack.push(i.left);
                    stack.push(i.right);
                }
                Kind::Leaf(leaf) => {
                    hold(leaf.key);
                    hold(leaf.value);
                    if let Some(next) = leaf.next {
                        hold(next);
                    }
                }
            }
        }
        let pool = &mut self.pool;
        pool.free_short = (0u32..)
            .zip(&short)
            .filter(|(_, held)| !**held)
            .map(|(i, _)| i)
            .collect();
        pool.free_long.clear();
        for (i, (slot, held)) in (0u32..).zip(pool.long.iter_mut().zip(&long)) {
            if !held {
                *slot = None;
                pool.free_long.push(i);
            }
        }
    }
}

/// A lookup's way down: its depth (at most the tree's height) and whether it went left at
/// every step so far.
struct Descent {
    depth: usize,
    height: usize,
    all_left: bool,
}

impl Descent {
    /// One step down, left if `left`; a walk deeper than the tree is malformed.
    fn step(&mut self, left: bool) -> Result<(), TreeError> {
        self.all_left &= left;
        self.depth = self.depth.saturating_add(1);
        if self.depth > self.height {
            return Err(TreeError::Malformed);
        }
        Ok(())
    }
}

/// Whether the leaf a walk for `key` reached (its key `leaf`, next key `next`; `all_left`:
/// the walk went left at every step) holds `key`. `Ok(false)` if it brackets `key`
/// (`leaf < key < next`) or `key` is before the first leaf; anything else means a routing
/// key sent the walk astray ([`TreeError::Misrouted`]).
fn answer(key: &[u8], leaf: &[u8], next: Option<&[u8]>, all_left: bool) -> Result<bool, TreeError> {
    if leaf == key {
        return Ok(true);
    }
    let bracketed = leaf < key && next.is_none_or(|n| key < n);
    let before_first = key < leaf && all_left;
    if bracketed || before_first {
        Ok(false)
    } else {
        Err(TreeError::Misrouted)
    }
}

/// A subtree an iteration has still to walk: in memory, or a record in the store.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Memory(NodeId),
    Stored(NodeKey),
}

/// The entries of a tree or snapshot in key order ([`Tree::iter`], [`Tree::range`]): a
/// depth-first walk that reads nodes without keeping them and skips subtrees outside the
/// range by their routing keys. Yields an error (and then ends) if a node cannot be read.
pub struct Entries<'t, H: TreeHasher> {
    tree: &'t Tree<H>,
    stack: Vec<Pending>,
    range: KeyRange,
    done: bool,
}

impl<H: TreeHasher> core::fmt::Debug for Entries<'_, H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entries")
            .field("pending", &self.stack.len())
            .finish()
    }
}

impl<H: TreeHasher> Entries<'_, H> {
    /// Pushes the children of an internal node with routing key `route` that can hold keys
    /// in the range (the right one first, so the left one is walked first).
    fn children(&mut self, route: &[u8], left: Pending, right: Pending) {
        // Right subtree: keys >= route; left: keys < route.
        if !self.range.after_end(route) {
            self.stack.push(right);
        }
        if !self.range.before_start_all_left(route) {
            self.stack.push(left);
        }
    }

    /// The entry of a leaf, or whether the walk is over (`None` to go on).
    fn leaf(
        &mut self,
        key: &[u8],
        value: impl FnOnce() -> Bytes,
    ) -> Option<Option<(Bytes, Bytes)>> {
        if self.range.after_end(key) {
            self.stack.clear();
            return Some(None);
        }
        if self.range.before_start(key) {
            return None;
        }
        Some(Some((Bytes::from(key), value())))
    }

    fn step(&mut self) -> Result<Option<(Bytes, Bytes)>, TreeError> {
        let tree = self.tree;
        while let Some(pending) = self.stack.pop() {
            let key = match pending {
                Pending::Memory(id) => {
                    let i = id.index().ok_or_else(|| TreeError::Malformed)?;
                    let node = tree.nodes.get(i).ok_or_else(|| TreeError::Malformed)?;
                    if is_stub(node) {
                        let version = tree.version_of(id);
                        let label = node.label.committed();
                        self.stack.push(Pending::Stored(NodeKey { version, label }));
                        continue;
                    }
                    match &node.kind {
                        Kind::Internal(internal) => {
                            if internal.route.key == Ref::NONE {
                                return Err(TreeError::Malformed);
                            }
                            let route = tree.pool.get(internal.route.key);
                            let (left, right) = (internal.left, internal.right);
                            self.children(route, Pending::Memory(left), Pending::Memory(right));
                        }
                        Kind::Leaf(leaf) => {
                            let value = || tree.pool.shared(leaf.value);
                            if let Some(entry) = self.leaf(tree.pool.get(leaf.key), value) {
                                return Ok(entry);
                            }
                        }
                    }
                    continue;
                }
                Pending::Stored(key) => key,
            };
            // Not kept: a walk over many records would push out what lookups and proofs use.
            let records = source(&tree.disk, tree.limits, false);
            let records = records.ok_or_else(|| TreeError::Malformed)?;
            let entry = records.with::<H, _>(&key, |stored, _| match stored {
                Stored::Internal {
                    left, right, route, ..
                } => {
                    let route = route.ok_or_else(|| TreeError::Malformed)?;
                    self.children(route, Pending::Stored(left), Pending::Stored(right));
                    Ok::<_, TreeError>(None)
                }
                Stored::Leaf { key, value, .. } => Ok(self.leaf(key, || Bytes::from(value))),
            })??;
            if let Some(entry) = entry {
                return Ok(entry);
            }
        }
        Ok(None)
    }
}

impl<H: TreeHasher> Iterator for Entries<'_, H> {
    type Item = Result<(Bytes, Bytes), TreeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.step();
        yielded(&mut self.done, step)
    }
}

/// A batch run, proven and ready to commit ([`Tree::stage`]); dropping it commits nothing.
pub struct StagedBatch {
    batch: BatchProof,
    /// The version, root and slot generation it was staged on.
    base: (u64, RootDigest, u64),
    planned: Planned,
}

impl core::fmt::Debug for StagedBatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StagedBatch")
            .field("batch", &self.batch)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The writes of an in-memory tree's staged batch.
static NO_WRITES: WriteBatch = WriteBatch { ops: Vec::new() };

impl StagedBatch {
    /// The results, proof and roots the batch will have once committed.
    pub fn proof(&self) -> &BatchProof {
        &self.batch
    }

    /// The store writes that commit it, to be applied atomically (empty in memory).
    pub fn writes(&self) -> &WriteBatch {
        self.planned.writes.as_ref().unwrap_or(&NO_WRITES)
    }
}

/// A read-only view of one kept version of a persistent tree; `Send` and `Sync`, so readers
/// on other threads can answer lookups and proofs while the writer commits.
///
/// ```
/// use std::sync::Arc;
/// use avlplus::{store::{MemoryStore, StoreConfig}, Operation, Tree};
/// let mut tree: Tree = Tree::create_store(Arc::new(MemoryStore::new()), StoreConfig::default())?;
/// let v1 = tree.apply(&[Operation::insert(b"a", b"1")])?.version;
/// tree.apply(&[Operation::update(b"a", b"2")])?;
/// let old = tree.snapshot(v1)?;
/// let reader = std::thread::spawn(move || old.get(b"a"));
/// assert_eq!(reader.join().unwrap()?.as_deref(), Some(&b"1"[..]));
/// # Ok::<(), avlplus::TreeError>(())
/// ```
#[derive(Debug)]
pub struct Snapshot<H: TreeHasher = Sha256> {
    tree: Tree<H>,
}

impl<H: TreeHasher> Snapshot<H> {
    /// The version this snapshot shows.
    pub fn version(&self) -> u64 {
        self.tree.version
    }

    /// Its root digest.
    pub fn root(&self) -> RootDigest {
        self.tree.root
    }

    /// Number of entries in this version.
    pub fn len(&self) -> u64 {
        self.tree.len
    }

    /// Whether this version has no entries.
    pub fn is_empty(&self) -> bool {
        self.tree.len == 0
    }

    /// Reads a value without a proof.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TreeError> {
        self.tree.get(key)
    }

    /// Proves a batch against this version without applying it (a historical query).
    pub fn prove(&self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        self.tree.prove(ops)
    }

    /// The entries with keys in `range`, streamed.
    pub fn range<K: AsRef<[u8]>, R: core::ops::RangeBounds<K>>(&self, range: R) -> Entries<'_, H> {
        self.tree.range(range)
    }
    /// Every entry in key order.
    pub fn entries(&self) -> Result<Vec<(Bytes, Bytes)>, TreeError> {
        self.tree.entries()
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool, TreeError> {
        self.tree.contains_key(key)
    }

    /// The entries in key order, streamed.
    pub fn iter(&self) -> Entries<'_, H> {
        self.tree.iter()
    }

    /// Checks this version's structure (labels, balance, order, next keys, routes, height).
    pub fn audit(&self) -> Result<crate::audit::Audit, crate::audit::AuditError> {
        self.tree.structure()
    }
}

/// What a persistent commit writes from: the committed nodes, the batch's own and loaded
/// ones, their strings, the committed nodes' record versions and the new version.
struct Written<'a> {
    base: &'a Chunks<PNode>,
    new: &'a [PNode],
    loaded: &'a Loaded,
    strings: Strings<'a>,
    versions: &'a Chunks<u64>,
    version: u64,
}

impl Written<'_> {
    /// The record key of the node `id` names (the batch's own nodes are sealed).
    fn key(&self, id: NodeId) -> Option<NodeKey> {
        Some(match region(id, self.base.len())? {
            Region::Base(i) => NodeKey {
                version: self.versions.get(i).copied()?,
                label: self.base.get(i)?.label.committed(),
            },
            Region::Loaded(j) => NodeKey {
                version: self.loaded.versions.get(j).copied()?,
                label: self.loaded.nodes.get(j)?.label.committed(),
            },
            Region::New(j) => NodeKey {
                version: self.version,
                label: self.new.get(j)?.label.get()?,
            },
        })
    }

    /// The records of the batch's own nodes in `order`, the version record, and what the
    /// commit makes stale: the pre-state nodes the batch read (`replaced` committed ones,
    /// and loaded ones) that the new tree no longer reaches.
    fn records(
        &self,
        order: &[Place],
        replaced: &[NodeId],
        new_root: Option<NodeId>,
        root: RootDigest,
        len: u64,
    ) -> Result<(WriteBatch, Vec<NodeKey>), TreeError> {
        let mut batch = WriteBatch::default();
        let mut reached = vec![false; self.loaded.nodes.len()];
        for place in order {
            let j = match *place {
                Place::New(j) => j,
                Place::Loaded(j) => {
                    if let Some(r) = reached.get_mut(j) {
                        *r = true;
                    }
                    continue;
                }
                Place::Opened(..) => continue,
            };
            let node = self.new.get(j).ok_or_else(|| TreeError::Malformed)?;
            let key = NodeKey {
                version: self.version,
                label: node.label.get().ok_or_else(|| TreeError::Malformed)?,
            };
            let get = |r: Ref| self.strings.get(r);
            let stored = match &node.kind {
                Kind::Leaf(leaf) => Stored::Leaf {
                    key: get(leaf.key),
                    next: leaf.next.map(get),
                    value: get(leaf.value),
                },
                Kind::Internal(i) => Stored::Internal {
                    balance: i.balance,
                    left: self.key(i.left).ok_or_else(|| TreeError::Malformed)?,
                    right: self.key(i.right).ok_or_else(|| TreeError::Malformed)?,
                    route: (i.route.key != Ref::NONE).then(|| get(i.route.key)),
                },
            };
            let encoded = key.encode();
            let value = layout::seal_record(Table::Nodes, &encoded, encode_stored(&stored));
            batch.put(Table::Nodes, encoded, value);
        }
        let root_record = new_root.and_then(|r| self.key(r)).map_or(0, |k| k.version);
        layout::write_version(
            &mut batch,
            self.version,
            &VersionRecord {
                root,
                root_record,
                len,
            },
        );
        let mut stale: Vec<NodeKey> = replaced.iter().filter_map(|&id| self.key(id)).collect();
        for (j, (read, reached)) in self.loaded.read.iter().zip(&reached).enumerate() {
            if *read && !*reached {
                let id = LOADED.checked_add(j).and_then(NodeId::node);
                stale.extend(id.and_then(|id| self.key(id)));
            }
        }
        Ok((batch, stale))
    }

    /// Adds the expiry of the versions leaving `disk`'s window and the new window; returns
    /// the write, the new oldest version and the versions whose stale lists it used.
    fn advance<H: TreeHasher>(
        &self,
        disk: &Disk,
        mut batch: WriteBatch,
        stale: &[NodeKey],
    ) -> Result<(WriteBatch, u64, Vec<u64>), TreeError> {
        let (oldest, expired) = collect::advance_window::<H>(
            disk.backend.as_ref(),
            &mut batch,
            (&disk.config, &disk.recent, disk.oldest),
            self.version,
            stale,
        )?;
        Ok((batch, oldest, expired))
    }
}

/// The nodes a commit of `state` places, children first (see [`reachable`]); `None` if the
/// batch kept the old root (lookups, failed operations) and loaded nothing: it changed
/// nothing, and replaced nothing (loaded nodes stay in memory, so a batch that loaded is
/// placed even if it changed nothing).
fn plan<const STORE: bool>(
    (base, made): (&Chunks<PNode>, &Made),
    state: &State<Packed>,
    old_root: Option<NodeId>,
    keep: &mut dyn FnMut(NodeId) -> bool,
) -> Option<Vec<Place>> {
    if state.root == old_root && made.loaded.nodes.is_empty() {
        return None;
    }
    let mut order = Vec::with_capacity(made.nodes.len().saturating_add(made.loaded.nodes.len()));
    if let Some(root) = state.root {
        let parts = (base, made.nodes.as_slice(), &made.loaded);
        reachable::<STORE>(parts, root, keep, &mut order);
    }
    Some(order)
}

/// A commit planned, with its store write, not yet made.
struct Planned {
    state: State<Packed>,
    made: Made,
    /// What it places, children first.
    order: Vec<Place>,
    /// The committed nodes it replaces (their slots are freed).
    replaced: Vec<NodeId>,
    /// Whether the root changed (else the batch's released strings stay).
    changed: bool,
    root: RootDigest,
    len: u64,
    version: u64,
    /// A persistent tree's write: records, version record, expiry and window.
    writes: Option<WriteBatch>,
    /// What the commit makes stale (for a later expiry).
    stale: Vec<NodeKey>,
    /// The oldest kept version after it.
    oldest: u64,
    /// Versions whose stale lists its expiry used.
    expired: Vec<u64>,
}

/// Collects, from `id` down, the nodes a commit places (children first), and passes the
/// committed nodes the tree reaches to `keep`, which is true for touched ones it had not
/// seen. Enters only those: an untouched committed node's subtree is unchanged and holds no
/// touched node (a node is read only by walking through its ancestors). A committed stub
/// the batch opened is placed with the node it opened; a loaded stub is placed as it is.
fn reachable<const STORE: bool>(
    (base, new, loaded): (&Chunks<PNode>, &[PNode], &Loaded),
    id: NodeId,
    keep: &mut dyn FnMut(NodeId) -> bool,
    order: &mut Vec<Place>,
) {
    let Some(at) = region_of::<STORE>(id, base.len()) else {
        return;
    };
    let (node, place) = match at {
        Region::Base(i) => {
            if !keep(id) {
                return;
            }
            match base.get(i) {
                Some(n) if STORE && is_stub(n) => {
                    let Some(j) = loaded.opened_index(i) else {
                        return;
                    };
                    (loaded.nodes.get(j), Some(Place::Opened(i, j)))
                }
                other => (other, None),
            }
        }
        Region::Loaded(j) => (loaded.nodes.get(j), Some(Place::Loaded(j))),
        Region::New(j) => (new.get(j), Some(Place::New(j))),
    };
    if let Some(Kind::Internal(internal)) = node.filter(|n| !STORE || !is_stub(n)).map(|n| &n.kind)
    {
        reachable::<STORE>((base, new, loaded), internal.left, keep, order);
        reachable::<STORE>((base, new, loaded), internal.right, keep, order);
    }
    if let Some(place) = place {
        order.push(place);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Blake3, Failure, Verifier};
    use quickcheck::{quickcheck, TestResult};
    use std::collections::BTreeMap;

    /// The reference every test here holds the tree to: a `BTreeMap`, and each operation's
    /// result as its definition gives it.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Model(BTreeMap<Vec<u8>, Vec<u8>>);

    impl Model {
        fn apply(&mut self, ops: &[Operation]) -> Vec<OpResult> {
            ops.iter().map(|op| self.one(op)).collect()
        }

        /// The results of `ops`, changing nothing (a what-if proof's).
        fn what_if(&self, ops: &[Operation]) -> Vec<OpResult> {
            self.clone().apply(ops)
        }

        fn one(&mut self, op: &Operation) -> OpResult {
            let (map, k) = (&mut self.0, op.key().to_vec());
            match op {
                Operation::Lookup(_) => Ok(map
                    .get(&k)
                    .map_or(Outcome::NotFound, |v| Outcome::Found(Bytes::from(&v[..])))),
                Operation::Insert(_, v) if !map.contains_key(&k) => {
                    map.insert(k, v.to_vec());
                    Ok(Outcome::Inserted)
                }
                Operation::Insert(..) => Err(Failure::KeyExists),
                Operation::Update(_, v) => match map.get_mut(&k) {
                    Some(slot) => {
                        *slot = v.to_vec();
                        Ok(Outcome::Updated)
                    }
                    None => Err(Failure::KeyMissing),
                },
                Operation::Upsert(_, v) => Ok(match map.insert(k, v.to_vec()) {
                    Some(_) => Outcome::Updated,
                    None => Outcome::Inserted,
                }),
                Operation::Remove(_) => map
                    .remove(&k)
                    .map(|_| Outcome::Removed)
                    .ok_or(Failure::KeyMissing),
                Operation::RemoveIfPresent(_) => Ok(map
                    .remove(&k)
                    .map_or(Outcome::NotFound, |_| Outcome::Removed)),
            }
        }

        fn get(&self, key: &[u8]) -> Option<Bytes> {
            self.0.get(key).map(|v| Bytes::from(&v[..]))
        }

        fn len(&self) -> u64 {
            self.0.len() as u64
        }

        fn entries(&self) -> Vec<(Bytes, Bytes)> {
            self.range(..)
        }

        fn range<'a>(
            &'a self,
            range: impl core::ops::RangeBounds<&'a [u8]>,
        ) -> Vec<(Bytes, Bytes)> {
            use core::ops::Bound;
            let own = |b: Bound<&&[u8]>| b.map(|k| k.to_vec());
            self.0
                .range((own(range.start_bound()), own(range.end_bound())))
                .map(|(k, v)| (Bytes::from(&k[..]), Bytes::from(&v[..])))
                .collect()
        }
    }

    /// A batch as a light client sees it: its proof, replayed from the root it trusts, gives
    /// the batch's results (the model's, `expected`) and its new root.
    fn verified<H: TreeHasher>(batch: &BatchProof, ops: &[Operation], expected: &[OpResult]) {
        assert_eq!(batch.results, expected, "the model's results");
        let verified = Verifier::<H>::new()
            .verify(&batch.old_root, batch.proof.as_bytes(), ops)
            .expect("the proof verifies");
        assert_eq!(verified.results, batch.results);
        assert_eq!(verified.new_root, batch.new_root);
    }

    /// The tree reads as the model does: every key of `ops`, and all entries.
    fn reads_as<H: TreeHasher>(tree: &Tree<H>, model: &Model, ops: &[Operation]) {
        assert_eq!(tree.len(), model.len());
        for op in ops {
            let key = op.key();
            assert_eq!(tree.get(key).unwrap(), model.get(key));
            assert_eq!(tree.contains_key(key).unwrap(), model.get(key).is_some());
        }
        assert_eq!(tree.entries().unwrap(), model.entries());
    }

    /// Nodes the committed tree reaches, as its audit counts them (the leak check).
    fn reached<H: TreeHasher>(arena: &Tree<H>) -> usize {
        let audit = arena.audit().unwrap();
        audit.leaves + audit.internal
    }

    fn ops_from(spec: &[(u8, u8, u8)]) -> Vec<Operation> {
        spec.iter()
            .map(|&(kind, k, v)| {
                // Some keys longer than a pool slot; values of 1 to 40 bytes.
                let key = vec![
                    k % 64;
                    if k % 3 == 0 {
                        33 + usize::from(k % 8)
                    } else {
                        3
                    }
                ];
                let value = vec![v; 1 + usize::from(v % 40)];
                match kind % 7 {
                    0 => Operation::insert(key.clone(), value.clone()),
                    1 => Operation::update(key.clone(), value.clone()),
                    2 => Operation::remove(key.clone()),
                    3 => Operation::lookup(key.clone()),
                    4 => Operation::upsert(key.clone(), value.clone()),
                    5 => Operation::remove_if_present(key),
                    _ => Operation::insert(key.clone(), value.clone()),
                }
            })
            .collect()
    }

    /// Batch by batch, applied, staged or what-if: the model's results, proofs that verify
    /// from the root before, and an arena that holds the live tree and no more.
    fn same_as_model(batches: Vec<Vec<(u8, u8, u8)>>) -> TestResult {
        let mut model = Model::default();
        let mut arena: Tree<Blake3> = Tree::empty();
        for (b, spec) in batches.iter().enumerate() {
            let ops = ops_from(spec);
            if b % 3 == 2 {
                let root = arena.root();
                let what_if = arena.prove(&ops).expect("what-if");
                verified::<Blake3>(&what_if, &ops, &model.what_if(&ops));
                assert_eq!((what_if.old_root, arena.root()), (root, root));
                continue;
            }
            let batch = if b % 3 == 1 {
                let staged = arena.stage(&ops).expect("staged");
                assert!(staged.writes().ops.is_empty());
                arena.commit_staged(staged).expect("commit")
            } else {
                arena.apply(&ops).expect("batch")
            };
            verified::<Blake3>(&batch, &ops, &model.apply(&ops));
            assert_eq!(arena.root(), batch.new_root);
            let live = usize::try_from(arena.len().saturating_mul(2).saturating_sub(1)).unwrap();
            assert_eq!(arena.live_nodes(), live, "no leaked or doubly used slot");
            assert_eq!(reached(&arena), live);
            // One string per key (shared by its leaf, next key and route) and per value.
            let strings = usize::try_from(arena.len() * 2).unwrap();
            assert_eq!(
                arena.live_strings(),
                strings,
                "no leaked or doubly used string"
            );
            assert_eq!(
                arena.audit().unwrap().leaves,
                usize::try_from(model.len()).unwrap()
            );
            reads_as(&arena, &model, &ops);
        }
        TestResult::passed()
    }

    /// Every record of `store`, table by table.
    fn contents(store: &crate::store::MemoryStore) -> Vec<(Table, Vec<u8>, Vec<u8>)> {
        let mut all = Vec::new();
        for table in Table::ALL {
            for key in store.keys(table) {
                let value = store.get(table, &key).unwrap().unwrap();
                all.push((table, key, value));
            }
        }
        all
    }

    /// Slots the committed tree reaches, stubs included (each once), and its stubs.
    fn reached_slots<H: TreeHasher>(arena: &Tree<H>) -> (usize, usize) {
        let mut seen = std::collections::HashSet::new();
        let mut stubs = 0;
        let mut stack: Vec<NodeId> = arena.state.root.into_iter().collect();
        while let Some(id) = stack.pop() {
            assert!(seen.insert(id), "a slot reached twice");
            let node = arena.nodes.get(id.index().unwrap()).unwrap();
            stubs += usize::from(is_stub(node));
            if let (false, Kind::Internal(i)) = (is_stub(node), &node.kind) {
                stack.extend([i.left, i.right]);
            }
        }
        (seen.len(), stubs)
    }

    /// Batch by batch on a store (versions expiring, nodes loaded and evicted, the store
    /// reopened once, snapshots, rollbacks, staged batches written by the caller): the
    /// model's results and reads, proofs that verify, the same proofs as the same batches in
    /// memory get, a store the audit finds whole, and an arena that holds the slots its tree
    /// reaches and no more, within the memory budget.
    fn same_store_as_model(batches: Vec<Vec<(u8, u8, u8)>>, budget: u16, reopen: u8) -> TestResult {
        let batches: Vec<Vec<Operation>> = batches.iter().map(|b| ops_from(b)).collect();
        same_store_with(&batches, usize::from(budget) * 8, reopen);
        TestResult::passed()
    }

    fn same_store_with(batches: &[Vec<Operation>], budget: usize, reopen: u8) {
        use crate::store::MemoryStore;
        let config = StoreConfig::default()
            .keep_versions(3)
            .memory_budget(budget);
        let ours = Arc::new(MemoryStore::new());
        let mut arena = Tree::<Blake3>::create_store(ours.clone(), config).unwrap();
        // The same batches in memory, until the first rollback (memory cannot roll back).
        let mut memory = Some(Tree::<Blake3>::empty());
        // The model at each version.
        let mut models = vec![Model::default()];
        for (b, ops) in batches.iter().enumerate() {
            let ops = ops.as_slice();
            let mut model = models.last().cloned().unwrap();
            if b == usize::from(reopen % 32) {
                arena = Tree::open_store(ours.clone(), config).unwrap();
            }
            if b % 4 == 3 {
                let what_if = arena.prove(ops).unwrap();
                verified::<Blake3>(&what_if, ops, &model.what_if(ops));
                if let Some(memory) = &memory {
                    assert_eq!(what_if, memory.prove(ops).unwrap());
                }
                continue;
            }
            if b % 7 == 6 {
                // A snapshot of the oldest kept version, then a rollback to the one before
                // the head (kept: the window holds 3).
                let kept = arena.kept_versions().unwrap();
                assert_eq!(*kept.end(), arena.version());
                let start = *kept.start();
                let then = arena.snapshot(start).unwrap();
                let model_then = &models[usize::try_from(start).unwrap()];
                assert_eq!((then.version(), then.len()), (start, model_then.len()));
                let what_if = then.prove(ops).unwrap();
                assert_eq!(what_if.old_root, then.root());
                verified::<Blake3>(&what_if, ops, &model_then.what_if(ops));
                for op in ops {
                    assert_eq!(then.get(op.key()).unwrap(), model_then.get(op.key()));
                }
                let all: Vec<_> = then
                    .range::<&[u8], _>(..)
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(all, model_then.entries());
                assert_eq!(then.audit().unwrap().leaves as u64, model_then.len());
                let back = arena.version().saturating_sub(1).max(start);
                arena.rollback(back).unwrap();
                models.truncate(usize::try_from(back).unwrap() + 1);
                model = models.last().cloned().unwrap();
                assert_eq!(arena.version(), back);
                assert_eq!(arena.len(), model.len());
                arena.audit().unwrap();
                memory = memory.filter(|m| m.version() == back);
            }
            if b % 5 == 4 {
                let results = arena.apply_unproven(ops).unwrap();
                assert_eq!(results, model.apply(ops));
                if let Some(memory) = &mut memory {
                    assert_eq!(memory.apply_unproven(ops).unwrap(), results);
                }
            } else if b % 6 == 2 {
                // Staged, written by the caller and adopted; one staged beside it is then
                // out of date.
                let late = arena.stage(ops).unwrap();
                let staged = arena.stage(ops).unwrap();
                assert_eq!(staged.proof(), late.proof());
                ours.write(staged.writes().clone(), true).unwrap();
                let adopted = arena.adopt_staged(staged).unwrap();
                verified::<Blake3>(&adopted, ops, &model.apply(ops));
                if let Some(memory) = &mut memory {
                    assert_eq!(memory.apply(ops).unwrap(), adopted);
                }
                let refused = arena.commit_staged(late).unwrap_err();
                assert_eq!(refused, TreeError::StagedOutOfDate);
            } else {
                let batch = arena.apply(ops).unwrap();
                verified::<Blake3>(&batch, ops, &model.apply(ops));
                if let Some(memory) = &mut memory {
                    assert_eq!(memory.apply(ops).unwrap(), batch);
                }
            }
            models.push(model.clone());
            assert_eq!(arena.version() as usize + 1, models.len());
            if let Some(memory) = &memory {
                assert_eq!((arena.root(), arena.len()), (memory.root(), memory.len()));
            }
            reads_as(&arena, &model, ops);
            if let [first, .., last] = ops {
                let (a, z) = (first.key().min(last.key()), first.key().max(last.key()));
                let ours: Vec<_> = arena.range(a..z).collect::<Result<_, _>>().unwrap();
                assert_eq!(ours, model.range(a..z));
                let ours: Vec<_> = arena.range(a..=z).collect::<Result<_, _>>().unwrap();
                assert_eq!(ours, model.range(a..=z));
            }
            // The store holds every record a kept version reaches and no other.
            let audit = arena.audit().unwrap();
            assert_eq!(audit.leaves as u64, model.len());
            let (slots, stubs) = reached_slots(&arena);
            assert_eq!(slots, arena.live_nodes(), "no leaked slot");
            assert_eq!(
                Some(stubs),
                arena.disk.as_ref().map(|d| d.stubs),
                "stubs counted"
            );
            // Beyond the budget, the top levels that fit in half of it stay.
            let bound = config.memory_budget.max(4 * (NODE_BYTES + STRING_BYTES));
            assert!(arena.loaded_bytes() <= bound);
            let whole = usize::try_from(arena.len()).unwrap() * 2 * NODE_BYTES;
            // The root stays in memory, whatever the budget.
            if whole > config.memory_budget.saturating_mul(2) && arena.len() > 1 {
                assert!(arena.disk.as_ref().is_some_and(|d| d.stubs > 0), "evicted");
            }
        }
        let reopened = Tree::<Blake3>::open_store(ours, config).unwrap();
        assert_eq!(reopened.audit().unwrap(), arena.audit().unwrap());
        assert_eq!(
            reopened.entries().unwrap(),
            models.last().unwrap().entries()
        );
    }

    #[test]
    fn persistent_batches_match_the_model() {
        quickcheck(same_store_as_model as fn(Vec<Vec<(u8, u8, u8)>>, u16, u8) -> TestResult);
    }

    #[test]
    fn deep_persistent_trees_match_the_model() {
        // 3000 keys of 2 bytes (a tree about 14 levels deep), values of 1 to 40 bytes.
        let mut next = xorshift(11);
        let batches: Vec<Vec<Operation>> = (0..30)
            .map(|b| {
                (0..if b < 4 { 1500 } else { 120 })
                    .map(|_| {
                        let r = next();
                        let key = ((r >> 8) % 3000) as u16;
                        let key = key.to_be_bytes().to_vec();
                        let value = vec![(r >> 24) as u8; 1 + (r >> 32) as usize % 40];
                        match r % 6 {
                            0 | 1 if b >= 4 => Operation::lookup(key),
                            2 if b >= 4 => Operation::remove_if_present(key),
                            3 => Operation::upsert(key, value),
                            _ => Operation::insert(key, value),
                        }
                    })
                    .collect()
            })
            .collect();
        for (budget, reopen) in [(0, 9), (20_000, 5), (60_000, 17), (usize::MAX, 6)] {
            same_store_with(&batches, budget, reopen);
        }
    }

    /// A record the batch needs is missing: the batch fails with the store's error and
    /// changes nothing, in memory or in the store; once the record is back, the same batch
    /// gives what it gives in memory.
    #[test]
    fn a_missing_record_fails_the_batch_and_changes_nothing() {
        use crate::store::MemoryStore;
        let config = StoreConfig::default().memory_budget(0);
        let ours = Arc::new(MemoryStore::new());
        let mut arena = Tree::<Blake3>::create_store(ours.clone(), config).unwrap();
        let mut memory = Tree::<Blake3>::empty();
        let ops: Vec<Operation> = (0u16..400)
            .map(|k| Operation::insert(k.to_be_bytes(), [7u8; 40]))
            .collect();
        assert_eq!(arena.apply(&ops).unwrap(), memory.apply(&ops).unwrap());
        let before = (arena.root(), arena.len(), arena.version(), contents(&ours));
        // The leaf of key 123 (budget 0: only the root is in memory).
        let key = ours
            .keys(Table::Nodes)
            .into_iter()
            .find(|k| {
                let value = ours.get(Table::Nodes, k).unwrap().unwrap();
                // A leaf (tag 0), its key of length 2.
                value.starts_with(&[0, 2, 0, 123])
            })
            .unwrap();
        let record = ours.get(Table::Nodes, &key).unwrap().unwrap();
        ours.remove(Table::Nodes, &key);
        let batch = [Operation::update(123u16.to_be_bytes(), [8u8; 40])];
        let err = arena.apply(&batch).unwrap_err();
        assert!(
            matches!(err, TreeError::Store(StoreError::Missing(..))),
            "{err:?}"
        );
        assert!(matches!(arena.prove(&batch), Err(TreeError::Store(_))));
        ours.overwrite(Table::Nodes, key, record);
        let after = (arena.root(), arena.len(), arena.version(), contents(&ours));
        assert_eq!(after, before);
        assert_eq!(arena.apply(&batch).unwrap(), memory.apply(&batch).unwrap());
        arena.audit().unwrap();
    }

    /// Operations over the tree's size limits are refused before anything runs, naming the
    /// first one.
    #[test]
    fn operations_over_the_limits_change_nothing() {
        let limits = SizeLimits {
            max_key_len: 4,
            ..SizeLimits::DEFAULT
        };
        let mut arena = Tree::<Blake3>::with_limits(limits);
        assert_eq!(arena.limits(), &limits);
        let ops = [
            Operation::insert(b"k", b"v"),
            Operation::insert(b"12345", b"v"),
        ];
        assert_eq!(
            arena.apply(&ops).unwrap_err(),
            TreeError::Operation {
                index: 1,
                error: crate::OperationError::KeyTooLong
            }
        );
        assert_eq!(
            (arena.version(), arena.root()),
            (0, RootDigest::empty::<Blake3>())
        );
    }

    #[test]
    fn batches_match_the_model() {
        quickcheck(same_as_model as fn(Vec<Vec<(u8, u8, u8)>>) -> TestResult);
    }

    /// A deterministic pseudo-random stream (xorshift64) from `seed`.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// Deeper trees than the quickcheck's 64 keys: 3000 keys of varied lengths (some longer
    /// than an inline routing key), batches of every kind, proven, unproven and what-if.
    #[test]
    fn deep_trees_match_the_model() {
        let mut model = Model::default();
        let mut arena: Tree<Blake3> = Tree::empty();
        let mut next = xorshift(0x5EED_u64);
        for round in 0..30 {
            let ops: Vec<Operation> = (0..300)
                .map(|_| {
                    let r = next();
                    let k = r % 3000;
                    let key = vec![(k % 251) as u8; 1 + (k % 47) as usize];
                    let key = [key, k.to_be_bytes().to_vec()].concat();
                    let value = vec![(r >> 20) as u8; 1 + ((r >> 30) % 64) as usize];
                    match (r >> 40) % 8 {
                        0..=3 if round < 20 => Operation::upsert(key, value),
                        0 | 1 => Operation::insert(key, value),
                        4 => Operation::update(key, value),
                        5 => Operation::lookup(key),
                        _ => Operation::remove_if_present(key),
                    }
                })
                .collect();
            match round % 4 {
                3 => verified::<Blake3>(&arena.prove(&ops).unwrap(), &ops, &model.what_if(&ops)),
                2 => assert_eq!(arena.apply_unproven(&ops).unwrap(), model.apply(&ops)),
                _ => verified::<Blake3>(&arena.apply(&ops).unwrap(), &ops, &model.apply(&ops)),
            }
            reads_as(&arena, &model, &ops);
            let live = usize::try_from(arena.len() * 2 - 1).unwrap();
            assert_eq!((arena.live_nodes(), reached(&arena)), (live, live));
            assert_eq!(
                arena.live_strings(),
                usize::try_from(arena.len() * 2).unwrap()
            );
            assert_eq!(arena.audit().unwrap().leaves as u64, model.len());
        }
        assert!(arena.root().height >= 10, "the tree grew deep");
    }

    /// BLAKE3, counting every label and value digest it computes on any thread, and noting
    /// whether one was computed off the thread that set `SPY_HOME` (only the split-seal test
    /// uses it, so the counts are that test's).
    struct Spy;

    static SPY_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static SPY_OFF_HOME: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    std::thread_local! {
        static SPY_HOME: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    }

    fn spy() {
        SPY_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !SPY_HOME.with(core::cell::Cell::get) {
            SPY_OFF_HOME.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn spied<T>(f: impl FnOnce() -> T) -> (T, u64) {
        let before = SPY_CALLS.load(std::sync::atomic::Ordering::Relaxed);
        let out = f();
        (
            out,
            SPY_CALLS.load(std::sync::atomic::Ordering::Relaxed) - before,
        )
    }

    impl TreeHasher for Spy {
        const NAME: &'static str = "blake3";
        fn hash(parts: &[&[u8]]) -> Digest {
            Blake3::hash(parts)
        }
        fn value(value: &[u8]) -> Digest {
            spy();
            Blake3::value(value)
        }
        fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
            spy();
            Blake3::leaf(key, next, value_digest)
        }
        fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
            spy();
            Blake3::internal(balance, left, right)
        }
    }

    /// A large batch sealed on two threads gets the same proof, root and labels (the audit
    /// recomputes every one) as on one, with the same number of hash calls; the helper
    /// thread really ran; small batches stay on one thread.
    #[test]
    fn the_two_thread_seal_matches_the_one_thread_seal() {
        SPY_HOME.with(|h| h.set(true));
        let mut one: Tree<Spy> = Tree::empty();
        let mut two: Tree<Spy> = Tree::empty();
        two.seal_on_two_threads(true);
        assert_eq!(two.split_seal, Some(SPLIT_SEAL_MIN));
        two.split_seal = Some(1000);
        let mut next = xorshift(0xC0FFEE_u64);
        let initial: Vec<Operation> = (0u64..3000)
            .map(|k| Operation::insert((k * 5 / 3).to_be_bytes(), [7; 32]))
            .collect();
        one.apply_unproven(&initial).unwrap();
        two.apply_unproven(&initial).unwrap();
        for round in 0..12 {
            // On 3000 keys, rounds of 400 operations copy over a thousand nodes; every fourth
            // round, of 20, a few hundred: under the test's threshold of 1000, which stands
            // in for the real one so that the test stays small.
            let size = if round % 4 == 3 { 20 } else { 400 };
            let ops: Vec<Operation> = (0..size)
                .map(|_| {
                    let r = next();
                    let key = (r % 5000).to_be_bytes();
                    let value = vec![(r >> 20) as u8; 1 + ((r >> 30) % 48) as usize];
                    match (r >> 40) % 6 {
                        0..=2 => Operation::upsert(key, value),
                        3 => Operation::update(key, value),
                        4 => Operation::lookup(key),
                        _ => Operation::remove_if_present(key),
                    }
                })
                .collect();
            SPY_OFF_HOME.store(false, std::sync::atomic::Ordering::Relaxed);
            let (what_if, by_two) = spied(|| two.prove(&ops).unwrap());
            let (expected, by_one) = spied(|| one.prove(&ops).unwrap());
            assert_eq!(
                (what_if, by_two),
                (expected, by_one),
                "what-if, round {round}"
            );
            let (ours, by_two) = spied(|| two.apply(&ops).unwrap());
            let (theirs, by_one) = spied(|| one.apply(&ops).unwrap());
            assert_eq!((ours, by_two), (theirs, by_one), "round {round}");
            let split = SPY_OFF_HOME.load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(split, size == 400, "round {round}: sealed off this thread");
            assert_eq!(two.audit().unwrap(), one.audit().unwrap(), "round {round}");
        }
    }

    #[test]
    fn unproven_batches_reach_the_proven_roots() {
        let (mut proven, mut model) = (Tree::<Blake3>::empty(), Model::default());
        let mut arena: Tree<Blake3> = Tree::empty();
        let mut seed = 7u64;
        for _ in 0..40 {
            let spec: Vec<(u8, u8, u8)> = (0..50)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let b = seed.to_le_bytes();
                    (b[5], b[6], b[7])
                })
                .collect();
            let ops = ops_from(&spec);
            let results = arena.apply_unproven(&ops).unwrap();
            assert_eq!(results, model.apply(&ops));
            let batch = proven.apply(&ops).unwrap();
            assert_eq!((batch.results, batch.new_root), (results, arena.root()));
            let live = usize::try_from(arena.len().saturating_mul(2).saturating_sub(1)).unwrap();
            assert_eq!(arena.live_nodes(), live);
        }
    }

    /// The id set against the standard library's, with growth and repeats.
    fn id_set_is_a_set(inserts: Vec<u16>) -> bool {
        let mut ours = IdSet::with_capacity(inserts.len() / 4);
        let mut model = std::collections::BTreeSet::new();
        for &i in &inserts {
            let id = NodeId::node(usize::from(i)).unwrap();
            assert_eq!(ours.insert(id), model.insert(i));
        }
        ours.len() == model.len()
            && (0..=u16::MAX)
                .all(|i| ours.contains(NodeId::node(usize::from(i)).unwrap()) == model.contains(&i))
            && !ours.insert(NodeId::HOLE)
            && !ours.contains(NodeId::HOLE)
    }

    #[test]
    fn id_sets_behave_as_sets() {
        quickcheck(id_set_is_a_set as fn(Vec<u16>) -> bool);
    }

    std::thread_local! {
        /// Calls of `Counted`'s node labels on this thread: internal nodes, leaves, values.
        static CALLS: core::cell::Cell<[u64; 3]> = const { core::cell::Cell::new([0; 3]) };
        /// Where each value `Counted` hashed on this thread lay in memory.
        static VALUES: core::cell::RefCell<Vec<usize>> = const { core::cell::RefCell::new(Vec::new()) };
    }

    /// BLAKE3, counting the node labels it computes.
    struct Counted;

    fn count(kind: usize) {
        CALLS.with(|c| {
            let mut calls = c.get();
            calls[kind] += 1;
            c.set(calls);
        });
    }

    fn calls<T>(f: impl FnOnce() -> T) -> (T, [u64; 3]) {
        CALLS.with(|c| c.set([0; 3]));
        VALUES.with(|v| v.borrow_mut().clear());
        let out = f();
        (out, CALLS.with(core::cell::Cell::get))
    }

    /// Whether some value hashed since `calls` began was hashed twice (the same bytes in
    /// memory: a pool slot, or the shared bytes of a long value).
    fn a_value_hashed_twice() -> bool {
        VALUES.with(|v| {
            let mut seen = v.borrow().clone();
            seen.sort_unstable();
            seen.windows(2).any(|w| w[0] == w[1])
        })
    }

    impl TreeHasher for Counted {
        const NAME: &'static str = "blake3";
        fn hash(parts: &[&[u8]]) -> Digest {
            Blake3::hash(parts)
        }
        fn value(value: &[u8]) -> Digest {
            count(2);
            VALUES.with(|v| v.borrow_mut().push(value.as_ptr() as usize));
            Blake3::value(value)
        }
        fn leaf(key: &[u8], next: Option<&[u8]>, value_digest: &Digest) -> Digest {
            count(1);
            Blake3::leaf(key, next, value_digest)
        }
        fn internal(balance: i8, left: &Digest, right: &Digest) -> Digest {
            count(0);
            Blake3::internal(balance, left, right)
        }
    }

    /// Invariant 1 of docs/design.md: a batch labels each node it makes once (no more labels
    /// than the nodes it adds to the arena), and hashes no value twice. (The arena
    /// keeps no value digests: a committed value is hashed again in a later batch when its
    /// leaf is relabelled or its proof withholds it, at most once per proof leaf.)
    #[test]
    fn nothing_is_hashed_twice() {
        let mut model = Model::default();
        let mut arena: Tree<Counted> = Tree::empty();
        for round in 0u8..20 {
            let ops: Vec<Operation> = (0u8..60)
                .map(|i| {
                    let key = [i.wrapping_mul(37).wrapping_add(round), 1];
                    match (i + round) % 4 {
                        0 | 1 => Operation::upsert(key, [round; 40]),
                        2 => Operation::remove_if_present(key),
                        _ => Operation::lookup(key),
                    }
                })
                .collect();
            let ((results, proof, _, placed), by_arena) =
                calls(|| arena.apply_with(&ops, true).unwrap());
            assert!(!a_value_hashed_twice(), "round {round}");
            assert_eq!(results, model.apply(&ops));
            // Every node the new tree holds from this batch was labelled once, and nothing else.
            assert_eq!(by_arena[0] + by_arena[1], placed as u64, "round {round}");
            let upserts = ops
                .iter()
                .filter(|o| matches!(o, Operation::Upsert(..)))
                .count();
            let limits = crate::proof::DecodeLimits::default();
            let leaves = crate::proof::decode(proof.as_bytes(), &limits)
                .unwrap()
                .stats()
                .leaves;
            assert!(by_arena[2] as usize <= upserts + leaves, "round {round}");
        }
    }

    /// The audit sees a wrong routing key (which no label covers) or a wrong inline head of
    /// one, a wrong balance and a changed value in the arena.
    #[test]
    fn the_audit_finds_corrupted_nodes() {
        use crate::AuditError;
        let mut arena: Tree<Blake3> = Tree::empty();
        let ops: Vec<Operation> = (0u8..50).map(|i| Operation::insert([i], [i; 8])).collect();
        arena.apply(&ops).unwrap();
        assert_eq!(arena.audit().unwrap().leaves, 50);
        let root = arena.state.root.and_then(NodeId::index).unwrap();
        let original = arena.nodes.get(root).unwrap().clone();
        let leaves: Vec<(Ref, Ref)> = (arena.nodes.iter())
            .filter_map(|n| match &n.kind {
                Kind::Leaf(l) => Some((l.key, l.value)),
                Kind::Internal(_) => None,
            })
            .collect();
        let Kind::Internal(i) = &mut arena.nodes.get_mut(root).unwrap().kind else {
            panic!("the root of 50 keys is internal")
        };
        i.route.key = leaves
            .iter()
            .map(|l| l.0)
            .find(|k| *k != i.route.key)
            .unwrap();
        assert_eq!(arena.audit(), Err(AuditError::BadRoute));
        *arena.nodes.get_mut(root).unwrap() = original.clone();
        let Kind::Internal(i) = &mut arena.nodes.get_mut(root).unwrap().kind else {
            unreachable!()
        };
        i.route.head ^= 1;
        assert_eq!(arena.audit(), Err(AuditError::BadRoute));
        *arena.nodes.get_mut(root).unwrap() = original.clone();
        let Kind::Internal(i) = &mut arena.nodes.get_mut(root).unwrap().kind else {
            unreachable!()
        };
        i.balance = if i.balance == 0 { 1 } else { 0 };
        assert_eq!(arena.audit(), Err(AuditError::Unbalanced));
        *arena.nodes.get_mut(root).unwrap() = original;
        assert!(arena.audit().is_ok());
        let leaf = arena
            .nodes
            .iter_mut()
            .find(|n| matches!(n.kind, Kind::Leaf(_)))
            .unwrap();
        if let Kind::Leaf(l) = &mut leaf.kind {
            l.value = leaves.iter().map(|l| l.1).find(|v| *v != l.value).unwrap();
        }
        assert_eq!(arena.audit(), Err(AuditError::LabelMismatch));
    }

    /// The node layout the memory figures rest on: 52 bytes (a label, four 4-byte
    /// references, a routing key's head, a balance and the kind in a niche).
    #[test]
    fn nodes_take_52_bytes() {
        assert_eq!(core::mem::size_of::<PNode>(), 52);
    }

    /// Marks are two bytes a slot and start over every 32767 batches: past that (the test
    /// starts near the end of the range), batches still find what they read and free
    /// exactly what they replaced.
    #[test]
    fn marks_start_over() {
        let mut model = Model::default();
        let mut arena: Tree<Blake3> = Tree::empty();
        arena.mark = u16::MAX - 401;
        let mut next = xorshift(7);
        for round in 0..400u32 {
            if round == 190 {
                // Marks a batch of the next cycle will use, as if left from the last one.
                arena.marks.iter_mut().for_each(|m| *m = 4);
            }
            let ops: Vec<Operation> = (0..8)
                .map(|_| {
                    let r = next();
                    let key = [(r % 97) as u8, 5];
                    match r % 3 {
                        0 => Operation::upsert(key, round.to_be_bytes()),
                        1 => Operation::remove_if_present(key),
                        _ => Operation::lookup(key),
                    }
                })
                .collect();
            verified::<Blake3>(&arena.apply(&ops).unwrap(), &ops, &model.apply(&ops));
            let live = usize::try_from((arena.len() * 2).saturating_sub(1)).unwrap();
            assert_eq!(arena.live_nodes(), live, "round {round}");
        }
        assert_eq!(arena.audit().unwrap().leaves as u64, model.len());
        reads_as(&arena, &model, &[]);
    }

    #[test]
    fn a_what_if_proof_changes_nothing() {
        let mut arena: Tree<Blake3> = Tree::empty();
        let ops: Vec<Operation> = (0u8..100).map(|i| Operation::insert([i], [i; 8])).collect();
        arena.apply(&ops).unwrap();
        let root = arena.root();
        let removes: Vec<Operation> = (0u8..100).map(|i| Operation::remove([i])).collect();
        let what_if = arena.prove(&removes).unwrap();
        assert_eq!(arena.root(), root);
        assert_eq!(what_if.new_root.label, Blake3::empty());
        let again = arena.prove(&removes).unwrap();
        assert_eq!(again, what_if);
        assert_eq!(arena.apply(&removes).unwrap().new_root, what_if.new_root);
        assert_eq!(arena.live_nodes(), 0);
    }

    /// One digest of everything a deterministic workload shows: every batch's results,
    /// proof bytes and roots, every what-if and historical proof, the entries, and (on a
    /// store) every record after every batch, through reopens and rollbacks.
    fn golden(on_store: bool) -> String {
        let store = Arc::new(crate::store::MemoryStore::new());
        let config = StoreConfig::default()
            .keep_versions(3)
            .memory_budget(20_000);
        let mut tree = match on_store {
            true => Tree::<Blake3>::create_store(store.clone(), config).unwrap(),
            false => Tree::<Blake3>::with_limits(config.limits),
        };
        let mut digest = blake3::Hasher::new();
        let seen = |digest: &mut blake3::Hasher, b: &BatchProof| {
            digest.update(format!("{:?}", b.results).as_bytes());
            digest.update(b.proof.as_bytes());
            digest.update(&b.old_root.to_bytes());
            digest.update(&b.new_root.to_bytes());
            digest.update(&b.version.to_be_bytes());
        };
        let mut next = xorshift(0x601D);
        for b in 0..40u64 {
            let ops: Vec<Operation> = (0..if b < 4 { 1000 } else { 150 })
                .map(|_| {
                    let r = next();
                    let k = r % 2500;
                    let key = [
                        vec![(k % 7) as u8; (k % 41) as usize],
                        k.to_be_bytes().to_vec(),
                    ]
                    .concat();
                    let value = vec![(r >> 24) as u8; 1 + (r >> 32) as usize % 50];
                    match (r >> 44) % 8 {
                        0..=2 => Operation::upsert(key, value),
                        3 => Operation::insert(key, value),
                        4 => Operation::update(key, value),
                        5 => Operation::lookup(key),
                        6 => Operation::remove_if_present(key),
                        _ => Operation::remove(key),
                    }
                })
                .collect();
            match b % 6 {
                1 => {
                    let r = tree.apply_unproven(&ops).unwrap();
                    digest.update(format!("{r:?}").as_bytes());
                }
                2 => seen(&mut digest, &tree.prove(&ops).unwrap()),
                3 => {
                    let staged = tree.stage(&ops).unwrap();
                    seen(&mut digest, &tree.commit_staged(staged).unwrap())
                }
                _ => seen(&mut digest, &tree.apply(&ops).unwrap()),
            }
            if on_store {
                if b % 9 == 8 {
                    let v = tree.version();
                    let then = tree.snapshot(v - 2).unwrap();
                    seen(&mut digest, &then.prove(&ops).unwrap());
                    tree.rollback(v - 2).unwrap();
                }
                if b % 11 == 10 {
                    tree = Tree::open_store(store.clone(), config).unwrap();
                }
                for (table, key, value) in contents(&store) {
                    digest.update(format!("{table:?}").as_bytes());
                    digest.update(&key);
                    digest.update(&value);
                }
            }
        }
        digest.update(format!("{:?}", tree.entries().unwrap()).as_bytes());
        digest.finalize().to_hex().to_string()
    }

    /// The digests of the golden run, made by the reference-counted tree that the arena
    /// engine replaced (stop 29, just before the swap): the same bytes everywhere.
    const GOLDEN_MEMORY: &str = "b4efc08e4feb7effdad9f636b12ff6ec3d6d5badc384a3b1c34d3b3532a05ea8";
    const GOLDEN_STORE: &str = "c5c233ebd4307f0ee0fd00cb6fdcfaae8dad98e517657ded2b404a3d478d032c";

    #[test]
    fn golden_runs_give_the_reference_counted_trees_bytes() {
        assert_eq!(golden(false), GOLDEN_MEMORY);
        assert_eq!(golden(true), GOLDEN_STORE);
    }
}
