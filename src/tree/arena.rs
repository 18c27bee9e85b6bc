//! The arena's storage: nodes in fixed chunks of slots indexed by 32-bit ids ([`Chunks`]),
//! keys and values in a byte pool ([`Pool`]) that nodes name by 4-byte references ([`Ref`]),
//! the id sets and hashers a batch keeps what it read in, and the id regions: committed
//! slots, a batch's own nodes, and what a batch loaded from the store.

use super::*;

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
pub(crate) struct ZeroLabel(pub(super) Digest);

impl ZeroLabel {
    /// The label of a committed node (labelled by construction; all zeros only with
    /// probability 2^-256, and then it is its label).
    #[inline]
    pub(super) fn committed(&self) -> Digest {
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
    pub(super) key: Ref,
    pub(super) head: u32,
}

impl Fork {
    /// No routing key: only transiently, in a node about to be removed (a walk that meets
    /// one fails with a malformed-tree error).
    pub(super) const NONE: Fork = Fork {
        key: Ref::NONE,
        head: 0,
    };

    /// Whether `key` goes left here (it is below the routing key): decided by the inline
    /// heads, and on a tie by the routing key's bytes, which `bytes` reads from its pool.
    /// `None` if there is no routing key.
    #[inline]
    pub(super) fn sends_left<'p>(
        self,
        key: &[u8],
        bytes: impl FnOnce(Ref) -> &'p [u8],
    ) -> Option<bool> {
        if self.key == Ref::NONE {
            return None;
        }
        let mine = head(key);
        Some(if mine != self.head {
            mine < self.head
        } else {
            crate::node::goes_left(key, bytes(self.key))
        })
    }
}

/// The first four bytes of `bytes` as a big-endian word, zero-padded. Of two keys whose
/// heads differ, the one with the smaller head is the smaller key.
#[inline]
pub(super) fn head(bytes: &[u8]) -> u32 {
    if let Some(word) = bytes.first_chunk::<4>() {
        return u32::from_be_bytes(*word);
    }
    let mut word = [0u8; 4];
    for (w, b) in word.iter_mut().zip(bytes) {
        *w = *b;
    }
    u32::from_be_bytes(word)
}

pub(super) type PNode = Node<Packed>;

/// A byte string (a key or a value) in a [`Pool`]: bit 31 set names the running batch's own
/// pool, bit 29 the pool of strings the batch loaded from the store, bit 30 the pool's table
/// of long strings; the low 29 bits are the index plus one (so a reference is never zero,
/// and `Option<Ref>` takes four bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Ref(pub(super) NonZeroU32);

/// Bit of a [`Ref`] into the batch's own pool.
pub(super) const OWN: u32 = 1 << 31;

/// Bit of a [`Ref`] into a pool's long strings.
pub(super) const LONG: u32 = 1 << 30;

/// Bit of a [`Ref`] into the running batch's strings loaded from the store.
pub(super) const STORED: u32 = 1 << 29;

/// The index bits of a [`Ref`].
pub(super) const INDEX: u32 = STORED - 1;

impl Ref {
    /// No string: every bit set, which [`Ref::new`] never makes.
    pub(super) const NONE: Ref = Ref(NonZeroU32::MAX);

    /// A reference into the pool `home` names (0, [`OWN`] or [`STORED`]).
    pub(super) fn new(home: u32, long: bool, index: usize) -> Option<Ref> {
        let raw = u32::try_from(index)
            .ok()?
            .checked_add(1)
            .filter(|&i| i < INDEX)?;
        let raw = raw | home | if long { LONG } else { 0 };
        NonZeroU32::new(raw).map(Ref)
    }

    /// Into the running batch's own strings.
    #[inline]
    pub(super) fn own(self) -> bool {
        self.0.get() & OWN != 0
    }

    /// Into the running batch's strings loaded from the store.
    #[inline]
    pub(super) fn stored(self) -> bool {
        self.0.get() & STORED != 0
    }

    /// Into the committed pool.
    #[inline]
    pub(super) fn committed(self) -> bool {
        self.0.get() & (OWN | STORED) == 0
    }

    #[inline]
    pub(super) fn long(self) -> bool {
        self.0.get() & LONG != 0
    }

    #[inline]
    pub(super) fn index(self) -> usize {
        (self.0.get() & INDEX).wrapping_sub(1) as usize
    }

    /// The raw reference (the key of a batch's value digests).
    #[inline]
    pub(super) fn raw(self) -> u32 {
        self.0.get()
    }
}

/// Bits of a slot index that address within one chunk of [`Chunks`].
pub(super) const CHUNK_BITS: u32 = 14;

/// Slots in a chunk of [`Chunks`].
pub(super) const CHUNK: usize = 1 << CHUNK_BITS;

/// Slots in fixed chunks of 2^14: growing never copies (a grown vector's old block stays
/// resident in the allocator, a third of a 10^5-key tree), and at most one chunk is slack.
#[derive(Debug)]
pub(crate) struct Chunks<T> {
    pub(super) chunks: Vec<Vec<T>>,
    pub(super) len: usize,
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
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&T> {
        self.chunks
            .get(i >> CHUNK_BITS)?
            .get(i & CHUNK.wrapping_sub(1))
    }

    #[inline]
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks
            .get_mut(i >> CHUNK_BITS)?
            .get_mut(i & CHUNK.wrapping_sub(1))
    }

    pub(super) fn push(&mut self, value: T) {
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
    pub(super) fn bytes(&self) -> usize {
        self.chunks
            .len()
            .saturating_mul(CHUNK)
            .saturating_mul(core::mem::size_of::<T>())
    }

    #[cfg(test)]
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }

    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

/// Longest string held in a pool's own slots; longer ones are shared with the operation
/// that wrote them.
pub(super) const SHORT: usize = 32;

/// A pool slot: the length, then the bytes (zero-padded).
pub(super) type Slot = [u8; SHORT + 1];

/// Byte strings by reference, reused once freed: strings of up to [`SHORT`] bytes in
/// fixed slots (33 bytes, no allocation of their own), longer ones as shared `Bytes`.
#[derive(Debug, Default)]
pub(super) struct Pool {
    pub(super) short: Chunks<Slot>,
    pub(super) long: Vec<Option<Bytes>>,
    pub(super) free_short: Vec<u32>,
    pub(super) free_long: Vec<u32>,
}

impl Pool {
    #[inline]
    pub(super) fn get(&self, r: Ref) -> &[u8] {
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
    pub(super) fn shared(&self, r: Ref) -> Bytes {
        match self.long.get(r.index()) {
            Some(Some(bytes)) if r.long() => bytes.clone(),
            _ => Bytes::from(self.get(r)),
        }
    }

    /// Stores `bytes` (in a freed slot if there is one), as a reference into the pool `home`
    /// names.
    pub(super) fn put(&mut self, bytes: &[u8], home: u32) -> Option<Ref> {
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

    pub(super) fn put_long(&mut self, bytes: Bytes, home: u32) -> Option<Ref> {
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

    pub(super) fn put_slot(&mut self, slot: Slot, home: u32) -> Option<Ref> {
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
    pub(super) fn free(&mut self, r: Ref) {
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
    pub(super) fn adopt(&mut self, own: &mut Pool, moved: &mut Moved, r: Ref) -> Ref {
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
    pub(super) fn bytes(&self) -> usize {
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
pub(super) struct Moved {
    pub(super) short: Vec<Option<Ref>>,
    pub(super) long: Vec<Option<Ref>>,
}

impl Moved {
    /// Nothing moved yet from `pool`.
    pub(super) fn from(pool: &Pool) -> Self {
        Moved {
            short: vec![None; pool.short.len()],
            long: vec![None; pool.long.len()],
        }
    }
}

/// The strings a batch reads: the committed pool, its own and those it loaded.
#[derive(Clone, Copy)]
pub(super) struct Strings<'a> {
    pub(super) base: &'a Pool,
    pub(super) own: &'a Pool,
    pub(super) stored: &'a Pool,
}

impl<'a> Strings<'a> {
    #[inline(always)]
    pub(super) fn get(&self, r: Ref) -> &'a [u8] {
        if r.committed() {
            self.base.get(r)
        } else if r.own() {
            self.own.get(r)
        } else {
            self.stored.get(r)
        }
    }

    /// A leaf's label (its value digest from `digests` if a batch computed it already).
    pub(super) fn leaf_label<H: TreeHasher>(
        &self,
        leaf: &Leaf<Packed>,
        digests: &Digests,
    ) -> Digest {
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
pub(super) struct RefHasher(pub(super) u64);

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
/// one the batch returned.
pub(super) type ReadValues<'t> = HashSet<&'t [u8], BuildHasherDefault<RefHasher>>;

/// Value digests of committed values a batch computed, by raw reference: the arena keeps
/// no value digests (32 bytes per key), so a batch hashes a committed value when its proof
/// withholds it or its leaf is relabelled, and once only.
pub(super) type Digests = HashMap<u32, Digest, BuildHasherDefault<RefHasher>>;

/// A set of node ids, as a batch records what it read: open addressing with linear probing
/// in a power-of-two table of raw ids, at most 7/8 full. An id's home slot is the top bits of
/// its product with a 32-bit golden-ratio constant (ids are dense, so this spreads them).
#[derive(Debug)]
pub(super) struct IdSet {
    pub(super) slots: Vec<u32>,
    pub(super) len: usize,
    /// 32 minus log2 of the table size.
    pub(super) shift: u32,
}

/// A slot that holds no id (the raw value of no node id).
pub(super) const EMPTY: u32 = u32::MAX;

impl IdSet {
    /// A set with room for `n` ids before it grows.
    pub(super) fn with_capacity(n: usize) -> Self {
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
    pub(super) fn raw(id: NodeId) -> Option<u32> {
        id.index().and_then(|i| u32::try_from(i).ok())
    }

    /// The slot holding `v`, or the empty slot where it would go.
    pub(super) fn slot(&self, v: u32) -> Option<usize> {
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
    pub(super) fn insert(&mut self, id: NodeId) -> bool {
        Self::raw(id).is_some_and(|v| self.insert_raw(v))
    }

    /// Adds the raw value `v` (not `EMPTY`); false if it was there.
    pub(super) fn insert_raw(&mut self, v: u32) -> bool {
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

    pub(super) fn grow(&mut self) {
        let mut bigger = IdSet::with_capacity(self.slots.len());
        for v in self.slots.iter().copied().filter(|&v| v != EMPTY) {
            if let Some(s) = bigger.slot(v).and_then(|i| bigger.slots.get_mut(i)) {
                *s = v;
                bigger.len = bigger.len.saturating_add(1);
            }
        }
        *self = bigger;
    }

    pub(super) fn contains(&self, id: NodeId) -> bool {
        Self::raw(id).is_some_and(|v| self.contains_raw(v))
    }

    pub(super) fn contains_raw(&self, v: u32) -> bool {
        self.slot(v)
            .and_then(|i| self.slots.get(i))
            .is_some_and(|&s| s == v)
    }

    /// Ids in the set.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The ids in the set, in no order.
    pub(super) fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.slots
            .iter()
            .filter(|&&v| v != EMPTY)
            .filter_map(|&v| NodeId::node(v as usize))
    }
}

/// A node that holds nothing: what a freed slot and a node moved out of a batch's region
/// are left as.
pub(super) fn vacant() -> PNode {
    Node::new(Kind::Internal(Internal {
        balance: 0,
        left: NodeId::HOLE,
        right: NodeId::HOLE,
        route: Fork::NONE,
    }))
}

/// The balance that marks a stub (no node has it): a subtree of a persistent tree that is
/// not in memory, known by its label (and its record version, in the tree's side table).
pub(super) const STUB: i8 = i8::MIN;

/// A stub for the subtree labelled `label`.
pub(super) fn stub(label: Digest) -> PNode {
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
pub(super) fn is_stub(node: &PNode) -> bool {
    matches!(&node.kind, Kind::Internal(i) if i.balance == STUB)
}

/// First id of a batch's loaded region: the nodes it read from the store and the stubs of
/// their children. They are pre-state nodes like the committed ones (a batch copies them to
/// change them); the committed nodes and the batch's own stay below.
pub(super) const LOADED: usize = 1 << 30;

/// Where an id points for a batch over `base` committed nodes: a committed node, one of
/// the batch's own (index into its region) or one it loaded (index into its loaded region).
#[derive(Clone, Copy, Debug)]
pub(super) enum Region {
    Base(usize),
    New(usize),
    Loaded(usize),
}

#[inline(always)]
pub(super) fn region(id: NodeId, base: usize) -> Option<Region> {
    region_of::<true>(id, base)
}

/// [`region`] for a batch of a persistent tree (`STORE`) or an in-memory one, which loads
/// nothing.
#[inline(always)]
pub(super) fn region_of<const STORE: bool>(id: NodeId, base: usize) -> Option<Region> {
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
pub(super) fn own_or_label<const STORE: bool>(
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
pub(super) struct Source<'t> {
    pub(super) backend: &'t dyn StoreBackend,
    pub(super) limits: SizeLimits,
    pub(super) versions: &'t Chunks<u64>,
    pub(super) cache: &'t RecordCache,
    /// Whether what is read goes into the cache (for a batch that will not keep it).
    pub(super) keep: bool,
}
