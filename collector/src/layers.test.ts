import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The collector's layers, lowest first (ARCHITECTURE.md, "Dependencies run one way"): a file imports
 * only from its own folder or from a lower layer, so no folder imports from a folder that imports it.
 * Top-level files are placed one by one; a folder's files share its layer.
 */
const LAYERS: readonly (readonly string[])[] = [
  [
    'emailKey.ts',
    'event.ts',
    'firstIssue.ts',
    'log.ts',
    'logThrottle.ts',
    'metrics.ts',
    'packageInfo.ts',
    'redact.ts',
    'withinTime.ts',
    'workersMetrics.ts',
  ],
  ['store/', 'destinations/'],
  ['config.ts'],
  ['delivery/'],
  ['http/'],
  ['workers.ts', 'operator.ts', 'app.ts', 'cli.ts'],
];

const root = import.meta.dirname;

/** `store/`, `http/`, … for a file in a folder; the file's own name at the top level. */
const unitOf = (path: string) => (path.includes('/') ? `${path.split('/')[0]}/` : path);
const layerOf = (unit: string) => LAYERS.findIndex((layer) => layer.includes(unit));

const sources = (readdirSync(root, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
  .map((f) => f.split('\\').join('/'));

/** Every relative import of a file (static, `import type`, and `import()`), as paths under collector/src. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) =>
    relative(root, resolve(dirname(join(root, file)), s))
      .split('\\')
      .join('/')
      .replace(/\.js$/, '.ts'),
  );
}

/** The imports of `file` that break the layers. */
function wrongImports(file: string, targets: string[]): string[] {
  const from = unitOf(file);
  return targets.filter((target) => {
    if (target.startsWith('..')) return false; // outside collector/src: test support's types (destinations/testing.ts)
    const to = unitOf(target);
    if (to === from && from.endsWith('/')) return false;
    const [a, b] = [layerOf(from), layerOf(to)];
    // Top-level files of one layer may use each other (cli.ts uses app.ts); folders of one layer may not.
    const sameLayerFiles = a === b && !from.endsWith('/') && !to.endsWith('/');
    return b < 0 || (b >= a && !sameLayerFiles);
  });
}

describe('the collector layers', () => {
  it('places every source file', () => {
    expect(sources.length).toBeGreaterThan(40);
    expect(sources.filter((f) => layerOf(unitOf(f)) < 0)).toEqual([]);
  });

  it('has every import go to the same folder or a lower layer', () => {
    expect(sources.flatMap((file) => wrongImports(file, importsOf(file)).map((t) => `${file} imports ${t}`))).toEqual(
      [],
    );
  });

  it('refuses an import that goes up or sideways', () => {
    expect(
      wrongImports('delivery/lane.ts', ['http/collect.ts', 'delivery/send.ts', 'store/types.ts', 'config.ts']),
    ).toEqual(['http/collect.ts']);
    expect(wrongImports('store/sqlite.ts', ['destinations/types.ts', 'event.ts'])).toEqual(['destinations/types.ts']);
    expect(wrongImports('event.ts', ['config.ts', 'redact.ts'])).toEqual(['config.ts']);
    expect(wrongImports('cli.ts', ['app.ts', 'nowhere/x.ts'])).toEqual(['nowhere/x.ts']);
  });
});
