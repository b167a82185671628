/**
 * Build-time constant (rollup.config.mjs, terser `global_defs`): `false` removes every debug log
 * line from the bundle (`TAGRELAY_DEBUG=0 npm run build:tag`). The default build keeps the small
 * logger so `data-debug` works in production.
 */
declare const DEBUG: boolean;

/**
 * The tag imports its wire types from collector/src/event.ts (`import type`), whose `emailKey`
 * hashes with node:crypto. The browser tag is type-checked without Node's types, so that one module
 * is declared here, as far as event.ts uses it; nothing of it reaches the bundle.
 */
declare module 'node:crypto' {
  export function createHash(algorithm: string): {
    update(data: string, encoding?: string): { digest(encoding: string): string };
  };
}
