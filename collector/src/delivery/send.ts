import { Agent, request as undiciRequest } from 'undici';
import type { HttpRequest, HttpResponse } from '../destinations/types.js';
import { RetryableError } from '../destinations/errors.js';

const MAX_RESPONSE_BYTES = 64 * 1024;

/** A keep-alive connection pool for one destination, sending its requests with a timeout. */
export class Sender {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

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
   * included, has `timeoutMs`, and at most 64 KB of the answer is read, so a vendor that trickles
   * bytes cannot hold a lane's slot. `stop` aborts it early (the collector is stopping).
   */
  async send(req: HttpRequest, stop?: AbortSignal): Promise<HttpResponse> {
    // One timer per request, cleared at the answer: AbortSignal.timeout would keep every signal (and
    // what hangs on it) alive for the whole timeout, thousands of them at a steady delivery rate.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no complete answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    const onStop = () => abort.abort(stop!.reason);
    stop?.addEventListener('abort', onStop, { once: true });
    try {
      const res = await undiciRequest(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        signal: abort.signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        chunks.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (size >= MAX_RESPONSE_BYTES) {
          res.body.destroy();
          break;
        }
      }
      const body = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
      return { status: res.statusCode, headers: res.headers, body };
    } catch (cause) {
      throw new RetryableError(`network error: ${(cause as Error).message}`, {
        destination: this.destination,
        method: req.method,
        url: req.url,
        cause,
      });
    } finally {
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
