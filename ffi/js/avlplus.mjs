/**
 * avlplus for JavaScript: a light client's verifier of AVL+ batch proofs, in Node (20+) and in
 * browsers, with no bundler and no dependency.
 *
 * The verifier is the C ABI of `ffi/` (`ffi/include/avlplus.h`) compiled to
 * `wasm32-unknown-unknown`: the very functions C, Java and Python call, with the same result
 * codes and ownership rules, plus two exports to allocate in the module's memory
 * (`ffi/src/wasm.rs`). This file is the whole binding: it copies bytes in and out of the
 * module's memory and encodes operations and decodes results in the wire format
 * (`docs/wire-format.md`).
 *
 * Why not wasm-bindgen: one ABI for every language (a code means the same thing everywhere,
 * and the C test vectors run here unchanged); no `wasm-bindgen-cli` to keep in lock-step with
 * a crate version in every build; a smaller module (no glue, no JS heap shims). The cost is
 * this file's hand-written marshalling, which is small and tested against the same vectors.
 *
 * ```js
 * import { load } from "./avlplus.mjs";
 * const avlplus = await load(new URL("./avlplus.wasm", import.meta.url));
 * const verifier = avlplus.verifier({ hash: "sha256", preset: "phone" });
 * try {
 *   const { newRoot, results } = verifier.verify(root, proof, [
 *     { op: "lookup", key },
 *     { op: "insert", key: other, value },
 *   ]);
 * } catch (e) {
 *   if (e instanceof AvlplusError) console.log(e.code, e.codeName, e.message);
 * } finally {
 *   verifier.free();
 * }
 * ```
 *
 * Bytes in and out are `Uint8Array`s; outputs are fresh copies the caller owns. Errors of
 * the library are `AvlplusError`s carrying its numeric `code`; wrong argument types are
 * `TypeError`s.
 *
 * Panics: on wasm32 there is no unwinding, so a panic in the library (a bug: the verifier is
 * tested never to panic on any input) traps instead of returning `AVLPLUS_RESULT_PANIC`.
 * This module turns the trap into an `AvlplusError` with code 3 (`PANIC`) and refuses every
 * later call on that instance, whose memory may be inconsistent: `load` a new one.
 */

/** Length in bytes of a root digest: a 32-byte label, then the height. */
export const ROOT_LEN = 33;

/** The ABI version this module speaks (`AVLPLUS_ABI_VERSION`). */
export const ABI_VERSION = 1;

/** The wire format version (`docs/wire-format.md`). */
export const WIRE_VERSION = 1;

/** Hash functions (`avlplus_hash`). */
export const Hash = Object.freeze({ sha256: 1, blake3: 2 });

/** Limit presets (`avlplus_preset`). */
export const Preset = Object.freeze({ default: 0, phone: 1 });

/** Limit fields (`avlplus_limit`), by their JavaScript names. */
const LIMIT_FIELDS = Object.freeze({
  maxProofBytes: 0,
  maxOperations: 1,
  maxDepth: 2,
  maxMemoryBytes: 3,
  maxKeyLen: 4,
  maxValueLen: 5,
});

/** Result codes (`avlplus_result`): numbers that never change. */
export const Code = Object.freeze({
  OK: 0,
  NULL_PARAMETER: 1,
  INSUFFICIENT_SIZE: 2,
  PANIC: 3,
  INVALID_PARAMETER: 4,
  INVALID_ROOT: 5,
  VALUE_MISMATCH: 6,
  UNEXPECTED_ERROR: 7,
  TOO_MANY_OPERATIONS: 100,
  OPERATION_KEY_TOO_LONG: 101,
  OPERATION_VALUE_TOO_LONG: 102,
  ROOT_MISMATCH: 103,
  HEIGHT_MISMATCH: 104,
  INCOMPLETE: 105,
  VALUE_WITHHELD: 106,
  WRONG_LEAF: 107,
  DIRECTIONS_EXHAUSTED: 108,
  UNUSED_DIRECTIONS: 109,
  MALFORMED: 110,
  PROOF_TOO_LONG: 200,
  PROOF_TRUNCATED: 201,
  PROOF_UNSUPPORTED_VERSION: 202,
  PROOF_BAD_VARINT: 203,
  PROOF_TOO_MANY_NODES: 204,
  PROOF_TOO_MUCH_MEMORY: 205,
  PROOF_MALFORMED_SHAPE: 206,
  PROOF_TOO_DEEP: 207,
  PROOF_KEY_TOO_LONG: 208,
  PROOF_VALUE_TOO_LONG: 209,
  PROOF_NON_ZERO_PADDING: 210,
  PROOF_NON_CANONICAL_WIDTH: 211,
  PROOF_UNORDERED_LEAVES: 212,
  WIRE_TRUNCATED: 300,
  WIRE_UNSUPPORTED_VERSION: 301,
  WIRE_BAD_VARINT: 302,
  WIRE_TOO_MANY_ITEMS: 303,
  WIRE_COUNT_EXCEEDS_INPUT: 304,
  WIRE_BAD_TAG: 305,
  WIRE_KEY_TOO_LONG: 306,
  WIRE_VALUE_TOO_LONG: 307,
  WIRE_TRAILING_BYTES: 308,
});

const CODE_NAMES = new Map(Object.entries(Code).map(([name, code]) => [code, name]));

/** The name of code `code` (`"ROOT_MISMATCH"`), or `undefined` for a number that is none. */
export function codeName(code) {
  return CODE_NAMES.get(code);
}

/**
 * The messages of the wire codes, which this module's own decoder raises without a library
 * at hand; the same strings as `avlplus_result_message` (a test compares them).
 */
const WIRE_MESSAGES = Object.freeze({
  [Code.WIRE_TRUNCATED]: "malformed wire bytes: truncated",
  [Code.WIRE_UNSUPPORTED_VERSION]: "malformed wire bytes: unsupported version",
  [Code.WIRE_BAD_VARINT]: "malformed wire bytes: malformed varint",
  [Code.WIRE_TOO_MANY_ITEMS]: "malformed wire bytes: more items than the limit",
  [Code.WIRE_COUNT_EXCEEDS_INPUT]: "malformed wire bytes: item count exceeds the input",
  [Code.WIRE_BAD_TAG]: "malformed wire bytes: unknown tag",
  [Code.WIRE_KEY_TOO_LONG]: "malformed wire bytes: key longer than the limit",
  [Code.WIRE_VALUE_TOO_LONG]: "malformed wire bytes: value longer than the limit",
  [Code.WIRE_TRAILING_BYTES]: "malformed wire bytes: trailing bytes after the last item",
});

/**
 * An error of the library (or of this module's wire decoder): `code` is the numeric result
 * code, `codeName` its name, `message` its message. Wire errors may carry `index` (the item)
 * and `tag` (an undefined tag) or `version` (an unknown version byte).
 */
export class AvlplusError extends Error {
  constructor(code, message, details = undefined) {
    super(message);
    this.name = "AvlplusError";
    this.code = code;
    this.codeName = codeName(code);
    if (details !== undefined) Object.assign(this, details);
  }
}

function wireError(code, details) {
  return new AvlplusError(code, WIRE_MESSAGES[code], details);
}

// ---------------------------------------------------------------------------------------------
// The wire format (docs/wire-format.md), in both directions, for operations and results.

const OP_TAGS = Object.freeze({
  lookup: 0,
  insert: 1,
  update: 2,
  upsert: 3,
  remove: 4,
  remove_if_present: 5,
});
const OP_NAMES = Object.keys(OP_TAGS);
/** Operations that carry a value after the key. */
const OP_HAS_VALUE = [false, true, true, true, false, false];

const RESULT_KINDS = Object.freeze([
  "found",
  "not_found",
  "inserted",
  "updated",
  "removed",
  "key_exists",
  "key_missing",
]);
const RESULT_TAGS = Object.freeze(Object.fromEntries(RESULT_KINDS.map((k, i) => [k, i])));

/** Fewest bytes one operation takes (a tag and an empty key's length); one result, a tag. */
const MIN_OPERATION_BYTES = 2;
const MIN_RESULT_BYTES = 1;

/**
 * The decoder's default limits, those of `Limits::DEFAULT` (2^20 items, 1 KiB keys, 64 KiB
 * values). A verifier's own are `verifier.wireLimits`.
 */
export const DEFAULT_WIRE_LIMITS = Object.freeze({
  maxCount: 1 << 20,
  maxKeyLen: 1024,
  maxValueLen: 65536,
});

function bytesArg(what, b) {
  if (!(b instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a Uint8Array, not ${describe(b)}`);
  }
  return b;
}

function describe(v) {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return v.constructor?.name ?? "object";
}

function varintLen(v) {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n += 1;
  }
  return n;
}

/** Writes `v` (a non-negative safe integer) as a shortest-form LEB128 varint at `pos`. */
function putVarint(out, pos, v) {
  while (v >= 0x80) {
    out[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}

function putPrefixed(out, pos, b) {
  pos = putVarint(out, pos, b.length);
  out.set(b, pos);
  return pos + b.length;
}

/**
 * Encodes operations: an array of `{ op, key, value }` with `op` one of `"lookup"`,
 * `"insert"`, `"update"`, `"upsert"`, `"remove"`, `"remove_if_present"`, `key` a
 * `Uint8Array`, and `value` a `Uint8Array` for insert, update and upsert (ignored otherwise).
 * Sizes are not checked against any limit here: the verifier checks them.
 */
export function encodeOperations(ops) {
  if (!Array.isArray(ops)) throw new TypeError(`operations must be an array, not ${describe(ops)}`);
  let len = 1 + varintLen(ops.length);
  const tags = new Uint8Array(ops.length);
  ops.forEach((o, i) => {
    if (o === null || typeof o !== "object") {
      throw new TypeError(`operation ${i} must be an object, not ${describe(o)}`);
    }
    const tag = Object.hasOwn(OP_TAGS, o.op) ? OP_TAGS[o.op] : undefined;
    if (tag === undefined) throw new TypeError(`operation ${i}: unknown op ${String(o.op)}`);
    tags[i] = tag;
    const key = bytesArg(`operation ${i} key`, o.key);
    len += 1 + varintLen(key.length) + key.length;
    if (OP_HAS_VALUE[tag]) {
      const value = bytesArg(`operation ${i} value`, o.value);
      len += varintLen(value.length) + value.length;
    }
  });
  const out = new Uint8Array(len);
  out[0] = WIRE_VERSION;
  let pos = putVarint(out, 1, ops.length);
  ops.forEach((o, i) => {
    out[pos++] = tags[i];
    pos = putPrefixed(out, pos, o.key);
    if (OP_HAS_VALUE[tags[i]]) pos = putPrefixed(out, pos, o.value);
  });
  return out;
}

/**
 * Encodes results: an array of `{ kind }` objects as `decodeResults` returns them
 * (`{ kind: "found", value }` carries a `Uint8Array`).
 */
export function encodeResults(results) {
  if (!Array.isArray(results)) {
    throw new TypeError(`results must be an array, not ${describe(results)}`);
  }
  let len = 1 + varintLen(results.length);
  const tags = results.map((r, i) => {
    const tag = r !== null && typeof r === "object" && Object.hasOwn(RESULT_TAGS, r.kind)
      ? RESULT_TAGS[r.kind]
      : undefined;
    if (tag === undefined) throw new TypeError(`result ${i}: unknown kind ${String(r?.kind)}`);
    len += 1;
    if (tag === RESULT_TAGS.found) {
      const value = bytesArg(`result ${i} value`, r.value);
      len += varintLen(value.length) + value.length;
    }
    return tag;
  });
  const out = new Uint8Array(len);
  out[0] = WIRE_VERSION;
  let pos = putVarint(out, 1, results.length);
  results.forEach((r, i) => {
    out[pos++] = tags[i];
    if (tags[i] === RESULT_TAGS.found) pos = putPrefixed(out, pos, r.value);
  });
  return out;
}

/**
 * A cursor over untrusted bytes: every read is checked, and fails with the wire code the
 * Rust decoder gives (`src/codec.rs`, `src/wire.rs`).
 */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  remaining() {
    return this.bytes.length - this.pos;
  }

  u8() {
    if (this.pos >= this.bytes.length) throw wireError(Code.WIRE_TRUNCATED);
    return this.bytes[this.pos++];
  }

  /**
   * A varint: shortest form, at most 10 bytes and 64 bits. Exact up to 2^53; a larger value
   * is approximate but still larger than any limit (limits are safe integers), which is all
   * a caller compares it with.
   */
  varint() {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8();
      const low = byte & 0x7f;
      if (i === 9 && low > 1) throw wireError(Code.WIRE_BAD_VARINT);
      value += low * scale;
      scale *= 0x80;
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw wireError(Code.WIRE_BAD_VARINT);
        return value;
      }
    }
    throw wireError(Code.WIRE_BAD_VARINT);
  }

  /** A copy of the next `n` bytes. */
  take(n) {
    if (n > this.remaining()) throw wireError(Code.WIRE_TRUNCATED);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A length prefix no greater than `max` (else `over()`), then that many bytes. */
  prefixed(max, over) {
    const len = this.varint();
    if (len > max) throw over();
    return this.take(len);
  }

  /** The version byte and the count, within the limit and what the input could hold. */
  header(maxCount, minItem) {
    const version = this.u8();
    if (version !== WIRE_VERSION) throw wireError(Code.WIRE_UNSUPPORTED_VERSION, { version });
    const count = this.varint();
    if (count > maxCount) throw wireError(Code.WIRE_TOO_MANY_ITEMS);
    if (count > Math.floor(this.remaining() / minItem)) {
      throw wireError(Code.WIRE_COUNT_EXCEEDS_INPUT);
    }
    return count;
  }

  finish() {
    if (this.remaining() !== 0) throw wireError(Code.WIRE_TRAILING_BYTES);
  }
}

function wireLimits(limits) {
  const l = { ...DEFAULT_WIRE_LIMITS, ...(limits ?? {}) };
  for (const name of ["maxCount", "maxKeyLen", "maxValueLen"]) {
    if (!Number.isSafeInteger(l[name]) || l[name] < 0) {
      throw new TypeError(`${name} must be a non-negative safe integer, not ${l[name]}`);
    }
  }
  return l;
}

/**
 * Decodes wire-encoded operations, refusing malformed or over-limit bytes with the code the
 * library would give (`WIRE_*`). `limits`: `{ maxCount, maxKeyLen, maxValueLen }`, each
 * defaulting to `DEFAULT_WIRE_LIMITS`. Keys and values are copies.
 */
export function decodeOperations(bytes, limits = DEFAULT_WIRE_LIMITS) {
  bytesArg("operations", bytes);
  const l = wireLimits(limits);
  const r = new Reader(bytes);
  const count = r.header(l.maxCount, MIN_OPERATION_BYTES);
  const ops = [];
  for (let index = 0; index < count; index++) {
    const tag = r.u8();
    if (tag >= OP_NAMES.length) throw wireError(Code.WIRE_BAD_TAG, { index, tag });
    const key = r.prefixed(l.maxKeyLen, () => wireError(Code.WIRE_KEY_TOO_LONG, { index }));
    const op = { op: OP_NAMES[tag], key };
    if (OP_HAS_VALUE[tag]) {
      op.value = r.prefixed(l.maxValueLen, () => wireError(Code.WIRE_VALUE_TOO_LONG, { index }));
    }
    ops.push(op);
  }
  r.finish();
  return ops;
}

/**
 * Decodes wire-encoded results into `{ kind }` objects: `kind` is `"found"` (with `value`, a
 * `Uint8Array`), `"not_found"`, `"inserted"`, `"updated"`, `"removed"`, or one of the two
 * failures, `"key_exists"` (insert of a present key) and `"key_missing"` (update or remove
 * of an absent key), after which the tree is unchanged by that operation. Bounded as
 * `decodeOperations`; key limits do not apply.
 */
export function decodeResults(bytes, limits = DEFAULT_WIRE_LIMITS) {
  bytesArg("results", bytes);
  const l = wireLimits(limits);
  const r = new Reader(bytes);
  const count = r.header(l.maxCount, MIN_RESULT_BYTES);
  const results = [];
  for (let index = 0; index < count; index++) {
    const tag = r.u8();
    if (tag >= RESULT_KINDS.length) throw wireError(Code.WIRE_BAD_TAG, { index, tag });
    if (tag === RESULT_TAGS.found) {
      const value = r.prefixed(l.maxValueLen, () => wireError(Code.WIRE_VALUE_TOO_LONG, { index }));
      results.push({ kind: "found", value });
    } else {
      results.push({ kind: RESULT_KINDS[tag] });
    }
  }
  r.finish();
  return results;
}

// ---------------------------------------------------------------------------------------------
// The module: loading, memory, calls.

const EXPORTS = [
  "memory",
  "avlplus_abi_version",
  "avlplus_version",
  "avlplus_result_message",
  "avlplus_limits_new",
  "avlplus_limits_set",
  "avlplus_limits_get",
  "avlplus_limits_free",
  "avlplus_verifier_new",
  "avlplus_verifier_free",
  "avlplus_verify",
  "avlplus_verify_lookup",
  "avlplus_verify_value",
  "avlplus_wasm_alloc",
  "avlplus_wasm_free",
];

/** Largest `size_t` on wasm32. */
const SIZE_MAX = 0xffff_ffff;

/**
 * Bytes at the start of every call's block for the output slots (`size_t` and `bool`), each
 * 4-aligned (blocks are 8-aligned).
 */
const SLOTS = 16;

async function compileResponse(response) {
  if (!response.ok) throw new Error(`fetching ${response.url}: HTTP ${response.status}`);
  const type = response.headers.get("content-type") ?? "";
  if (typeof WebAssembly.compileStreaming === "function" && type.startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return WebAssembly.compile(source);
  }
  if (typeof Response !== "undefined" && source instanceof Response) {
    return compileResponse(source);
  }
  if (typeof source === "string" || source instanceof URL) {
    let url;
    try {
      url = new URL(source, globalThis.location?.href);
    } catch {
      url = undefined;
    }
    const inNode = typeof globalThis.process?.versions?.node === "string";
    if (inNode && (url === undefined || url.protocol === "file:")) {
      // Node's fetch reads no file: URLs; a plain path is a file too. Imported only here,
      // so browsers never load it.
      const { readFile } = await import("node:fs/promises");
      return WebAssembly.compile(await readFile(url ?? source));
    }
    if (url === undefined) throw new TypeError(`not a URL: ${source}`);
    return compileResponse(await fetch(url));
  }
  throw new TypeError(
    `load() takes the module's bytes, a WebAssembly.Module, a Response or a URL, not ${describe(source)}`,
  );
}

/**
 * Loads the verifier module from `source`: its bytes (`Uint8Array`, `ArrayBuffer`), a
 * compiled `WebAssembly.Module`, a `Response`, or a URL (`URL` or string; relative to the
 * page in a browser; in Node a `file:` URL or a path). Resolves to a `Library`.
 */
export async function load(source) {
  const module = await compile(source);
  const instance = await WebAssembly.instantiate(module, {});
  return new Library(instance);
}

/**
 * One instance of the verifier module: its memory and its exports. Make verifiers with
 * `library.verifier(options)`.
 */
export class Library {
  #x;
  #trap = null;
  #decoder = new TextDecoder("utf-8", { fatal: true });

  /** Wraps an instantiated module (see `load`). */
  constructor(instance) {
    const x = instance.exports;
    for (const name of EXPORTS) {
      if (!(name in x)) throw new TypeError(`the module does not export ${name}`);
    }
    this.#x = x;
    const abi = this.call("avlplus_abi_version");
    if (abi !== ABI_VERSION) {
      throw new Error(`the module's ABI version is ${abi}; this file speaks ${ABI_VERSION}`);
    }
  }

  /** The library's version (`"0.1.0"`). */
  get version() {
    return this.#cString(this.call("avlplus_version"));
  }

  /** The ABI version of the module (`ABI_VERSION`). */
  get abiVersion() {
    return this.call("avlplus_abi_version");
  }

  /** The library's message for result code `code` (`avlplus_result_message`). */
  message(code) {
    return this.#cString(this.call("avlplus_result_message", code >>> 0));
  }

  /** A new `Verifier` (see its constructor). */
  verifier(options) {
    return new Verifier(this, options);
  }

  /**
   * Calls export `name` and returns its `u32` result. A trap (a panic: wasm32 cannot
   * unwind) poisons the instance: this and every later call throws `PANIC`.
   * @internal
   */
  call(name, ...args) {
    if (this.#trap !== null) throw this.#panic();
    try {
      return this.#x[name](...args) >>> 0;
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        this.#trap = e;
        throw this.#panic();
      }
      throw e;
    }
  }

  /** The size of the module's linear memory in bytes (it grows, and never shrinks). */
  get memoryBytes() {
    return this.#x.memory.buffer.byteLength;
  }

  /** Whether a trap has made this instance unusable. */
  get poisoned() {
    return this.#trap !== null;
  }

  #panic() {
    return new AvlplusError(
      Code.PANIC,
      `the library panicked (a bug: please report it); this instance is unusable: ${this.#trap.message}`,
    );
  }

  /** A view of the whole memory; made anew after every call, since memory may have grown. */
  #memory() {
    return new Uint8Array(this.#x.memory.buffer);
  }

  #cString(ptr) {
    const mem = this.#memory();
    const end = mem.indexOf(0, ptr);
    if (ptr === 0 || end < 0) throw new Error("the library returned a malformed string");
    return this.#decoder.decode(mem.subarray(ptr, end));
  }

  /**
   * Runs `f(block)` with a block of module memory holding `SLOTS` bytes of output slots,
   * then `inputs` (copied in), then `outputs` bytes; frees it afterwards. `block.input(i)`
   * and `block.output(i)` are the addresses, `block.slot(i)` that of the i-th 4-byte slot.
   * @internal
   */
  withBlock(inputs, outputs, f) {
    let size = SLOTS;
    const offsets = [];
    for (const b of inputs) {
      offsets.push(size);
      size += b.length;
    }
    for (const n of outputs) {
      offsets.push(size);
      size += n;
    }
    if (size > SIZE_MAX) throw new RangeError(`${size} bytes do not fit the module's memory`);
    const base = this.call("avlplus_wasm_alloc", size);
    if (base === 0) throw new RangeError(`the module could not allocate ${size} bytes`);
    try {
      const mem = this.#memory();
      mem.fill(0, base, base + SLOTS);
      inputs.forEach((b, i) => mem.set(b, base + offsets[i]));
      return f({
        input: (i) => base + offsets[i],
        output: (i) => base + offsets[inputs.length + i],
        slot: (i) => base + 4 * i,
      });
    } finally {
      if (this.#trap === null) this.call("avlplus_wasm_free", base, size);
    }
  }

  /** The `u32` at `ptr` (a `size_t` slot). @internal */
  u32(ptr) {
    return new DataView(this.#x.memory.buffer).getUint32(ptr, true);
  }

  /** A copy of `len` bytes at `ptr`. @internal */
  copyOut(ptr, len) {
    return this.#memory().slice(ptr, ptr + len);
  }

  /** The byte at `ptr` (a `bool` slot). @internal */
  u8(ptr) {
    return this.#memory()[ptr];
  }
}

function check(lib, code) {
  if (code !== Code.OK) throw new AvlplusError(code, lib.message(code));
}

function enumArg(what, table, v) {
  if (typeof v === "string") {
    if (!Object.hasOwn(table, v)) {
      throw new AvlplusError(Code.INVALID_PARAMETER, `unknown ${what} ${JSON.stringify(v)}`);
    }
    return table[v];
  }
  if (Number.isInteger(v) && v >= 0 && v <= SIZE_MAX) return v; // the library checks it
  throw new AvlplusError(Code.INVALID_PARAMETER, `${what} must be a name or a number, not ${v}`);
}

/** Frees verifiers that were dropped without `free()`; `free()` unregisters. */
const finalizer = new FinalizationRegistry(({ lib, handle }) => {
  if (!lib.poisoned) lib.call("avlplus_verifier_free", handle);
});

/**
 * A verifier: a hash and limits, in the module's memory until `free()` (a finalizer frees a
 * dropped one eventually, but memory is freed promptly only by `free()`). Any number of
 * calls may use one verifier.
 */
export class Verifier {
  #lib;
  #handle = 0;
  #limits;
  #hash;

  /**
   * `options.hash`: `"sha256"` (default) or `"blake3"`; `options.preset`: `"default"`
   * (default) or `"phone"`; `options.limits`: overrides of the preset's fields, by name
   * (`maxProofBytes`, `maxOperations`, `maxDepth`, `maxMemoryBytes`, `maxKeyLen`,
   * `maxValueLen`), each an integer up to 2^32 - 1. Unknown names and values throw
   * `INVALID_PARAMETER`.
   */
  constructor(lib, { hash = "sha256", preset = "default", limits = {} } = {}) {
    if (!(lib instanceof Library)) throw new TypeError("new Verifier(library, options)");
    const hashNumber = enumArg("hash", Hash, hash);
    const presetNumber = enumArg("preset", Preset, preset);
    const overrides = Object.entries(limits ?? {}).map(([name, value]) => {
      if (!Object.hasOwn(LIMIT_FIELDS, name)) {
        throw new AvlplusError(Code.INVALID_PARAMETER, `unknown limit ${JSON.stringify(name)}`);
      }
      if (!Number.isInteger(value) || value < 0 || value > SIZE_MAX) {
        throw new AvlplusError(
          Code.INVALID_PARAMETER,
          `limit ${name} must be an integer in 0..=${SIZE_MAX}, not ${value}`,
        );
      }
      return [LIMIT_FIELDS[name], value];
    });
    this.#lib = lib;
    this.#hash = typeof hash === "string" ? hash : hashNumber;
    lib.withBlock([], [], (b) => {
      check(lib, lib.call("avlplus_limits_new", presetNumber, b.slot(0)));
      const handle = lib.u32(b.slot(0));
      try {
        for (const [field, value] of overrides) {
          check(lib, lib.call("avlplus_limits_set", handle, field, value));
        }
        const read = {};
        for (const [name, field] of Object.entries(LIMIT_FIELDS)) {
          check(lib, lib.call("avlplus_limits_get", handle, field, b.slot(1)));
          read[name] = lib.u32(b.slot(1));
        }
        check(lib, lib.call("avlplus_verifier_new", hashNumber, handle, b.slot(2)));
        this.#handle = lib.u32(b.slot(2));
        this.#limits = Object.freeze(read);
      } finally {
        if (!lib.poisoned) lib.call("avlplus_limits_free", handle);
      }
    });
    finalizer.register(this, { lib, handle: this.#handle }, this);
  }

  /** The verifier's limits, as read back from the library. */
  get limits() {
    return this.#limits;
  }

  /** The hash, as given. */
  get hash() {
    return this.#hash;
  }

  /** The limits the library decodes this verifier's operations and results with. */
  get wireLimits() {
    return Object.freeze({
      maxCount: this.#limits.maxOperations,
      maxKeyLen: this.#limits.maxKeyLen,
      maxValueLen: this.#limits.maxValueLen,
    });
  }

  /** Frees the verifier's memory. Calling it again does nothing; other calls then fail. */
  free() {
    if (this.#handle === 0) return;
    const handle = this.#handle;
    this.#handle = 0;
    finalizer.unregister(this);
    if (!this.#lib.poisoned) this.#lib.call("avlplus_verifier_free", handle);
  }

  /**
   * Throws the error for `code`. A freed verifier's handle is 0, which the library answers
   * as it answers any C caller's NULL, `NULL_PARAMETER`: the message says why.
   */
  #fail(code) {
    if (this.#handle === 0 && code === Code.NULL_PARAMETER) {
      throw new AvlplusError(code, `${this.#lib.message(code)} (the verifier was freed)`);
    }
    throw new AvlplusError(code, this.#lib.message(code));
  }

  /**
   * Verifies a block: replays `operations` (an array as `encodeOperations` takes, or their
   * wire bytes) on `proof` against the trusted root `root` (33 bytes). Returns
   * `{ newRoot, results, resultsBytes }`: the new root (33 bytes), one result per operation
   * (as `decodeResults` gives them), and the results' wire bytes. Throws an `AvlplusError`
   * unless the proof verifies.
   */
  verify(root, proof, operations) {
    bytesArg("root", root);
    bytesArg("proof", proof);
    const ops = operations instanceof Uint8Array ? operations : encodeOperations(operations);
    const lib = this.#lib;
    // Found values come from the proof, every other result is one byte and every operation
    // at least two: this fits unless lookups repeat a long value; then the library says how
    // much it needs and the block is verified once more.
    let capacity = 16 + ops.length + proof.length;
    for (let attempt = 0; ; attempt++) {
      const out = lib.withBlock([root, proof, ops], [ROOT_LEN, capacity], (b) => {
        const code = lib.call(
          "avlplus_verify",
          this.#handle,
          b.input(0),
          root.length,
          b.input(1),
          proof.length,
          b.input(2),
          ops.length,
          b.output(0),
          ROOT_LEN,
          b.slot(0),
          b.output(1),
          capacity,
          b.slot(1),
        );
        if (code === Code.INSUFFICIENT_SIZE && attempt === 0) {
          return { retry: lib.u32(b.slot(1)) };
        }
        if (code !== Code.OK) this.#fail(code);
        return {
          newRoot: lib.copyOut(b.output(0), lib.u32(b.slot(0))),
          resultsBytes: lib.copyOut(b.output(1), lib.u32(b.slot(1))),
        };
      });
      if (out.retry !== undefined) {
        capacity = out.retry;
        continue;
      }
      const results = decodeResults(out.resultsBytes, {
        maxCount: this.#limits.maxOperations,
        maxValueLen: this.#limits.maxValueLen,
      });
      if (Array.isArray(operations) && results.length !== operations.length) {
        throw new AvlplusError(Code.UNEXPECTED_ERROR, "the library returned a result count unlike the operations'");
      }
      return { newRoot: out.newRoot, results, resultsBytes: out.resultsBytes };
    }
  }

  /**
   * The wallet's question: is `key` present under the trusted root `root`, and with which
   * value? `proof` must prove the one-operation batch `lookup(key)`. Returns
   * `{ found: true, value }` or `{ found: false, value: null }`; throws unless the proof
   * verifies.
   */
  verifyLookup(root, proof, key) {
    bytesArg("root", root);
    bytesArg("proof", proof);
    bytesArg("key", key);
    const lib = this.#lib;
    // A found value is in the proof, so the proof's length is enough.
    let capacity = proof.length;
    for (let attempt = 0; ; attempt++) {
      const out = lib.withBlock([root, proof, key], [capacity], (b) => {
        const code = lib.call(
          "avlplus_verify_lookup",
          this.#handle,
          b.input(0),
          root.length,
          b.input(1),
          proof.length,
          b.input(2),
          key.length,
          b.slot(1),
          b.output(0),
          capacity,
          b.slot(0),
        );
        if (code === Code.INSUFFICIENT_SIZE && attempt === 0) return { retry: lib.u32(b.slot(0)) };
        if (code !== Code.OK) this.#fail(code);
        const found = lib.u8(b.slot(1)) !== 0;
        const value = found ? lib.copyOut(b.output(0), lib.u32(b.slot(0))) : null;
        return { found, value };
      });
      if (out.retry === undefined) return out;
      capacity = out.retry;
    }
  }

  /**
   * The wallet's check: under the trusted root `root`, does `key` have exactly the value
   * `expected` (a `Uint8Array`, possibly empty), or, if `expected` is `null`, is `key`
   * absent? `proof` must prove the one-operation batch `lookup(key)`. Returns nothing if so;
   * throws `VALUE_MISMATCH` if the proof is valid but says otherwise, or the verification's
   * error: a check that cannot be ignored by forgetting to look at a return value.
   * `expected` is required (`undefined` is a `TypeError`), so that a forgotten argument is
   * not taken for "absent".
   */
  verifyValue(root, proof, key, expected) {
    bytesArg("root", root);
    bytesArg("proof", proof);
    bytesArg("key", key);
    if (expected !== null) bytesArg("expected (or null for absent)", expected);
    const lib = this.#lib;
    const inputs = expected === null ? [root, proof, key] : [root, proof, key, expected];
    lib.withBlock(inputs, [], (b) => {
      const code = lib.call(
        "avlplus_verify_value",
        this.#handle,
        b.input(0),
        root.length,
        b.input(1),
        proof.length,
        b.input(2),
        key.length,
        // Any non-NULL address stands for the empty value; NULL means absent.
        expected === null ? 0 : b.input(3),
        expected === null ? 0 : expected.length,
      );
      if (code !== Code.OK) this.#fail(code);
    });
  }
}
