//! The prover's handle: a tree in memory or partly in a node store, batches with proofs,
//! what-if proofs, and an audit.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use crate::codec::BitWriter;
use crate::hash::{Digest, RootDigest, Sha256, TreeHasher};
use crate::node::{seal, Bytes, Dir, Internal, Kind, LeafValue, Link, Node, Stub};
use crate::ops::{apply, OpResult, Operation, OperationError, Outcome, SizeLimits, State};
use crate::proof::{encode, Proof, Prune, View};
use crate::store::codec::{decode_node, encode_node};
use crate::store::{NodeStore, StoreError};
use crate::zipper::{Fault, Walker};

/// Why a prover call failed. The tree is unchanged after any error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeError {
    /// Operation `index` breaks the size limits; nothing was applied.
    Operation {
        /// Position in the batch.
        index: usize,
        /// What is wrong with it.
        error: OperationError,
    },
    /// The node store failed, or returned a missing or corrupt record.
    Store(StoreError),
    /// A walk reached a leaf that does not bracket its key (a corrupted routing key).
    Misrouted,
    /// The tree's structure is inconsistent.
    Malformed,
}

impl From<StoreError> for TreeError {
    fn from(e: StoreError) -> Self {
        TreeError::Store(e)
    }
}

impl From<Fault> for TreeError {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Misrouted => TreeError::Misrouted,
            _ => TreeError::Malformed,
        }
    }
}

impl core::fmt::Display for TreeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TreeError::Operation { index, error } => write!(f, "operation {index}: {error}"),
            TreeError::Store(e) => write!(f, "{e}"),
            TreeError::Misrouted => {
                f.write_str("walk reached a leaf that does not bracket its key")
            }
            TreeError::Malformed => f.write_str("tree structure is inconsistent"),
        }
    }
}

impl std::error::Error for TreeError {}

/// What a batch produced: per-operation results, one proof, and the roots around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchProof {
    /// One result per operation, in order.
    pub results: Vec<OpResult>,
    /// The proof a verifier replays the batch on.
    pub proof: Proof,
    /// The root before the batch (what the verifier must trust).
    pub old_root: RootDigest,
    /// The root after the batch.
    pub new_root: RootDigest,
}

/// Labels are uniformly distributed, so their first eight bytes are a good hash.
#[derive(Default)]
struct LabelHasher(u64);

impl Hasher for LabelHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        for (w, b) in word.iter_mut().zip(bytes) {
            *w = *b;
        }
        self.0 ^= u64::from_le_bytes(word);
    }
    fn write_usize(&mut self, _: usize) {}
}

/// Store records: label and encoded node.
type Records = Vec<(Digest, Vec<u8>)>;

type LabelSet = HashSet<Digest, BuildHasherDefault<LabelHasher>>;

/// The prover's walker: routes by routing keys, loads from the store, records what a proof
/// must contain.
struct Prover<'t, H> {
    store: Option<&'t dyn NodeStore>,
    limits: SizeLimits,
    record: bool,
    /// Labels of pre-state nodes whose content the batch read.
    touched: LabelSet,
    /// Digests of pre-state values the batch returned.
    read: LabelSet,
    directions: BitWriter,
    hasher: PhantomData<fn() -> H>,
}

impl<'t, H: TreeHasher> Prover<'t, H> {
    fn new(tree: &'t Tree<H>, record: bool) -> Self {
        Prover {
            store: tree.store.as_deref(),
            limits: tree.limits,
            record,
            touched: LabelSet::default(),
            read: LabelSet::default(),
            directions: BitWriter::new(),
            hasher: PhantomData,
        }
    }

    fn fetch(&self, label: &Digest) -> Result<Arc<Node>, TreeError> {
        let store = self.store.ok_or(StoreError::Missing(*label))?;
        let bytes = store.get(label)?.ok_or(StoreError::Missing(*label))?;
        Ok(Arc::new(decode_node::<H>(&bytes, label, &self.limits)?))
    }
}

impl<H: TreeHasher> Walker for Prover<'_, H> {
    type Error = TreeError;

    fn direction(&mut self, node: &Internal, key: &[u8]) -> Result<Dir, TreeError> {
        let route = node.route.as_deref().ok_or(TreeError::Malformed)?;
        let dir = if key < route { Dir::Left } else { Dir::Right };
        if self.record {
            self.directions.push(dir == Dir::Right);
        }
        Ok(dir)
    }

    fn load(&mut self, stub: &Stub) -> Result<Arc<Node>, TreeError> {
        if let Some(node) = stub.cached() {
            return Ok(Arc::clone(node));
        }
        let node = self.fetch(&stub.label)?;
        // Another thread may have loaded it meanwhile; either copy is the same node.
        Ok(Arc::clone(stub.cache.get_or_init(|| node)))
    }

    fn visit(&mut self, node: &Node) {
        if self.record {
            if let Some(label) = node.label {
                self.touched.insert(label);
            }
        }
    }

    fn read_value(&mut self, node: &Node) {
        // Keyed by value digest, not by leaf label: a leaf copied by this batch (a new next
        // key, say) carries its pre-state value, and that value must then be shipped. Values
        // written by the batch have no digest yet and need no shipping.
        if let (true, Kind::Leaf(leaf)) = (self.record, &node.kind) {
            if let LeafValue::Full {
                digest: Some(d), ..
            } = &leaf.value
            {
                self.read.insert(*d);
            }
        }
    }
}

/// Prunes the state a batch started from to the nodes the batch touched.
impl<'a, H: TreeHasher> Prune<'a> for Prover<'_, H> {
    type Error = TreeError;

    fn view(&mut self, link: &'a Link) -> Result<View<'a>, TreeError> {
        let label = link.label().ok_or(TreeError::Malformed)?;
        if !self.touched.contains(&label) {
            return Ok(View::Stub(label));
        }
        let node: &'a Node = match link {
            Link::Node(n) => n,
            Link::Stub(s) => {
                self.load(s)?;
                s.cached().ok_or(TreeError::Malformed)?
            }
        };
        Ok(match &node.kind {
            Kind::Leaf(leaf) => View::Leaf {
                leaf,
                ship_value: match &leaf.value {
                    LeafValue::Full { bytes, digest } => {
                        bytes.len() < 32 || digest.is_some_and(|d| self.read.contains(&d))
                    }
                    LeafValue::Withheld(_) => false,
                },
            },
            Kind::Internal(i) => View::Internal(i),
        })
    }
}

/// An authenticated AVL+ map on the prover's side.
///
/// The tree lives in memory, or partly in a [`NodeStore`]: a tree opened from a store by its
/// root loads nodes only as operations reach them. Every batch yields one proof; a light
/// client checks it with a [`Verifier`](crate::Verifier).
///
/// ```
/// use avlplus::{Operation, Outcome, Tree};
/// let mut tree = Tree::new();
/// let batch = tree
///     .apply(&[Operation::insert(b"a", b"1"), Operation::update(b"b", b"2")])
///     ?;
/// assert_eq!(batch.results[0], Ok(Outcome::Inserted));
/// assert_eq!(batch.results[1], Err(avlplus::Failure::KeyMissing));
/// assert_eq!(tree.root(), batch.new_root);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Tree<H: TreeHasher = Sha256> {
    state: State,
    root: RootDigest,
    store: Option<Arc<dyn NodeStore>>,
    limits: SizeLimits,
    hasher: PhantomData<fn() -> H>,
}

impl<H: TreeHasher> core::fmt::Debug for Tree<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tree")
            .field("root", &self.root)
            .field("hash", &H::NAME)
            .field("stored", &self.store.is_some())
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
            state: State::default(),
            root: RootDigest::empty::<H>(),
            store: None,
            limits: SizeLimits::DEFAULT,
            hasher: PhantomData,
        }
    }

    /// An empty tree whose committed nodes are written to `store`.
    pub fn with_store(store: Arc<dyn NodeStore>) -> Self {
        Tree {
            store: Some(store),
            ..Self::empty()
        }
    }

    /// Sets the key and value size limits (the verifier must use the same).
    pub fn with_limits(mut self, limits: SizeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Opens the tree with root `root` from `store`. Only the root node is read; the rest is
    /// loaded as operations reach it.
    pub fn open(store: Arc<dyn NodeStore>, root: RootDigest) -> Result<Self, TreeError> {
        let mut tree = Self::with_store(store);
        if root.label != H::empty() {
            let node = Prover::new(&tree, false).fetch(&root.label)?;
            tree.state = State {
                root: Some(Link::Node(node)),
                height: root.height,
            };
        }
        tree.root = root;
        Ok(tree)
    }

    /// The root digest of the committed state.
    pub fn root(&self) -> RootDigest {
        self.root
    }

    /// The size limits in force.
    pub fn limits(&self) -> &SizeLimits {
        &self.limits
    }

    fn run(
        &self,
        ops: &[Operation],
        record: bool,
    ) -> Result<(State, Vec<OpResult>, Prover<'_, H>), TreeError> {
        for (index, op) in ops.iter().enumerate() {
            op.check(&self.limits)
                .map_err(|error| TreeError::Operation { index, error })?;
        }
        let mut state = self.state.clone();
        let mut prover = Prover::new(self, record);
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            results.push(apply(&mut state, op, &mut prover)?);
        }
        Ok((state, results, prover))
    }

    fn proof(&self, prover: Prover<'_, H>) -> Result<Proof, TreeError> {
        let mut prover = prover;
        let directions = core::mem::take(&mut prover.directions).into_bytes();
        let bytes = encode::<H, _>(self.state.root.as_ref(), &directions, &mut prover)?;
        Ok(Proof::from_bytes(bytes))
    }

    /// Labels the new nodes of `state`; returns its digest and the store records to write.
    fn seal_state(&self, state: &mut State) -> Result<(RootDigest, Records), TreeError> {
        let mut records = Vec::new();
        let mut complete = true;
        let persist = self.store.is_some();
        let label = match &mut state.root {
            Some(root) => seal::<H>(root, &mut |node, label| {
                if persist {
                    match encode_node(node) {
                        Some(bytes) => records.push((*label, bytes)),
                        None => complete = false,
                    }
                }
            }),
            None => H::empty(),
        };
        if !complete {
            return Err(TreeError::Malformed);
        }
        Ok((
            RootDigest {
                label,
                height: state.height,
            },
            records,
        ))
    }

    /// Applies a batch: every operation in order, one proof for all of them, the new root.
    ///
    /// Operations that fail ([`Failure`](crate::Failure)) leave the tree unchanged and are
    /// still proven. An `Err` means nothing was applied.
    pub fn apply(&mut self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let (mut state, results, prover) = self.run(ops, true)?;
        let proof = self.proof(prover)?;
        let old_root = self.root;
        let new_root = self.commit(&mut state)?;
        self.state = state;
        Ok(BatchProof {
            results,
            proof,
            old_root,
            new_root,
        })
    }

    /// Applies a batch without building a proof (a full node replaying blocks).
    pub fn apply_unproven(&mut self, ops: &[Operation]) -> Result<Vec<OpResult>, TreeError> {
        let (mut state, results, _) = self.run(ops, false)?;
        self.commit(&mut state)?;
        self.state = state;
        Ok(results)
    }

    fn commit(&mut self, state: &mut State) -> Result<RootDigest, TreeError> {
        let (root, records) = self.seal_state(state)?;
        if let Some(store) = &self.store {
            store.put(records)?;
        }
        self.root = root;
        Ok(root)
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
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prove(&self, ops: &[Operation]) -> Result<BatchProof, TreeError> {
        let (mut state, results, prover) = self.run(ops, true)?;
        let proof = self.proof(prover)?;
        let (new_root, _) = self.seal_state(&mut state)?;
        Ok(BatchProof {
            results,
            proof,
            old_root: self.root,
            new_root,
        })
    }

    /// Reads a value without a proof.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TreeError> {
        let (_, results, _) = self.run(&[Operation::lookup(key)], false)?;
        Ok(match results.into_iter().next() {
            Some(Ok(Outcome::Found(v))) => Some(v),
            _ => None,
        })
    }

    /// Every entry in key order (loads the whole tree).
    pub fn entries(&self) -> Result<Vec<(Bytes, Bytes)>, TreeError> {
        let mut out = Vec::new();
        let Some(root) = &self.state.root else {
            return Ok(out);
        };
        let prover = Prover::new(self, false);
        let mut stack = vec![root.clone()];
        while let Some(link) = stack.pop() {
            let node = match link {
                Link::Node(n) => n,
                Link::Stub(s) => match s.cached() {
                    Some(n) => Arc::clone(n),
                    None => prover.fetch(&s.label)?,
                },
            };
            match &node.kind {
                Kind::Leaf(l) => {
                    let value = l.value.bytes().ok_or(TreeError::Malformed)?;
                    out.push((l.key.clone(), value.clone()));
                }
                Kind::Internal(i) => {
                    stack.push(i.right.clone());
                    stack.push(i.left.clone());
                }
            }
        }
        Ok(out)
    }

    /// Checks the whole committed tree: every label recomputed, AVL balance and balance
    /// fields, key order, the next-key chain, routing keys and the root height.
    ///
    /// ```
    /// use avlplus::{Operation, Tree};
    /// let mut tree = Tree::new();
    /// tree.apply(&[Operation::insert(b"a", b"1"), Operation::insert(b"b", b"2")])?;
    /// assert_eq!(tree.audit()?.leaves, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn audit(&self) -> Result<Audit, AuditError> {
        let mut audit = Audit::default();
        let Some(root) = &self.state.root else {
            return if self.root == RootDigest::empty::<H>() {
                Ok(audit)
            } else {
                Err(AuditError::LabelMismatch)
            };
        };
        let prover = Prover::new(self, false);
        let mut leaves: Vec<(Bytes, Option<Bytes>)> = Vec::new();
        let (label, height, _) = audit_link(&prover, root, &mut leaves, &mut audit)?;
        if label != self.root.label {
            return Err(AuditError::LabelMismatch);
        }
        if height != usize::from(self.root.height) {
            return Err(AuditError::HeightMismatch);
        }
        for pair in leaves.windows(2) {
            if let [(k1, n1), (k2, _)] = pair {
                if k1 >= k2 || n1.as_ref() != Some(k2) {
                    return Err(AuditError::BrokenLeafChain);
                }
            }
        }
        if leaves.last().is_some_and(|(_, next)| next.is_some()) {
            return Err(AuditError::BrokenLeafChain);
        }
        audit.leaves = leaves.len();
        audit.height = height;
        Ok(audit)
    }
}

/// What an audit counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Number of leaves (keys).
    pub leaves: usize,
    /// Number of internal nodes.
    pub internal: usize,
    /// Height of the root.
    pub height: usize,
}

/// What an audit found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditError {
    /// A node could not be loaded.
    Store(StoreError),
    /// A node's label is not the hash of its content, or the root label differs.
    LabelMismatch,
    /// A node's balance field is wrong or its subtrees differ in height by more than one.
    Unbalanced,
    /// Leaves are out of order or a next key does not name the following leaf.
    BrokenLeafChain,
    /// A routing key is not the least key of its right subtree.
    BadRoute,
    /// The root digest's height is not the tree's.
    HeightMismatch,
}

impl core::fmt::Display for AuditError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AuditError::Store(e) => write!(f, "{e}"),
            AuditError::LabelMismatch => f.write_str("a label is not the hash of its node"),
            AuditError::Unbalanced => f.write_str("a node is unbalanced or has a wrong balance"),
            AuditError::BrokenLeafChain => f.write_str("leaves out of order or next keys broken"),
            AuditError::BadRoute => {
                f.write_str("a routing key is not its right subtree's least key")
            }
            AuditError::HeightMismatch => f.write_str("root height differs from the tree's"),
        }
    }
}

impl std::error::Error for AuditError {}

impl From<TreeError> for AuditError {
    fn from(e: TreeError) -> Self {
        match e {
            TreeError::Store(s) => AuditError::Store(s),
            _ => AuditError::LabelMismatch,
        }
    }
}

/// Returns (label, height, least key) of the subtree.
fn audit_link<H: TreeHasher>(
    prover: &Prover<'_, H>,
    link: &Link,
    leaves: &mut Vec<(Bytes, Option<Bytes>)>,
    audit: &mut Audit,
) -> Result<(Digest, usize, Bytes), AuditError> {
    let node = match link {
        Link::Node(n) => Arc::clone(n),
        Link::Stub(s) => match s.cached() {
            Some(n) => Arc::clone(n),
            None => prover.fetch(&s.label)?,
        },
    };
    let (label, height, min) = match &node.kind {
        Kind::Leaf(l) => {
            let value = l.value.bytes().ok_or(AuditError::LabelMismatch)?;
            leaves.push((l.key.clone(), l.next.clone()));
            let label = H::leaf(&l.key, l.next.as_deref(), &H::value(value));
            (label, 0, l.key.clone())
        }
        Kind::Internal(i) => {
            audit.internal += 1;
            let (ll, lh, lmin) = audit_link(prover, &i.left, leaves, audit)?;
            let (rl, rh, rmin) = audit_link(prover, &i.right, leaves, audit)?;
            let diff = rh as i64 - lh as i64;
            if diff != i64::from(i.balance) || !(-1..=1).contains(&diff) {
                return Err(AuditError::Unbalanced);
            }
            if i.route.as_ref() != Some(&rmin) {
                return Err(AuditError::BadRoute);
            }
            (H::internal(i.balance, &ll, &rl), lh.max(rh) + 1, lmin)
        }
    };
    if node.label != Some(label) || link.label() != Some(label) {
        return Err(AuditError::LabelMismatch);
    }
    Ok((label, height, min))
}
