//! The memory budget holds on every read path, measured in real bytes: a counting global
//! allocator, not the tree's own estimate. (Issue: 5,000 gets on a 16 KiB budget used to
//! leave 1.86 MB of nodes loaded, because only `commit` ever dropped nodes.)
//!
//! One test in this binary, so that nothing else allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use avlplus::store::{MemoryStore, StoreConfig};
use avlplus::{Operation, Tree};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is only
// arithmetic on the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout as asked for.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn key(i: u32) -> [u8; 4] {
    i.wrapping_mul(2_654_435_761).to_be_bytes()
}

const KEYS: u32 = 20_000;
const BUDGET: usize = 16 << 10;
/// What the reads may leave behind beyond the budget: allocator rounding and the tree's
/// fixed parts (far below the 1.86 MB the bug left).
const SLACK: isize = 64 << 10;

#[test]
fn every_read_path_keeps_the_memory_budget() {
    let store = Arc::new(MemoryStore::new());
    let config = StoreConfig::DEFAULT.keep_versions(2).memory_budget(BUDGET);
    {
        let mut tree: Tree = Tree::create_store(store.clone(), config).unwrap();
        let ops: Vec<Operation> = (0..KEYS)
            .map(|i| Operation::insert(key(i), [9u8; 32]))
            .collect();
        tree.apply(&ops).unwrap();
        tree.apply(&[Operation::update(key(1), [8u8; 32])]).unwrap();
    }
    let tree: Tree = Tree::open_store(store.clone(), config).unwrap();
    let snapshot = tree.snapshot(1).unwrap();
    let base = live();
    let mut peak_growth = 0;
    let mut check = |what: &str, i: u32| {
        let grown = live() - base;
        peak_growth = peak_growth.max(grown);
        assert!(
            grown <= BUDGET as isize + SLACK,
            "{what}: {grown} bytes more than before after {i} calls (budget {BUDGET})"
        );
    };
    for i in 0..5_000u32 {
        let got = tree.get(&key(i * 3 % KEYS)).unwrap();
        assert!(got.is_some());
        if i % 500 == 0 {
            check("Tree::get", i);
        }
    }
    for i in 0..2_000u32 {
        assert!(snapshot.contains_key(&key(i * 7 % KEYS)).unwrap());
        if i % 500 == 0 {
            check("Snapshot::contains_key", i);
        }
    }
    for i in 0..300u32 {
        let ops = [Operation::lookup(key(i * 11 % KEYS))];
        let proof = tree.prove(&ops).unwrap();
        drop(proof);
        let proof = snapshot.prove(&ops).unwrap();
        drop(proof);
        if i % 50 == 0 {
            check("prove", i);
        }
    }
    let mut n = 0;
    for entry in tree.iter() {
        entry.unwrap();
        n += 1;
        if n % 5_000 == 0 {
            check("Tree::iter", n);
        }
    }
    assert_eq!(n, KEYS);
    check("after the iteration", n);
    eprintln!("peak growth over the reads: {peak_growth} bytes (budget {BUDGET})");
}
