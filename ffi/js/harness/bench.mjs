// Verifying one block, timed: shared by Node (harness/bench-node.mjs) and Chromium
// (harness/browser.mjs, which imports this file into the page). No Node APIs here.
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
 * Milliseconds per `verify` of `block` (hex fields root, proof, ops, new_root), the median of
 * `samples` samples of `reps` calls each, after warm-up calls: with the operations as
 * wire bytes (the library decodes them; results decoded here), and as objects (encoded here).
 */
export function benchBlock(library, block, { samples = 21, reps = 20 } = {}) {
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
    return { bytesMs: median(bytes), objectsMs: median(objs), operations: objects.length };
  } finally {
    verifier.free();
  }
}
