import { describe, expect, it } from 'vitest';
import type { HttpRequest } from './types.js';
import { classifyResponse, retryAfterMs } from './classify.js';
import { BadCredentialsError, InvalidEventError, RetryableError } from './errors.js';

const req: HttpRequest = { method: 'POST', url: 'https://user:pw@vendor.example/api?key=secret', headers: {} };
const res = (status: number, headers: Record<string, string> = {}, body = '') => ({ status, headers, body });

describe('classifyResponse', () => {
  it('passes documented successes', () => {
    expect(() => classifyResponse('v', req, res(202))).not.toThrow();
    expect(() => classifyResponse('v', req, res(200), (s) => s === 200)).not.toThrow();
  });
  it.each([
    [401, BadCredentialsError],
    [403, BadCredentialsError],
    [408, RetryableError],
    [429, RetryableError],
    [500, RetryableError],
    [503, RetryableError],
    [400, InvalidEventError],
    [404, InvalidEventError],
    [422, InvalidEventError],
  ])('%i is a %o', (status, kind) => {
    expect(() => classifyResponse('vendor', req, res(status, {}, '{"errors":["bad"]}'))).toThrow(kind);
  });
  it('keeps the vendor body and names the destination, method and URL without credentials', () => {
    try {
      classifyResponse('impact', req, res(400, {}, '{"Status":"ERROR","errors":[{"field":"OrderId"}]}'));
      expect.unreachable();
    } catch (e) {
      const err = e as InvalidEventError;
      expect(err.name).toBe('InvalidEventError');
      expect(err.body).toContain('OrderId');
      expect(err.message).toBe('impact (POST https://vendor.example/api): 400 vendor refused the event');
    }
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  it('reads Retry-After in seconds and as a date', () => {
    expect(retryAfterMs(res(429, { 'retry-after': '7' }), now)).toBe(7000);
    expect(retryAfterMs(res(429, { 'retry-after': 'Sun, 22 Nov 2026 12:00:30 GMT' }), now)).toBe(30_000);
  });
  it('reads X-RateLimit-Reset as seconds to wait or as a Unix time', () => {
    expect(retryAfterMs(res(429, { 'x-ratelimit-reset': '12' }), now)).toBe(12_000);
    expect(retryAfterMs(res(429, { 'x-ratelimit-reset': String(now / 1000 + 45) }), now)).toBe(45_000);
  });
  it('is undefined without either header', () => {
    expect(retryAfterMs(res(503), now)).toBeUndefined();
  });
});
