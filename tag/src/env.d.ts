/**
 * Build-time constant (rollup.config.mjs, terser `global_defs`): `false` removes every debug log
 * line from the bundle (`TAGRELAY_DEBUG=0 npm run build:tag`). The default build keeps the small
 * logger so `data-debug` works in production.
 */
declare const DEBUG: boolean;

