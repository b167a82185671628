import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConvertGoals, startConvert } from '../../../../e2e/vendors/convert.js';
import type { VendorServer } from '../../../../e2e/vendors/server.js';
import { BadCredentialsError, InvalidEventError, RetryableError } from '../errors.js';
import { GoalResolver } from './goals.js';

const goals = defaultConvertGoals.map((g) => ({ ...g }));
let server: VendorServer;
beforeAll(async () => {
  server = await startConvert({ goals });
});
afterAll(() => server.close());

const configRequests = () => server.requests.filter((r) => r.method === 'GET').length;

describe('GoalResolver against a local Convert config API', () => {
  it('resolves keys to ids, caches the list, takes digits as ids', async () => {
    let now = 0;
    const r = new GoalResolver({ configUrl: `${server.url}/api/v1/config/10012/10034`, ttlMs: 60_000, now: () => now });
    const before = configRequests();
    expect(await r.resolve('checkout-complete')).toBe('100136097');
    expect(await r.resolve('add-to-cart')).toBe('100134910');
    expect(await r.resolve('555')).toBe('555');
    expect(configRequests() - before).toBe(1);
    now = 61_000; // TTL passed
    expect(await r.resolve('lead')).toBe('100132287');
    expect(configRequests() - before).toBe(2);
  });

  it('an unknown key refreshes the list once, then is a rejection naming the key', async () => {
    let now = 0;
    const r = new GoalResolver({ configUrl: `${server.url}/api/v1/config/10012/10034`, ttlMs: 600_000, minRefreshMs: 30_000, now: () => now });
    await r.resolve('lead');
    now = 31_000;
    goals.push({ id: '100999999', key: 'new-goal', name: 'New', type: 'custom' });
    expect(await r.resolve('new-goal')).toBe('100999999'); // added at Convert after the list was cached
    await expect(r.resolve('no-such-goal')).rejects.toThrow(InvalidEventError);
    await expect(r.resolve('no-such-goal')).rejects.toThrow(/goal key "no-such-goal" is not a goal/);
    goals.pop();
  });

  it('config API failure is retryable; a stale list is used when there is one', async () => {
    let now = 0;
    const r = new GoalResolver({ configUrl: `${server.url}/api/v1/config/10012/10034`, ttlMs: 1000, now: () => now });
    server.override = (req) => (req.method === 'GET' ? { status: 503, headers: { 'retry-after': '4' }, body: { code: 503, message: 'down' } } : undefined);
    const err = await r.resolve('lead').catch((e) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.retryAfterMs).toBe(4000);
    server.override = undefined;
    expect(await r.resolve('lead')).toBe('100132287');
    now = 5000;
    server.override = (req) => (req.method === 'GET' ? { status: 500, body: { code: 500, message: 'oops' } } : undefined);
    expect(await r.resolve('lead')).toBe('100132287');
    server.override = undefined;
  });

  it('network failure is retryable; 401 is bad credentials', async () => {
    const down = new GoalResolver({ configUrl: 'http://127.0.0.1:1/api/v1/config/1/2', ttlMs: 1000 });
    await expect(down.resolve('lead')).rejects.toThrow(RetryableError);
    server.override = (req) => (req.method === 'GET' ? { status: 401, body: { code: 401, message: 'no' } } : undefined);
    const r = new GoalResolver({ configUrl: `${server.url}/api/v1/config/10012/10034`, ttlMs: 1000 });
    await expect(r.resolve('lead')).rejects.toThrow(BadCredentialsError);
    server.override = undefined;
  });
});
