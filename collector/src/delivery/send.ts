import { Agent, type Dispatcher } from 'undici';
import type { HttpRequest, HttpResponse } from '../destinations/types.js';
import { RetryableError } from '../destinations/errors.js';

const MAX_RESPONSE_BYTES = 64 * 1024;

/** A keep-alive connection pool for one destination, sending its requests with a timeout. */
export class Sender {
  private readonly agent: Agent;
  /** The longest a request may take, answer included. */
  readonly timeoutMs: number;
  /** How to end each request in flight, for `abortAll`. */
  private readonly inFlight = new Set<(reason: Error) => void>();

  constructor(
    private readonly destination: string,
    opts: { connections: number; timeoutMs: number },
  ) {
    this.timeoutMs = opts.timeoutMs;
    this.agent = new Agent({
      connections: opts.connections,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connectTimeout: Math.min(opts.timeoutMs, 10_000),
    });
  }

  /**
   * Sends a request; network errors and timeouts become RetryableError. The whole exchange, answer
   * included, has `timeoutMs` (the sender's, or less: what is left of the deliveries' lease), and at
   * most 64 KB of the answer is read, so a vendor that trickles bytes cannot hold a lane's slot.
   *
   * It speaks undici's dispatcher interface directly: its `request()` builds an AbortSignal, a
   * readable stream and an async iterator for every answer, a third of the collector's work per
   * delivery when draining a backlog.
   */
  send(req: HttpRequest, timeoutMs = this.timeoutMs): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let controller: Dispatcher.DispatchController | undefined;
      let stopped: Error | undefined;
      let status = 0;
      let headers: HttpResponse['headers'] = {};
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (error?: Error) => {
        if (!this.inFlight.delete(abort)) return;
        clearTimeout(timer);
        if (!error) {
          const body = Buffer.concat(chunks, Math.min(size, MAX_RESPONSE_BYTES)).toString('utf8');
          resolve({ status, headers, body });
          return;
        }
        reject(
          new RetryableError(`network error: ${error.message}`, {
            destination: this.destination,
            method: req.method,
            url: req.url,
            cause: error,
          }),
        );
      };
      // Ends the request now; a request still waiting for a connection is aborted once it gets one.
      const abort = (reason: Error) => {
        stopped = reason;
        controller?.abort(reason);
        finish(reason);
      };
      // One timer per request, cleared at the answer.
      const timer = setTimeout(() => abort(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
      this.inFlight.add(abort);
      try {
        const url = new URL(req.url);
        this.agent.dispatch(
          {
            origin: url.origin,
            path: url.pathname + url.search,
            method: req.method as Dispatcher.HttpMethod,
            headers: req.headers,
            body: req.body ?? null,
          },
          {
            onRequestStart(c) {
              controller = c;
              if (stopped) c.abort(stopped);
            },
            onResponseStart(_c, statusCode, responseHeaders) {
              status = statusCode;
              headers = responseHeaders;
            },
            onResponseData(c, chunk) {
              chunks.push(chunk);
              size += chunk.length;
              // Enough of the answer: what a vendor says past 64 KB is not read.
              if (size >= MAX_RESPONSE_BYTES) {
                finish();
                c.abort(new Error('answer over 64 KB'));
              }
            },
            onResponseEnd() {
              finish();
            },
            onResponseError(_c, error) {
              finish(error);
            },
          },
        );
      } catch (e) {
        finish(e as Error);
      }
    });
  }

  /** Ends every request in flight (the collector is stopping): each fails as a network error. */
  abortAll(reason: Error): void {
    for (const abort of [...this.inFlight]) abort(reason);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
