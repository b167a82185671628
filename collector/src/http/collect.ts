import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Config } from '../config.js';
import type { Destination } from '../destinations/types.js';
import type { StoredEvent } from '../event.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { Metrics } from './metrics.js';
import { ClientError, parseCollectBody } from './validate.js';

export const MAX_BODY_BYTES = 64 * 1024;

interface CollectDeps {
  config: Config;
  store: Store;
  destinations: readonly Destination[];
  metrics: Metrics;
  log: Logger;
  /** Called after each stored batch so workers start at once. */
  onStored?: () => void;
}

/** Same-origin requests (the demo page) are always allowed; others need `allowedOrigins`. */
function originAllowed(origin: string, req: Request, allowed: readonly string[]): boolean {
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  const host = req.get('host');
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** `POST /collect`: checks, stores durably, then answers. CORS for allowed origins. */
export function collectRouter({ config, store, destinations, metrics, log, onStored }: CollectDeps): Router {
  const requests = metrics.counter('tagrelay_collect_requests_total', 'POST /collect requests by answer status class');
  const events = metrics.counter(
    'tagrelay_collect_events_total',
    'Events received, by result (stored, duplicate, rejected)',
  );
  const bodyBytes = metrics.histogram(
    'tagrelay_collect_body_bytes',
    'Size of /collect bodies in bytes',
    [1024, 8192, 16384, 32768, 61440, 65536],
  );
  const router = express.Router();

  const cors: RequestHandler = (req, res, next) => {
    const origin = req.get('origin');
    if (origin !== undefined) {
      res.vary('Origin');
      if (!originAllowed(origin, req, config.allowedOrigins)) {
        requests({ status: '4xx' });
        res.status(403).json({ error: `origin ${origin.slice(0, 200)} is not in allowedOrigins` });
        return;
      }
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
    }
    next();
  };

  router.options('/collect', cors, (_req, res) => {
    res.set('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.set('Access-Control-Allow-Headers', 'Content-Type');
    res.set('Access-Control-Max-Age', '86400');
    res.status(204).end();
  });

  router.post('/collect', cors, express.raw({ type: () => true, limit: MAX_BODY_BYTES }), async (req, res) => {
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    bodyBytes(raw.length);
    const batch = parseCollectBody(raw);
    const receivedAt = Date.now();
    const context = {
      ip: req.ip,
      userAgent: req.get('user-agent')?.slice(0, 512),
      receivedAt,
    };
    const items = batch.events.map((e) => {
      const event: StoredEvent = { ...e, context };
      return {
        event,
        destinations: destinations.filter((d) => d.vendorEvent(event) !== undefined).map((d) => d.name),
      };
    });
    const result = await store.ingest(items);
    events({ result: 'stored' }, result.stored);
    if (result.duplicates) events({ result: 'duplicate' }, result.duplicates);
    if (batch.rejected.length) events({ result: 'rejected' }, batch.rejected.length);
    requests({ status: '2xx' });
    res.status(200).json(batch.rejected.length ? { ...result, rejected: batch.rejected } : result);
    if (result.stored) onStored?.();
  });

  // Errors of this router: client errors and body-parser's own (too large, aborted) are 4xx.
  router.use('/collect', ((err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const e = err as { status?: number; type?: string; message?: string };
    let status = 500;
    let message = 'internal error';
    if (err instanceof ClientError) {
      status = err.status;
      message = err.message;
    } else if (e.type === 'entity.too.large') {
      status = 413;
      message = `body is larger than ${MAX_BODY_BYTES} bytes`;
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      status = e.status;
      message = e.message ?? 'bad request';
    } else {
      log.error('collect failed', { error: err });
    }
    requests({ status: `${String(status)[0]}xx` });
    res.status(status).json({ error: message });
  }) as express.ErrorRequestHandler);

  return router;
}
