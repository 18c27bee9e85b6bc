//! A damaged RocksDB write-ahead log: refused by default with the loss measured, changing
//! nothing; opened at the damage with `WalRecovery::AcceptLoss`, the loss reported; a log
//! merely torn at its end (a crash during the last, unacknowledged write) opens as usual.
//!
//! Every store here keeps all its commits in the log: a few small synced commits, far below
//! one memtable, so nothing is flushed to SST files (checked), and the log's length after
//! each commit says where each commit's record lies.
#![cfg(feature = "rocksdb")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use avlplus::store::{RocksOptions, RocksStore, StoreConfig, StoreError, WalLoss, WalRecovery};
use avlplus::{Operation, RootDigest, Tree};
use common::TempDir;

const COMMITS: u64 = 10;

fn ops(version: u64) -> Vec<Operation> {
    (0..20u64)
        .map(|j| Operation::insert(format!("k{version}-{j}"), [version as u8; 100]))
        .collect()
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

/// The one write-ahead log file.
fn the_log(dir: &Path) -> PathBuf {
    let logs = files_ending(dir, ".log");
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs.into_iter().next().unwrap()
}

fn log_len(dir: &Path) -> u64 {
    std::fs::metadata(the_log(dir)).unwrap().len()
}

/// A store whose log holds every commit.
struct Logged {
    /// The log's length after version `v`'s commit, for each `v` from 0.
    ends: Vec<u64>,
    /// The root of each version.
    roots: Vec<RootDigest>,
}

/// Creates a store with versions 0..=`COMMITS`, then `rollback_to` (if any) and
/// `after_rollback` more commits; `ends` and `roots` are indexed by commit (a rollback is a
/// commit too), `roots` by the version the commit leaves as head.
fn build(dir: &Path, rollback_to: Option<u64>, after_rollback: u64) -> Logged {
    let store = Arc::new(RocksStore::create(dir).unwrap());
    let mut tree: Tree = Tree::create_store(store, StoreConfig::DEFAULT).unwrap();
    let mut ends = vec![log_len(dir)];
    let mut roots = vec![tree.root()];
    for v in 1..=COMMITS {
        tree.apply(&ops(v)).unwrap();
        assert_eq!(tree.version(), v);
        ends.push(log_len(dir));
        roots.push(tree.root());
    }
    if let Some(to) = rollback_to {
        tree.rollback(to).unwrap();
        ends.push(log_len(dir));
        roots.truncate(to as usize + 1);
        for i in 0..after_rollback {
            tree.apply(&ops(1000 + i)).unwrap();
            ends.push(log_len(dir));
            roots.push(tree.root());
        }
    }
    drop(tree);
    assert!(
        files_ending(dir, ".sst").is_empty(),
        "a memtable was flushed"
    );
    assert_eq!(log_len(dir), *ends.last().unwrap());
    Logged { ends, roots }
}

/// Flips 16 bytes in the middle of commit `c`'s log record.
fn damage_commit(dir: &Path, logged: &Logged, c: usize) {
    let start = if c == 0 { 0 } else { logged.ends[c - 1] };
    let end = logged.ends[c];
    assert!(
        end - start > 64,
        "commit {c} record is {} bytes",
        end - start
    );
    let at = ((start + end) / 2) as usize;
    let path = the_log(dir);
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[at..at + 16] {
        *b ^= 0xa5;
    }
    std::fs::write(&path, bytes).unwrap();
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime, [u8; 32])> {
    files_ending(dir, "")
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).unwrap();
            let hash = *blake3::hash(&std::fs::read(&p).unwrap()).as_bytes();
            (p, meta.len(), meta.modified().unwrap(), hash)
        })
        .collect()
}

fn unchanged<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    std::thread::sleep(std::time::Duration::from_millis(15));
    let before = snapshot(dir);
    let out = f();
    assert_eq!(before, snapshot(dir), "{} changed", dir.display());
    out
}

fn accept() -> RocksOptions {
    RocksOptions::DEFAULT.wal_recovery(WalRecovery::AcceptLoss)
}

#[test]
fn damage_before_the_end_is_refused_with_the_loss_measured() {
    // Damage in the commit of version c: recovery keeps up to c - 1 (or nothing, for the
    // commit that created the store, which recovery reports as head 0).
    for c in 0..=COMMITS {
        let dir = TempDir::new("wal-refuse");
        let logged = build(dir.path(), None, 0);
        damage_commit(dir.path(), &logged, c as usize);
        let recovered_head = c.saturating_sub(1);
        let expected = StoreError::WalDamaged {
            recovered_head,
            lost_versions: COMMITS - recovered_head,
        };
        unchanged(dir.path(), || {
            assert_eq!(
                RocksStore::open(dir.path()).unwrap_err(),
                expected,
                "commit {c}"
            );
            assert_eq!(
                RocksStore::open_read_only(dir.path()).unwrap_err(),
                expected,
                "commit {c}"
            );
        });
    }
}

#[test]
fn accepted_loss_opens_at_the_damage_and_says_so() {
    let c = 4;
    let dir = TempDir::new("wal-accept");
    let logged = build(dir.path(), None, 0);
    damage_commit(dir.path(), &logged, c);
    let loss = WalLoss {
        recovered_head: c as u64 - 1,
        lost_versions: COMMITS - (c as u64 - 1),
    };

    // Read-only first: it reports the loss and changes nothing.
    unchanged(dir.path(), || {
        let store = Arc::new(RocksStore::open_read_only_with(dir.path(), accept()).unwrap());
        assert_eq!(store.wal_loss(), Some(loss));
        let tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
        assert_eq!(
            (tree.version(), tree.root()),
            (loss.recovered_head, logged.roots[c - 1])
        );
        tree.audit().unwrap();
    });

    let store = Arc::new(RocksStore::open_with(dir.path(), accept()).unwrap());
    assert_eq!(store.wal_loss(), Some(loss));
    let mut tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
    assert_eq!(tree.version(), loss.recovered_head);
    assert_eq!(tree.root(), logged.roots[c - 1]);
    tree.audit().unwrap();
    assert!(tree.get(b"k3-0").unwrap().is_some());
    assert!(tree.get(b"k4-0").unwrap().is_none());
    tree.apply(&ops(77)).unwrap();
    let root = tree.root();
    drop(tree);

    // The damaged log is gone with the recovery: the default options open it again.
    let store = Arc::new(RocksStore::open(dir.path()).unwrap());
    assert_eq!(store.wal_loss(), None);
    let tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
    assert_eq!((tree.version(), tree.root()), (c as u64, root));
    tree.audit().unwrap();
}

#[test]
fn an_intact_log_reports_no_loss() {
    let dir = TempDir::new("wal-intact");
    let logged = build(dir.path(), None, 0);
    for options in [RocksOptions::DEFAULT, accept()] {
        let store = Arc::new(RocksStore::open_read_only_with(dir.path(), options).unwrap());
        assert_eq!(store.wal_loss(), None);
        drop(store);
        let store = Arc::new(RocksStore::open_with(dir.path(), options).unwrap());
        assert_eq!(store.wal_loss(), None);
        let tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
        assert_eq!(tree.root(), *logged.roots.last().unwrap());
    }
}

#[test]
fn torn_tail_opens_without_the_torn_commit() {
    for cut in [1u64, 5, 40] {
        let dir = TempDir::new("wal-torn");
        let logged = build(dir.path(), None, 0);
        let log = the_log(dir.path());
        let file = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
        file.set_len(log_len(dir.path()) - cut).unwrap();
        drop(file);
        let head = COMMITS - 1;
        unchanged(dir.path(), || {
            let store = Arc::new(RocksStore::open_read_only(dir.path()).unwrap());
            assert_eq!(store.wal_loss(), None);
            let tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
            assert_eq!(tree.version(), head);
        });
        let store = Arc::new(RocksStore::open(dir.path()).unwrap());
        assert_eq!(store.wal_loss(), None);
        let tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
        assert_eq!(
            (tree.version(), tree.root()),
            (head, logged.roots[head as usize])
        );
        tree.audit().unwrap();
    }
}

#[test]
fn damage_inside_the_last_record_is_refused() {
    // Not a truncation: the last record is whole but fails its checksum. RocksDB's
    // TolerateCorruptedTailRecords reports it (only a record cut short is a torn tail), and
    // the damage missed the record's window, which shows that the version was committed.
    let dir = TempDir::new("wal-last");
    let logged = build(dir.path(), None, 0);
    damage_commit(dir.path(), &logged, COMMITS as usize);
    let got = unchanged(dir.path(), || RocksStore::open(dir.path()).unwrap_err());
    assert_eq!(
        got,
        StoreError::WalDamaged {
            recovered_head: COMMITS - 1,
            lost_versions: 1,
        }
    );
}

#[test]
fn loss_counts_from_the_last_head_after_a_rollback() {
    // Versions 1..=10, rolled back to 6, then 7 and 8 again: the log's final head is 8 (not
    // its highest, 10). Damage in version 3's commit loses versions 3..=8 of the final state.
    let dir = TempDir::new("wal-rollback");
    let logged = build(dir.path(), Some(6), 2);
    damage_commit(dir.path(), &logged, 3);
    let expected = StoreError::WalDamaged {
        recovered_head: 2,
        lost_versions: 6,
    };
    unchanged(dir.path(), || {
        assert_eq!(RocksStore::open(dir.path()).unwrap_err(), expected);
    });
    let store = Arc::new(RocksStore::open_with(dir.path(), accept()).unwrap());
    assert_eq!(
        store.wal_loss(),
        Some(WalLoss {
            recovered_head: 2,
            lost_versions: 6
        })
    );
    let tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
    assert_eq!((tree.version(), tree.root()), (2, logged.roots[2]));
    tree.audit().unwrap();
}
