import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';

describe('createLogger', () => {
  it('redacts every secret from a line, in messages, fields and errors', () => {
    const lines: string[] = [];
    const log = createLogger(['s3cr3t-token', 'abc'], (l) => lines.push(l));
    log.error('failed with s3cr3t-token', { url: 'https://x/?k=s3cr3t-token', error: new Error('bad s3cr3t-token') });
    expect(lines[0]).not.toContain('s3cr3t-token');
    expect(lines[0]).toContain('[redacted]');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', error: { name: 'Error' } });
  });
});
