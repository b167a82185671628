import { Agent, request as undiciRequest } from 'undici';
import type { HttpRequest, HttpResponse } from '../destinations/types.js';
import { RetryableError } from './errors.js';

const MAX_RESPONSE_BYTES = 64 * 1024;

/** A keep-alive connection pool for one destination, sending its requests with a timeout. */
export class Sender {
  private readonly agent: Agent;

  constructor(
    private readonly destination: string,
    opts: { connections: number; timeoutMs: number },
  ) {
    this.agent = new Agent({
      connections: opts.connections,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connectTimeout: Math.min(opts.timeoutMs, 10_000),
    });
  }

  /** Sends a request; network errors and timeouts become RetryableError. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    try {
      const res = await undiciRequest(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
      });
      let body = '';
      for await (const chunk of res.body) {
        if (body.length < MAX_RESPONSE_BYTES) body += (chunk as Buffer).toString('utf8');
      }
      return { status: res.statusCode, headers: res.headers, body: body.slice(0, MAX_RESPONSE_BYTES) };
    } catch (cause) {
      throw new RetryableError(`network error: ${(cause as Error).message}`, {
        destination: this.destination,
        method: req.method,
        url: req.url,
        cause,
      });
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
