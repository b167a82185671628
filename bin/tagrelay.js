#!/usr/bin/env node
import { main } from '../dist/collector/cli.js';

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`tagrelay: ${e?.stack ?? e}\n`);
  process.exit(1);
});
