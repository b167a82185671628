// npm run size: raw, gzip and brotli bytes of the built tag (dist/t.js, idb-keyval included),
// compared with other trackers; exits 1 above the budget.
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const BUDGET = 2500; // bytes, gzip
const file = new URL('../dist/t.js', import.meta.url);
let code;
try {
  code = readFileSync(file);
} catch {
  console.error('dist/t.js is missing: run `npm run build:tag` first');
  process.exit(1);
}
const gzip = gzipSync(code, { level: 9 }).length;
const brotli = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const anchors = { "Plausible's tracker": 2681, 'Segment analytics.js': 31280 };

console.log(`dist/t.js  raw ${code.length} B  gzip ${gzip} B  brotli ${brotli} B  (budget ${BUDGET} B gzip)`);
for (const [name, bytes] of Object.entries(anchors))
  console.log(`  ${((gzip / bytes) * 100).toFixed(1)}% of ${name} (${bytes} B gzip)`);
if (gzip > BUDGET) {
  console.error(`over budget by ${gzip - BUDGET} B gzip`);
  process.exit(1);
}
