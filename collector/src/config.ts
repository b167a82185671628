import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { destinationDefinitions } from './destinations/index.js';
import { firstIssue } from './firstIssue.js';
import type { LogLevel } from './log.js';
import { countryCode, envBoolean, envNumber } from './destinations/settings.js';
import type { CommonSettings } from './destinations/types.js';

const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The shortest admin token /debug accepts. */
const MIN_ADMIN_TOKEN_LENGTH = 16;

/** A config problem, with the key it is about: printed as the one start-up error. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const origin = z
  .string()
  .refine((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o), 'must be an origin like https://shop.example (no path) or "*"');

const bucket = z
  .object({
    ratePerSecond: envNumber(z.number().positive()),
    burst: envNumber(z.number().int().min(1)),
  })
  .strict();

const topLevel = z
  .object({
    port: envNumber(z.number().int().min(0).max(65535)).default(8080),
    host: z.string().min(1).default('0.0.0.0'),
    store: z
      .string()
      .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<path> or a postgres:// URL')
      .default('sqlite:./data/tagrelay.db'),
    /**
     * PostgreSQL: the most connections `tagrelay serve` opens, all its `--workers` processes together
     * (each an equal share, at least 2). Default: the larger of 10 and 4 a process (workers.ts).
     */
    storeConnections: envNumber(z.number().int().min(1).max(10_000)).optional(),
    allowedOrigins: z.array(origin).default([]),
    /** Serve the demo shop page at `/` (npm start). */
    demo: envBoolean().default(false),
    /** Query parameters page URLs keep besides utm_* and ad click ids (everything else is dropped before storing). */
    keepQueryParams: z.array(z.string().min(1).max(128)).max(100).default([]),
    /**
     * A first-party cookie the collector sets on /collect answers, holding the visitor's id (the
     * collector must be same-site with the shop: a subdomain or a path behind its proxy).
     */
    cookie: z
      .object({
        domain: z.string().regex(/^[a-z0-9.-]+$/i, 'must be a domain like shop.example').optional(),
        name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('_tr'),
        maxAgeDays: envNumber(z.number().positive().max(400)).default(395),
      })
      .strict()
      .optional(),
    /** Keys the shop's backend sends as `Authorization: Bearer <key>`: its events are verified (at least 16 characters each). */
    serverKeys: z.array(z.string().min(16, 'must be at least 16 characters')).max(20).default([]),
    /** How long the collector remembers a visitor's click ids (and attaches them to later events), days. */
    attributionDays: envNumber(z.number().positive().max(3650)).default(30),
    /** Country of phone numbers written without a country code, when the event's address has none. */
    defaultCountry: countryCode.default('us'),
    /** Trust X-Forwarded-For from this many proxies in front of the collector (http/collect.ts clientIp). */
    trustProxy: envNumber(z.number().int().min(0).max(10)).default(0),
    delivery: z
      .object({
        /** How often idle workers look for due deliveries, ms. */
        pollMs: envNumber(z.number().int().min(10).max(60000)).default(250),
        /** Concurrent requests per destination. */
        concurrency: envNumber(z.number().int().min(1).max(1024)).default(64),
        /** Give up on a delivery (dead letter) after this many hours of retrying. */
        maxAgeHours: envNumber(z.number().positive().max(24 * 90)).default(72),
        /** ... or after this many attempts. */
        maxAttempts: envNumber(z.number().int().min(1).max(100000)).default(1000),
        /** Timeout of one vendor request, ms. */
        timeoutMs: envNumber(z.number().int().min(100).max(120000)).default(15000),
        /** First retry delay, ms; doubles each attempt (with full jitter) up to maxBackoffMs. */
        baseBackoffMs: envNumber(z.number().int().min(1).max(3_600_000)).default(1000),
        maxBackoffMs: envNumber(z.number().int().min(1).max(86_400_000)).default(15 * 60_000),
        /** The longest wait between probes of a vendor that is failing as a whole (its outage ends within this of its recovery). */
        maxProbeIntervalMs: envNumber(z.number().int().min(1).max(3_600_000)).default(10_000),
        /**
         * How long a claimed delivery is leased to the collector sending it (PostgreSQL: a collector that
         * dies loses its deliveries to the others within this). Longer than timeoutMs by 5 s at least.
         */
        leaseMs: envNumber(z.number().int().min(1000).max(3_600_000)).default(30_000),
      })
      .strict()
      .refine((d) => d.leaseMs >= d.timeoutMs + 5000, {
        message: 'must be at least delivery.timeoutMs + 5000 (a lease must outlast the request it covers)',
        path: ['leaseMs'],
      })
      .prefault({}),
    /** What /collect takes from whom: abuse and overload (README, Security). */
    limits: z
      .object({
        /** Requests per client address (after trustProxy): a busy office behind one NAT never meets it, a script does. */
        perIp: bucket.prefault({ ratePerSecond: 20, burst: 100 }),
        /** Requests in all, guarding the store. */
        global: bucket.prefault({ ratePerSecond: 5000, burst: 10000 }),
        /** Free bytes the store's disk keeps; below, /collect answers 503. Default: the larger of 1 GB and 5 % of the disk. */
        minFreeBytes: envNumber(z.number().int().min(0)).optional(),
        /** Deliveries waiting in all; above, /collect answers 503. */
        maxQueueDepth: envNumber(z.number().int().min(1)).default(5_000_000),
        /** Open connections at most. */
        maxConnections: envNumber(z.number().int().min(1)).default(10_000),
        /** A request must be complete within this, headers within headersTimeoutMs. */
        requestTimeoutMs: envNumber(z.number().int().min(100).max(300_000)).default(10_000),
        headersTimeoutMs: envNumber(z.number().int().min(100).max(60_000)).default(5_000),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        /** Events whose deliveries are all done are deleted after this many days. */
        deliveredDays: envNumber(z.number().positive().max(3650)).default(7),
        /** Dead letters (given up or refused) are kept this many days for `tagrelay replay`. */
        deadLetterDays: envNumber(z.number().positive().max(3650)).default(30),
        /** Events no destination takes (kept without personal data, for /debug) are deleted after this many hours. */
        unroutedHours: envNumber(z.number().positive().max(24 * 3650)).default(1),
      })
      .strict()
      .prefault({}),
    destinations: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type TopLevelConfig = z.infer<typeof topLevel>;
export type Config = Readonly<
  Omit<TopLevelConfig, 'destinations'> & {
    destinations: Readonly<Record<string, CommonSettings & Record<string, unknown>>>;
    /** Token for /debug; from TAGRELAY_ADMIN_TOKEN. */
    adminToken?: string;
    /** The lowest log level written; from LOG_LEVEL. */
    logLevel: LogLevel;
  }
>;

/** Replaces `${NAME}` in every string with the environment variable NAME; a missing one is an error naming the key. */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined || v === '') throw new ConfigError(`${path || '(root)'}: environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, path ? `${path}.${k}` : k)]),
    );
  }
  return value;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Parses and checks a config object (after env substitution). Throws ConfigError naming the bad key. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  const substituted = substituteEnv(raw ?? {}, env);
  const top = topLevel.safeParse(substituted);
  if (!top.success) throw new ConfigError(firstIssue(top.error));
  const destinations: Record<string, CommonSettings & Record<string, unknown>> = {};
  for (const [name, value] of Object.entries(top.data.destinations)) {
    const def = destinationDefinitions[name];
    if (!def) {
      throw new ConfigError(
        `destinations.${name}: unknown destination (known: ${Object.keys(destinationDefinitions).join(', ')})`,
      );
    }
    const parsed = def.settings.safeParse(value);
    if (!parsed.success) throw new ConfigError(firstIssue(parsed.error, ['destinations', name]));
    destinations[name] = parsed.data;
  }
  const adminToken = env.TAGRELAY_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(`TAGRELAY_ADMIN_TOKEN: must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (it guards /debug)`);
  }
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')} (is ${env.LOG_LEVEL})`);
  }
  return deepFreeze({ ...top.data, destinations, adminToken, logLevel: logLevel as LogLevel });
}

/** Reads a config file; a missing path means the embedded default (no destinations). */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  if (!path) return parseConfig({}, env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, env);
}

/** The URL this machine reaches a collector listening on `host` and `port` at (any address → loopback). */
export function localUrl(host: string, port: number): string {
  if (host === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (host === '::') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
