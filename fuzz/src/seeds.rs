//! Seed inputs for every target, and the stable-Rust replay of the committed corpus.
//!
//! Seeds start each target from meaningful inputs (honest proofs, real node records, short
//! operation programs) instead of empty ones. `AVLPLUS_FUZZ_SEEDS=1 cargo test write_seeds`
//! writes them to `corpus/<target>/seed-*`; libFuzzer adds what it finds next to them.

use std::sync::Arc;

use avlplus::store::{MemoryStore, StoreBackend, StoreConfig, Table};
use avlplus::{Operation, Tree};

use crate::cases::cases;

/// Named seed inputs of the target `name`.
pub fn seeds(name: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    match name {
        "decode_proof" => {
            for c in cases() {
                out.push((c.name.to_string(), c.proof.clone()));
            }
            out.push(("empty".into(), Vec::new()));
            out.push(("empty-tree".into(), vec![1, 0, 0, 0]));
        }
        "verify_arbitrary" | "verify_mutated" => {
            for (i, c) in cases().iter().enumerate() {
                let mut honest = vec![i as u8, 0];
                if name == "verify_arbitrary" {
                    honest.extend_from_slice(&c.proof);
                } else {
                    // One token edit (a balance), no byte edit.
                    honest.extend_from_slice(&[1, 0, 0, 1]);
                }
                out.push((c.name.to_string(), honest));
                let mut newer = vec![i as u8, 0xff];
                if name == "verify_arbitrary" {
                    newer.extend_from_slice(&c.proof);
                } else {
                    newer.extend_from_slice(&[0, 0, 1]);
                }
                out.push((format!("{}-other-root", c.name), newer));
            }
        }
        "model_ops" => {
            let program: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
            for (mode, style) in [(0u8, 0u8), (1, 1), (9, 2), (0x17, 0)] {
                let mut p = vec![mode, style];
                p.extend_from_slice(&program);
                out.push((format!("mode{mode}-style{style}"), p));
            }
        }
        "decode_node" => {
            let store = Arc::new(MemoryStore::new());
            let mut tree: Tree =
                Tree::create_store(store.clone(), StoreConfig::default()).expect("store");
            tree.apply(&[
                Operation::insert(b"a", b"1"),
                Operation::insert(b"b", vec![7; 40]),
                Operation::insert(b"c", b""),
            ])
            .expect("apply");
            for (i, key) in store.keys(Table::Nodes).into_iter().enumerate() {
                let record = store
                    .get(Table::Nodes, &key)
                    .ok()
                    .flatten()
                    .expect("record");
                let mut p = vec![0u8];
                p.extend_from_slice(&key[..8]);
                p.extend_from_slice(&record);
                out.push((format!("record{i}"), p));
            }
        }
        "store_bytes" => {
            out.push(("clean".into(), vec![0]));
            // Five edits each: (table, existing key?, key index, action, ...) then operations.
            for t in 0..4u8 {
                let mut p = vec![5];
                for e in 0..5u8 {
                    p.extend_from_slice(&[t, 1, e * 7, e % 6, 3, 1, 2, 3]);
                }
                p.extend_from_slice(&[1, 0, 2, 1, 3, 2, 4, 3, 5, 0, 6, 1, 7]);
                out.push((format!("table{t}"), p));
            }
        }
        "ffi_calls" => {
            // Case i, its own root, default limits, SHA-256, honest arguments, then variants.
            for i in 0..cases().len() as u8 {
                out.push((
                    format!("case{i}-honest"),
                    vec![i, 0, 0, 0, 0, 1, 0, 0, 0, 3, 3],
                ));
                out.push((
                    format!("case{i}-short-buffers"),
                    vec![i, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0],
                ));
                out.push((
                    format!("case{i}-blake3"),
                    vec![i, 0, 0, 0, 3, 1, 0, 0, 0, 5, 5],
                ));
            }
            out.push((
                "phone-overrides".into(),
                vec![0, 0, 2, 3, 3, 4, 1, 0, 9, 0, 1],
            ));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::seeds;
    use crate::{target, TARGETS};

    fn corpus_dir(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(name)
    }

    /// Every seed runs cleanly through its target.
    #[test]
    fn seeds_pass() {
        for name in TARGETS {
            let run = target(name).unwrap();
            let seeds = seeds(name);
            assert!(!seeds.is_empty(), "{name}: no seeds");
            for (_, data) in seeds {
                run(&data);
            }
        }
    }

    /// The committed corpus replays through every target (a regression suite on stable).
    #[test]
    fn corpus_replays() {
        for name in TARGETS {
            let run = target(name).unwrap();
            let Ok(dir) = std::fs::read_dir(corpus_dir(name)) else {
                continue;
            };
            for entry in dir {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let result = std::panic::catch_unwind(|| run(&data));
                assert!(result.is_ok(), "{name}: {} fails", path.display());
            }
        }
    }

    /// Writes the seeds into the corpus directories (`AVLPLUS_FUZZ_SEEDS=1`).
    #[test]
    fn write_seeds() {
        if std::env::var_os("AVLPLUS_FUZZ_SEEDS").is_none() {
            return;
        }
        for name in TARGETS {
            let dir = corpus_dir(name);
            std::fs::create_dir_all(&dir).unwrap();
            for (seed, data) in seeds(name) {
                std::fs::write(dir.join(format!("seed-{seed}")), data).unwrap();
            }
        }
    }
}
