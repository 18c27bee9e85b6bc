// Prints the median time of verifying blocks.json → mixed in Node (run by ffi/tests/js.rs's
// throughput measurement).
import { benchBlock } from "./bench.mjs";
import { blocks, library } from "./env.mjs";

const { mixed } = await blocks();
const r = benchBlock(await library(), mixed);
console.log(`node bytes median_ms=${r.bytesMs.toFixed(4)}`);
console.log(`node objects median_ms=${r.objectsMs.toFixed(4)}`);
