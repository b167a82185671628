import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the proxy does with `/collect`: pass it on, answer 503, drop the connection, or answer with
 * `answer`'s status (and its `Retry-After`, when given).
 */
export type ProxyMode = 'pass' | '503' | 'drop' | 'answer';

/**
 * A small HTTP proxy in front of the real collector, for the outages the tag must survive. `pass`
 * forwards every request; `503` answers each `/collect` with 503 and `Retry-After: 1` (with CORS
 * headers, as a load balancer in front of the collector would); `drop` destroys the connection of
 * each `/collect` request before it reaches the collector; `answer` answers with `answer.status` (CORS
 * headers included, `Retry-After` exposed when given). Other paths (`/t.js`) always pass.
 * `forwarded` counts, per event id, the `/collect` bodies holding it that reached the collector.
 */
export class FlakyProxy {
  url = '';
  mode: ProxyMode = 'pass';
  /** The answer of mode `answer`. */
  answer: { status: number; retryAfter?: string } = { status: 500 };
  /** event id -> how many bodies holding it were passed to the collector */
  readonly forwarded = new Map<string, number>();
  /** `/collect` requests answered 503 (or `answer`) or dropped; when each came, with its body */
  readonly failures: { at: number; body: string }[] = [];
  private server?: Server;

  constructor(public target: string) {}

  static async start(target: string): Promise<FlakyProxy> {
    const proxy = new FlakyProxy(target);
    proxy.server = createServer((req, res) => void proxy.handle(req, res));
    await new Promise<void>((r) => proxy.server!.listen(0, '127.0.0.1', r));
    proxy.url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  /** How many `/collect` requests were answered 503 (or `answer`) or dropped. */
  get failed(): number {
    return this.failures.length;
  }

  /** Event ids that reached the collector more than once. */
  repeated(): string[] {
    return [...this.forwarded].filter(([, n]) => n > 1).map(([id]) => id);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const collect = req.url?.startsWith('/collect') && req.method === 'POST';
    if (collect && this.mode !== 'pass') {
      this.failures.push({ at: Date.now(), body: body.toString() });
    }
    if (collect && this.mode === 'drop') {
      req.socket.destroy();
      return;
    }
    if (collect && this.mode === 'answer') {
      const { status, retryAfter } = this.answer;
      res.writeHead(status, {
        'Access-Control-Allow-Origin': req.headers.origin ?? '*',
        'Content-Type': 'application/json',
        ...(retryAfter ? { 'Retry-After': retryAfter, 'Access-Control-Expose-Headers': 'Retry-After' } : {}),
      });
      res.end(`{"error":"answered ${status} by the test"}`);
      return;
    }
    if (collect && this.mode === '503') {
      res.writeHead(503, {
        'Retry-After': '1',
        'Access-Control-Allow-Origin': req.headers.origin ?? '*',
        'Access-Control-Expose-Headers': 'Retry-After',
        'Content-Type': 'application/json',
      });
      res.end('{"error":"restarting"}');
      return;
    }
    if (collect) {
      try {
        for (const e of (JSON.parse(body.toString()) as { events: { id: string }[] }).events)
          this.forwarded.set(e.id, (this.forwarded.get(e.id) ?? 0) + 1);
      } catch {}
    }
    const target = new URL(req.url ?? '/', this.target);
    const upstream = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
