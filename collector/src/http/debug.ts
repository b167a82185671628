import express, { type RequestHandler, type Router } from 'express';
import { timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/types.js';
import { clientIp } from './clientIp.js';
import { RateLimiter } from './rateLimit.js';

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

const escape = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function limitOf(q: unknown): number {
  const n = Number(q);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1000) : 100;
}

/**
 * `/debug`: recent events and each destination's request and response. Recorded requests are
 * redacted before they are stored, so no secret reaches this page.
 */
export function debugRouter(store: Store, token: string | undefined, trustProxy = 0): Router {
  const router = express.Router();
  router.use('/debug', requireAdmin(token, trustProxy));
  router.get('/debug/api/events', async (req, res) => {
    res.json({ events: await store.recentEvents(limitOf(req.query.limit)) });
  });
  router.get('/debug/api/deliveries', async (req, res) => {
    res.json({ deliveries: await store.recentDeliveries(limitOf(req.query.limit)) });
  });
  router.get('/debug/api/conflicts', async (req, res) => {
    res.json({ conflicts: await store.recentConflicts(limitOf(req.query.limit)) });
  });
  router.get('/debug/api/status', async (_req, res) => {
    res.json({ destinations: await store.stats() });
  });
  router.get('/debug', async (_req, res) => {
    const [stats, deliveries, events, conflicts] = await Promise.all([
      store.stats(),
      store.recentDeliveries(50),
      store.recentEvents(50),
      store.recentConflicts(50),
    ]);
    const rows = (cells: unknown[][]) =>
      cells.map((r) => `<tr>${r.map((c) => `<td>${escape(c)}</td>`).join('')}</tr>`).join('');
    res.type('html').send(`<!doctype html><meta charset="utf-8"><title>tagrelay debug</title>
<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}td{max-width:40em;overflow-wrap:anywhere}pre{margin:0;white-space:pre-wrap}</style>
<h1>tagrelay</h1>
<h2>Destinations</h2><table><tr><th>destination</th><th>pending</th><th>oldest pending</th><th>delivered</th><th>skipped</th><th>rejected</th><th>dead</th></tr>
${rows(stats.map((s) => [s.destination, s.pending, s.oldestPendingAt ? new Date(s.oldestPendingAt).toISOString() : '', s.delivered, s.skipped, s.rejected, s.dead]))}</table>
<h2>Recent deliveries</h2><table><tr><th>updated</th><th>event</th><th>destination</th><th>state</th><th>attempts</th><th>status</th><th>detail</th><th>request</th></tr>
${rows(deliveries.map((d) => [new Date(d.updatedAt).toISOString(), `${d.eventName} ${d.eventId}`, d.destination, d.state, d.attempts, d.status ?? '', d.detail ?? '', d.request ?? '']))}</table>
<h2>Recent events</h2><table><tr><th>received</th><th>name</th><th>id</th><th>url</th><th>click ids</th><th>consent</th><th>properties</th></tr>
${rows(events.map((e) => [new Date(e.context.receivedAt).toISOString(), e.name, e.id, e.url ?? '', JSON.stringify(e.clickIds ?? {}), JSON.stringify(e.consent ?? {}), JSON.stringify(e.properties ?? {})]))}</table>
<h2>Id conflicts</h2><p>Events whose id was already stored with other content: not stored (give each event its own id).</p><table><tr><th>received</th><th>id</th><th>name</th><th>event (without personal data)</th></tr>
${rows(conflicts.map((c) => [new Date(c.receivedAt).toISOString(), c.eventId, c.name, c.body]))}</table>`);
  });
  return router;
}
