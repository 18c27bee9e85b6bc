//! A batch on the arena: the [`Walker`] the operation code runs on (reads of the frozen
//! committed nodes, copy-on-write into the batch's own region, loads of stubs from the
//! store), the labelling of what it made (on one thread or two), and the proof's view of
//! what it read ([`Cut`]).

use super::*;

impl Source<'_> {
    /// Reads the record `key` (through the cache), decodes and checks it and hands its
    /// content and, for a leaf, its value's digest to `f`.
    pub(super) fn with<H: TreeHasher, R>(
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
pub(super) struct Loaded {
    pub(super) nodes: Vec<PNode>,
    pub(super) versions: Vec<u64>,
    /// Per loaded node: the batch read it (a walk visited it).
    pub(super) read: Vec<bool>,
    /// Committed stub (index) to the loaded node that stands for it.
    pub(super) opened: HashMap<u32, NodeId, BuildHasherDefault<RefHasher>>,
    pub(super) strings: Pool,
    /// The loaded values the batch returned, by content (committed ones are in the batch's
    /// `read`, by reference into the committed pool).
    pub(super) values: HashSet<Box<[u8]>, BuildHasherDefault<RefHasher>>,
}

impl Loaded {
    /// The index of the loaded node committed stub `i` stands for.
    pub(super) fn opened_index(&self, i: usize) -> Option<usize> {
        let id = self.opened.get(&u32::try_from(i).ok()?)?;
        id.index()?.checked_sub(LOADED)
    }

    /// The loaded node committed stub `i` stands for.
    pub(super) fn opened(&self, i: usize) -> Option<&PNode> {
        self.nodes.get(self.opened_index(i)?)
    }

    /// Adds `node` with record version `version`.
    pub(super) fn push(&mut self, node: PNode, version: u64) -> Result<NodeId, TreeError> {
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
pub(super) enum Touched<'t> {
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
    pub(super) fn insert(&mut self, id: NodeId) {
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
    pub(super) fn contains(&self, id: NodeId) -> bool {
        match self {
            Touched::Marks { marks, mark, .. } => id
                .index()
                .and_then(|i| marks.get(i))
                .is_some_and(|m| m == mark),
            Touched::Set(set) => set.contains(id),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Touched::Marks { list, .. } => list.len(),
            Touched::Set(set) => set.len(),
        }
    }
}

/// One batch's walker over the committed nodes and its own region.
pub(super) struct Batch<'t, H, const STORE: bool> {
    pub(super) base: &'t Chunks<PNode>,
    /// The committed strings.
    pub(super) pool: &'t Pool,
    /// The batch's own nodes: ids from `base.len()` on.
    pub(super) new: Vec<PNode>,
    /// The batch's own strings (keys and values it wrote).
    pub(super) own: Pool,
    /// Room reserved in `new` at its first node (a batch of lookups makes none).
    pub(super) room: usize,
    /// Direction bits and values read are recorded (a proof is wanted).
    pub(super) proof: bool,
    /// Committed nodes whose content the batch read.
    pub(super) touched: Touched<'t>,
    /// Committed values the batch returned.
    pub(super) read: ReadValues<'t>,
    /// Room for `read` at its first value (the batch's operations).
    pub(super) lookups: usize,
    /// Committed strings the batch's operations took out of the tree (freed at commit).
    pub(super) released: Vec<Ref>,
    /// Digests of committed values, computed once.
    pub(super) digests: Digests,
    /// The frame buffer of the batch's walks, kept between operations.
    pub(super) path: Vec<Frame<NodeId>>,
    pub(super) directions: BitWriter,
    /// Where stubs are loaded from (a persistent tree's batch).
    pub(super) source: Option<Source<'t>>,
    /// What the batch loaded.
    pub(super) loaded: Loaded,
    pub(super) hasher: PhantomData<fn() -> H>,
}

impl<'t, H: TreeHasher, const STORE: bool> Batch<'t, H, STORE> {
    /// A batch of `ops` operations with room for `room` nodes, in buffers taken from
    /// `scratch` (`Tree::run` gives them back).
    pub(super) fn new(
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
    pub(super) fn strings(&self) -> Strings<'_> {
        Strings {
            base: self.pool,
            own: &self.own,
            stored: &self.loaded.strings,
        }
    }

    /// The node `id` names (`None` for a stub not loaded).
    #[inline(always)]
    pub(super) fn node(&self, id: NodeId) -> Option<&PNode> {
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
    pub(super) fn pre_state(&self, i: usize) -> bool {
        i < self.base.len() || (STORE && i >= LOADED)
    }

    /// The batch's own node `id`, for mutation (`None` for a pre-state node).
    pub(super) fn own_mut(&mut self, id: NodeId) -> Option<&mut PNode> {
        let j = id.index().filter(|&i| i < LOADED)?;
        let j = j.checked_sub(self.base.len())?;
        self.new.get_mut(j)
    }

    /// What the batch made, for its commit, and its record of what it read.
    pub(super) fn made(self) -> (Made, Touched<'t>) {
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
    pub(super) fn fetch(&mut self, source: Source<'_>, key: NodeKey) -> Result<PNode, TreeError> {
        let into = |stored: Stored<'_>, digest| self.packed(stored, digest, key.label);
        source.with::<H, _>(&key, into)?
    }

    /// A loaded record's content as a node labelled `label` (its strings into the loaded
    /// pool, its children new stubs of the loaded region).
    pub(super) fn packed(
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
    pub(super) fn load(&mut self, source: Source<'t>, link: NodeId) -> Result<(), TreeError> {
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

    pub(super) fn push(&mut self, node: PNode) -> Option<NodeId> {
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
    pub(super) fn seal(&mut self, id: NodeId) -> Digest {
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
    pub(super) fn seal_root(&mut self, root: NodeId, split: Option<usize>) -> Digest {
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
    pub(super) fn seal_split(&mut self, root: NodeId) -> Option<Digest> {
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
pub(super) const SPLIT_SEAL_MIN: usize = 4096;

/// What a sealing thread reads: the batch's nodes and strings, shared.
#[derive(Clone, Copy)]
pub(super) struct Sealing<'a> {
    pub(super) base: &'a Chunks<PNode>,
    pub(super) loaded: &'a [PNode],
    pub(super) new: &'a [PNode],
    pub(super) strings: Strings<'a>,
    pub(super) digests: &'a Digests,
}

/// The label of the tree at `id`, computing (without writing) the label of every unlabelled
/// node of the batch's region below and at it, children first, as (index in the batch's
/// region, label): what [`Batch::seal`] does, on nodes shared with another thread.
/// Committed nodes are all labelled.
pub(super) fn labels<H: TreeHasher>(
    view: Sealing<'_>,
    id: NodeId,
) -> (Digest, Vec<(usize, Digest)>) {
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
        let strings = self.strings();
        let left = internal
            .route
            .sends_left(key, |r| strings.get(r))
            .ok_or_else(|| TreeError::Malformed)?;
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
        // By content (not by digest: no value digests are kept): a leaf copied by
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
pub(super) struct Cut<'a, 't, H, const STORE: bool> {
    pub(super) base: &'a Chunks<PNode>,
    pub(super) pool: &'a Pool,
    pub(super) loaded: &'a Loaded,
    pub(super) touched: &'a Touched<'t>,
    pub(super) read: &'a ReadValues<'t>,
    /// Value digests, computed once (shared with the seal).
    pub(super) digests: &'a mut Digests,
    pub(super) hasher: PhantomData<fn() -> H>,
}

impl<'a, 't: 'a, H: TreeHasher, const STORE: bool> Cut<'a, 't, H, STORE> {
    /// A string of a pre-state node.
    #[inline]
    pub(super) fn string(&self, r: Ref) -> &'a [u8] {
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
pub(super) struct Committed<'a> {
    pub(super) nodes: &'a Chunks<PNode>,
    pub(super) pool: &'a Pool,
    /// The store stubs stand for (a persistent tree), and the limits of its records.
    pub(super) disk: Option<(&'a Disk, SizeLimits)>,
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
pub(super) type Base<'t> = (&'t Chunks<PNode>, &'t Pool, Option<Source<'t>>);

/// What `Tree::run` reads: the committed state, the limits and the two-thread seal's
/// threshold.
pub(super) type Parts<'t, 's> = (Base<'t>, &'s State<Packed>, &'s SizeLimits, Option<usize>);

/// What a batch made, for its commit: its nodes, its strings, the committed strings it
/// took out of the tree, and what it loaded.
pub(super) struct Made {
    pub(super) nodes: Vec<PNode>,
    pub(super) strings: Pool,
    pub(super) released: Vec<Ref>,
    pub(super) loaded: Loaded,
}

/// A node a commit places, children first: one the batch made, one it loaded (or a stub of
/// the loaded region), or the node a committed stub opened, which goes into the stub's slot.
#[derive(Clone, Copy, Debug)]
pub(super) enum Place {
    New(usize),
    Loaded(usize),
    Opened(usize, usize),
}

impl<H, const STORE: bool> Ran<'_, H, STORE> {
    /// The results, the proof and the new root.
    pub(super) fn outcome(self) -> (Vec<OpResult>, Proof, RootDigest) {
        (self.results, self.proof, self.root)
    }
}

/// A batch run on the committed state, not yet committed.
pub(super) struct Ran<'t, H, const STORE: bool> {
    /// The post-state, sealed.
    pub(super) state: State<Packed>,
    /// Its root.
    pub(super) root: RootDigest,
    pub(super) results: Vec<OpResult>,
    /// The proof (empty bytes if none was asked for).
    pub(super) proof: Proof,
    pub(super) batch: Batch<'t, H, STORE>,
}

/// Lanes of [`warm`]: walks whose loads the processor can overlap.
pub(super) const LANES: usize = 8;

/// Walks the committed nodes toward the keys of `ops`, [`LANES`] keys at a time, level by
/// level, reading each node on the way (to the first stub or leaf, at most `levels` deep),
/// so that the batch's own walks, which go one after the other, find those nodes in the
/// cache: one lane's loads do not wait for another's, so their cache misses overlap (a
/// batch of lookups ran 12-26% faster for 26% more instructions: the walk waits on memory,
/// docs/performance.md). Changes nothing; returns the nodes it read.
pub(super) fn warm(
    nodes: &Chunks<PNode>,
    pool: &Pool,
    (root, levels): (NodeId, usize),
    ops: &[Operation],
) -> usize {
    let mut read = 0usize;
    for lanes in ops.chunks(LANES) {
        let mut at = [Some(root); LANES];
        for _ in 0..levels {
            let mut moved = false;
            for (slot, op) in at.iter_mut().zip(lanes) {
                let Some(node) = slot.and_then(|id| id.index()).and_then(|i| nodes.get(i)) else {
                    continue;
                };
                read = read.wrapping_add(1);
                *slot = match &node.kind {
                    Kind::Internal(i) if !is_stub(node) => {
                        i.route
                            .sends_left(op.key(), |r| pool.get(r))
                            .and_then(|left| {
                                moved = true;
                                // Only committed ids: a loaded stub's node is not here.
                                Some(if left { i.left } else { i.right })
                                    .filter(|c| c.index().is_some_and(|c| c < nodes.len()))
                            })
                    }
                    _ => None,
                };
            }
            if !moved {
                break;
            }
        }
    }
    read
}
