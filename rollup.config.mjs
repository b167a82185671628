// Builds the browser tag: one minified IIFE, dist/t.js (idb-keyval included).
// TAGRELAY_DEBUG=0 builds a variant without the debug logger (data-debug then does nothing).
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';

const debug = process.env.TAGRELAY_DEBUG !== '0';

export default {
  input: 'tag/src/index.ts',
  output: { file: 'dist/t.js', format: 'iife', strict: false },
  onwarn(w, warn) {
    // the modules import each other's live bindings on purpose (queue <-> consent)
    if (w.code !== 'CIRCULAR_DEPENDENCY') warn(w);
  },
  plugins: [
    resolve({ browser: true }),
    typescript({ tsconfig: 'tag/tsconfig.json', include: ['tag/src/**/*.ts'], exclude: ['**/*.test.ts'], noEmitOnError: true }),
    terser({
      ecma: 2020,
      compress: {
        passes: 3,
        global_defs: { DEBUG: debug },
        unsafe: true,
        unsafe_arrows: true,
        unsafe_methods: true,
        pure_getters: true,
      },
      mangle: { properties: { regex: /^_/ } },
      format: { comments: false },
    }),
  ],
};
