import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RetryableError } from '../destinations/errors.js';
import { Sender } from './send.js';

let server: Server | undefined;
let sender: Sender | undefined;

afterEach(async () => {
  await sender?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = sender = undefined;
});

async function vendor(listener: RequestListener): Promise<string> {
  server = createServer(listener);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/conversions`;
}

describe('Sender', () => {
  it('returns the status, headers and body of the answer', async () => {
    const url = await vendor((req, res) => {
      req.resume();
      res.writeHead(202, { 'x-request-id': 'r1' }).end('{"ok":true}');
    });
    sender = new Sender('test', { connections: 2, timeoutMs: 2000 });
    const res = await sender.send({ method: 'POST', url, headers: {}, body: '{}' });
    expect(res).toMatchObject({ status: 202, body: '{"ok":true}' });
    expect(res.headers['x-request-id']).toBe('r1');
  });

  it('a network error (nothing listening) is retryable, naming the destination and the URL without its query', async () => {
    sender = new Sender('chase', { connections: 1, timeoutMs: 2000 });
    const error = await sender.send({ method: 'POST', url: 'http://127.0.0.1:1/v1?key=k', headers: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/^chase \(POST http:\/\/127\.0\.0\.1:1\/v1\): network error/);
  });

  it('gives up on a vendor that trickles its answer: the whole exchange has timeoutMs', async () => {
    const url = await vendor((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      // A byte every 50 ms: each read is quick, so only a deadline on the whole answer stops it.
      const drip = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(drip));
    });
    sender = new Sender('test', { connections: 2, timeoutMs: 400 });
    const started = Date.now();
    const err = await sender.send({ method: 'POST', url, headers: {}, body: '{}' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toContain('no complete answer within 400 ms');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('gives up on a vendor that never answers', async () => {
    const url = await vendor((req) => req.resume());
    sender = new Sender('test', { connections: 2, timeoutMs: 300 });
    await expect(sender.send({ method: 'POST', url, headers: {}, body: '{}' })).rejects.toThrow(RetryableError);
  });

  it('a request given less time than the sender has (what is left of its lease) gives up then', async () => {
    const url = await vendor((req) => req.resume());
    sender = new Sender('test', { connections: 2, timeoutMs: 60_000 });
    const err = await sender.send({ method: 'POST', url, headers: {}, body: '{}' }, 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toContain('no complete answer within 300 ms');
  });

  it('keeps working after many answered requests (each timer is cleared with its answer)', async () => {
    const url = await vendor((req, res) => {
      req.resume();
      res.writeHead(202).end('{}');
    });
    sender = new Sender('test', { connections: 4, timeoutMs: 60_000 });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => sender!.send({ method: 'POST', url, headers: {}, body: '{}' })),
    );
    expect(answers.every((a) => a.status === 202)).toBe(true);
  });

  it('reads at most 64 KB of an answer, however long the vendor talks', async () => {
    const url = await vendor((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 64; i++) res.write(chunk); // 1 MB
      res.end();
    });
    sender = new Sender('test', { connections: 1, timeoutMs: 5000 });
    const res = await sender.send({ method: 'POST', url, headers: {}, body: '{}' });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(64 * 1024);
  });

  it('abortAll ends the requests in flight, and one still waiting for a connection, as network errors', async () => {
    const url = await vendor((req) => req.resume()); // never answers
    sender = new Sender('test', { connections: 1, timeoutMs: 60_000 });
    const sent = [0, 1].map(() => sender!.send({ method: 'POST', url, headers: {}, body: '{}' }).catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 100));
    sender.abortAll(new Error('collector stopping'));
    for (const error of await Promise.all(sent)) {
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toContain('collector stopping');
    }
    // The connection pool still works after the aborts.
    server!.removeAllListeners('request');
    server!.on('request', (req, res) => {
      req.resume();
      res.writeHead(202).end('ok');
    });
    expect((await sender.send({ method: 'POST', url, headers: {}, body: '{}' })).status).toBe(202);
  });
});
