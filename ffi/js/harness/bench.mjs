// Verifying blocks, timed: shared by Node (harness/bench-node.mjs) and Chromium
// (harness/browser.mjs, which imports this file into the page). No Node APIs here. Run by
// ffi/benches/bindings.rs, which writes the blocks file and reads the figures printed.
import { decodeOperations } from "../avlplus.mjs";

function fromHex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * The blocks of a blocks file: its `verify` lines (the vector file's format, the header
 * comment of ffi/tests/c/verify_vectors.c), with hex fields.
 */
export function benchBlocks(text) {
  return text
    .split("\n")
    .filter((l) => l.startsWith("verify "))
    .map((l) => {
      const f = l.split(" ");
      return { hash: f[1], name: f[2], root: f[3], proof: f[4], ops: f[5], new_root: f[7] };
    });
}

/**
 * Milliseconds per `verify` of `block` (hex fields root, proof, ops, new_root), the median and
 * the fastest of `samples` samples of `reps` calls each, after warm-up samples: with the
 * operations as wire bytes (the library decodes them; results decoded here), and as objects
 * (encoded here).
 */
export function benchBlock(library, block, { samples, reps }) {
  const root = fromHex(block.root);
  const proof = fromHex(block.proof);
  const ops = fromHex(block.ops);
  const objects = decodeOperations(ops);
  const verifier = library.verifier({ hash: block.hash });
  try {
    const once = (operations) => {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) verifier.verify(root, proof, operations);
      return (performance.now() - t0) / reps;
    };
    // Warm up (the engine tiers hot wasm up to its optimizing compiler), then alternate the
    // two ways sample by sample, so that neither gains from running second.
    for (let i = 0; i < 3; i++) {
      once(ops);
      once(objects);
    }
    const bytes = [];
    const objs = [];
    for (let s = 0; s < samples; s++) {
      bytes.push(once(ops));
      objs.push(once(objects));
    }
    const check = verifier.verify(root, proof, ops);
    const hex = Array.from(check.newRoot, (x) => x.toString(16).padStart(2, "0")).join("");
    if (hex !== block.new_root) throw new Error("the benchmark's block did not verify to its new root");
    return {
      bytesMs: median(bytes),
      objectsMs: median(objs),
      bytesMin: Math.min(...bytes),
      objectsMin: Math.min(...objs),
      operations: objects.length,
    };
  } finally {
    verifier.free();
  }
}

/** The lines a harness prints for `benchBlock`'s figures, read by ffi/benches/bindings.rs. */
export function benchLines(engine, block, r) {
  return [
    `bench ${engine} ${block.hash} bytes median_ms=${r.bytesMs.toFixed(4)} min_ms=${r.bytesMin.toFixed(4)}`,
    `bench ${engine} ${block.hash} objects median_ms=${r.objectsMs.toFixed(4)} min_ms=${r.objectsMin.toFixed(4)}`,
  ];
}
