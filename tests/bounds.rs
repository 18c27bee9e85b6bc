//! Resource bounds: what a hostile proof can make the decoder and the verifier spend.
//!
//! Time is not measured (tests assert behaviour, never timing). Memory is: this test binary
//! installs a counting allocator that keeps, per thread, the bytes currently allocated and
//! their peak, so a test can say "this call allocated at most N bytes" exactly and
//! deterministically. The bounds asserted are the ones `docs/security.md` states:
//!
//! - a proof longer than `max_proof_bytes`, a batch longer than `max_operations` or an
//!   operation over the size limits is rejected before anything is allocated;
//! - a node count over what the bytes can hold (one bit per token) or over the batch's cap
//!   (`max_proof_nodes` in `src/verifier.rs`) is rejected before the shape is read;
//! - a length prefix over its limit, or over the bytes left, is rejected without allocating
//!   the length it claims;
//! - a proof tree deeper than the trusted root's height is `TooDeep`;
//! - everything else is paid for by the input: peak memory is at most
//!   `BYTES_PER_INPUT_BYTE × len + BYTES_PER_NODE × nodes` (constants below, measured for
//!   the worst token mix).
//!
//! Hostile proofs are written here byte by byte (format v1, `docs/proof-format.md`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use avlplus::proof::{decode, DecodeError, DecodeLimits};
use avlplus::{Limits, Operation, RootDigest, Sha256, SizeLimits, Tree, Verifier, VerifyError};

// ---------------------------------------------------------------------------------------------
// A counting allocator (per thread, so that tests running in parallel do not mix counts).

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grow(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(n);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrink(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// thread-local cells with constant initializers (no allocation, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size);
        // SAFETY: forwarded with the caller's arguments.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        shrink(layout.size());
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result and the peak number of bytes allocated during the call
/// (over what was live when it started). The result is measured before it is dropped.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get).saturating_sub(base);
    (out, peak)
}

/// Peak memory per byte of input that the decoder may use beyond the per-node cost: the
/// copied directions and payload bytes (once each), with a wide margin (the shape is read
/// twice in place; the decoder's stack is charged per node).
const BYTES_PER_INPUT_BYTE: usize = 64;

/// Peak memory per node of the decoded tree (a leaf: node, key, next key, value; an internal
/// node: node, plus the decoder's stack entry).
const BYTES_PER_NODE: usize = 256;

// ---------------------------------------------------------------------------------------------
// Writing hostile proofs.

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let low = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// A proof under construction: header fields, shape bits and payload bytes.
#[derive(Default)]
struct Hostile {
    count: u64,
    key_field: u64,
    value_field: u64,
    bits: Vec<bool>,
    payload: Vec<u8>,
    /// Leaves written so far: leaf `i` gets the 4-byte key `i` (keys must increase).
    leaves: u32,
    /// Length of every leaf's value (filled with 0xab).
    value_len: usize,
}

/// Shape bits of a leaf with no next key and a full value.
const LEAF: [bool; 5] = [true, true, true, false, true];
/// Shape bits of an even internal node.
const INTERNAL: [bool; 3] = [true, false, false];

impl Hostile {
    /// 4-byte keys (the decoder requires increasing keys, so keys cannot be empty) and empty
    /// values: a leaf costs four bytes and five bits of input, an internal node three bits.
    fn cheap() -> Self {
        Hostile {
            key_field: 5,
            value_field: 1,
            ..Hostile::default()
        }
    }

    fn leaf(&mut self) {
        self.bits.extend(LEAF);
        self.payload.extend_from_slice(&self.leaves.to_be_bytes());
        self.payload
            .extend(std::iter::repeat_n(0xab, self.value_len));
        self.leaves += 1;
        self.count += 1;
    }

    fn internal(&mut self) {
        self.bits.extend(INTERNAL);
        self.count += 1;
    }

    fn stub(&mut self, label: [u8; 32]) {
        self.bits.push(false);
        self.payload.extend_from_slice(&label);
        self.count += 1;
    }

    /// A perfect tree of cheap leaves with `2^depth` leaves.
    fn perfect(&mut self, depth: u32) {
        if depth == 0 {
            self.leaf();
        } else {
            self.perfect(depth - 1);
            self.perfect(depth - 1);
            self.internal();
        }
    }

    /// The cheapest leaves in memory per input byte: 2-byte keys, each leaf's next key the
    /// following leaf's key (so every key after the first is implied, §4.5) and an empty
    /// value. A leaf costs its 2-byte next key and five bits, an internal node three bits.
    fn chained(depth: u32) -> Self {
        let mut h = Hostile {
            key_field: 3,
            value_field: 1,
            ..Hostile::default()
        };
        let leaves = 1u32 << depth;
        assert!(leaves <= 1 << 16);
        h.chained_tree(depth, leaves);
        h
    }

    fn chained_tree(&mut self, depth: u32, leaves: u32) {
        if depth > 0 {
            self.chained_tree(depth - 1, leaves);
            self.chained_tree(depth - 1, leaves);
            self.internal();
            return;
        }
        let i = self.leaves;
        let last = i + 1 == leaves;
        self.bits.extend([true, true, true, !last, true]);
        if i == 0 {
            self.payload.extend_from_slice(&(i as u16).to_be_bytes());
        }
        if !last {
            self.payload
                .extend_from_slice(&(i as u16 + 1).to_be_bytes());
        }
        self.leaves += 1;
        self.count += 1;
    }

    /// A left-leaning chain of `depth` internal nodes over cheap leaves.
    fn chain(&mut self, depth: usize) {
        self.leaf();
        for _ in 0..depth {
            self.leaf();
            self.internal();
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = vec![avlplus::proof::VERSION];
        put_varint(&mut out, self.count);
        put_varint(&mut out, self.key_field);
        put_varint(&mut out, self.value_field);
        let mut shape = vec![0u8; self.bits.len().div_ceil(8)];
        for (i, b) in self.bits.iter().enumerate() {
            if *b {
                shape[i / 8] |= 1 << (i % 8);
            }
        }
        out.extend_from_slice(&shape);
        out.extend_from_slice(&self.payload);
        out
    }
}

/// A header claiming one leaf (no next key, full value) with per-item lengths, followed by
/// `rest` (the payload).
fn one_leaf(rest: &[u8]) -> Vec<u8> {
    let mut out = vec![avlplus::proof::VERSION, 1, 0, 0];
    out.push(0b1_0111); // 1, code 3 (leaf), no next, full value
    out.extend_from_slice(rest);
    out
}

/// A varint of 2^30 (1 GiB).
const GIB: [u8; 5] = [0x80, 0x80, 0x80, 0x80, 0x04];

fn four_mib() -> Limits {
    Limits::DEFAULT.max_proof_bytes(4 << 20)
}

/// A trusted root that no proof below matches (the verifier cannot know that before it has
/// decoded and hashed the proof).
fn fake_root(height: u8) -> RootDigest {
    RootDigest {
        label: [0x5a; 32],
        height,
    }
}

fn lookups(n: u32) -> Vec<Operation> {
    (0..n).map(|i| Operation::lookup(i.to_be_bytes())).collect()
}

// ---------------------------------------------------------------------------------------------
// Rejected before any work.

#[test]
fn a_proof_over_the_byte_limit_is_rejected_before_anything_is_allocated() {
    let proof = vec![0u8; (4 << 20) + 1];
    let ops = lookups(1);
    let verifier = Verifier::<Sha256>::with_limits(four_mib());
    let (result, peak) = peak_of(|| verifier.verify(&fake_root(20), &proof, &ops));
    assert_eq!(result, Err(VerifyError::Decode(DecodeError::TooLong)));
    assert_eq!(peak, 0);
    // The same bytes one shorter get past the length check (and fail on the version byte).
    let (result, _) = peak_of(|| verifier.verify(&fake_root(20), &proof[1..], &ops));
    assert_eq!(
        result,
        Err(VerifyError::Decode(DecodeError::UnsupportedVersion(0)))
    );
}

#[test]
fn too_many_or_oversized_operations_are_rejected_before_decoding() {
    let verifier = Verifier::<Sha256>::with_limits(Limits::DEFAULT.max_operations(8));
    let proof = Hostile::cheap().bytes();
    let root = RootDigest::empty::<Sha256>();
    let (result, peak) = peak_of(|| verifier.verify(&root, &proof, &lookups(9)[..]));
    assert_eq!(result, Err(VerifyError::TooManyOperations));
    assert!(peak < 1024, "{peak}");

    let long_key = vec![0u8; SizeLimits::DEFAULT.max_key_len + 1];
    let long_value = vec![0u8; SizeLimits::DEFAULT.max_value_len + 1];
    let ops = [
        Operation::lookup(b"fine"),
        Operation::insert(long_key, b"v"),
    ];
    assert_eq!(
        verifier.verify(&root, &proof, &ops),
        Err(VerifyError::Operation {
            index: 1,
            error: avlplus::OperationError::KeyTooLong
        })
    );
    let ops = [Operation::upsert(b"k", long_value)];
    assert_eq!(
        verifier.verify(&root, &proof, &ops),
        Err(VerifyError::Operation {
            index: 0,
            error: avlplus::OperationError::ValueTooLong
        })
    );
}

#[test]
fn a_node_count_over_the_bytes_is_rejected_before_the_shape_is_read() {
    // One bit per token at least: 8 tokens per byte after the header is the most a count
    // may claim.
    let rest = vec![0u8; 1000];
    for (count, ok) in [(8000u64, true), (8001, false), (u64::MAX, false)] {
        let mut p = vec![avlplus::proof::VERSION];
        put_varint(&mut p, count);
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&rest);
        let (result, peak) = peak_of(|| decode(&p, &DecodeLimits::default()).map(|_| ()));
        if ok {
            // 8000 stubs need 256000 payload bytes: truncated, after reading the shape.
            assert_eq!(result, Err(DecodeError::Truncated));
            assert!(peak <= BYTES_PER_INPUT_BYTE * p.len(), "{peak}");
        } else {
            assert_eq!(result, Err(DecodeError::TooManyNodes));
            assert_eq!(peak, 0, "count {count}");
        }
    }
}

/// A left comb of `stubs` stubs whose labels are missing: a tree in shape only.
fn stub_comb_without_labels(stubs: usize) -> Hostile {
    let mut h = Hostile::default();
    h.stub([0; 32]);
    for _ in 1..stubs {
        h.stub([0; 32]);
        h.internal();
    }
    h.payload.clear();
    h
}

#[test]
fn a_proof_that_cannot_decode_gets_no_arena() {
    // The decoder's arena is sized from the shape's token counts: it is allocated only when
    // the bytes after the shape can hold the payloads the tokens need (32 for each stub).
    // 90 stubs: a comb within the default depth limit.
    let h = stub_comb_without_labels(90);
    let mut p = h.bytes();
    p.extend(std::iter::repeat_n(0, 90 * 32 - 1));
    let (result, peak) = peak_of(|| decode(&p, &DecodeLimits::default()).map(|_| ()));
    assert_eq!(result, Err(DecodeError::Truncated));
    // The decoder's stack of 90 subtrees waiting, nothing for the 90 nodes.
    assert!(peak < 90 * 32, "{peak}");
    // With one more byte the labels are all there: the 89 internal nodes and 90 stubs are
    // allocated at once.
    p.push(0);
    let (result, peak) = peak_of(|| decode(&p, &DecodeLimits::default()).map(|_| ()));
    assert!(result.is_ok(), "{result:?}");
    assert!(peak >= 89 * 128 + 90 * 32, "{peak}");

    // Keys of width 0 are all empty: two leaves cannot be in order.
    let mut h = Hostile {
        key_field: 1,
        value_field: 1,
        ..Hostile::default()
    };
    for _ in 0..2 {
        h.bits.extend(LEAF);
        h.count += 1;
    }
    h.internal();
    let p = h.bytes();
    let (result, peak) = peak_of(|| decode(&p, &DecodeLimits::default()).map(|_| ()));
    assert_eq!(result, Err(DecodeError::UnorderedLeaves));
    assert!(peak < 256, "{peak}");
}

#[test]
fn a_node_count_over_the_batch_cap_is_rejected_before_the_shape_is_read() {
    // One lookup in a tree of height 20 reads at most a few hundred nodes; a 4 MiB proof
    // claiming a million is refused on the count alone, with nothing allocated.
    let mut p = vec![avlplus::proof::VERSION];
    put_varint(&mut p, 1_000_000);
    p.extend_from_slice(&[1, 1]);
    p.resize(4 << 20, 0);
    let ops = lookups(1);
    let verifier = Verifier::<Sha256>::with_limits(four_mib());
    let (result, peak) = peak_of(|| verifier.verify(&fake_root(20), &p, &ops));
    assert_eq!(result, Err(VerifyError::Decode(DecodeError::TooManyNodes)));
    assert_eq!(peak, 0);

    // The same count is within the cap of a batch of 4096 operations: it gets past the count
    // and is truncated when the stubs' hashes run out.
    let ops = lookups(4096);
    let (result, peak) = peak_of(|| verifier.verify(&fake_root(20), &p, &ops));
    assert_eq!(result, Err(VerifyError::Decode(DecodeError::Truncated)));
    let stubs = (p.len() - 4 - 1_000_000 / 8) / 32;
    assert!(
        peak <= BYTES_PER_INPUT_BYTE * p.len() + BYTES_PER_NODE * stubs,
        "{peak}"
    );
}

// ---------------------------------------------------------------------------------------------
// Lengths that claim more than the input holds.

#[test]
fn lengths_over_their_limits_are_rejected_without_allocating_them() {
    let limits = DecodeLimits::default();
    // A key claiming 1 GiB.
    let mut p = one_leaf(&GIB);
    p.push(0);
    let (result, peak) = peak_of(|| decode(&p, &limits).map(|_| ()));
    assert_eq!(result, Err(DecodeError::KeyTooLong));
    assert!(peak < 1024, "{peak}");

    // An empty key, then a value claiming 1 GiB.
    let mut rest = vec![0u8];
    rest.extend_from_slice(&GIB);
    let p = one_leaf(&rest);
    let (result, peak) = peak_of(|| decode(&p, &limits).map(|_| ()));
    assert_eq!(result, Err(DecodeError::ValueTooLong));
    assert!(peak < 1024, "{peak}");

    // Width fields claiming 1 GiB + 1 (every item 1 GiB long) for keys, then for values.
    let wide = [0x81, 0x80, 0x80, 0x80, 0x04];
    for (header, error) in [
        ([&wide[..], &[0]].concat(), DecodeError::KeyTooLong),
        ([&[0], &wide[..]].concat(), DecodeError::ValueTooLong),
    ] {
        let mut p = vec![avlplus::proof::VERSION, 1];
        p.extend_from_slice(&header);
        p.push(0b1_0111);
        let (result, peak) = peak_of(|| decode(&p, &limits).map(|_| ()));
        assert_eq!(result, Err(error), "{p:02x?}");
        assert!(peak < 1024, "{peak}");
    }
}

#[test]
fn lengths_within_the_limits_but_over_the_input_are_truncated_without_allocating_them() {
    // Limits that allow 1 GiB keys and values: the claim passes the limit check, so only the
    // bytes left can refuse it, and must before anything of that size is allocated.
    let limits = DecodeLimits::DEFAULT
        .max_key_len(usize::MAX / 2)
        .max_value_len(usize::MAX / 2);
    // Ten bytes claiming a 1 GiB key.
    let p = one_leaf(&GIB);
    assert_eq!(p.len(), 10);
    let (result, peak) = peak_of(|| decode(&p, &limits).map(|_| ()));
    assert_eq!(result, Err(DecodeError::Truncated));
    assert!(peak < 1024, "{peak}");

    // An empty key, then a 1 GiB value.
    let mut rest = vec![0u8];
    rest.extend_from_slice(&GIB);
    let p = one_leaf(&rest);
    let (result, peak) = peak_of(|| decode(&p, &limits).map(|_| ()));
    assert_eq!(result, Err(DecodeError::Truncated));
    assert!(peak < 1024, "{peak}");

    // A fixed width of 1 GiB for every value, one leaf.
    let p = vec![
        avlplus::proof::VERSION,
        1,
        1,
        0x81,
        0x80,
        0x80,
        0x80,
        0x04,
        0x17,
    ];
    let (result, peak) = peak_of(|| decode(&p, &limits).map(|_| ()));
    assert_eq!(result, Err(DecodeError::Truncated));
    assert!(peak < 1024, "{peak}");
}

#[test]
fn overlong_and_oversized_varints_are_bad_varints() {
    let limits = DecodeLimits::default();
    for count in [
        &[0x80, 0x00][..],                                             // not shortest form
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], // over 64 bits
        &[0xff; 11],                                                   // over ten bytes
    ] {
        let mut p = vec![avlplus::proof::VERSION];
        p.extend_from_slice(count);
        p.extend_from_slice(&[0, 0, 0]);
        assert_eq!(
            decode(&p, &limits).map(|_| ()),
            Err(DecodeError::BadVarint),
            "{count:02x?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Depth.

#[test]
fn depth_bombs_are_too_deep() {
    // A chain exactly as deep as the trusted root is decoded (and fails only on its hash);
    // one level more is refused while decoding.
    let height = 30u8;
    let ops = lookups(64);
    let verifier = Verifier::<Sha256>::new();
    let mut at = Hostile::cheap();
    at.chain(usize::from(height));
    assert_eq!(
        verifier.verify(&fake_root(height), &at.bytes(), &ops),
        Err(VerifyError::RootMismatch)
    );
    let mut over = Hostile::cheap();
    over.chain(usize::from(height) + 1);
    assert_eq!(
        verifier.verify(&fake_root(height), &over.bytes(), &ops),
        Err(VerifyError::Decode(DecodeError::TooDeep))
    );

    // A chain of depth 100 000 (about 100 KB) against any root, and against the verifier's
    // own depth limit whatever the trusted height claims.
    let mut bomb = Hostile::cheap();
    bomb.chain(100_000);
    let bytes = bomb.bytes();
    assert!(bytes.len() < 520_000);
    let many = lookups(1 << 16);
    let (result, peak) = peak_of(|| verifier.verify(&fake_root(u8::MAX), &bytes, &many));
    assert_eq!(result, Err(VerifyError::Decode(DecodeError::TooDeep)));
    assert!(
        peak <= BYTES_PER_INPUT_BYTE * bytes.len() + BYTES_PER_NODE * 200,
        "{peak}"
    );
    let shallow = Verifier::<Sha256>::with_limits(Limits::DEFAULT.max_depth(10));
    assert_eq!(
        shallow.verify(&fake_root(u8::MAX), &bytes, &lookups(1 << 16)),
        Err(VerifyError::Decode(DecodeError::TooDeep))
    );
    // The raw decoder's default limit.
    assert_eq!(
        decode(&bytes, &DecodeLimits::default()).map(|_| ()),
        Err(DecodeError::TooDeep)
    );
}

#[test]
fn a_trusted_height_of_zero_admits_a_single_node_only() {
    let ops = lookups(4);
    let verifier = Verifier::<Sha256>::new();
    let mut two = Hostile::cheap();
    two.leaf();
    two.leaf();
    two.internal();
    assert_eq!(
        verifier.verify(&fake_root(0), &two.bytes(), &ops),
        Err(VerifyError::Decode(DecodeError::TooDeep))
    );
}

// ---------------------------------------------------------------------------------------------
// docs/security.md quotes what these tests measure: each measuring test checks its figure there.

/// Asserts that docs/security.md quotes `figure`, as measured by the calling test.
fn security_doc_quotes(figure: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/security.md");
    let text = std::fs::read_to_string(path).unwrap();
    // The doc wraps lines; compare with its line breaks as spaces.
    let text = text.replace('\n', " ");
    assert!(
        text.contains(figure),
        "docs/security.md should quote `{figure}`, as measured here: update it"
    );
}

/// `bytes` in megabytes to one decimal, as the doc prints it.
fn mb(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `n` with groups of three digits, as the doc prints counts: `262 143`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Maximal-size hostile proofs: memory paid for by the input.

#[test]
fn a_maximal_size_hostile_proof_is_rejected_with_memory_linear_in_its_size() {
    // A perfect tree of 2^17 stubs: 4 MiB of hashes, plus the shape. The proof limit is set
    // to exactly its length (one byte less refuses it outright).
    let height = 24u8;
    // No leaves: both width fields 0, as the canonical encoding requires.
    let mut h = Hostile::default();
    let stubs = 1usize << 17;
    fn stubs_tree(h: &mut Hostile, depth: u32, next: &mut u32) {
        if depth == 0 {
            *next += 1;
            let mut label = [0u8; 32];
            label[..4].copy_from_slice(&next.to_be_bytes());
            h.stub(label);
        } else {
            stubs_tree(h, depth - 1, next);
            stubs_tree(h, depth - 1, next);
            h.internal();
        }
    }
    stubs_tree(&mut h, 17, &mut 0);
    let bytes = h.bytes();
    let nodes = 2 * stubs - 1;
    assert!(bytes.len() > 4 << 20);
    let limits = |n| Limits::DEFAULT.max_proof_bytes(n);
    let verifier = Verifier::<Sha256>::with_limits(limits(bytes.len()));
    let tight = Verifier::<Sha256>::with_limits(limits(bytes.len() - 1));

    let ops = lookups(1024);
    let (result, peak) = peak_of(|| tight.verify(&fake_root(height), &bytes, &ops));
    assert_eq!(result, Err(VerifyError::Decode(DecodeError::TooLong)));
    assert_eq!(peak, 0);

    // 256 lookups on a tree of height 24 read at most 72 705 nodes: refused on the count.
    let few = lookups(256);
    let (result, peak) = peak_of(|| verifier.verify(&fake_root(height), &bytes, &few));
    assert_eq!(result, Err(VerifyError::Decode(DecodeError::TooManyNodes)));
    assert_eq!(peak, 0);

    // 1024 lookups may read 307 201: decoded in full, hashed, refused on the root label.
    let (result, peak) = peak_of(|| verifier.verify(&fake_root(height), &bytes, &ops));
    assert_eq!(result, Err(VerifyError::RootMismatch));
    assert!(
        peak <= BYTES_PER_INPUT_BYTE * bytes.len() + BYTES_PER_NODE * nodes,
        "{peak}"
    );
    eprintln!(
        "{} bytes of stubs, {nodes} nodes: peak {peak} bytes ({:.1} per input byte)",
        bytes.len(),
        peak as f64 / bytes.len() as f64
    );
    security_doc_quotes(&format!(
        "| {} | {} ({:.1} B per input byte) |",
        grouped(nodes),
        mb(peak),
        peak as f64 / bytes.len() as f64
    ));
}

#[test]
fn a_maximal_size_proof_that_decodes_is_hashed_and_rejected_in_memory_linear_in_its_size() {
    // A perfect tree of depth 16: 65536 leaves whose values fill 4 MiB, decoded in full,
    // hashed, and refused on the root label.
    let height = 16u8;
    let leaves = 1usize << height;
    let value_len = ((4 << 20) - 32 - 5 * leaves) / leaves;
    let mut h = Hostile {
        key_field: 5,
        value_field: value_len as u64 + 1,
        value_len,
        ..Hostile::default()
    };
    h.perfect(u32::from(height));
    let bytes = h.bytes();
    assert!(bytes.len() <= 4 << 20, "{}", bytes.len());
    let ops = lookups(4096);
    let verifier = Verifier::<Sha256>::with_limits(four_mib());
    let (result, peak) = peak_of(|| verifier.verify(&fake_root(height), &bytes, &ops));
    assert_eq!(result, Err(VerifyError::RootMismatch));
    let nodes = 2 * leaves - 1;
    assert!(
        peak <= BYTES_PER_INPUT_BYTE * bytes.len() + BYTES_PER_NODE * nodes,
        "{peak} for {} bytes and {nodes} nodes",
        bytes.len()
    );
    eprintln!(
        "4 MiB proof, {nodes} nodes: peak {} bytes ({:.1} per input byte)",
        peak,
        peak as f64 / bytes.len() as f64
    );
    security_doc_quotes(&format!(
        "| {} | {} ({:.1} B per input byte) |",
        grouped(nodes),
        mb(peak),
        peak as f64 / bytes.len() as f64
    ));
}

#[test]
fn cheap_tokens_cost_at_most_bytes_per_node() {
    // The worst ratio of memory to input: leaves with 4-byte keys (keys must increase) and
    // empty values, and internal nodes, take five bytes of input per pair and a node's worth
    // of memory each. This is what the node cap and the depth cap exist for; here, measured
    // for the raw decoder.
    let mut h = Hostile::cheap();
    h.perfect(15);
    let bytes = h.bytes();
    let nodes = h.count as usize;
    let (result, peak) =
        peak_of(|| decode(&bytes, &DecodeLimits::default()).map(|t| t.stats().leaves));
    assert_eq!(result, Ok(1 << 15));
    assert!(
        peak <= BYTES_PER_INPUT_BYTE * bytes.len() + BYTES_PER_NODE * nodes,
        "{peak}"
    );
    eprintln!(
        "{} bytes of cheap tokens, {nodes} nodes: peak {peak} bytes ({:.1} per node, {:.1} per input byte)",
        bytes.len(),
        peak as f64 / nodes as f64,
        peak as f64 / bytes.len() as f64
    );
}

#[test]
fn direction_bytes_cost_their_length_once() {
    // The empty tree's proof followed by 4 MiB of direction bytes: nothing reads them.
    let mut bytes = vec![avlplus::proof::VERSION, 0, 0, 0];
    bytes.resize(4 << 20, 0xff);
    let verifier = Verifier::<Sha256>::with_limits(four_mib());
    let root = RootDigest::empty::<Sha256>();
    let ops = lookups(16);
    let (result, peak) = peak_of(|| verifier.verify(&root, &bytes, &ops));
    assert_eq!(result, Err(VerifyError::UnusedDirections));
    assert!(peak <= bytes.len() + 4096, "{peak}");
}

#[test]
fn honest_proofs_stay_within_the_same_bounds() {
    // The constants are not so tight that an honest batch trips them: a real tree, a real
    // batch, and the honest proof's decoding measured the same way.
    let mut tree = Tree::new();
    let setup: Vec<Operation> = (0..5000u32)
        .map(|i| Operation::insert(i.to_be_bytes(), [i as u8; 8]))
        .collect();
    tree.apply_unproven(&setup).unwrap();
    let ops: Vec<Operation> = (0..500u32)
        .map(|i| match i % 3 {
            0 => Operation::lookup((i * 10).to_be_bytes()),
            1 => Operation::upsert((i * 7 + 20000).to_be_bytes(), b"new"),
            _ => Operation::remove((i * 9).to_be_bytes()),
        })
        .collect();
    let batch = tree.prove(&ops).unwrap();
    let bytes = batch.proof.as_bytes();
    let (result, peak) = peak_of(|| decode(bytes, &DecodeLimits::default()).map(|t| t.stats()));
    let stats = result.unwrap();
    let nodes = stats.stubs + stats.internal + stats.leaves;
    assert!(
        peak <= BYTES_PER_INPUT_BYTE * bytes.len() + BYTES_PER_NODE * nodes,
        "{peak}"
    );
    let verified = Verifier::<Sha256>::new()
        .verify(&batch.old_root, bytes, &ops)
        .unwrap();
    assert_eq!(verified.new_root, batch.new_root);
}

// ---------------------------------------------------------------------------------------------
// The client's memory cap (`Limits::max_memory_bytes`).

/// The smallest `max_memory_bytes` under which `verify` does not refuse with
/// `TooMuchMemory`, found by bisection (the cap is checked before anything is allocated, so
/// the answer is exact).
fn smallest_cap(root: &RootDigest, proof: &[u8], ops: &[Operation], base: Limits) -> usize {
    let refused = |cap: usize| {
        let v = Verifier::<Sha256>::with_limits(base.max_memory_bytes(cap));
        let (result, peak) = peak_of(|| v.verify(root, proof, ops));
        let over = result == Err(VerifyError::Decode(DecodeError::TooMuchMemory));
        if over {
            assert_eq!(peak, 0, "refused after allocating {peak} bytes");
        }
        over
    };
    let (mut lo, mut hi) = (0usize, 1usize << 40);
    assert!(!refused(hi));
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if refused(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Verifies under the smallest cap that admits the batch; returns the cap and the peak.
fn under_smallest_cap(
    root: &RootDigest,
    proof: &[u8],
    ops: &[Operation],
    base: Limits,
) -> (Result<avlplus::Verified, VerifyError>, usize, usize) {
    let cap = smallest_cap(root, proof, ops, base);
    let v = Verifier::<Sha256>::with_limits(base.max_memory_bytes(cap));
    let (result, peak) = peak_of(|| v.verify(root, proof, ops));
    assert!(peak <= cap, "peak {peak} over the cap {cap}");
    (result, cap, peak)
}

#[test]
fn the_memory_cap_bounds_the_real_peak_and_refuses_before_allocating() {
    // Hostile proofs, each decoded in full and refused on its root label: the cheapest
    // leaves, stubs, leaves with long values.
    let base = Limits::DEFAULT;
    let chained = Hostile::chained(12).bytes();
    let mut stubs = Hostile::default();
    for _ in 0..60 {
        stubs.stub([3; 32]);
    }
    for _ in 0..59 {
        stubs.internal();
    }
    let stubs = stubs.bytes();
    let mut long = Hostile {
        key_field: 5,
        value_field: 301,
        value_len: 300,
        ..Hostile::default()
    };
    long.perfect(8);
    let long = long.bytes();
    for (name, bytes, height) in [
        ("chained", &chained, 12u8),
        ("stubs", &stubs, 59),
        ("long values", &long, 8),
    ] {
        let ops = lookups(2000);
        let (result, cap, peak) = under_smallest_cap(&fake_root(height), bytes, &ops, base);
        assert_eq!(result, Err(VerifyError::RootMismatch), "{name}");
        eprintln!(
            "{name}: {} bytes, cap {cap}, peak {peak} ({:.0}% of the cap)",
            bytes.len(),
            100.0 * peak as f64 / cap as f64
        );
    }

    // Honest batches, inserts and removals among them, on trees of 1 and 20 000 keys.
    for keys in [1u32, 20_000] {
        let mut tree = Tree::new();
        let setup: Vec<Operation> = (0..keys)
            .map(|i| Operation::insert((i * 2).to_be_bytes(), [i as u8; 40]))
            .collect();
        tree.apply_unproven(&setup).unwrap();
        let ops: Vec<Operation> = (0..3000u32)
            .map(|i| match i % 4 {
                0 => Operation::lookup((i * 2).to_be_bytes()),
                1 => Operation::insert((i * 2 + 1).to_be_bytes(), b"new"),
                2 => Operation::upsert((i * 6).to_be_bytes(), [1u8; 40]),
                _ => Operation::remove_if_present((i * 2).to_be_bytes()),
            })
            .collect();
        let batch = tree.prove(&ops).unwrap();
        let (result, cap, peak) =
            under_smallest_cap(&batch.old_root, batch.proof.as_bytes(), &ops, base);
        let verified = result.unwrap();
        assert_eq!(verified.new_root, batch.new_root);
        eprintln!(
            "honest, {keys} keys, 3000 operations: {} bytes, cap {cap}, peak {peak} ({:.0}%)",
            batch.proof.len(),
            100.0 * peak as f64 / cap as f64
        );
    }

    // A batch whose replay alone is over the cap admits no proof at all.
    let v = Verifier::<Sha256>::with_limits(Limits::DEFAULT.max_memory_bytes(1000));
    let ops = vec![Operation::insert(b"k", b"v"); 100];
    let (result, peak) = peak_of(|| v.verify(&RootDigest::empty::<Sha256>(), &[1, 0, 0, 0], &ops));
    assert_eq!(result, Err(VerifyError::Decode(DecodeError::TooMuchMemory)));
    assert_eq!(peak, 0);
}

#[test]
fn the_phone_preset_refuses_the_node_cap_bomb_and_verifies_honest_blocks() {
    // The example: a proof of the cheapest tokens at the node cap of a 10 000-lookup
    // block (trusted height 25) is about 6.5 MB and, decoded, over half a gigabyte. Under
    // `Limits::PHONE` it is refused on its header, with nothing allocated.
    let ops = lookups(10_000);
    let mut p = vec![avlplus::proof::VERSION];
    put_varint(&mut p, 2_400_000);
    p.extend_from_slice(&[3, 1]);
    p.resize(6_500_000, 0xff);
    let phone = Verifier::<Sha256>::with_limits(Limits::PHONE);
    let (result, peak) = peak_of(|| phone.verify(&fake_root(25), &p, &ops));
    assert_eq!(result, Err(VerifyError::Decode(DecodeError::TooMuchMemory)));
    assert_eq!(peak, 0);
    // The default limits have no memory cap: the count passes and the shape is read.
    let (result, _) = peak_of(|| Verifier::<Sha256>::new().verify(&fake_root(25), &p, &ops));
    assert_ne!(result, Err(VerifyError::Decode(DecodeError::TooMuchMemory)));

    // An honest block: 4096 mixed operations on 200 000 keys, within the phone's limits.
    let mut tree = Tree::new();
    let setup: Vec<Operation> = (0..200_000u32)
        .map(|i| Operation::insert((i * 3).to_be_bytes(), [i as u8; 32]))
        .collect();
    tree.apply_unproven(&setup).unwrap();
    let ops: Vec<Operation> = (0..4096u32)
        .map(|i| {
            let k = i.wrapping_mul(2_654_435_761) % 600_000;
            match i % 4 {
                0 => Operation::lookup(k.to_be_bytes()),
                1 => Operation::upsert(k.to_be_bytes(), [7u8; 32]),
                2 => Operation::insert(k.to_be_bytes(), b"x"),
                _ => Operation::remove_if_present(k.to_be_bytes()),
            }
        })
        .collect();
    let batch = tree.prove(&ops).unwrap();
    let (result, peak) = peak_of(|| phone.verify(&batch.old_root, batch.proof.as_bytes(), &ops));
    assert_eq!(result.unwrap().new_root, batch.new_root);
    assert!(peak <= Limits::PHONE.max_memory_bytes);
    let cap = smallest_cap(&batch.old_root, batch.proof.as_bytes(), &ops, Limits::PHONE);
    eprintln!(
        "phone: honest block of {} bytes, peak {peak}, needs a cap of {cap} of {}",
        batch.proof.len(),
        Limits::PHONE.max_memory_bytes
    );
    security_doc_quotes(&format!(
        "(a {:.1} MB proof) verifies with a peak of {}, and would pass a cap of {:.0} MB.",
        batch.proof.len() as f64 / 1e6,
        mb(peak),
        cap as f64 / 1e6
    ));
}

#[test]
fn memory_per_input_byte_of_the_cheapest_proof() {
    // docs/security.md §4 quotes this figure: the worst memory per input byte a proof that
    // decodes can cost. 32 768 chained leaves (2-byte keys, implied but for the first, empty
    // values) and their internal nodes: about 3 bytes of input per leaf-and-node pair.
    let h = Hostile::chained(15);
    let bytes = h.bytes();
    let nodes = h.count as usize;
    let (result, peak) =
        peak_of(|| decode(&bytes, &DecodeLimits::default()).map(|t| t.stats().leaves));
    assert_eq!(result, Ok(1 << 15));
    let per_byte = peak as f64 / bytes.len() as f64;
    // The same through the verifier, decoded, hashed and refused on the label.
    let ops = lookups(5000);
    let (result, verify_peak) =
        peak_of(|| Verifier::<Sha256>::new().verify(&fake_root(15), &bytes, &ops));
    assert_eq!(result, Err(VerifyError::RootMismatch));
    eprintln!(
        "{} bytes, {nodes} nodes: decode peak {peak} ({per_byte:.1} B per input byte, {:.1} per \
         node); verify peak {verify_peak} ({:.1} B per input byte)",
        bytes.len(),
        peak as f64 / nodes as f64,
        verify_peak as f64 / bytes.len() as f64
    );
    // The figures the docs state (the table of §2.3 and §4).
    security_doc_quotes(&format!(
        "| {} | {} ({:.0} B per node, {:.0} B per input byte) |",
        grouped(nodes),
        mb(peak),
        peak as f64 / nodes as f64,
        per_byte
    ));
    security_doc_quotes(&format!(
        "the worst case is {per_byte:.0} bytes of memory per input byte"
    ));
}
