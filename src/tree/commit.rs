//! Running a batch and committing it: the proof encoded from what the batch read, the
//! commit planned (which slots the new nodes go to, which records a store gets) and written
//! before memory changes, staged batches, and the placing of new and loaded nodes.

use super::*;

impl<H: TreeHasher> Tree<H> {
    /// Room for what a batch of `ops` operations on a tree of height `height` reads and makes:
    /// the distinct nodes of `ops` paths (the top `log2(ops)` levels are shared by them all,
    /// the rest are each path's own) and a few rotation or new nodes each. A batch that
    /// makes more grows its region once; one reserved far beyond what it uses kept that
    /// memory resident in the allocator (a tenth of a 10^5-key tree, for 4096 inserts).
    pub(super) fn room(ops: usize, height: u8) -> usize {
        let height = usize::from(height);
        let shared = (ops.checked_ilog2().unwrap_or(0) as usize).min(height);
        let top = 2usize.saturating_pow(u32::try_from(shared).unwrap_or(0).saturating_add(1));
        ops.saturating_mul(height.saturating_sub(shared).saturating_add(3))
            .saturating_add(top)
            .min(1 << 18)
    }

    /// Runs `ops` on the committed state `pre` (its nodes `nodes`, limits `limits`): the
    /// post-state sealed, with the proof if `proof`.
    pub(super) fn run<'t, const STORE: bool>(
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
        if let (Some(root), true) = (pre.root, ops.len() >= LANES) {
            let levels = usize::from(pre.height).saturating_add(1);
            // Its count is kept from the optimizer, which would drop a walk that has no effect.
            core::hint::black_box(warm(committed.0, committed.1, (root, levels), ops));
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

    pub(super) fn stage_in<const STORE: bool>(
        &self,
        ops: &[Operation],
    ) -> Result<StagedBatch, TreeError> {
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
    pub(super) fn check_staged(&self, staged: &StagedBatch) -> Result<(), TreeError> {
        if staged.base != (self.version, self.root, self.generation) {
            return Err(TreeError::StagedOutOfDate);
        }
        Ok(())
    }

    /// Places a planned commit whose write is made, then keeps the memory budget.
    pub(super) fn adopt(&mut self, planned: Planned) {
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
    pub(super) fn apply_with(
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
    pub(super) fn apply_in<const STORE: bool>(
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
    pub(super) fn commit<const STORE: bool>(
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
    pub(super) fn prepare(
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
    pub(super) fn place<const STORE: bool>(&mut self, planned: Planned) -> usize {
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
    pub(super) fn put(&mut self, at: Option<NodeId>, node: PNode, version: u64) -> NodeId {
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
    pub(super) fn put_stored(&mut self, at: Option<NodeId>, node: PNode, version: u64) -> NodeId {
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
}

/// A batch run, proven and ready to commit ([`Tree::stage`]); dropping it commits nothing.
pub struct StagedBatch {
    pub(super) batch: BatchProof,
    /// The version, root and slot generation it was staged on.
    pub(super) base: (u64, RootDigest, u64),
    pub(super) planned: Planned,
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
pub(super) static NO_WRITES: WriteBatch = WriteBatch { ops: Vec::new() };

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

/// What a persistent commit writes from: the committed nodes, the batch's own and loaded
/// ones, their strings, the committed nodes' record versions and the new version.
pub(super) struct Written<'a> {
    pub(super) base: &'a Chunks<PNode>,
    pub(super) new: &'a [PNode],
    pub(super) loaded: &'a Loaded,
    pub(super) strings: Strings<'a>,
    pub(super) versions: &'a Chunks<u64>,
    pub(super) version: u64,
}

impl Written<'_> {
    /// The record key of the node `id` names (the batch's own nodes are sealed).
    pub(super) fn key(&self, id: NodeId) -> Option<NodeKey> {
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
    pub(super) fn records(
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
    pub(super) fn advance<H: TreeHasher>(
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
pub(super) fn plan<const STORE: bool>(
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
pub(super) struct Planned {
    pub(super) state: State<Packed>,
    pub(super) made: Made,
    /// What it places, children first.
    pub(super) order: Vec<Place>,
    /// The committed nodes it replaces (their slots are freed).
    pub(super) replaced: Vec<NodeId>,
    /// Whether the root changed (else the batch's released strings stay).
    pub(super) changed: bool,
    pub(super) root: RootDigest,
    pub(super) len: u64,
    pub(super) version: u64,
    /// A persistent tree's write: records, version record, expiry and window.
    pub(super) writes: Option<WriteBatch>,
    /// What the commit makes stale (for a later expiry).
    pub(super) stale: Vec<NodeKey>,
    /// The oldest kept version after it.
    pub(super) oldest: u64,
    /// Versions whose stale lists its expiry used.
    pub(super) expired: Vec<u64>,
}

/// Collects, from `id` down, the nodes a commit places (children first), and passes the
/// committed nodes the tree reaches to `keep`, which is true for touched ones it had not
/// seen. Enters only those: an untouched committed node's subtree is unchanged and holds no
/// touched node (a node is read only by walking through its ancestors). A committed stub
/// the batch opened is placed with the node it opened; a loaded stub is placed as it is.
pub(super) fn reachable<const STORE: bool>(
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
