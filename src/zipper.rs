//! The zipper: every walk and every edit of a tree, on the prover's tree and on the
//! verifier's proof tree alike.
//!
//! ```text
//!              root                 path (a stack of frames, root first)
//!             /    \                  frame 0: parent = root, dir = Left
//!           (A)     s1                frame 1: parent = A,    dir = Right
//!          /   \                    focus: B (a link: a node, or a bare hash)
//!        s2    [B]   <- focus
//! ```
//!
//! Descending pushes the focus as a frame and focuses a child; ascending pops a frame and puts
//! the (possibly new) focus back into its parent, rebalancing on the way up. Nodes may be
//! shared with the state the batch started from (the prover's are): a frame whose parent is
//! shared keeps a clone of the child link and copies the parent only if the child changed
//! (`dirty`); a frame whose parent belongs to this batch alone moves the child out (`taken`)
//! and mutates in place. The state a batch started from is thus never changed, and a node made
//! by the batch is never copied. The verifier's nodes are all its own, so its frames always
//! take.
//!
//! Side-specific behaviour comes from a [`Walker`]: how a link is followed, copied and
//! edited (the prover's links are indices into its arena, copied into the batch's region
//! before a change; the verifier's indices into its own arena), which way a key goes at an internal node (the prover compares routing keys and
//! writes a direction bit; the verifier reads the bit), how a bare hash becomes a node (the
//! prover loads it from its store; the verifier cannot), and which nodes were read (the
//! prover records them to build the proof). The walker also names the [`Side`] whose nodes
//! it walks: the prover's carry routing keys and store versions, the verifier's do not, and
//! everything here is generic over it.

use alloc::vec::Vec;
use core::mem;

use crate::node::{Bytes, Dir, Internal, Kind, Leaf, Node, NodeId, Side};

/// A reason the shared tree code cannot go on, whichever side runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A walk needs a subtree that is only a hash here (verifier: the proof does not cover it).
    Unexpanded,
    /// A needed value is present only as its digest.
    ValueWithheld,
    /// The leaf reached does not bracket the key: wrong directions or a corrupted routing key.
    Misrouted,
    /// A node is not of the kind its position requires, or a balance is out of range.
    Malformed,
}

/// A child pointer of the side `W` walks.
pub(crate) type LinkOf<W> = <<W as Walker>::Side as Side>::Link;
/// A key as the leaves of the side `W` walks hold it.
pub(crate) type KeyOf<W> = <<W as Walker>::Side as Side>::Key;
/// A leaf's key and next key, as bytes.
type LeafKeys<'a> = (&'a [u8], Option<&'a [u8]>);
/// A value as the leaves of the side `W` walks hold it.
pub(crate) type ValueOf<W> = <<W as Walker>::Side as Side>::Value;

/// The side-specific part of a walk: how links are followed and edited, and what a walk
/// decides and records.
///
/// The prover's links are indices into an arena whose committed nodes the batch shares with
/// the state it started from, edited by copy-on-write into the batch's own region; the
/// verifier's are indices into one arena that it owns alone, edited in place. The zipper never sees the difference: it asks the walker for the
/// node behind a link ([`Walker::get`]), for a node it may change ([`Walker::get_mut`]:
/// copied first if shared), and for one it may take children out of
/// ([`Walker::get_unique`]: only if nothing else holds it).
pub(crate) trait Walker {
    /// Whose nodes the walk runs on.
    type Side: Side;
    /// The error type of the side.
    type Error;

    /// The side's error for a fault of the walk.
    fn fault(f: Fault) -> Self::Error;

    /// A slot whose link was moved out; refilled before anyone can observe it. It has no
    /// node, and a walk that meets one fails with a malformed-tree error.
    fn hole() -> LinkOf<Self>;

    /// Which child of the node at `link` (expanded) a walk for `key` enters; `None` if it
    /// is a leaf, where the walk ends.
    fn direction(&mut self, link: &LinkOf<Self>, key: &[u8]) -> Result<Option<Dir>, Self::Error>;

    /// [`Walker::direction`], with the child it names if the node at `link` is shared (the
    /// link a walk would clone from [`Walker::get`]): one look at the node for both. `None`
    /// as the child (the default) makes the walk fetch it.
    #[allow(clippy::type_complexity)]
    fn direction_and_child(
        &mut self,
        link: &LinkOf<Self>,
        key: &[u8],
    ) -> Result<Option<(Dir, Option<LinkOf<Self>>)>, Self::Error> {
        Ok(self.direction(link, key)?.map(|dir| (dir, None)))
    }

    /// Materializes `link` if it is a bare hash reference (the prover loads the node; the
    /// verifier cannot, and fails with [`Fault::Unexpanded`]'s error). Other links are left
    /// as they are.
    fn expand(&mut self, link: &mut LinkOf<Self>) -> Result<(), Self::Error>;

    /// The node behind `link`, if it is in memory.
    fn get<'a>(&'a self, link: &'a LinkOf<Self>) -> Option<&'a Node<Self::Side>>;

    /// The node behind `link` for mutation, copied first if anything else holds it (its
    /// label is kept: the zipper forgets it).
    fn get_mut<'a>(&'a mut self, link: &'a mut LinkOf<Self>) -> Option<&'a mut Node<Self::Side>>;

    /// The node behind `link` for mutation if the batch holds it alone; `None` if it is
    /// shared (or not in memory).
    fn get_unique<'a>(&'a mut self, link: &'a mut LinkOf<Self>)
        -> Option<&'a mut Node<Self::Side>>;

    /// A link to a new node.
    fn alloc(&mut self, node: Node<Self::Side>) -> Result<LinkOf<Self>, Self::Error>;

    /// Called once each time the content of the node at `link` is read. Nodes with a label
    /// belong to the state the batch started from.
    fn visit(&mut self, link: &LinkOf<Self>);

    /// Called when an operation returns the value of the leaf at `link` (which may be a
    /// copy, made by the batch, of a pre-state leaf).
    fn read_value(&mut self, link: &LinkOf<Self>);

    /// The bytes of a key that a leaf of this walk holds.
    fn key<'a>(&'a self, key: &'a KeyOf<Self>) -> &'a [u8];

    /// `bytes` as a key that new leaves can hold (one key may be held by a leaf, its
    /// predecessor's next key and a routing key at once).
    fn new_key(&mut self, bytes: &Bytes) -> Result<KeyOf<Self>, Self::Error>;

    /// `bytes` as a value that a new or changed leaf can hold.
    fn new_value(&mut self, bytes: &Bytes) -> Result<ValueOf<Self>, Self::Error>;

    /// The routing key of a new or changed internal node whose right subtree's least key is
    /// `key` (`None` only for a node about to be removed).
    fn route(&self, key: Option<&KeyOf<Self>>) -> <Self::Side as Side>::Route;

    /// A value's bytes (`None` if only its digest is known).
    fn value(&self, value: &ValueOf<Self>) -> Option<Bytes>;

    /// Told that an update took `value` out of the tree: once the batch is committed,
    /// nothing the tree reaches holds it.
    fn released(&mut self, _value: &ValueOf<Self>) {}

    /// Told that the leaf at `link` is being removed, its key and value with it.
    fn removed(&mut self, _link: &LinkOf<Self>) {}

    /// Where the walker keeps a walk's frame buffer between operations, if it does: a
    /// walk takes it from there and puts it back when it finishes, so that a batch
    /// allocates it once and not per operation. `None` (the default): a new one each walk.
    fn frames(&mut self) -> Option<&mut Vec<Frame<LinkOf<Self>>>> {
        None
    }
}

/// Bytes of one step of the verifier's walks (it charges them to its memory cap).
pub(crate) const FRAME_BYTES: usize = core::mem::size_of::<Frame<NodeId>>();

/// One step of a walk: the node it left and the side it took.
pub(crate) struct Frame<L> {
    parent: L,
    dir: Dir,
    /// The child link was moved out of `parent` (which this batch owns alone).
    taken: bool,
    /// `parent` must be written back into its own parent on the way up.
    dirty: bool,
}

/// Where the leaf a walk reached stands relative to the key sought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    /// The leaf holds the key.
    Found,
    /// The key is absent and falls between this leaf and the next.
    After,
    /// The key is absent and smaller than every key; this is the first leaf.
    BeforeFirst,
}

/// A cursor into a non-empty tree.
pub(crate) struct Zipper<'w, W: Walker> {
    focus: LinkOf<W>,
    /// The focus differs from the link its parent holds.
    dirty: bool,
    /// The focus was passed to `Walker::visit` since it became the focus.
    visited: bool,
    path: Vec<Frame<LinkOf<W>>>,
    walker: &'w mut W,
}

impl<'w, W: Walker> Zipper<'w, W> {
    /// A zipper focused on `root`, the root of a tree of height `height`: its path is
    /// allocated once for a walk to the deepest leaf (and one rotation level), instead of
    /// growing step by step.
    pub(crate) fn with_height(root: LinkOf<W>, walker: &'w mut W, height: u8) -> Self {
        let mut path = walker.frames().map(mem::take).unwrap_or_default();
        path.clear();
        path.reserve(usize::from(height).saturating_add(2));
        Zipper {
            focus: root,
            dirty: false,
            visited: false,
            path,
            walker,
        }
    }

    /// Number of frames above the focus.
    pub(crate) fn depth(&self) -> usize {
        self.path.len()
    }

    /// True if every step from the root to the focus went left.
    pub(crate) fn all_left(&self) -> bool {
        self.path.iter().all(|f| f.dir == Dir::Left)
    }

    /// A link to a new node (in the walker's arena, on the verifier's side).
    pub(crate) fn alloc(&mut self, node: Node<W::Side>) -> Result<LinkOf<W>, W::Error> {
        self.walker.alloc(node)
    }

    /// Materializes the focus if it is a bare hash, and reports it to the walker once.
    #[inline(always)]
    fn expand(&mut self) -> Result<(), W::Error> {
        // Clones of a prover's stub share it, so the node loaded here is cached for every
        // later walk through the parent that holds the same stub.
        self.walker.expand(&mut self.focus)?;
        if !self.visited {
            self.walker.visit(&self.focus);
            self.visited = true;
        }
        Ok(())
    }

    /// The focused node, materialized.
    pub(crate) fn node(&mut self) -> Result<&Node<W::Side>, W::Error> {
        self.expand()?;
        self.walker
            .get(&self.focus)
            .ok_or_else(|| W::fault(Fault::Malformed))
    }

    /// The focused leaf.
    pub(crate) fn leaf(&mut self) -> Result<&Leaf<W::Side>, W::Error> {
        match &self.node()?.kind {
            Kind::Leaf(l) => Ok(l),
            Kind::Internal(_) => Err(W::fault(Fault::Malformed)),
        }
    }

    /// The focused node for mutation: copied first if shared; its label is forgotten.
    pub(crate) fn node_mut(&mut self) -> Result<&mut Node<W::Side>, W::Error> {
        self.expand()?;
        self.dirty = true;
        let node = self
            .walker
            .get_mut(&mut self.focus)
            .ok_or_else(|| W::fault(Fault::Malformed))?;
        node.forget_label();
        Ok(node)
    }

    /// The value of the focused leaf, reported to the walker as read.
    pub(crate) fn read_value(&mut self) -> Result<Bytes, W::Error> {
        self.expand()?;
        let value = match self.walker.get(&self.focus).map(|n| &n.kind) {
            Some(Kind::Leaf(l)) => self.walker.value(&l.value),
            _ => return Err(W::fault(Fault::Malformed)),
        }
        .ok_or_else(|| W::fault(Fault::ValueWithheld))?;
        self.walker.read_value(&self.focus);
        Ok(value)
    }

    /// The focused leaf's key and next key, as bytes.
    fn leaf_keys(&mut self) -> Result<LeafKeys<'_>, W::Error> {
        self.expand()?;
        let walker = &*self.walker;
        match walker.get(&self.focus).map(|n| &n.kind) {
            Some(Kind::Leaf(l)) => Ok((walker.key(&l.key), l.next.as_ref().map(|n| walker.key(n)))),
            _ => Err(W::fault(Fault::Malformed)),
        }
    }

    /// Whether the focused leaf's key is `key` (a key of this walk's leaves).
    pub(crate) fn leaf_key_is(&mut self, key: &KeyOf<W>) -> Result<bool, W::Error> {
        self.expand()?;
        let walker = &*self.walker;
        match walker.get(&self.focus).map(|n| &n.kind) {
            Some(Kind::Leaf(l)) => Ok(walker.key(&l.key) == walker.key(key)),
            _ => Err(W::fault(Fault::Malformed)),
        }
    }

    /// `bytes` as a key of this walk's leaves.
    pub(crate) fn new_key(&mut self, bytes: &Bytes) -> Result<KeyOf<W>, W::Error> {
        self.walker.new_key(bytes)
    }

    /// The routing key naming `key` (see [`Walker::route`]).
    pub(crate) fn route(&self, key: Option<&KeyOf<W>>) -> <W::Side as Side>::Route {
        self.walker.route(key)
    }

    /// `bytes` as a value of this walk's leaves.
    pub(crate) fn new_value(&mut self, bytes: &Bytes) -> Result<ValueOf<W>, W::Error> {
        self.walker.new_value(bytes)
    }

    /// Tells the walker that an update took `value` out of the tree.
    pub(crate) fn released(&mut self, value: &ValueOf<W>) {
        self.walker.released(value);
    }

    /// Tells the walker that the focused leaf is being removed.
    pub(crate) fn removing_focus(&mut self) {
        self.walker.removed(&self.focus);
    }

    /// The focused leaf for mutation.
    pub(crate) fn leaf_mut(&mut self) -> Result<&mut Leaf<W::Side>, W::Error> {
        match &mut self.node_mut()?.kind {
            Kind::Leaf(l) => Ok(l),
            Kind::Internal(_) => Err(W::fault(Fault::Malformed)),
        }
    }

    /// The focused internal node for mutation.
    fn internal_mut(&mut self) -> Result<&mut Internal<W::Side>, W::Error> {
        match &mut self.node_mut()?.kind {
            Kind::Internal(i) => Ok(i),
            Kind::Leaf(_) => Err(W::fault(Fault::Malformed)),
        }
    }

    /// Replaces the focused subtree, returning the old one.
    pub(crate) fn replace(&mut self, link: LinkOf<W>) -> LinkOf<W> {
        self.dirty = true;
        self.visited = false;
        mem::replace(&mut self.focus, link)
    }

    /// Takes the child on side `dir` out of the node at `parent` if the batch holds it
    /// alone (`true`: the slot is left a hole), or clones it (`false`).
    fn child_of(&mut self, parent: &mut LinkOf<W>, dir: Dir) -> Option<(LinkOf<W>, bool)> {
        if let Some(node) = self.walker.get_unique(parent) {
            return match &mut node.kind {
                Kind::Internal(i) => Some((mem::replace(i.child_mut(dir), W::hole()), true)),
                Kind::Leaf(_) => None,
            };
        }
        let internal = self.walker.get(parent)?.as_internal()?;
        Some((internal.child(dir).clone(), false))
    }

    /// Focuses the child on side `dir` of the focused internal node.
    pub(crate) fn descend(&mut self, dir: Dir) -> Result<(), W::Error> {
        self.expand()?;
        self.step(dir)
    }

    /// Focuses the child on side `dir` of the focus, which is expanded and visited.
    fn step(&mut self, dir: Dir) -> Result<(), W::Error> {
        let mut parent = mem::replace(&mut self.focus, W::hole());
        let Some((child, taken)) = self.child_of(&mut parent, dir) else {
            self.focus = parent;
            return Err(W::fault(Fault::Malformed));
        };
        self.path.push(Frame {
            parent,
            dir,
            taken,
            dirty: self.dirty,
        });
        self.focus = child;
        self.dirty = false;
        self.visited = false;
        Ok(())
    }

    /// Focuses `child`, the child on side `dir` of the focus, which is shared (so the link is
    /// a clone and nothing is taken out of it).
    fn step_into(&mut self, dir: Dir, child: LinkOf<W>) {
        let parent = mem::replace(&mut self.focus, child);
        self.path.push(Frame {
            parent,
            dir,
            taken: false,
            dirty: self.dirty,
        });
        self.dirty = false;
        self.visited = false;
    }

    /// Gives the frame buffer (emptied) back to the walker, if it keeps one.
    fn keep_frames(&mut self) {
        if let Some(slot) = self.walker.frames() {
            self.path.clear();
            *slot = mem::take(&mut self.path);
        }
    }

    /// Walks to a leaf for `key`, asking the walker for each direction.
    pub(crate) fn seek(&mut self, key: &[u8]) -> Result<(), W::Error> {
        loop {
            self.expand()?;
            // One look at the node decides whether the walk goes on, where, and (for a
            // shared node) to which link.
            match self.walker.direction_and_child(&self.focus, key)? {
                Some((dir, Some(child))) => self.step_into(dir, child),
                Some((dir, None)) => self.step(dir)?,
                None => return Ok(()),
            }
        }
    }

    /// Walks to the extreme leaf on side `dir` of the focus (no directions consumed).
    pub(crate) fn seek_extreme(&mut self, dir: Dir) -> Result<(), W::Error> {
        while self.node()?.as_internal().is_some() {
            self.descend(dir)?;
        }
        Ok(())
    }

    /// Classifies the focused leaf against `key`, checking that it brackets the key.
    pub(crate) fn locate(&mut self, key: &[u8]) -> Result<Position, W::Error> {
        let all_left = self.all_left();
        let (leaf_key, next) = self.leaf_keys()?;
        match key.cmp(leaf_key) {
            core::cmp::Ordering::Equal => Ok(Position::Found),
            core::cmp::Ordering::Greater => match next {
                Some(next) if key >= next => Err(W::fault(Fault::Misrouted)),
                _ => Ok(Position::After),
            },
            core::cmp::Ordering::Less if all_left => Ok(Position::BeforeFirst),
            core::cmp::Ordering::Less => Err(W::fault(Fault::Misrouted)),
        }
    }

    /// Moves up one level without a height change. Returns false at the root.
    pub(crate) fn up(&mut self) -> Result<bool, W::Error> {
        let Some(frame) = self.path.pop() else {
            return Ok(false);
        };
        let Frame {
            mut parent,
            dir,
            taken,
            dirty,
        } = frame;
        if taken || self.dirty {
            let child = mem::replace(&mut self.focus, W::hole());
            // A taken slot belongs to a parent this batch owns alone, so this does not copy.
            let node = self
                .walker
                .get_mut(&mut parent)
                .ok_or_else(|| W::fault(Fault::Malformed))?;
            if self.dirty {
                node.forget_label();
            }
            match &mut node.kind {
                Kind::Internal(i) => *i.child_mut(dir) = child,
                Kind::Leaf(_) => return Err(W::fault(Fault::Malformed)),
            }
        }
        self.focus = parent;
        self.dirty |= dirty;
        self.visited = true;
        Ok(true)
    }

    /// Moves up until `depth() == depth`, without height changes.
    pub(crate) fn up_to(&mut self, depth: usize) -> Result<(), W::Error> {
        while self.path.len() > depth {
            self.up()?;
        }
        Ok(())
    }

    /// Index of the deepest frame whose walk went right, if any.
    pub(crate) fn last_right_turn(&self) -> Option<usize> {
        self.path.iter().rposition(|f| f.dir == Dir::Right)
    }

    /// Removes the focused subtree: its sibling takes its parent's place and becomes the
    /// focus. The new focus is `delta = -1` lower than the parent was.
    pub(crate) fn remove_focus(&mut self) -> Result<(), W::Error> {
        let Some(frame) = self.path.pop() else {
            return Err(W::fault(Fault::Malformed));
        };
        let side = frame.dir.flip();
        let mut parent = frame.parent;
        let sibling = if frame.taken {
            self.child_of(&mut parent, side).map(|(link, _)| link)
        } else {
            self.walker
                .get(&parent)
                .and_then(Node::as_internal)
                .map(|i| i.child(side).clone())
        };
        self.focus = sibling.ok_or_else(|| W::fault(Fault::Malformed))?;
        self.dirty = true;
        self.visited = false;
        Ok(())
    }

    /// Moves up one level after the focused subtree's height changed by `delta` (-1, 0, +1),
    /// updating the parent's balance and rotating where needed. Returns the parent's height
    /// change, or `None` at the root.
    pub(crate) fn up_rebalance(&mut self, delta: i8) -> Result<Option<i8>, W::Error> {
        let Some(dir) = self.path.last().map(|f| f.dir) else {
            return Ok(None);
        };
        self.up()?;
        if delta == 0 {
            return Ok(Some(0));
        }
        let node = self.internal_mut()?;
        let old = node.balance;
        let new = old.saturating_add(delta.saturating_mul(dir.sign()));
        node.balance = new;
        Ok(Some(match new {
            -1 | 1 if delta > 0 => 1,
            0 if delta < 0 => -1,
            -1..=1 => 0,
            2 | -2 => {
                let heavy = if new > 0 { Dir::Right } else { Dir::Left };
                let reduced = self.rotate(heavy)?;
                i8::from(delta > 0).saturating_sub(i8::from(reduced))
            }
            _ => return Err(W::fault(Fault::Malformed)),
        }))
    }

    /// Materializes a link that is being rearranged, reporting it to the walker.
    fn materialize(&mut self, mut link: LinkOf<W>) -> Result<LinkOf<W>, W::Error> {
        self.walker.expand(&mut link)?;
        if self.walker.get(&link).is_none() {
            return Err(W::fault(Fault::Malformed));
        }
        self.walker.visit(&link);
        Ok(link)
    }

    /// The internal node at `link` (not the focus) for mutation: copied first if shared;
    /// its label is forgotten.
    fn rearranged<'a>(
        &'a mut self,
        link: &'a mut LinkOf<W>,
    ) -> Result<&'a mut Internal<W::Side>, W::Error> {
        let node = self
            .walker
            .get_mut(link)
            .ok_or_else(|| W::fault(Fault::Malformed))?;
        node.forget_label();
        match &mut node.kind {
            Kind::Internal(i) => Ok(i),
            Kind::Leaf(_) => Err(W::fault(Fault::Malformed)),
        }
    }

    /// Rotates the focused node, whose balance is ±2 towards `heavy`. Returns whether the
    /// subtree became one lower than the unbalanced node.
    fn rotate(&mut self, heavy: Dir) -> Result<bool, W::Error> {
        let light = heavy.flip();
        let s = heavy.sign();
        let minus_s = light.sign();
        let mut p = self.replace(W::hole());
        let x_link = mem::replace(self.rearranged(&mut p)?.child_mut(heavy), W::hole());
        let mut x = self.materialize(x_link)?;
        let x_balance = self
            .walker
            .get(&x)
            .and_then(Node::as_internal)
            .map(|i| i.balance)
            .ok_or_else(|| W::fault(Fault::Malformed))?;
        let (root, reduced) = if x_balance == minus_s {
            // Double rotation: the heavy child leans the other way.
            let g_link = mem::replace(self.rearranged(&mut x)?.child_mut(light), W::hole());
            let mut g = self.materialize(g_link)?;
            let g_node = self.rearranged(&mut g)?;
            let g_balance = g_node.balance;
            g_node.balance = 0;
            let g_light = mem::replace(g_node.child_mut(light), W::hole());
            let g_heavy = mem::replace(g_node.child_mut(heavy), W::hole());
            let p_node = self.rearranged(&mut p)?;
            *p_node.child_mut(heavy) = g_light;
            p_node.balance = if g_balance == s { minus_s } else { 0 };
            let x_node = self.rearranged(&mut x)?;
            *x_node.child_mut(light) = g_heavy;
            x_node.balance = if g_balance == minus_s { s } else { 0 };
            let g_node = self.rearranged(&mut g)?;
            *g_node.child_mut(light) = p;
            *g_node.child_mut(heavy) = x;
            (g, true)
        } else {
            let reduced = x_balance != 0;
            let x_node = self.rearranged(&mut x)?;
            let x_light = mem::replace(x_node.child_mut(light), W::hole());
            let p_node = self.rearranged(&mut p)?;
            *p_node.child_mut(heavy) = x_light;
            p_node.balance = if reduced { 0 } else { s };
            let x_node = self.rearranged(&mut x)?;
            x_node.balance = if reduced { 0 } else { minus_s };
            *x_node.child_mut(light) = p;
            (x, reduced)
        };
        self.focus = root;
        self.visited = true;
        Ok(reduced)
    }

    /// Ascends to the root, rebalancing for a height change `delta` of the focus. Returns the
    /// root and the change of the whole tree's height.
    pub(crate) fn finish(mut self, mut delta: i8) -> Result<(LinkOf<W>, i8), W::Error> {
        // A walk that changed nothing (a lookup, a failed update) leaves every node where it
        // was: the root is the first frame's parent, and climbing back would only repeat it.
        if delta == 0 && !self.dirty && self.path.iter().all(|f| !f.taken && !f.dirty) {
            let root = match self.path.first_mut() {
                Some(top) => mem::replace(&mut top.parent, W::hole()),
                None => mem::replace(&mut self.focus, W::hole()),
            };
            self.keep_frames();
            return Ok((root, 0));
        }
        while let Some(d) = self.up_rebalance(delta)? {
            delta = d;
        }
        self.keep_frames();
        Ok((self.focus, delta))
    }
}
