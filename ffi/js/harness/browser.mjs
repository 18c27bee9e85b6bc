// The browser test (run by ffi/tests/js.rs): serves ffi/js and the built module on a free
// localhost port, opens demo/index.html in headless Chromium (Debian's, through
// playwright-core), checks what the page shows against the vector file, and saves a
// screenshot to $AVLPLUS_OUT/screenshot.png. With AVLPLUS_BENCH_BLOCKS (a blocks file, from
// ffi/benches/bindings.rs) it also times verifying each block in the page (harness/bench.mjs)
// and prints the figures.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { decodeResults } from "../avlplus.mjs";
import { benchBlocks, benchLines } from "./bench.mjs";
import { benchOptions, fromHex, path, toHex, vectors } from "./env.mjs";

const JS_DIR = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = process.env.AVLPLUS_CHROMIUM ?? "/usr/bin/chromium";

// The demo's inputs: a mixed block and a present key's lookup from the vector file.
const cases = await vectors();
const block = cases.find((c) => c.kind === "verify" && c.hash === "sha256" && c.name === "sequential_16_mixed");
const balance = cases.find((c) => c.kind === "lookup" && c.hash === "sha256" && c.code === 0 && c.found && c.value !== "-");
assert.ok(block && block.code === 0 && balance, "the vector file lacks the demo's cases");
const lightClient = JSON.stringify({
  block: { name: block.name, hash: block.hash, root: toHex(block.root), proof: toHex(block.proof), ops: toHex(block.ops) },
  balance: { name: balance.name, hash: balance.hash, root: toHex(balance.root), proof: toHex(balance.proof), key: toHex(balance.key) },
});

const TYPES = { ".html": "text/html", ".mjs": "text/javascript", ".json": "application/json", ".wasm": "application/wasm" };
const ROUTES = new Map([
  ["/avlplus.mjs", () => readFile(join(JS_DIR, "avlplus.mjs"))],
  ["/avlplus.wasm", () => readFile(path("AVLPLUS_WASM"))],
  ["/demo/index.html", () => readFile(join(JS_DIR, "demo/index.html"))],
  ["/demo/demo.mjs", () => readFile(join(JS_DIR, "demo/demo.mjs"))],
  ["/demo/light-client.json", async () => lightClient],
  ["/harness/bench.mjs", () => readFile(join(JS_DIR, "harness/bench.mjs"))],
]);

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  const route = ROUTES.get(url.pathname);
  if (!route) {
    console.error(`browser: 404 for ${url.pathname}`);
    res.writeHead(404).end();
    return;
  }
  const ext = url.pathname.slice(url.pathname.lastIndexOf("."));
  res.writeHead(200, { "content-type": TYPES[ext], "cache-control": "no-store" });
  res.end(await route());
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${server.address().port}`;

// The flags Chromium needs on this machine's closed network, as root, without a GPU.
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  await page.goto(`${base}/demo/index.html`);
  await page.waitForSelector("body:not([data-state=loading])", { timeout: 30_000 });
  const state = await page.getAttribute("body", "data-state");
  assert.equal(state, "done", `the page says: ${await page.textContent("#error")}`);
  assert.deepEqual(problems, []);

  // What the page shows is what the vectors say.
  const shown = await page.evaluate(() => ({
    library: document.getElementById("library").textContent,
    blockStatus: document.getElementById("block-status").textContent,
    newRoot: document.getElementById("new-root").textContent,
    kinds: [...document.querySelectorAll("#results tr")].map((r) => r.dataset.kind),
    tampered: document.getElementById("tampered").dataset.code,
    balanceStatus: document.getElementById("balance-status").textContent,
    balance: document.getElementById("balance-value").dataset.hex,
    balanceCheck: document.getElementById("balance-check").textContent,
  }));
  assert.match(shown.library, /^avlplus 0\.1\.0 \(ABI 1\), wasm$/);
  assert.equal(shown.blockStatus, "verified");
  assert.equal(shown.newRoot, block.newRoot);
  assert.deepEqual(shown.kinds, decodeResults(fromHex(block.results)).map((r) => r.kind));
  assert.ok(Number(shown.tampered) > 0, `tampered proof: ${shown.tampered}`);
  assert.equal(shown.balanceStatus, "verified, present");
  assert.equal(shown.balance, balance.value);
  assert.equal(shown.balanceCheck, "verifyValue agrees");
  const screenshot = join(path("AVLPLUS_OUT"), "screenshot.png");
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(
    `browser: ok (Chromium ${browser.version()}): block ${block.name}, ${shown.kinds.length} results, ` +
      `new root ${shown.newRoot.slice(0, 16)}…, balance ${balance.name}; tampered proof refused ` +
      `with ${shown.tampered}`,
  );

  if (process.env.AVLPLUS_BENCH_BLOCKS) {
    const options = benchOptions();
    for (const block of benchBlocks(await readFile(process.env.AVLPLUS_BENCH_BLOCKS, "utf8"))) {
      const r = await page.evaluate(
        async ([b, o]) => {
          const { load } = await import("/avlplus.mjs");
          const { benchBlock } = await import("/harness/bench.mjs");
          return benchBlock(await load("/avlplus.wasm"), b, o);
        },
        [block, options],
      );
      for (const line of benchLines("chromium", block, r)) console.log(line);
    }
  }
} finally {
  await browser.close();
  server.close();
}
