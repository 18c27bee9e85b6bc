//! Crash safety: a child process commits a stream of batches to RocksDB and is killed with
//! SIGKILL at random moments; after each kill the store must reopen at the last acknowledged
//! commit (or the one in flight, if it completed), every kept version must answer like the
//! model, and the audit must pass.
//!
//! `AVLPLUS_CRASH_LONG=1 cargo test --release --test crash` runs 200 kills instead of 24.
#![cfg(feature = "rocksdb")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use avlplus::store::{Durability, RocksStore, StoreConfig};
use avlplus::Tree;
use common::{apply_model, batch, version_map, Map, Rng, TempDir};

const SEED: u64 = 0x00C0_FFEE;
const KEYS: u64 = 400;
const BATCH: usize = 40;

fn config() -> StoreConfig {
    StoreConfig {
        keep_versions: 4,
        durability: Durability::Sync,
        ..StoreConfig::default()
    }
}

/// The child: commits batch after batch and acknowledges each on stdout once `apply`
/// returned. Does nothing unless started by `crash_and_recover`.
#[test]
#[ignore = "child process of crash_and_recover"]
fn crash_child() {
    let Some(dir) = std::env::var_os("AVLPLUS_CRASH_DIR") else {
        return;
    };
    let store = Arc::new(RocksStore::open(dir).unwrap());
    let mut tree: Tree = Tree::open_store(store, config()).unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        let next = tree.version() + 1;
        let applied = tree.apply(&batch(SEED, next, KEYS, BATCH)).unwrap();
        assert_eq!(applied.version, next);
        writeln!(out, "acked {next}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn crash_and_recover() {
    let kills = if std::env::var_os("AVLPLUS_CRASH_LONG").is_some() {
        200
    } else {
        24
    };
    let dir = TempDir::new("crash");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(7);
    let mut models: Vec<Map> = vec![Map::new()];
    let mut committed = 0u64;
    for kill in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AVLPLUS_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("acked ").and_then(|n| n.parse::<u64>().ok()))
                .max()
        });
        std::thread::sleep(Duration::from_millis(40 + rng.below(300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap().unwrap_or(committed);
        assert!(acked >= committed);

        let store = Arc::new(RocksStore::open(dir.path()).unwrap());
        let tree: Tree = Tree::open_store(store, config()).unwrap();
        let head = tree.version();
        assert!(
            head == acked || head == acked + 1,
            "kill {kill}: head {head}, last acknowledged {acked}"
        );
        committed = head;
        while (models.len() as u64) <= head {
            let v = models.len() as u64;
            let mut next = models.last().cloned().unwrap_or_default();
            apply_model(&mut next, &batch(SEED, v, KEYS, BATCH));
            models.push(next);
        }
        tree.audit()
            .unwrap_or_else(|e| panic!("kill {kill}: audit failed: {e}"));
        for v in tree.kept_versions().unwrap() {
            let entries = version_map(&tree, v);
            assert_eq!(entries, models[v as usize], "kill {kill}: version {v}");
        }
    }
    eprintln!("{kills} kills; every reopen consistent; {committed} versions committed in all");
    // The child made progress: the kills landed while commits were running.
    assert!(
        committed >= kills,
        "only {committed} commits in {kills} runs of the child"
    );
}
