//! Creating and opening RocksDB stores: what each kind of path gives, and that every refusal
//! and every read-only open leaves the directory exactly as it was (names, sizes, contents,
//! modes and modification times of everything under it).
#![cfg(feature = "rocksdb")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use avlplus::__internal::FORMAT;
use avlplus::store::{
    NotAStore, RocksStore, StoreBackend, StoreConfig, StoreError, Table, WriteBatch,
};
use avlplus::{Operation, Tree, TreeError};
use common::TempDir;

/// One file-system entry as seen by `snapshot`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    dir: bool,
    len: u64,
    mode: u32,
    modified: std::time::SystemTime,
    content: Option<[u8; 32]>,
}

/// Everything under `path` (and `path` itself, under ""); empty if `path` does not exist.
fn snapshot(path: &Path) -> BTreeMap<PathBuf, Seen> {
    fn walk(root: &Path, path: &Path, out: &mut BTreeMap<PathBuf, Seen>) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        let content = meta
            .is_file()
            .then(|| *blake3::hash(&std::fs::read(path).unwrap()).as_bytes());
        out.insert(
            path.strip_prefix(root).unwrap().to_path_buf(),
            Seen {
                dir: meta.is_dir(),
                len: meta.len(),
                mode: std::os::unix::fs::PermissionsExt::mode(&meta.permissions()),
                modified: meta.modified().unwrap(),
                content,
            },
        );
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                walk(root, &entry.unwrap().path(), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    if std::fs::symlink_metadata(path).is_ok() {
        walk(path, path, &mut out);
    }
    out
}

/// Runs `f` and asserts that nothing under `path` changed. Waits a little first, so that a
/// rewrite would show in the modification times even on a coarse clock.
fn unchanged<T>(path: &Path, f: impl FnOnce() -> T) -> T {
    std::thread::sleep(std::time::Duration::from_millis(15));
    let before = snapshot(path);
    let out = f();
    let after = snapshot(path);
    assert_eq!(before, after, "{} changed", path.display());
    out
}

/// Every way of opening `path`, each asserted to fail with `expected` and change nothing.
fn every_open_refused(path: &Path, expected: &StoreError) {
    unchanged(path, || {
        assert_eq!(RocksStore::open(path).unwrap_err(), *expected, "open");
        assert_eq!(
            RocksStore::open_read_only(path).unwrap_err(),
            *expected,
            "open_read_only"
        );
    });
}

fn create_refused(path: &Path, expected: &StoreError) {
    unchanged(path, || {
        assert_eq!(RocksStore::create(path).unwrap_err(), *expected, "create");
    });
}

/// A RocksDB database made with RocksDB directly, with `families` besides `default`.
fn raw_rocksdb(path: &Path, families: &[&str]) {
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let db = rocksdb::DB::open_cf(&opts, path, families).unwrap();
    // Format 1 kept its format number in `meta`; others, anything.
    match families.last().map(|name| db.cf_handle(name).unwrap()) {
        Some(cf) => db.put_cf(cf, b"format", [1u8]).unwrap(),
        None => db.put(b"user", b"data").unwrap(),
    }
    db.flush().unwrap();
}

/// A store with a few commits; returns the head version and its root.
fn real_store(path: &Path) -> (u64, avlplus::RootDigest) {
    let store = Arc::new(RocksStore::create(path).unwrap());
    let mut tree: Tree = Tree::create_store(store, StoreConfig::DEFAULT).unwrap();
    for i in 0..5u32 {
        tree.apply(&[Operation::insert(i.to_be_bytes(), b"value")])
            .unwrap();
    }
    (tree.version(), tree.root())
}

fn families(path: &Path) -> Vec<String> {
    let mut names = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).unwrap();
    names.sort();
    names
}

#[test]
fn missing_path_is_refused_and_not_created() {
    let dir = TempDir::new("open-missing");
    let path = dir.path().join("no").join("such").join("store");
    let expected = StoreError::NotAStore(NotAStore::NoSuchPath);
    unchanged(dir.path(), || every_open_refused(&path, &expected));
    assert!(!dir.path().join("no").exists());
}

#[test]
fn empty_directory_is_refused() {
    let dir = TempDir::new("open-empty");
    every_open_refused(dir.path(), &StoreError::NotAStore(NotAStore::Empty));
}

#[test]
fn file_is_refused() {
    let dir = TempDir::new("open-file");
    let path = dir.path().join("state");
    std::fs::write(&path, b"not a directory").unwrap();
    let expected = StoreError::NotAStore(NotAStore::NotADirectory);
    unchanged(dir.path(), || {
        every_open_refused(&path, &expected);
        create_refused(&path, &expected);
    });
}

#[test]
fn directory_of_other_files_is_refused() {
    let dir = TempDir::new("open-other-files");
    // Names RocksDB itself uses, but no CURRENT: the user's LOG must not become LOG.old.*.
    std::fs::write(dir.path().join("LOG"), b"my own log\n").unwrap();
    std::fs::write(dir.path().join("LOCK"), b"").unwrap();
    std::fs::write(dir.path().join("000001.log"), b"my notes").unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    std::fs::write(dir.path().join("photos").join("a.jpg"), [0xff, 0xd8]).unwrap();
    let expected = StoreError::NotAStore(NotAStore::NotRocksDb);
    every_open_refused(dir.path(), &expected);
    create_refused(dir.path(), &expected);
    assert_eq!(
        std::fs::read(dir.path().join("LOG")).unwrap(),
        b"my own log\n"
    );
}

#[test]
fn foreign_rocksdb_is_refused() {
    for families in [
        &["users", "sessions"][..],
        &[][..],
        &["nodes", "versions"][..],
    ] {
        let dir = TempDir::new("open-foreign");
        raw_rocksdb(dir.path(), families);
        let mut names: Vec<String> = ["default"]
            .iter()
            .chain(families)
            .map(|s| s.to_string())
            .collect();
        let refused = unchanged(dir.path(), || {
            let e = RocksStore::open(dir.path()).unwrap_err();
            assert_eq!(RocksStore::open_read_only(dir.path()).unwrap_err(), e);
            assert_eq!(RocksStore::create(dir.path()).unwrap_err(), e);
            e
        });
        let StoreError::NotAStore(NotAStore::ForeignDatabase(mut found)) = refused else {
            panic!("{refused:?}");
        };
        found.sort();
        names.sort();
        assert_eq!(found, names);
    }
}

#[test]
fn format_1_store_is_refused() {
    let dir = TempDir::new("open-format1");
    raw_rocksdb(dir.path(), &["nodes", "stale", "versions", "meta"]);
    let expected = StoreError::UnsupportedFormat {
        found: 1,
        supported: FORMAT,
    };
    every_open_refused(dir.path(), &expected);
    create_refused(dir.path(), &StoreError::AlreadyExists);
}

#[test]
fn create_on_a_store_is_refused() {
    let dir = TempDir::new("create-existing");
    let (head, root) = real_store(dir.path());
    create_refused(dir.path(), &StoreError::AlreadyExists);
    // Even one created but never initialized.
    let bare = TempDir::new("create-bare");
    drop(RocksStore::create(bare.path()).unwrap());
    create_refused(bare.path(), &StoreError::AlreadyExists);
    let tree: Tree = Tree::open_store(
        Arc::new(RocksStore::open(dir.path()).unwrap()),
        StoreConfig::DEFAULT,
    )
    .unwrap();
    assert_eq!((tree.version(), tree.root()), (head, root));
}

#[test]
fn create_then_open_round_trip() {
    let dir = TempDir::new("create-open");
    // Parents are created.
    let path = dir.path().join("a").join("b");
    let store = Arc::new(RocksStore::create(&path).unwrap());
    assert!(!store.is_read_only());
    assert_eq!(store.wal_loss(), None);
    let mut tree: Tree = Tree::create_store(store, StoreConfig::DEFAULT).unwrap();
    tree.apply(&[Operation::insert(b"k", b"v")]).unwrap();
    let root = tree.root();
    drop(tree);
    assert_eq!(families(&path), ["default", "meta", "nodes", "versions"]);
    let store = Arc::new(RocksStore::open(&path).unwrap());
    assert_eq!(store.wal_loss(), None);
    let tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
    assert_eq!((tree.version(), tree.root()), (1, root));
    assert_eq!(tree.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    tree.audit().unwrap();
}

#[test]
fn create_in_an_empty_directory() {
    let dir = TempDir::new("create-empty");
    let store = Arc::new(RocksStore::create(dir.path()).unwrap());
    Tree::<avlplus::Sha256>::create_store(store, StoreConfig::DEFAULT).unwrap();
    assert_eq!(
        families(dir.path()),
        ["default", "meta", "nodes", "versions"]
    );
}

#[test]
fn created_but_uninitialized_store_opens_empty() {
    let dir = TempDir::new("open-bare");
    drop(RocksStore::create(dir.path()).unwrap());
    let store = Arc::new(RocksStore::open(dir.path()).unwrap());
    let err = Tree::<avlplus::Sha256>::open_store(store, StoreConfig::DEFAULT).unwrap_err();
    assert_eq!(
        err,
        TreeError::Store(StoreError::NotAStore(NotAStore::Empty))
    );
}

#[test]
fn read_only_open_changes_nothing_and_refuses_writes() {
    let dir = TempDir::new("open-read-only");
    let (head, root) = real_store(dir.path());
    // A store whose log still holds every commit (nothing was flushed) and one flushed.
    for flushed in [false, true] {
        if flushed {
            RocksStore::open(dir.path()).unwrap().flush().unwrap();
        }
        unchanged(dir.path(), || {
            let store = Arc::new(RocksStore::open_read_only(dir.path()).unwrap());
            assert!(store.is_read_only());
            assert_eq!(store.wal_loss(), None);
            assert_eq!(
                store.write(WriteBatch::default(), true),
                Err(StoreError::ReadOnly)
            );
            assert_eq!(store.flush(), Err(StoreError::ReadOnly));
            let mut tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
            assert_eq!((tree.version(), tree.root()), (head, root));
            assert_eq!(
                tree.get(&0u32.to_be_bytes()).unwrap().as_deref(),
                Some(&b"value"[..])
            );
            tree.audit().unwrap();
            assert_eq!(
                tree.apply(&[Operation::insert(b"new", b"v")]).unwrap_err(),
                TreeError::Store(StoreError::ReadOnly)
            );
            // Several read-only handles at once.
            let a = RocksStore::open_read_only(dir.path()).unwrap();
            let b = RocksStore::open_read_only(dir.path()).unwrap();
            assert_eq!(
                a.get(Table::Meta, b"window").unwrap(),
                b.get(Table::Meta, b"window").unwrap()
            );
        });
    }
}

#[test]
fn read_only_beside_a_read_write_handle() {
    let dir = TempDir::new("open-beside");
    let store = Arc::new(RocksStore::create(dir.path()).unwrap());
    let mut writer: Tree = Tree::create_store(store, StoreConfig::DEFAULT).unwrap();
    writer.apply(&[Operation::insert(b"a", b"1")]).unwrap();
    let root = writer.root();

    let reader = Arc::new(RocksStore::open_read_only(dir.path()).unwrap());
    let mut batch = WriteBatch::default();
    batch.put(Table::Meta, b"x".to_vec(), b"y".to_vec());
    assert_eq!(reader.write(batch, true), Err(StoreError::ReadOnly));
    let seen: Tree = Tree::open_store(reader, StoreConfig::DEFAULT).unwrap();
    assert_eq!((seen.version(), seen.root()), (1, root));
    assert_eq!(seen.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    seen.audit().unwrap();

    // The writer goes on; the reader keeps the state it opened; a new reader sees more.
    writer.apply(&[Operation::insert(b"b", b"2")]).unwrap();
    assert_eq!(seen.version(), 1);
    let later: Tree = Tree::open_store(
        Arc::new(RocksStore::open_read_only(dir.path()).unwrap()),
        StoreConfig::DEFAULT,
    )
    .unwrap();
    assert_eq!((later.version(), later.root()), (2, writer.root()));
    // A second read-write handle is refused by RocksDB's lock.
    assert!(matches!(
        RocksStore::open(dir.path()),
        Err(StoreError::Backend(_))
    ));
}

/// A read-only bind mount of a store: proof that read-only opening writes nothing at all
/// (as root, permissions would not stop a write). Skipped where bind mounts are not allowed.
#[test]
fn read_only_open_on_a_read_only_mount() {
    struct Mount(PathBuf);
    impl Drop for Mount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let mount = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new("mount")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let dir = TempDir::new("open-ro-mount");
    let source = dir.path().join("source");
    let target = dir.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let (head, root) = real_store(&source);
    if !mount(&["--bind".as_ref(), source.as_os_str(), target.as_os_str()]) {
        eprintln!("skipped: cannot bind-mount here");
        return;
    }
    let guard = Mount(target.clone());
    assert!(
        mount(&[
            "-o".as_ref(),
            "remount,bind,ro".as_ref(),
            target.as_os_str()
        ]),
        "remount read-only"
    );
    assert!(
        std::fs::write(target.join("probe"), b"").is_err(),
        "mount is writable"
    );

    unchanged(&source, || {
        let store = Arc::new(RocksStore::open_read_only(&target).unwrap());
        let tree: Tree = Tree::open_store(store, StoreConfig::DEFAULT).unwrap();
        assert_eq!((tree.version(), tree.root()), (head, root));
        tree.audit().unwrap();
        assert!(matches!(
            RocksStore::open(&target),
            Err(StoreError::Backend(_))
        ));
        assert_eq!(
            RocksStore::create(&target).unwrap_err(),
            StoreError::AlreadyExists
        );
    });
    drop(guard);
}

/// The snapshot sees what a read-write open does (the info log rotated, a new manifest), so
/// the checks above are not vacuous.
#[test]
fn snapshot_sees_a_read_write_open() {
    let dir = TempDir::new("open-detector");
    real_store(dir.path());
    std::thread::sleep(std::time::Duration::from_millis(15));
    let before = snapshot(dir.path());
    drop(RocksStore::open(dir.path()).unwrap());
    let after = snapshot(dir.path());
    assert_ne!(before, after);
    assert!(after
        .keys()
        .any(|p| p.to_string_lossy().starts_with("LOG.old")));
}
