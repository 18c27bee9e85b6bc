// A light client in the browser: it trusts a root, verifies a block of operations against it
// (and gets the next root), then a wallet's balance proof. The inputs come from
// ./light-client.json (a block and a lookup of the project's test vectors, served by
// ffi/js/harness/browser.mjs); the verifier from ../avlplus.wasm through ../avlplus.mjs.
import { AvlplusError, decodeOperations, load } from "../avlplus.mjs";

const $ = (id) => document.getElementById(id);

function fromHex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Text if the bytes are printable ASCII, else hex. */
function show(b) {
  if (b === undefined) return "";
  if (b.length === 0) return "(empty)";
  return b.every((x) => x >= 0x20 && x < 0x7f) ? String.fromCharCode(...b) : `0x${toHex(b)}`;
}

function cell(row, text, hex) {
  const td = row.insertCell();
  td.textContent = text;
  if (hex !== undefined) td.dataset.hex = hex;
  return td;
}

function mark(id, ok, text) {
  $(id).textContent = text;
  $(id).className = ok ? "ok" : "bad";
}

async function main() {
  const data = await (await fetch("./light-client.json")).json();
  const avlplus = await load(new URL("../avlplus.wasm", import.meta.url));
  $("library").textContent = `avlplus ${avlplus.version} (ABI ${avlplus.abiVersion}), wasm`;
  const verifier = avlplus.verifier({ hash: data.block.hash, preset: "phone" });

  // The block: every operation and its proven result.
  const { block } = data;
  const root = fromHex(block.root);
  const proof = fromHex(block.proof);
  const ops = decodeOperations(fromHex(block.ops), verifier.wireLimits);
  $("block-name").textContent = block.name;
  $("block-root").textContent = block.root;
  $("block-proof").textContent = `${proof.length} bytes, ${ops.length} operations`;
  const { newRoot, results } = verifier.verify(root, proof, ops);
  const rows = $("results");
  ops.forEach((op, i) => {
    const row = rows.insertRow();
    row.dataset.kind = results[i].kind;
    cell(row, String(i));
    cell(row, op.op);
    cell(row, show(op.key), toHex(op.key));
    cell(row, show(op.value));
    const r = results[i];
    cell(row, r.kind === "found" ? `found ${show(r.value)}` : r.kind.replace("_", " "));
  });
  $("new-root").textContent = toHex(newRoot);
  mark("block-status", true, "verified");

  // The same block with one proof byte changed must be refused.
  const tampered = proof.slice();
  tampered[proof.length >> 1] ^= 0x01;
  try {
    verifier.verify(root, tampered, ops);
    mark("tampered", false, "accepted (!)");
  } catch (e) {
    if (!(e instanceof AvlplusError)) throw e;
    $("tampered").dataset.code = String(e.code);
    mark("tampered", true, `refused: ${e.codeName} (${e.code}), ${e.message}`);
  }

  // The balance: a lookup proof against its own trusted root.
  const { balance } = data;
  $("balance-name").textContent = balance.name;
  $("balance-root").textContent = balance.root;
  const key = fromHex(balance.key);
  $("balance-key").textContent = show(key);
  const lookup = verifier.verifyLookup(fromHex(balance.root), fromHex(balance.proof), key);
  $("balance-value").textContent = lookup.found ? show(lookup.value) : "absent";
  $("balance-value").dataset.hex = lookup.found ? toHex(lookup.value) : "absent";
  verifier.verifyValue(fromHex(balance.root), fromHex(balance.proof), key, lookup.value);
  mark("balance-check", true, "verifyValue agrees");
  mark("balance-status", true, lookup.found ? "verified, present" : "verified, absent");
  verifier.free();
  document.body.dataset.state = "done";
}

main().catch((e) => {
  $("error").textContent = `${e.name}: ${e.message}`;
  document.body.dataset.state = "error";
});
