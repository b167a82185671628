// Builds the browser tag: one minified IIFE, dist/t.js; its debug build, dist/t.debug.js, the same code
// with the debug log (`data-debug` or `?tagrelay_debug=1` makes t.js load it instead); and dist/t.tcf.js,
// the IAB TCF listener, which t.js loads only where a CMP (`__tcfapi`) is on the page.
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';

const build = (debug, file, input = 'tag/src/index.ts') => ({
  input,
  output: { file, format: 'iife', strict: false },
  // Every warning fails the build: the tag has none, and a new one (an import cycle among them)
  // is a bug to fix, not to scroll past.
  onwarn(warning) {
    throw new Error(`${warning.code}: ${warning.message}`);
  },
  plugins: [
    resolve({ browser: true }),
    typescript({ tsconfig: 'tag/tsconfig.json', include: ['tag/src/**/*.ts'], exclude: ['**/*.test.ts'], noEmitOnError: true }),
    terser({
      ecma: 2021,
      compress: {
        passes: 3,
        inline: 1, // only simple functions: 5 B gzip less than inlining everything
        global_defs: { DEBUG: debug },
        unsafe: true,
        unsafe_arrows: true,
        unsafe_methods: true,
        pure_getters: true,
        // Without the debug log, its calls are dropped, not left calling an empty function.
        pure_funcs: debug ? [] : ['log', 'ignore'],
      },
      // `_loaded` and the like are ours to shorten; `__tcfapi` (the IAB CMP API) is not.
      mangle: { properties: { regex: /^_[^_]/ } },
      format: { comments: false },
    }),
  ],
});

export default [build(false, 'dist/t.js'), build(true, 'dist/t.debug.js'), build(false, 'dist/t.tcf.js', 'tag/src/tcfMain.ts')];
