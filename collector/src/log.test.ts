import { describe, expect, it } from 'vitest';
import { createLogger, prettyLine } from './log.js';

describe('createLogger', () => {
  it('redacts every secret from a line, in messages, fields and errors, as written, JSON-escaped or URL-encoded', () => {
    const lines: string[] = [];
    const log = createLogger(['s3cr3t-token', 'p@ss"w/rd+1'], (l) => lines.push(l));
    log.error('failed with s3cr3t-token', { url: 'https://x/?k=s3cr3t-token', error: new Error('bad s3cr3t-token') });
    log.info('sent', { body: JSON.stringify({ key: 'p@ss"w/rd+1' }), form: `key=${encodeURIComponent('p@ss"w/rd+1')}` });
    expect(lines.join('\n')).not.toContain('s3cr3t-token');
    expect(lines.join('\n')).not.toContain('w/rd+1');
    expect(lines.join('\n')).not.toContain(encodeURIComponent('p@ss"w/rd+1'));
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', msg: 'failed with [redacted]', error: { name: 'Error', message: 'bad [redacted]' } });
    expect(JSON.parse(lines[0]!).time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('writes the levels LOG_LEVEL asks for', () => {
    const lines: string[] = [];
    createLogger([], (l) => lines.push(l)).debug('attempt');
    expect(lines).toEqual([]);
    createLogger([], (l) => lines.push(l), { level: 'debug' }).debug('attempt', { destination: 'chase' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'debug', msg: 'attempt', destination: 'chase' });
  });

  it('reads like a sentence on a terminal', () => {
    expect(prettyLine('{"level":"info","time":"2026-12-01T12:04:05.123Z","msg":"destination recovered","destination":"chase","after":3}')).toBe(
      '12:04:05 INFO  destination recovered  destination=chase after=3',
    );
    const lines: string[] = [];
    createLogger([], (l) => lines.push(l), { pretty: true }).warn('slow', { ms: 5 });
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN  slow  ms=5$/);
  });
});
