// The wire vectors of fixtures/wire.json through this module's encoder and decoder, and the
// decoder checked against the library's own on the malformed vectors and on mutated bytes.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  AvlplusError,
  Code,
  DEFAULT_WIRE_LIMITS,
  decodeOperations,
  decodeResults,
  encodeOperations,
  encodeResults,
} from "../avlplus.mjs";
import { blocks, fromHex, library, toHex, wireFixtures } from "../harness/env.mjs";

const fixtures = await wireFixtures();
const lib = await library();
const verifier = lib.verifier();
const { mixed } = await blocks();
const ROOT = fromHex(mixed.root);

function op(o) {
  const out = { op: o.op, key: fromHex(o.key || "-") };
  if (o.value !== undefined) out.value = fromHex(o.value || "-");
  return out;
}

function result(r) {
  if (typeof r === "string") return { kind: r };
  if (r.found !== undefined) return { kind: "found", value: fromHex(r.found || "-") };
  return { kind: r.failure };
}

/** The code and details a fixture's error (the Rust WireError's Debug form) stands for. */
function expected(error) {
  const m = /^(\w+)(?:\((\d+)\)| \{ (.*) \})?$/.exec(error);
  assert.ok(m, `unparsed error ${error}`);
  const [, name, version, fields] = m;
  const details = {};
  for (const kv of fields ? fields.split(", ") : []) {
    const [k, v] = kv.split(": ");
    details[k] = /^\d+$/.test(v) ? Number(v) : v;
  }
  const codes = {
    Truncated: Code.WIRE_TRUNCATED,
    UnsupportedVersion: Code.WIRE_UNSUPPORTED_VERSION,
    BadVarint: Code.WIRE_BAD_VARINT,
    TooManyItems: Code.WIRE_TOO_MANY_ITEMS,
    CountExceedsInput: Code.WIRE_COUNT_EXCEEDS_INPUT,
    BadTag: Code.WIRE_BAD_TAG,
    TrailingBytes: Code.WIRE_TRAILING_BYTES,
  };
  let code = codes[name];
  if (name === "TooLong") {
    code = details.error === "KeyTooLong" ? Code.WIRE_KEY_TOO_LONG : Code.WIRE_VALUE_TOO_LONG;
    delete details.error;
  }
  if (version !== undefined) details.version = Number(version);
  assert.ok(code !== undefined, `no code for ${error}`);
  return { code, details };
}

function thrown(f) {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof AvlplusError, String(e));
    return e;
  }
  return null;
}

/** The library's code for operations `bytes` (decoded before any proof is read). */
function libraryCode(bytes) {
  return thrown(() => verifier.verify(ROOT, new Uint8Array(0), bytes))?.code ?? 0;
}

test("operations encode to the fixture bytes and decode back", () => {
  assert.ok(fixtures.operations.length >= 3);
  for (const f of fixtures.operations) {
    const ops = f.ops.map(op);
    assert.equal(toHex(encodeOperations(ops)), f.bytes, f.name);
    assert.deepEqual(decodeOperations(fromHex(f.bytes)), ops, f.name);
  }
});

test("results encode to the fixture bytes and decode back", () => {
  assert.ok(fixtures.results.length >= 3);
  for (const f of fixtures.results) {
    const results = f.results.map(result);
    assert.equal(toHex(encodeResults(results)), f.bytes, f.name);
    assert.deepEqual(decodeResults(fromHex(f.bytes)), results, f.name);
  }
});

test("malformed operations: the fixture's error, and the library's", () => {
  assert.ok(fixtures.malformed_operations.length >= 8);
  for (const f of fixtures.malformed_operations) {
    const want = expected(f.error);
    const e = thrown(() => decodeOperations(fromHex(f.bytes || "-"), DEFAULT_WIRE_LIMITS));
    assert.ok(e, `${f.name} decoded`);
    assert.equal(e.code, want.code, f.name);
    for (const [k, v] of Object.entries(want.details)) assert.equal(e[k], v, `${f.name} ${k}`);
    assert.equal(e.message, lib.message(e.code));
    assert.equal(libraryCode(fromHex(f.bytes || "-")), want.code, `${f.name} in the library`);
  }
});

test("malformed results: the fixture's error", () => {
  assert.ok(fixtures.malformed_results.length >= 5);
  for (const f of fixtures.malformed_results) {
    const want = expected(f.error);
    const e = thrown(() => decodeResults(fromHex(f.bytes || "-")));
    assert.ok(e, `${f.name} decoded`);
    assert.equal(e.code, want.code, f.name);
    for (const [k, v] of Object.entries(want.details)) assert.equal(e[k], v, `${f.name} ${k}`);
  }
});

test("limits bound the decoder before it reads or reserves", () => {
  // A count of 2^40, and of 2^64 - 1: refused at the count.
  const huge = fromHex("0180808080802000");
  assert.equal(thrown(() => decodeResults(huge)).code, Code.WIRE_TOO_MANY_ITEMS);
  const max = fromHex("01ffffffffffffffffff01");
  assert.equal(thrown(() => decodeOperations(max)).code, Code.WIRE_TOO_MANY_ITEMS);
  // An eleven-byte varint, and a tenth byte over 1.
  assert.equal(thrown(() => decodeOperations(fromHex("01ffffffffffffffffffff01"))).code, Code.WIRE_BAD_VARINT);
  assert.equal(thrown(() => decodeOperations(fromHex("01ffffffffffffffffff02"))).code, Code.WIRE_BAD_VARINT);
  const small = { maxCount: 2, maxKeyLen: 3, maxValueLen: 4 };
  const three = encodeOperations([0, 1, 2].map((i) => ({ op: "lookup", key: Uint8Array.of(i) })));
  assert.equal(thrown(() => decodeOperations(three, small)).code, Code.WIRE_TOO_MANY_ITEMS);
  const longKey = encodeOperations([{ op: "remove", key: new Uint8Array(4) }]);
  assert.equal(thrown(() => decodeOperations(longKey, small)).code, Code.WIRE_KEY_TOO_LONG);
  const longValue = encodeOperations([{ op: "upsert", key: new Uint8Array(1), value: new Uint8Array(5) }]);
  const e = thrown(() => decodeOperations(longValue, small));
  assert.equal(e.code, Code.WIRE_VALUE_TOO_LONG);
  assert.equal(e.index, 0);
  const found = encodeResults([{ kind: "not_found" }, { kind: "found", value: new Uint8Array(5) }]);
  assert.equal(thrown(() => decodeResults(found, small)).index, 1);
  // Decoded keys are copies, not views of the input.
  const bytes = encodeOperations([{ op: "lookup", key: Uint8Array.of(7) }]);
  const [decoded] = decodeOperations(bytes);
  bytes[3] = 8;
  assert.equal(decoded.key[0], 7);
});

test("encoders refuse what is not an operation or a result", () => {
  assert.throws(() => encodeOperations("ops"), TypeError);
  assert.throws(() => encodeOperations([{ op: "delete", key: new Uint8Array(1) }]), TypeError);
  assert.throws(() => encodeOperations([{ op: "lookup", key: "alice" }]), TypeError);
  assert.throws(() => encodeOperations([{ op: "insert", key: new Uint8Array(1) }]), TypeError);
  assert.throws(() => encodeOperations([{ op: "__proto__", key: new Uint8Array(1) }]), TypeError);
  assert.throws(() => encodeResults([{ kind: "found" }]), TypeError);
  assert.throws(() => encodeResults([null]), TypeError);
  assert.throws(() => decodeOperations([1, 0]), TypeError);
});

/** A small deterministic generator (xorshift32). */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

test("on mutated bytes the decoder agrees with the library's", () => {
  const seeds = [
    ...fixtures.operations.map((f) => fromHex(f.bytes)),
    ...fixtures.malformed_operations.map((f) => fromHex(f.bytes || "-")),
    fromHex(mixed.ops).slice(0, 300),
  ];
  const next = rng(20261101);
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = Array.from(seeds[next(seeds.length)]);
    for (let m = 1 + next(3); m > 0; m--) {
      const at = next(bytes.length + 1);
      switch (next(4)) {
        case 0: bytes.splice(at, 1); break;
        case 1: bytes.splice(at, 0, next(256)); break;
        case 2: if (at < bytes.length) bytes[at] = [0, 1, 0x7f, 0x80, 0xff][next(5)]; break;
        default: bytes.length = Math.min(bytes.length, at);
      }
    }
    const input = Uint8Array.from(bytes);
    const js = thrown(() => decodeOperations(input, verifier.wireLimits));
    const code = libraryCode(input);
    if (js === null) {
      accepted += 1;
      // Accepted bytes are the one encoding of what they decode to, and reach the proof.
      assert.equal(toHex(encodeOperations(decodeOperations(input))), toHex(input));
      assert.ok(code === 0 || code < 300, `library refused ${toHex(input)} with ${code}`);
    } else {
      assert.equal(code, js.code, `on ${toHex(input)}`);
    }
  }
  assert.ok(accepted > 100, `${accepted} accepted`);
});
