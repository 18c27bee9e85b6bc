// Times verifying each block of the blocks file AVLPLUS_BENCH_BLOCKS in Node and prints the
// figures (run by ffi/benches/bindings.rs).
import { readFile } from "node:fs/promises";

import { benchBlock, benchBlocks, benchLines } from "./bench.mjs";
import { benchOptions, library, path } from "./env.mjs";

const lib = await library();
const options = benchOptions();
for (const block of benchBlocks(await readFile(path("AVLPLUS_BENCH_BLOCKS"), "utf8"))) {
  for (const line of benchLines("node", block, benchBlock(lib, block, options))) console.log(line);
}
