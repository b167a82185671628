import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { Destination } from '../destinations/types.js';
import type { Logger } from '../log.js';
import { LogThrottle } from '../logThrottle.js';
import type { IngestResult, NewEvent, Store } from '../store/types.js';
import { combinations, type Metrics } from '../metrics.js';
import { givenEmail, normaliseEmail } from '../destinations/pii.js';
import { emailKey } from '../emailKey.js';
import type { RequestContext } from '../event.js';
import { clientIp } from './clientIp.js';
import { serverKeyOf } from './serverKey.js';
import { setCookie, storageAllowed, visitorIdFromCookie } from './visitorCookie.js';
import { VisitorWrites, visitorUpdates, withVisitorMemory } from './visitorMemory.js';
import { urlCleaner } from './pageUrl.js';
import { RateLimiter } from './rateLimit.js';
import { Refusals } from './refusals.js';
import { ClientError, parseCollectBody } from './validate.js';
import { retryAfterS, STORE_RETRY_AFTER_S } from './admission.js';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The store failed while taking a request's events (unreachable, its disk full, its writer gone). They
 * were not stored, or (a connection lost after the commit) stored without the answer coming back: the
 * tag sends them again either way, and an event stored already is known by its id.
 */
class StoreFailure extends Error {
  constructor(readonly reason: unknown) {
    super('the store failed');
  }
}

interface CollectDeps {
  config: Config;
  store: Store;
  destinations: readonly Destination[];
  metrics: Metrics;
  log: Logger;
  /** Why new events are refused now (the disk, the queue, a stop), or undefined when they are taken. */
  refusal?: () => string | undefined;
  /** What /collect refused lately, for /debug and the log. */
  refusals?: Refusals;
  /** Called after each stored batch so workers start at once. */
  onStored?: () => void;
}

/** Same-origin requests (the demo page) are always allowed; others need `allowedOrigins`. */
function originAllowed(origin: string, host: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** Reads the body up to `limit` bytes; resolves undefined past it (the caller answers and closes the connection). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

/** Answers without reading the rest of the body, and closes the connection once the answer is out. */
function sendAndClose(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, body, { Connection: 'close', ...headers });
  res.once('finish', () => req.socket.destroy());
}

/**
 * `/collect`, on the hot path without Express: CORS for allowed origins, the body (64 KB at most,
 * no content encoding), its checks, a durable commit, then the answer. Every client mistake is a
 * 4xx with `{error}` that says what is wrong.
 */
export function collectHandler({ config, store, destinations, metrics, log, refusal, refusals = new Refusals(log), onStored }: CollectDeps) {
  const requests = metrics.counter('tagrelay_collect_requests_total', 'POST /collect requests by answer status class', ['status'], combinations({ status: ['2xx', '4xx', '5xx'] }));
  const events = metrics.counter(
    'tagrelay_collect_events_total',
    'Events received, by result (stored, duplicate, conflict, rejected)',
    ['result'],
    combinations({ result: ['stored', 'duplicate', 'conflict', 'rejected'] }),
  );
  const bodyBytes = metrics.histogram('tagrelay_collect_body_bytes', 'Size of /collect bodies in bytes', [1024, 8192, 16384, 32768, 61440, 65536]);
  const duration = metrics.histogram(
    'tagrelay_collect_duration_seconds',
    'Time from a /collect request to its answer (stored durably), by status class',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ['status'],
    combinations({ status: ['2xx', '4xx', '5xx'] }),
  );
  const limited = metrics.counter('tagrelay_collect_limited_total', 'POST /collect requests refused with 429, by limit (ip, global)', ['limit'], combinations({ limit: ['ip', 'global'] }));
  const perIp = new RateLimiter(config.limits.perIp);
  const global = new RateLimiter(config.limits.global);
  /** Counts an answer; a refusal is also kept for /debug and logged under `kind` (default: its status). */
  const counted = (status: number, body: unknown, event?: { id?: string; name?: string }, kind = String(status)) => {
    requests({ status: `${String(status)[0]}xx` });
    if (status >= 400) {
      const reason = (body as { error?: string }).error ?? String(status);
      refusals.record({ status, reason, eventId: event?.id, eventName: event?.name }, kind);
    }
  };
  const answer = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers?: Record<string, string>,
    event?: { id?: string; name?: string },
    kind?: string,
  ) => {
    counted(status, body, event, kind);
    send(res, status, body, headers);
  };
  // A store failure is logged with its cause at most once a minute (an outage fails every request).
  const storeFailures = new LogThrottle();
  const answerAndClose = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>, kind?: string) => {
    counted(status, body, undefined, kind);
    sendAndClose(req, res, status, body, headers);
  };
  const tooLarge = { error: `body is larger than ${MAX_BODY_BYTES} bytes` };
  const cleanUrl = urlCleaner(config.keepQueryParams);
  const visitorWrites = new VisitorWrites();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The shop's backend: a server key, no origin (and no CORS), its events verified.
    const key = serverKeyOf(req, config.serverKeys);
    if (key === 'invalid') {
      return answerAndClose(req, res, 401, { error: 'Authorization: Bearer <server key> is not one of serverKeys' }, { 'WWW-Authenticate': 'Bearer' });
    }
    const fromServer = key === 'valid';
    const origin = fromServer ? undefined : req.headers.origin;
    if (origin !== undefined) {
      res.setHeader('Vary', 'Origin');
      if (!originAllowed(origin, req.headers.host, config.allowedOrigins)) {
        return answerAndClose(req, res, 403, { error: `origin ${origin.slice(0, 200)} is not in allowedOrigins` });
      }
      res.setHeader('Access-Control-Allow-Origin', origin);
      // The tag waits as long as a 429 or 503 asks: a page may read that header only if told so.
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
      // Credentials only where a feature needs them (the visitor cookie), only to origins named in the
      // config or the collector's own, never to "*".
      if (config.cookie && (config.allowedOrigins.includes(origin) || originAllowed(origin, req.headers.host, []))) {
        res.setHeader('Access-Control-Allow-Credentials', 'true');
      }
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type',
        'Access-Control-Max-Age': '86400',
      });
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST, OPTIONS');
      return answer(res, 405, { error: `${req.method} is not allowed: POST a batch of events` });
    }
    const ip = clientIp(req, config.trustProxy);
    const ipWait = fromServer ? 0 : perIp.take(ip ?? ''); // one backend posts for every visitor
    const wait = ipWait || global.take('');
    if (wait) {
      limited({ limit: ipWait ? 'ip' : 'global' });
      return answerAndClose(
        req,
        res,
        429,
        { error: `too many requests${ipWait ? ' from this address' : ''}: retry in ${wait} s` },
        { 'Retry-After': String(wait) },
        ipWait ? 'rate limit (address)' : 'rate limit (global)',
      );
    }
    const refused = refusal?.();
    if (refused) {
      return answerAndClose(req, res, 503, { error: `not taking events now: ${refused}` }, { 'Retry-After': String(retryAfterS(refused)) }, 'not taking events');
    }
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding !== 'identity') {
      return answerAndClose(req, res, 415, {
        error: `content-encoding ${encoding.slice(0, 40)} is not supported: send the JSON as it is`,
      });
    }
    if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return answerAndClose(req, res, 413, tooLarge);
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (!raw) return answerAndClose(req, res, 413, tooLarge);
    bodyBytes(raw.length);
    const batch = parseCollectBody(raw);
    const userAgent = req.headers['user-agent'];
    const context: RequestContext = {
      ip,
      userAgent: userAgent === undefined ? undefined : userAgent.slice(0, 512),
      receivedAt: Date.now(),
      ...(fromServer ? { verified: true } : {}),
    };
    /** Events changed since they arrived: the store writes their JSON again. */
    const changed = new Set<number>();
    // The visitor cookie: one visitor keeps one id across Safari's purges of script storage.
    let cookie: string | undefined;
    if (config.cookie && !fromServer) {
      const last = batch.events[batch.events.length - 1]!;
      if (storageAllowed(last.consent)) {
        const id = visitorIdFromCookie(req, config.cookie.name) ?? last.anonymousId;
        if (id) {
          batch.events.forEach((e, i) => {
            if (!e.anonymousId || e.anonymousId === id || !storageAllowed(e.consent)) return;
            e.anonymousId = id;
            changed.add(i);
          });
          cookie = setCookie(req, config.cookie, id);
        }
      } else if (visitorIdFromCookie(req, config.cookie.name)) cookie = setCookie(req, config.cookie, undefined);
    }
    const routes = new Map<string, string[]>();
    const contexts = new Map<string, RequestContext>();
    let items = batch.events.map((event, i): NewEvent => {
      let to = routes.get(event.name);
      if (!to) {
        to = destinations.filter((d) => d.vendorEvent(event.name) !== undefined).map((d) => d.name);
        routes.set(event.name, to);
      }
      // Page URLs keep origin, path, campaign tags and click ids only; an event that goes nowhere keeps
      // no personal data (it is kept an hour, for /debug to say why it went nowhere).
      const { url, referrer } = event;
      if (url && url !== (event.url = cleanUrl(url))) changed.add(i);
      if (referrer && referrer !== (event.referrer = cleanUrl(referrer))) changed.add(i);
      if (!to.length && event.properties?.user_data !== undefined) {
        delete event.properties.user_data;
        changed.add(i);
      }
      // The event's text as it arrived, kept as it is while the event is unchanged.
      const json = changed.has(i) ? undefined : batch.arrivedText(i);
      // An email is kept as a key, to find the event for erasure after its personal data is removed.
      const given = to.length ? givenEmail(event.properties) : undefined;
      if (typeof given !== 'string') return { event, json, context, destinations: to };
      // One context per address as given in the request: a visitor's events share it (the address normalised
      // and hashed once), and the store makes its JSON once.
      let withKey = contexts.get(given);
      if (!withKey) {
        const email = normaliseEmail(given);
        contexts.set(given, (withKey = email ? { ...context, emailKey: emailKey(email) } : context));
      }
      return { event, json, context: withKey, destinations: to };
    });
    let result: IngestResult;
    try {
      items = await withVisitorMemory(items, store, config.attributionDays * 86_400_000, fromServer);
      // Remembered with the events (one commit, on SQLite and on PostgreSQL), before the answer, so the visitor's next
      // request finds it; a failure here costs attribution later, never an event.
      const remembered = fromServer
        ? undefined
        : store.rememberVisitors(visitorWrites.changed(visitorUpdates(items))).catch((e: unknown) => log.error('could not remember visitors', { error: e }));
      result = await store.ingest(items);
      await remembered;
    } catch (e) {
      throw new StoreFailure(e);
    }
    events({ result: 'stored' }, result.stored);
    if (result.duplicates) events({ result: 'duplicate' }, result.duplicates);
    if (result.conflicts.length) events({ result: 'conflict' }, result.conflicts.length);
    if (batch.rejected.length) events({ result: 'rejected' }, batch.rejected.length);
    const body: Record<string, unknown> = { stored: result.stored, duplicates: result.duplicates };
    if (result.conflicts.length) {
      body.conflicts = result.conflicts.map((i) => ({
        index: batch.positions[i],
        id: batch.events[i]!.id,
        error: 'this id was stored before with other content: this event is not stored (give each event its own id)',
      }));
    }
    if (batch.rejected.length) {
      body.rejected = batch.rejected;
      for (const r of batch.rejected) {
        const e = batch.refusedEvents?.get(r.index);
        refusals.record({ status: 422, reason: r.error, eventId: e?.id, eventName: e?.name }, 'invalid event');
      }
    }
    answer(res, 200, body, cookie ? { 'Set-Cookie': cookie } : undefined);
    if (result.stored) onStored?.();
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    res.once('finish', () => duration(Number(process.hrtime.bigint() - started) / 1e9, { status: `${String(res.statusCode)[0]}xx` }));
    handle(req, res).catch((err: unknown) => {
      if (err instanceof ClientError) return answer(res, err.status, { error: err.message }, undefined, err.event);
      // The client went away. (Not req.destroyed: that is true as soon as the body has been read.)
      if (res.destroyed) return;
      if (err instanceof StoreFailure) {
        const requests = storeFailures.take();
        if (requests !== undefined) log.error('could not store events', { error: err.reason, requests });
        const body = { error: 'the events could not be stored now: send them again later' };
        return answer(res, 503, body, { 'Retry-After': String(STORE_RETRY_AFTER_S) }, undefined, 'store failure');
      }
      log.error('collect failed', { error: err });
      answer(res, 500, { error: 'internal error' });
    });
  };
}

