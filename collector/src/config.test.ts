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
  it('refuses a Chase conversion_type over 63 characters', () => {
    expect(() => parseConfig({ destinations: { chase: { apiKey: 'k-1234567', events: { purchase: 'x'.repeat(64) } } } }, {})).toThrow(
      /destinations\.chase\.events\.purchase/,
    );
  });
});

describe('substituteEnv', () => {
  it('leaves non-strings and strings without references alone', () => {
    expect(substituteEnv({ a: 1, b: [true, 'x'], c: '$NOT' }, {})).toEqual({ a: 1, b: [true, 'x'], c: '$NOT' });
  });
});
