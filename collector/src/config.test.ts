import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, substituteEnv } from './config.js';

describe('parseConfig', () => {
  it('gives the embedded default for an empty config', () => {
    const c = parseConfig({}, {});
    expect(c).toMatchObject({ port: 8080, store: 'sqlite:./data/tagrelay.db', allowedOrigins: [], destinations: {} });
    expect(c.delivery.maxAgeHours).toBe(72);
    expect(Object.isFrozen(c) && Object.isFrozen(c.delivery)).toBe(true);
  });
  it('substitutes ${NAME} from the environment and applies destination defaults', () => {
    const c = parseConfig({ destinations: { chase: { apiKey: '${KEY}', events: { purchase: 'purchase' } } } }, { KEY: 'k-1234567' });
    expect(c.destinations.chase).toMatchObject({
      apiKey: 'k-1234567',
      baseUrl: 'https://services.meetchase.ai',
      enabled: true,
      dryRun: false,
      consent: ['ad_user_data'],
    });
  });
  it('names the key of a missing environment variable', () => {
    expect(() => parseConfig({ destinations: { chase: { apiKey: 'x-${NOPE}' } } }, {})).toThrow(
      new ConfigError('destinations.chase.apiKey: environment variable NOPE is not set'),
    );
  });
  it('refuses an empty environment variable as it refuses a missing one, naming the key', () => {
    expect(() => parseConfig({ destinations: { chase: { apiKey: '${EMPTY}' } } }, { EMPTY: '' })).toThrow(
      new ConfigError('destinations.chase.apiKey: environment variable EMPTY is not set'),
    );
  });
  it('refuses a Chase conversion_type over 63 characters', () => {
    expect(() => parseConfig({ destinations: { chase: { apiKey: 'k-1234567', events: { purchase: 'x'.repeat(64) } } } }, {})).toThrow(
      /destinations\.chase\.events\.purchase/,
    );
  });
  it('takes numbers and booleans from the environment, as the text ${NAME} brings', () => {
    const env = { PORT: '9090', CONCURRENCY: ' 16 ', DAYS: '0.5', DEMO: 'true', DRY: 'false', CACHE: '60' };
    const c = parseConfig(
      {
        port: '${PORT}',
        demo: '${DEMO}',
        delivery: { concurrency: '${CONCURRENCY}' },
        retention: { deliveredDays: '${DAYS}' },
        destinations: {
          chase: { apiKey: 'k-1234567', dryRun: '${DRY}' },
          convert: { accountId: '1', projectId: '2', goalsCacheSeconds: '${CACHE}' },
        },
      },
      env,
    );
    expect([c.port, c.demo, c.delivery.concurrency, c.retention.deliveredDays]).toEqual([9090, true, 16, 0.5]);
    expect(c.destinations.chase!.dryRun).toBe(false);
    expect(c.destinations.convert!.goalsCacheSeconds).toBe(60);
  });
  it('refuses what is not a number or a boolean, naming the key, and checks the bounds of what is', () => {
    expect(() => parseConfig({ delivery: { concurrency: '${C}' } }, { C: 'lots' })).toThrow(/^delivery\.concurrency: .*number/);
    expect(() => parseConfig({ delivery: { concurrency: '${C}' } }, { C: '5000' })).toThrow(/^delivery\.concurrency: .*1024/);
    expect(() => parseConfig({ demo: '${D}' }, { D: 'yes' })).toThrow(/^demo: .*boolean/);
    expect(() => parseConfig({ port: true }, {})).toThrow(/^port: .*number/);
  });
});

describe('substituteEnv', () => {
  it('leaves non-strings and strings without references alone', () => {
    expect(substituteEnv({ a: 1, b: [true, 'x'], c: '$NOT' }, {})).toEqual({ a: 1, b: [true, 'x'], c: '$NOT' });
  });
});
