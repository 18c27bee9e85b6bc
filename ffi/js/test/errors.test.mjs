// Loading, options, errors and handle lifetimes.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

import {
  ABI_VERSION,
  AvlplusError,
  Code,
  Library,
  Verifier,
  codeName,
  encodeResults,
  load,
} from "../avlplus.mjs";
import { blocks, field, fromHex, library, path, vectors } from "../harness/env.mjs";

const lib = await library();
const { mixed } = await blocks();
const block = { root: fromHex(mixed.root), proof: fromHex(mixed.proof), ops: fromHex(mixed.ops) };
const cases = await vectors();
const lookup = cases.find((c) => c.kind === "lookup" && c.hash === "sha256" && c.found && c.code === 0);

function code(f) {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof AvlplusError, String(e));
    assert.equal(e.name, "AvlplusError");
    assert.equal(e.codeName, codeName(e.code));
    return e.code;
  }
  return 0;
}

test("the module loads from bytes, an ArrayBuffer, a Module, a file URL and a path", async () => {
  const bytes = await readFile(path("AVLPLUS_WASM"));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  for (const source of [
    bytes,
    buffer,
    new WebAssembly.Module(bytes),
    pathToFileURL(path("AVLPLUS_WASM")),
    path("AVLPLUS_WASM"),
  ]) {
    const l = await load(source);
    assert.equal(l.abiVersion, ABI_VERSION);
    assert.equal(l.version, "0.1.0");
  }
  await assert.rejects(load(42), TypeError);
  await assert.rejects(load(new Uint8Array([0, 1, 2])), WebAssembly.CompileError);
});

test("every code has the library's message", () => {
  const messages = new Set();
  for (const [name, c] of Object.entries(Code)) {
    const m = lib.message(c);
    assert.ok(m.length > 5 && m !== "unknown result code", name);
    messages.add(m);
    assert.equal(codeName(c), name);
  }
  assert.equal(messages.size, Object.keys(Code).length);
  assert.equal(lib.message(9999), "unknown result code");
  assert.equal(codeName(9999), undefined);
});

test("options: presets and overrides are read back; unknown ones are refused", () => {
  const phone = lib.verifier({ preset: "phone" });
  assert.equal(phone.limits.maxOperations, 65536);
  assert.equal(phone.limits.maxProofBytes, 8 << 20);
  assert.equal(phone.limits.maxMemoryBytes, 64 << 20);
  assert.equal(phone.wireLimits.maxCount, 65536);
  phone.free();
  const custom = new Verifier(lib, { hash: "blake3", limits: { maxKeyLen: 32, maxOperations: 3 } });
  assert.equal(custom.limits.maxKeyLen, 32);
  assert.equal(custom.limits.maxOperations, 3);
  assert.equal(custom.hash, "blake3");
  custom.free();
  for (const options of [
    { hash: "md5" },
    { hash: 9 },
    { hash: 0 },
    { preset: "desktop" },
    { preset: 7 },
    { limits: { maxWidth: 1 } },
    { limits: { maxDepth: -1 } },
    { limits: { maxDepth: 1.5 } },
    { limits: { maxDepth: 2 ** 32 } },
    { limits: { maxDepth: "9" } },
    { limits: { hasOwnProperty: 1 } },
  ]) {
    assert.equal(code(() => lib.verifier(options)), Code.INVALID_PARAMETER, JSON.stringify(options));
  }
  assert.throws(() => new Verifier({}, {}), TypeError);
});

test("the verifier's limits apply to operations and proofs", () => {
  const few = lib.verifier({ limits: { maxOperations: 999 } });
  assert.equal(code(() => few.verify(block.root, block.proof, block.ops)), Code.WIRE_TOO_MANY_ITEMS);
  few.free();
  const short = lib.verifier({ limits: { maxProofBytes: block.proof.length - 1 } });
  assert.equal(code(() => short.verify(block.root, block.proof, block.ops)), Code.PROOF_TOO_LONG);
  short.free();
  const v = lib.verifier();
  assert.equal(v.verify(block.root, block.proof, block.ops).results.length, 1000);
  v.free();
});

test("bad inputs: a root of the wrong length, other hashes, wrong types", () => {
  const v = lib.verifier();
  assert.equal(code(() => v.verify(block.root.subarray(1), block.proof, block.ops)), Code.INVALID_ROOT);
  assert.equal(code(() => v.verifyLookup(new Uint8Array(0), lookup.proof, lookup.key)), Code.INVALID_ROOT);
  const other = block.root.slice();
  other[5] ^= 1;
  assert.equal(code(() => v.verify(other, block.proof, block.ops)), Code.ROOT_MISMATCH);
  const blake3 = lib.verifier({ hash: "blake3" });
  assert.equal(code(() => blake3.verify(block.root, block.proof, block.ops)), Code.ROOT_MISMATCH);
  blake3.free();
  assert.throws(() => v.verify("root", block.proof, block.ops), TypeError);
  assert.throws(() => v.verify(block.root, Array.from(block.proof), block.ops), TypeError);
  assert.throws(() => v.verify(block.root, block.proof, "ops"), TypeError);
  assert.throws(() => v.verifyLookup(lookup.root, lookup.proof, "key"), TypeError);
  // verifyValue needs an explicit null for "absent".
  assert.throws(() => v.verifyValue(lookup.root, lookup.proof, lookup.key), TypeError);
  assert.equal(code(() => v.verifyValue(lookup.root, lookup.proof, lookup.key, null)), Code.VALUE_MISMATCH);
  assert.equal(code(() => v.verifyValue(lookup.root, lookup.proof, lookup.key, new Uint8Array(0))), Code.VALUE_MISMATCH);
  assert.equal(code(() => v.verifyValue(lookup.root, lookup.proof, lookup.key, fromHex(lookup.value))), 0);
  v.free();
});

test("free twice is safe; a freed verifier refuses every call", () => {
  const v = lib.verifier();
  v.free();
  v.free();
  for (const f of [
    () => v.verify(block.root, block.proof, block.ops),
    () => v.verifyLookup(lookup.root, lookup.proof, lookup.key),
    () => v.verifyValue(lookup.root, lookup.proof, lookup.key, null),
  ]) {
    let e;
    try {
      f();
    } catch (err) {
      e = err;
    }
    assert.ok(e instanceof AvlplusError);
    assert.equal(e.code, Code.NULL_PARAMETER);
    assert.match(e.message, /freed/);
  }
  v.free();
});

test("verifiers and calls free their memory", () => {
  const v = lib.verifier();
  v.verify(block.root, block.proof, block.ops);
  const before = lib.memoryBytes;
  for (let i = 0; i < 300; i++) {
    lib.verifier({ preset: i % 2 ? "phone" : "default" }).free();
    v.verify(block.root, block.proof, block.ops);
    v.verifyLookup(lookup.root, lookup.proof, lookup.key);
    code(() => v.verify(block.root, block.proof.subarray(1), block.ops));
  }
  assert.equal(lib.memoryBytes, before, "linear memory grew: something leaks");
  v.free();
});

test("a trap (a panic: wasm32 cannot unwind) poisons the instance", async () => {
  const bytes = await readFile(path("AVLPLUS_WASM"));
  const { instance } = await WebAssembly.instantiate(bytes, {});
  // The real exports, but avlplus_verify traps as a panic would.
  const exports = { ...instance.exports };
  exports.avlplus_verify = () => {
    throw new WebAssembly.RuntimeError("unreachable");
  };
  const poisoned = new Library({ exports });
  const v = poisoned.verifier();
  assert.equal(code(() => v.verify(block.root, block.proof, block.ops)), Code.PANIC);
  assert.equal(poisoned.poisoned, true);
  assert.equal(code(() => v.verifyLookup(lookup.root, lookup.proof, lookup.key)), Code.PANIC);
  assert.equal(code(() => poisoned.verifier()), Code.PANIC);
  v.free();
  v.free();
});

// The example of docs/mobile.md ("Web and Node"), whose excerpt ffi/tests/docs.rs checks
// against these lines: a wallet's balance under its trusted root, then a block from that root.
test("docs/mobile.md: a wallet checks its balance, then a block", async () => {
  const sameRoot = (a, b) => a.root.length === b.root.length && a.root.every((x, i) => x === b.root[i]);
  const honestBlock = (c) => c.kind === "verify" && c.hash === "sha256" && c.code === 0;
  const wallet = cases.find(
    (c) => c.kind === "lookup" && c.hash === "sha256" && c.code === 0 && c.found &&
      cases.some((b) => honestBlock(b) && sameRoot(b, c)),
  );
  const block = cases.find((b) => honestBlock(b) && sameRoot(b, wallet));
  const [trustedRoot, balanceProof, account] = [wallet.root, wallet.proof, wallet.key];
  const [blockProof, operations] = [block.proof, block.ops]; // wire bytes, or objects
  const url = pathToFileURL(path("AVLPLUS_WASM")); // in a page: new URL("./avlplus.wasm", import.meta.url)

  const avlplus = await load(url);
  const verifier = avlplus.verifier({ hash: "sha256", preset: "phone" });
  const { found, value } = verifier.verifyLookup(trustedRoot, balanceProof, account);
  const { newRoot, results } = verifier.verify(trustedRoot, blockProof, operations);
  verifier.free();

  assert.equal(found, true);
  assert.equal(field(value), wallet.value);
  assert.equal(field(newRoot), block.newRoot);
  assert.equal(field(encodeResults(results)), block.results);
});
