// Every line of the vector file (every fixture vector of both hashes and every case of the
// adversarial corpus, as the C test runs them): exact codes, new roots, results and values.
// Then the blocks built by ffi/tests/js.rs: 1000 mixed operations, and repeated lookups
// whose results outgrow the first buffer.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AvlplusError, decodeOperations, encodeResults } from "../avlplus.mjs";
import { blocks, field, fromHex, library, toHex, vectors } from "../harness/env.mjs";

const lib = await library();
const verifiers = {
  sha256: lib.verifier({ hash: "sha256" }),
  blake3: lib.verifier({ hash: "blake3" }),
};

/** The code `f()` failed with, or 0 and what it returned. */
function outcome(f) {
  try {
    return { code: 0, value: f() };
  } catch (e) {
    if (!(e instanceof AvlplusError)) throw e;
    assert.equal(e.message.startsWith(lib.message(e.code)), true, e.message);
    return { code: e.code };
  }
}

function runVerify(v, c) {
  const got = outcome(() => v.verify(c.root, c.proof, c.ops));
  assert.equal(got.code, c.code, `code of ${c.name}`);
  if (c.code === 0) {
    assert.equal(field(got.value.newRoot), c.newRoot);
    assert.equal(field(got.value.resultsBytes), c.results);
    assert.equal(field(encodeResults(got.value.results)), c.results);
  }
  // The same batch passed as objects (through this module's encoder) verifies the same.
  const ops = decodeOperations(c.ops, v.wireLimits);
  const again = outcome(() => v.verify(c.root, c.proof, ops));
  assert.equal(again.code, c.code);
  if (c.code === 0) {
    assert.equal(again.value.results.length, ops.length);
    assert.equal(field(again.value.resultsBytes), c.results);
  }
}

function runLookup(v, c) {
  const got = outcome(() => v.verifyLookup(c.root, c.proof, c.key));
  assert.equal(got.code, c.code, `code of ${c.name}`);
  if (c.code === 0) {
    assert.equal(got.value.found, c.found);
    if (c.found) assert.equal(field(got.value.value), c.value);
    else assert.equal(got.value.value, null);
  }
}

function runValue(v, c) {
  const got = outcome(() => v.verifyValue(c.root, c.proof, c.key, c.expected));
  assert.equal(got.code, c.code, `code of ${c.name}`);
  if (c.code === 0) assert.equal(got.value, undefined);
}

const RUN = { verify: runVerify, lookup: runLookup, value: runValue };

test("every line of the vector file", async (t) => {
  const cases = await vectors();
  t.diagnostic(`vector file: ${cases.length} cases`);
  const kinds = new Set(cases.map((c) => `${c.kind} ${c.hash}`));
  for (const k of ["verify sha256", "verify blake3", "lookup sha256", "lookup blake3", "value sha256", "value blake3"]) {
    assert.ok(kinds.has(k), `no ${k} line`);
  }
  let n = 0;
  for (const c of cases) {
    await t.test(`${c.kind} ${c.hash} ${c.name}`, () => RUN[c.kind](verifiers[c.hash], c));
    n += 1;
  }
  assert.equal(n, cases.length);
});

test("a block of 1000 mixed operations", async () => {
  const { mixed: b } = await blocks();
  const v = verifiers.sha256;
  const got = v.verify(fromHex(b.root), fromHex(b.proof), fromHex(b.ops));
  assert.equal(toHex(got.newRoot), b.new_root);
  assert.equal(toHex(got.resultsBytes), b.results);
  assert.equal(got.results.length, 1000);
  const kinds = new Set(got.results.map((r) => r.kind));
  for (const k of ["found", "not_found", "inserted", "updated", "removed", "key_exists", "key_missing"]) {
    assert.ok(kinds.has(k), `no ${k} result`);
  }
  // Any changed byte of the proof is refused.
  const proof = fromHex(b.proof);
  for (const at of [0, 1, 40, proof.length >> 1, proof.length - 1]) {
    const bad = proof.slice();
    bad[at] ^= 0x01;
    assert.throws(() => v.verify(fromHex(b.root), bad, fromHex(b.ops)), AvlplusError);
  }
});

test("results larger than the first buffer: the binding asks again with the size needed", async () => {
  const { repeated_lookups: b } = await blocks();
  const proof = fromHex(b.proof);
  const got = verifiers.sha256.verify(fromHex(b.root), proof, fromHex(b.ops));
  assert.ok(got.resultsBytes.length > 16 + proof.length + fromHex(b.ops).length);
  assert.equal(toHex(got.resultsBytes), b.results);
  assert.equal(toHex(got.newRoot), b.new_root);
  assert.equal(got.results.length, 64);
  assert.ok(got.results.every((r) => r.kind === "found" && r.value.length === 2048));
});
