// What the tests and harnesses share: the paths ffi/tests/js.rs passes in the environment
// (AVLPLUS_WASM, AVLPLUS_VECTORS, AVLPLUS_BLOCKS, AVLPLUS_WIRE), hex, and the vector file's
// line format (documented at the top of ffi/tests/c/verify_vectors.c).
import { readFile } from "node:fs/promises";

import { load } from "../avlplus.mjs";

export function path(name) {
  const p = process.env[name];
  if (!p) throw new Error(`${name} is not set: run the JS tests through \`cargo test -p avlplus-ffi --test js\``);
  return p;
}

export async function library() {
  return load(await readFile(path("AVLPLUS_WASM")));
}

export function fromHex(s) {
  if (s === "-") return new Uint8Array(0);
  if (s.length % 2 !== 0 || /[^0-9a-f]/i.test(s)) throw new Error(`bad hex ${s.slice(0, 20)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The hex of a vector file field, which writes the empty string as "-". */
export function field(b) {
  return b.length === 0 ? "-" : toHex(b);
}

/** The cases of the vector file, as objects with byte fields decoded. */
export function parseVectors(text) {
  const cases = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(" ");
    const [kind, hash, name] = f;
    if (kind === "verify" && f.length === 9) {
      cases.push({
        kind, hash, name, root: fromHex(f[3]), proof: fromHex(f[4]), ops: fromHex(f[5]),
        code: Number(f[6]), newRoot: f[7], results: f[8],
      });
    } else if (kind === "lookup" && f.length === 9) {
      cases.push({
        kind, hash, name, root: fromHex(f[3]), proof: fromHex(f[4]), key: fromHex(f[5]),
        code: Number(f[6]), found: f[7] === "1", value: f[8],
      });
    } else if (kind === "value" && f.length === 8) {
      cases.push({
        kind, hash, name, root: fromHex(f[3]), proof: fromHex(f[4]), key: fromHex(f[5]),
        expected: f[6] === "absent" ? null : fromHex(f[6]), code: Number(f[7]),
      });
    } else {
      throw new Error(`bad vector line: ${line.slice(0, 80)}`);
    }
  }
  return cases;
}

export async function vectors() {
  return parseVectors(await readFile(path("AVLPLUS_VECTORS"), "utf8"));
}

/** blocks.json: { mixed, repeated_lookups }, each with hex fields. */
export async function blocks() {
  return JSON.parse(await readFile(path("AVLPLUS_BLOCKS"), "utf8"));
}

/** benchBlock's options (harness/bench.mjs), from AVLPLUS_BENCH_SAMPLES and AVLPLUS_BENCH_REPS. */
export function benchOptions() {
  return { samples: Number(path("AVLPLUS_BENCH_SAMPLES")), reps: Number(path("AVLPLUS_BENCH_REPS")) };
}

export async function wireFixtures() {
  return JSON.parse(await readFile(path("AVLPLUS_WIRE"), "utf8"));
}
