// Builds the browser tag: one minified IIFE, dist/t.js.
// TAGRELAY_DEBUG=0 builds a variant without the debug logger (data-debug then does nothing).
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';

const debug = process.env.TAGRELAY_DEBUG !== '0';

export default {
  input: 'tag/src/index.ts',
  output: { file: 'dist/t.js', format: 'iife', strict: false },
  // Every warning fails the build: the tag has none, and a new one (an import cycle among them)
  // is a bug to fix, not to scroll past.
  onwarn(warning) {
    throw new Error(`${warning.code}: ${warning.message}`);
  },
  plugins: [
    resolve({ browser: true }),
    typescript({ tsconfig: 'tag/tsconfig.json', include: ['tag/src/**/*.ts'], exclude: ['**/*.test.ts'], noEmitOnError: true }),
    terser({
      ecma: 2020,
      compress: {
        passes: 3,
        inline: 1, // only simple functions: 5 B gzip less than inlining everything
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
