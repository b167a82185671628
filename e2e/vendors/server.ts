import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  receivedAt: number;
}

export interface VendorAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering, ms. */
  delayMs?: number;
  /** Set by a vendor's rules when the request broke them: the test then fails on `violations`. */
  violation?: string;
}

/**
 * A real HTTP server standing in for a vendor API. `validate` applies the vendor's documented rules
 * and returns the answer the vendor would give; `override` lets a test force answers (outages, 401s).
 */
export class VendorServer {
  readonly requests: ReceivedRequest[] = [];
  /** Requests that broke the vendor's rules, with the reason: a test fails if any appear. */
  readonly violations: { request: ReceivedRequest; problem: string }[] = [];
  override?: (req: ReceivedRequest) => VendorAnswer | undefined;
  url = '';
  private server?: Server;

  constructor(private readonly validate: (req: ReceivedRequest) => VendorAnswer) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: ReceivedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: Date.now(),
        };
        this.requests.push(received);
        const answer = this.override?.(received) ?? this.validate(received);
        if (answer.violation) this.violations.push({ request: received, problem: answer.violation });
        const send = () => {
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
        };
        if (answer.delayMs) setTimeout(send, answer.delayMs);
        else send();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
