import type { IncomingMessage } from 'node:http';

/** The visitor's address: the socket's, or with `trustProxy` hops the one that many entries from the right of X-Forwarded-For. */
export function clientIp(req: IncomingMessage, trustProxy: number): string | undefined {
  const socket = req.socket.remoteAddress;
  if (!trustProxy) return socket;
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const chain = [...forwarded, socket];
  return chain[Math.max(0, chain.length - 1 - trustProxy)];
}
