import express from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { Config } from './config.js';
import { DeliveryEngine } from './delivery/engine.js';
import { destinationDefinitions } from './destinations/index.js';
import type { Destination } from './destinations/types.js';
import { Admission, STORE_RETRY_AFTER_S, storeOutage, type FreeSpaceReader } from './http/admission.js';
import { collectHandler } from './http/collect.js';
import { debugRouter } from './http/debug.js';
import { Refusals } from './http/refusals.js';
import { Metrics } from './metrics.js';
import { LogThrottle } from './logThrottle.js';
import { withinTime } from './withinTime.js';
import { tagScript } from './http/tagScript.js';
import { createLogger, type Logger } from './log.js';
import { packageRoot, version } from './packageInfo.js';
import { redactor } from './redact.js';
import { openStore } from './store/open.js';
import { isWorker, storeConnectionsPerProcess } from './workers.js';
import { workersMetrics } from './workersMetrics.js';
import { StoreReadOnly, type Store } from './store/types.js';

/** How long /readyz, /healthz and /metrics wait for the store to answer, ms: a load balancer's check does not wait long. */
const HEALTH_CHECK_MS = 1500;

export interface Collector {
  /** The HTTP handler: `/collect` directly, everything else through Express. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** From now on /collect refuses new events (503) and /readyz says not ready: the collector is stopping. */
  drain(): void;
  engine: DeliveryEngine;
  log: Logger;
  /** Stops delivery (requests in flight get `deadlineMs`, then are left queued) and closes the store. */
  close(deadlineMs?: number): Promise<void>;
}

/**
 * Builds the collector from a parsed config: store, destinations, delivery lanes and HTTP routes.
 * `processes`: how many `serve` workers share the store (`--workers`).
 */
export async function createCollector(
  config: Config,
  opts: { log?: Logger; tagPath?: string; freeSpace?: FreeSpaceReader; processes?: number } = {},
): Promise<Collector> {
  const destinations: Destination[] = Object.entries(config.destinations)
    .filter(([, s]) => s.enabled)
    .map(([name, s]) => destinationDefinitions[name]!.create(s, { defaultCountry: config.defaultCountry }));
  const secrets = [...destinations.flatMap((d) => d.secrets), ...config.serverKeys, ...(config.adminToken ? [config.adminToken] : [])];
  const redact = redactor(secrets);
  const log = opts.log ?? createLogger(secrets, undefined, { level: config.logLevel, pretty: process.stdout.isTTY });
  const processes = opts.processes ?? 1;
  const store = await openStore(config.store, {
    server: true,
    processes,
    connections: storeConnectionsPerProcess(config, processes),
  });
  // A store that cannot be used stops the start; one that takes no writes for now (a failover under way)
  // does not: the collector starts refusing events (the admission check below logs why) until it does.
  await store.check().catch((e: unknown) => {
    if (!(e instanceof StoreReadOnly)) throw e;
  });
  const metrics = new Metrics();
  const engine = new DeliveryEngine(config, destinations, store, log, redact, metrics);
  const names = destinations.map((d) => d.name);
  metrics.gauge('tagrelay_queue_depth', 'Deliveries waiting, per destination', ['destination'], 'max', async () => {
    const depth = await store.queueDepth();
    return names.map((destination) => [{ destination }, depth.get(destination) ?? 0]);
  });
  // The oldest waiting delivery costs a scan of the waiting ones: read at most every 15 s.
  let oldest: { at: number; value: Map<string, number | undefined> } | undefined;
  metrics.gauge('tagrelay_oldest_pending_age_seconds', 'Age of the oldest delivery still waiting, per destination (0: none)', ['destination'], 'max', async () => {
    if (!oldest || Date.now() - oldest.at > 15_000) {
      oldest = { at: Date.now(), value: new Map((await store.stats()).map((s) => [s.destination, s.oldestPendingAt])) };
    }
    return names.map((destination) => {
      const at = oldest!.value.get(destination);
      return [{ destination }, at ? Math.max(0, (Date.now() - at) / 1000) : 0];
    });
  });
  /** Why the store cannot be used now (its public reason), or undefined; known within HEALTH_CHECK_MS. */
  const storeOutageNow = () => withinTime(store.check(), HEALTH_CHECK_MS).then(() => undefined, storeOutage);
  metrics.gauge('tagrelay_store_up', 'Whether the store answers and takes writes: 1, or 0 while it does not (a database restarting, cut off or read-only)', [], 'min', async () => [
    [{}, (await storeOutageNow()) ? 0 : 1],
  ]);
  metrics.gauge('tagrelay_build_info', 'The running tagrelay: always 1', ['version', 'node'], 'max', () => [[{ version: version(), node: process.version }, 1]]);
  // Deliveries kept for a destination the config no longer names wait for it to come back: they are kept
  // (and their events), but they are no backlog of this collector's, so they count toward no cap.
  const unconfigured = [...(await store.queueDepth().catch(() => new Map<string, number>()))].filter(
    ([destination, n]) => n > 0 && !names.includes(destination),
  );
  if (unconfigured.length) {
    log.warn('deliveries wait for destinations the config no longer has: kept until they are configured again', {
      waiting: Object.fromEntries(unconfigured),
    });
  }
  const admission = new Admission(
    { storeDir: store.localDirectory, minFreeBytes: config.limits.minFreeBytes, maxQueueDepth: config.limits.maxQueueDepth },
    // The check first: a store that answers but takes no writes (a standby) refuses events at once.
    async () => {
      await store.check();
      const depth = await store.queueDepth();
      return names.reduce((sum, destination) => sum + (depth.get(destination) ?? 0), 0);
    },
    opts.freeSpace,
    (refusal, cause) =>
      refusal ? log.error('not taking events', { reason: refusal, cause }) : log.info('taking events again'),
  );
  await admission.check();
  let draining = false;
  const refusal = () => (draining ? 'the collector is stopping' : admission.refusal);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // answers are small and fresh; /t.js sets its own
  const root = packageRoot();
  app.get('/t.js', tagScript(opts.tagPath ?? join(root, 'dist/t.js')));
  app.get('/t.debug.js', tagScript(join(root, 'dist/t.debug.js'))); // the same tag with its debug log (data-debug)
  app.get('/t.tcf.js', tagScript(join(root, 'dist/t.tcf.js'))); // the IAB TCF listener, where a CMP is on the page
  // Public: states only, never a vendor's URL or answer (those are behind /debug).
  app.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const outage = await storeOutageNow();
    if (outage) {
      res.status(503).json({ status: 'not ready', reason: outage });
      return;
    }
    const why = refusal();
    if (why) res.status(503).json({ status: 'not ready', reason: why });
    else res.json({ status: 'ready' });
  });
  app.get('/healthz', async (_req, res) => {
    if (await storeOutageNow()) {
      res.status(503).json({ status: 'store unavailable' });
      return;
    }
    const destinations = engine.status().map(({ destination, state }) => ({ destination, state }));
    const degraded = destinations.filter((d) => d.state !== 'active');
    const why = refusal();
    res.json({
      status: why ? 'not taking events' : degraded.length ? 'degraded' : 'ok',
      ...(degraded.length ? { degraded: degraded.map((d) => d.destination) } : {}),
      destinations,
    });
  });
  // With --workers, every process's counts in each scrape, whichever process takes it.
  const renderMetrics = isWorker && processes > 1 ? workersMetrics(metrics.registry) : () => metrics.render();
  app.get('/metrics', async (_req, res) => {
    let text: string;
    try {
      text = await renderMetrics();
    } catch (e) {
      log.warn('could not gather the metrics of every worker', { error: e });
      res.status(503).set('Retry-After', '5').json({ error: (e as Error).message });
      return;
    }
    res.type(metrics.contentType).send(text);
  });
  const refusals = new Refusals(log);
  app.use(debugRouter({ config, store, destinations, lanes: () => engine.status(), refusals, redact }));
  if (config.demo) app.use(express.static(resolve(root, 'demo/public')));
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  // A request that failed because the store does not answer (a database restarting or cut off) or takes
  // no writes met an outage, not a fault of its own: 503 with Retry-After, as /collect answers, and one
  // log line a minute. Anything else is a 500, logged each time.
  const storeFailures = new LogThrottle();
  app.use((async (err, _req, res, _next) => {
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      res.status(err.status).json({ error: err.message });
      return;
    }
    const outage = await storeOutageNow();
    if (outage) {
      const requests = storeFailures.take();
      if (requests !== undefined) log.error(`request failed: ${outage}`, { error: err, requests });
      res.set('Retry-After', String(STORE_RETRY_AFTER_S)).status(503).json({ error: outage });
      return;
    }
    log.error('request failed', { error: err });
    res.status(500).json({ error: 'internal error' });
  }) as express.ErrorRequestHandler);

  const collect = collectHandler({ config, store, destinations, metrics, log, refusal, refusals, onStored: () => engine.notify() });
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (url === '/collect' || url.startsWith('/collect?')) collect(req, res);
    else app(req, res);
  };

  return {
    handler,
    drain() {
      draining = true;
    },
    engine,
    log,
    async close(deadlineMs = 10_000) {
      admission.close();
      await engine.stop(deadlineMs);
      await store.close();
    },
  };
}
