import express, { type Request, type RequestHandler, type Router } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import type { LaneStatus } from '../delivery/lane.js';
import type { StoredEvent } from '../event.js';
import type { Destination } from '../destinations/types.js';
import { packageRoot } from '../packageInfo.js';
import type { DeliveryRecord, DestinationStats, EventQuery, Store } from '../store/types.js';
import { clientIp } from './clientIp.js';
import { debugPage } from './debugPage.js';
import { sampleEvent, sampleEventName, tryDestination } from './debugTry.js';
import { matchesVerdict, VERDICTS, verdictsOf, type DestinationVerdict } from './debugVerdicts.js';
import { RateLimiter } from './rateLimit.js';
import type { Refusals } from './refusals.js';

function tokenMatches(given: string | undefined, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Headers of every /debug answer: nothing loads from elsewhere, nothing frames it, nothing caches it. */
const DEBUG_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
};

/**
 * Bearer token, or HTTP Basic with the token as password (so a browser can open the page). Wrong
 * tokens from one address are slowed down: 5 at once, then one a minute (429 with Retry-After), and
 * while an address waits even the right token is not checked.
 */
function requireAdmin(token: string | undefined, trustProxy: number): RequestHandler {
  const failures = new RateLimiter({ ratePerSecond: 1 / 60, burst: 5 });
  return (req, res, next) => {
    res.set(DEBUG_HEADERS);
    if (!token) {
      res.status(404).json({ error: 'debug is off: set TAGRELAY_ADMIN_TOKEN to enable it' });
      return;
    }
    const ip = clientIp(req, trustProxy) ?? '';
    const wait = failures.peek(ip);
    if (wait) {
      res.set('Retry-After', String(wait)).status(429).json({ error: `too many wrong admin tokens: retry in ${wait} s` });
      return;
    }
    const auth = req.get('authorization') ?? '';
    let given: string | undefined;
    if (auth.startsWith('Bearer ')) given = auth.slice(7);
    else if (auth.startsWith('Basic '))
      given = Buffer.from(auth.slice(6), 'base64').toString().split(':').slice(1).join(':');
    if (!tokenMatches(given, token)) {
      if (given) failures.take(ip); // asking without a token (a browser's first try) is no guess
      res.set('WWW-Authenticate', 'Basic realm="tagrelay debug"').status(401).json({ error: 'admin token required' });
      return;
    }
    next();
  };
}

function limitOf(q: unknown, max = 1000, fallback = 100): number {
  const n = Number(q);
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : fallback;
}

/** A 400 the error handler answers with its message. */
class BadQuery extends Error {
  readonly status = 400;
}

/** The event list's filters, from a query string: all optional. */
export interface EventFilters {
  id?: string;
  name?: string;
  destination?: string;
  verdict?: string;
  clickId?: string;
  since?: number;
  until?: number;
  limit: number;
}

function text(v: unknown, key: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > 512) throw new BadQuery(`${key}: expected a string of at most 512 characters`);
  return v.trim() || undefined;
}

/** A time as ms since 1970 or an ISO date. */
function time(v: unknown, key: string): number | undefined {
  const s = text(v, key);
  if (s === undefined) return undefined;
  const t = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(t)) throw new BadQuery(`${key}: expected ms since 1970 or an ISO date, got ${s.slice(0, 40)}`);
  return t;
}

export function filtersOf(q: Record<string, unknown>): EventFilters {
  const verdict = text(q.verdict, 'verdict');
  if (verdict !== undefined && !(VERDICTS as readonly string[]).includes(verdict)) {
    throw new BadQuery(`verdict: expected one of ${VERDICTS.join(', ')}`);
  }
  return {
    id: text(q.id, 'id'),
    name: text(q.name, 'name'),
    destination: text(q.destination, 'destination'),
    verdict,
    clickId: text(q.clickId, 'clickId'),
    since: time(q.since, 'since'),
    until: time(q.until, 'until'),
    limit: limitOf(q.limit, 500, 100),
  };
}

/** The script of the page, compiled from debugClient.ts: beside this module when built, else in dist (tests run the sources). */
function clientScript(): string | undefined {
  const candidates = [
    fileURLToPath(new URL('./debugClient.js', import.meta.url)),
    join(packageRoot(), 'dist/collector/http/debugClient.js'),
  ];
  const path = candidates.find((p) => existsSync(p));
  return path ? readFileSync(path, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n') : undefined;
}

export interface DebugOptions {
  config: Pick<Config, 'adminToken' | 'trustProxy' | 'defaultCountry' | 'allowedOrigins' | 'destinations'> & {
    delivery: Pick<Config['delivery'], 'timeoutMs'>;
  };
  store: Store;
  /** The enabled destinations, in the config's order. */
  destinations?: readonly Destination[];
  /** Each destination's live delivery state (the engine's lanes). */
  lanes?: () => LaneStatus[];
  /** What /collect refused lately. */
  refusals?: Refusals;
  /** Removes every secret from a text. */
  redact?: (text: string) => string;
}

/**
 * `/debug`, behind the admin token: a live page (debugPage.ts, its script debugClient.ts) and its JSON.
 * For every event, each configured destination's verdict with the reason (debugVerdicts.ts); what
 * /collect refused; id conflicts; each destination's state; and a sample event sent to one destination
 * on request (debugTry.ts). Recorded requests are redacted before they are stored, so no secret reaches
 * these answers.
 */
export function debugRouter(opts: DebugOptions): Router {
  const { config, store, destinations = [], lanes = () => [], refusals, redact = (t) => t } = opts;
  const router = express.Router();
  router.use('/debug', requireAdmin(config.adminToken, config.trustProxy));

  // store.stats() scans for each destination's oldest waiting delivery: at most every 5 s, however many pages poll.
  let stats: { at: number; value: Promise<DestinationStats[]> } | undefined;
  const statsNow = () => {
    if (!stats || Date.now() - stats.at > 5000) {
      const value = store.stats();
      stats = { at: Date.now(), value };
      value.catch(() => {
        if (stats?.value === value) stats = undefined; // asked again at the next poll
      });
    }
    return stats.value;
  };

  /** The events the filters select, newest first, each with every destination's verdict. */
  async function eventsWithVerdicts(f: EventFilters): Promise<{ event: StoredEvent; verdicts: DestinationVerdict[] }[]> {
    const byVerdict = f.destination !== undefined || f.verdict !== undefined;
    const query: EventQuery = { id: f.id, name: f.name, clickId: f.clickId, since: f.since, until: f.until, limit: byVerdict ? 1000 : f.limit };
    const events = await store.findEvents(query);
    const byEvent = new Map<string, DeliveryRecord[]>();
    for (const d of await store.eventDeliveries(events.map((e) => e.id))) {
      const list = byEvent.get(d.eventId);
      if (list) list.push(d);
      else byEvent.set(d.eventId, [d]);
    }
    const laneNow = lanes();
    return events
      .map((event) => ({ event, verdicts: verdictsOf(event, byEvent.get(event.id) ?? [], destinations, laneNow) }))
      .filter((e) => matchesVerdict(e.verdicts, f.destination, f.verdict))
      .slice(0, f.limit);
  }

  function destinationSummary(all: DestinationStats[]) {
    const laneNow = lanes();
    return destinations.map((d) => {
      const settings = config.destinations[d.name] as Record<string, unknown> | undefined;
      const testEvent = typeof settings?.testEvent === 'string' ? settings.testEvent : undefined;
      const sample = sampleEventName(d);
      return {
        destination: d.name,
        dryRun: d.dryRun,
        setting: `destinations.${d.name}.${d.routeSetting}`,
        routes: d.routedEvents.map((event) => ({ event, vendorEvent: d.vendorEvent(event) })),
        lane: laneNow.find((l) => l.destination === d.name),
        counts: all.find((s) => s.destination === d.name) ?? { destination: d.name, pending: 0, delivered: 0, skipped: 0, rejected: 0, dead: 0 },
        try: {
          event: sample,
          /** live: the vendor records a real conversion (the page asks first). */
          mode: d.dryRun ? 'dry-run' : testEvent ? 'test' : 'live',
          note: !sample
            ? `takes no event: add one to destinations.${d.name}.${d.routeSetting}`
            : d.dryRun
              ? `dry run: builds a sample ${sample} and shows the request, sends nothing`
              : testEvent
                ? `sends a sample ${sample} as test event ${testEvent}`
                : `sends a sample ${sample}: ${d.name} records it as a real conversion`,
        },
      };
    });
  }

  /** Everything the page shows at once (the event detail apart): polled every 1.5 s. */
  async function live(f: EventFilters) {
    const [all, events, conflicts, deliveries] = await Promise.all([
      statsNow(),
      eventsWithVerdicts(f),
      store.recentConflicts(50),
      store.recentDeliveries(20),
    ]);
    return {
      now: Date.now(),
      filters: f,
      verdicts: VERDICTS,
      destinations: destinationSummary(all),
      events: events.map(({ event, verdicts }) => ({
        id: event.id,
        name: event.name,
        time: event.time,
        receivedAt: event.context.receivedAt,
        url: event.url,
        clickIds: event.clickIds,
        value: event.properties?.value,
        currency: event.properties?.currency,
        transactionId: event.properties?.transaction_id,
        destinations: verdicts.map(({ destination, verdict, reason }) => ({ destination, verdict, reason })),
      })),
      refusals: refusals?.recent(50) ?? [],
      conflicts,
      requests: deliveries,
    };
  }

  router.get('/debug/api/events', async (req, res) => {
    const f = filtersOf(req.query as Record<string, unknown>);
    const filtered = f.id ?? f.name ?? f.clickId ?? f.since ?? f.until;
    const limit = limitOf(req.query.limit);
    res.json({
      events: filtered === undefined ? await store.recentEvents(limit) : await store.findEvents({ ...f, limit }),
    });
  });
  router.get('/debug/api/events/:id', async (req, res) => {
    const id = req.params.id;
    const [event] = await store.findEvents({ id, limit: 1 });
    if (!event) {
      const refused = refusals?.recent().filter((r) => r.eventId === id) ?? [];
      res.status(404).json({
        error: refused.length
          ? `event ${id} was refused at ingest: ${refused[0]!.reason}`
          : `no event ${id} is stored (events no destination takes are kept an hour, others retention.deliveredDays)`,
        refused,
      });
      return;
    }
    const deliveries = await store.eventDeliveries([id]);
    res.json({ event, destinations: verdictsOf(event, deliveries, destinations, lanes()) });
  });
  router.get('/debug/api/deliveries', async (req, res) => {
    res.json({ deliveries: await store.recentDeliveries(limitOf(req.query.limit)) });
  });
  router.get('/debug/api/conflicts', async (req, res) => {
    res.json({ conflicts: await store.recentConflicts(limitOf(req.query.limit)) });
  });
  router.get('/debug/api/refusals', (req, res) => {
    res.json({ refusals: refusals?.recent(limitOf(req.query.limit, 200)) ?? [] });
  });
  router.get('/debug/api/status', async (_req, res) => {
    res.json({ destinations: await store.stats(), lanes: lanes() });
  });
  router.get('/debug/api/live', async (req, res) => {
    res.json(await live(filtersOf(req.query as Record<string, unknown>)));
  });
  router.post('/debug/api/try/:destination', async (req: Request<{ destination: string }>, res) => {
    // A custom header: a form on another site (riding on the browser's Basic credentials) cannot send one.
    if (req.get('x-tagrelay-debug') !== '1') {
      res.status(403).json({ error: 'send the header X-Tagrelay-Debug: 1' });
      return;
    }
    const destination = destinations.find((d) => d.name === req.params.destination);
    if (!destination) {
      res.status(404).json({ error: `no enabled destination ${req.params.destination.slice(0, 64)} (enabled: ${destinations.map((d) => d.name).join(', ') || 'none'})` });
      return;
    }
    const name = sampleEventName(destination, typeof req.query.event === 'string' ? req.query.event : undefined);
    if (!name) {
      res.status(409).json({ error: `${destination.name} takes no event: add one to destinations.${destination.name}.${destination.routeSetting}` });
      return;
    }
    const origin = config.allowedOrigins.find((o) => o !== '*');
    const event = sampleEvent(name, { ip: clientIp(req, config.trustProxy), userAgent: req.get('user-agent')?.slice(0, 512), origin });
    res.json(await tryDestination(destination, event, { redact, timeoutMs: config.delivery.timeoutMs, defaultCountry: config.defaultCountry }));
  });

  let script: string | undefined;
  router.get('/debug/debug.js', (_req, res) => {
    script ??= clientScript();
    if (!script) {
      res.status(404).type('text').send('the page script is not built: run npm run build');
      return;
    }
    res.type('text/javascript; charset=utf-8').send(script);
  });
  router.get('/debug', async (req, res) => {
    let f: EventFilters;
    try {
      f = filtersOf(req.query as Record<string, unknown>);
    } catch {
      f = filtersOf({});
    }
    res.type('html').send(debugPage(await live(f)));
  });
  return router;
}

