import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of a server (PostgreSQL), for a network partition: `partition()` stops every byte
 * in both directions without closing anything, as a cut cable or a lost machine does (no reset, no
 * answer); connections opened meanwhile get no further than the proxy. `heal()` delivers what was held,
 * in order, as TCP's retransmissions would, and connects the waiting ones. A side that closes its end
 * closes the other. `moveTo(port)` moves the address to another server, as a failover moves a virtual IP or
 * a DNS name: open connections are closed, new ones reach the other server.
 */
export class TcpProxy {
  port = 0;
  private server?: Server;
  private partitioned = false;
  private readonly held: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly host: string,
    private targetPort: number,
  ) {}

  static async start(host: string, port: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(host, port);
    proxy.server = createServer((client) => proxy.accept(client));
    await new Promise<void>((r) => proxy.server!.listen(0, '127.0.0.1', r));
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  partition(): void {
    this.partitioned = true;
  }

  heal(): void {
    this.partitioned = false;
    for (const run of this.held.splice(0)) run();
  }

  moveTo(port: number): void {
    this.targetPort = port;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Runs `step` now, or at `heal()` while partitioned. */
  private pass(step: () => void): void {
    if (this.partitioned) this.held.push(step);
    else step();
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.pause();
    client.on('error', () => {});
    this.pass(() => {
      if (client.destroyed) return;
      const upstream = connect(this.targetPort, this.host);
      this.sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        from.on('data', (chunk) => this.pass(() => to.write(chunk)));
        from.on('close', () => {
          this.sockets.delete(from);
          this.pass(() => to.destroy());
        });
      }
      client.resume();
    });
  }
}
