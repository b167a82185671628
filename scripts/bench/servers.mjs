// Processes and servers the benchmark runs side by side on this machine (loopback only).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { processTree } from '../processTree.mjs';

const root = resolve(import.meta.dirname, '../..');

/** [user + system, its reaped children's] CPU ms of a process (Linux /proc), or zeros once it is gone. */
function processCpu(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return [(Number(f[11]) + Number(f[12])) * 10, (Number(f[13]) + Number(f[14])) * 10];
  } catch {
    return [0, 0];
  }
}

/**
 * CPU time used by a process and every process under it, ms (Linux /proc): PostgreSQL's server and
 * its backends, say. Backends that ended are counted once the server has reaped them.
 */
export function treeCpuMs(pid) {
  let total = 0;
  for (const p of processTree(pid)) {
    const [own, reaped] = processCpu(p);
    total += own + reaped;
  }
  return total;
}

/** Starts a Node script as a child process and resolves with its URL once it prints `listening on URL`. */
export function startProcess(args, env = {}) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start: ${out}`)), 30000);
    const onData = (c) => {
      out += c;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveStart({
          url: m[1].replace('localhost', '127.0.0.1'),
          pid: child.pid,
          /** CPU time the process has used, ms (user + system, all threads; Linux /proc). */
          cpuMs: () => processCpu(child.pid)[0],
          /** Peak and current resident memory of the process, MB (Linux /proc). */
          memory() {
            const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
            const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
            return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
          },
          stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }),
          /** Whether the process is still running. */
          alive: () => child.exitCode === null && child.signalCode === null,
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

/** The data directories the benchmark made: removed when it exits (a full run writes gigabytes). */
const dataDirs = [];
process.once('exit', () => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});
process.once('SIGINT', () => process.exit(130));

/** A fresh directory, removed when the benchmark exits. */
function benchDir() {
  const dir = mkdtempSync(join(tmpdir(), 'tagrelay-bench-'));
  dataDirs.push(dir);
  return dir;
}

/** The real collector, `tagrelay serve`, with its own SQLite store in a fresh directory (or `dataDir`). */
export function startCollector(config, dataDir = benchDir(), env = {}) {
  const path = join(dataDir, 'config.json');
  // The load comes from one address: the per-address and global limits would refuse most of it.
  const limits = { perIp: { ratePerSecond: 1e9, burst: 1e9 }, global: { ratePerSecond: 1e9, burst: 1e9 } };
  writeFileSync(path, JSON.stringify({ port: 0, host: '127.0.0.1', store: `sqlite:${join(dataDir, 'tagrelay.db')}`, limits, ...config }));
  return startProcess([join(root, 'bin/tagrelay.js'), 'serve', '--config', path], env).then((p) => ({ ...p, dataDir }));
}

/** The baseline: a bare Express handler with the same body parsing that stores nothing. */
export function startBareExpress() {
  return startProcess([join(import.meta.dirname, 'bare-express.mjs')]);
}

/** A vendor stand-in in its own process, answering 202 after `delayMs`. */
export function startVendorProcess(delayMs) {
  return startProcess([join(import.meta.dirname, 'vendor.mjs')], { DELAY_MS: String(delayMs) });
}

/** A vendor stand-in in this process that answers 202 after `delayMs`, counting requests. */
export async function startVendor(delayMs) {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const answer = () => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{}'); };
      if (delayMs) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    get requests() { return requests; },
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}
