import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rollup, type RollupLog, type RollupOptions } from 'rollup';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the build config is plain JavaScript, without types
import config from '../rollup.config.mjs';

// The first build is t.js (the debug build, t.debug.js, is the same code with its log kept).
const options = (config as RollupOptions[])[0]!;
const dir = mkdtempSync(join(tmpdir(), 'tagrelay-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tag build', () => {
  it('the tag has no import cycle (nor any other build warning)', async () => {
    const warnings: RollupLog[] = [];
    const bundle = await rollup({ ...options, onwarn: (w) => void warnings.push(w) });
    await bundle.close();
    expect(warnings.map((w) => `${w.code}: ${w.message}`)).toEqual([]);
  });

  it('a circular import fails the build', async () => {
    writeFileSync(join(dir, 'a.js'), "import { b } from './b.js';\nexport const a = () => b;\nconsole.log(a());\n");
    writeFileSync(join(dir, 'b.js'), "import { a } from './a.js';\nexport const b = 1;\nexport const c = () => a;\n");
    await expect(rollup({ ...options, input: join(dir, 'a.js') })).rejects.toThrow(/CIRCULAR_DEPENDENCY/);
  });
});
