import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import type { StoredEvent } from '../collector/src/event.js';
import type { DeliveryRecord } from '../collector/src/store/types.js';

const root = resolve(import.meta.dirname, '..');
const tempDirs: string[] = [];
const removeTempDirs = () => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
};
// After the test file's own hooks (registered later, run earlier), which stop its collectors; and at exit,
// which a test worker that is ended does not always reach.
afterAll(removeTempDirs);
process.once('exit', removeTempDirs);

/** A fresh directory, removed after the test file. */
export function tempDir(prefix = 'tagrelay-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';

export interface CollectorOptions {
  /** The config file's content (README, Configuration); `port` defaults to 0 and `store` to a fresh SQLite file. */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Reuse a data directory, e.g. to restart on the same store. */
  dataDir?: string;
  /**
   * A full disk without filling one: no file the collector writes may grow past this many KB (a soft
   * RLIMIT_FSIZE, SIGXFSZ ignored, so a write past it fails as on a full disk). `raiseFileSizeLimit()` makes room.
   */
  fileSizeLimitKb?: number;
}

/**
 * The real collector, run as `tagrelay serve --config FILE` in its own process, exactly as a user runs it.
 * `kill()` is SIGKILL; `restart()` starts it again on the same store (on a new port unless `config.port` is set).
 */
export class Collector {
  url = '';
  readonly dataDir: string;
  readonly configPath: string;
  output = '';
  private child?: ChildProcess;

  constructor(private readonly options: CollectorOptions = {}) {
    this.dataDir = options.dataDir ?? tempDir();
    this.configPath = join(this.dataDir, 'config.json');
    writeFileSync(
      this.configPath,
      JSON.stringify({
        port: 0,
        host: '127.0.0.1',
        store: `sqlite:${join(this.dataDir, 'tagrelay.db')}`,
        ...options.config,
        delivery: { pollMs: 50, baseBackoffMs: 200, maxBackoffMs: 2000, ...(options.config?.delivery as object) },
        // Every test's browser and load come from 127.0.0.1: the per-address limit is tested on its own.
        limits: { perIp: { ratePerSecond: 1e6, burst: 1e6 }, global: { ratePerSecond: 1e6, burst: 1e6 }, ...(options.config?.limits as object) },
      }),
    );
  }

  static async start(options: CollectorOptions = {}): Promise<Collector> {
    const c = new Collector(options);
    await c.start();
    return c;
  }

  async start(): Promise<void> {
    const args = [join(root, 'bin/tagrelay.js'), 'serve', '--config', this.configPath];
    const limit = this.options.fileSizeLimitKb;
    // The shell's exec keeps its pid: the limit and the ignored signal are the collector's.
    const [command, argv] = limit
      ? ['sh', ['-c', `trap '' XFSZ; ulimit -S -f ${limit * 2}; exec "$0" "$@"`, process.execPath, ...args]]
      : [process.execPath, args];
    const child = spawn(command, argv, {
      cwd: this.dataDir,
      env: { ...process.env, TAGRELAY_ADMIN_TOKEN: ADMIN_TOKEN, ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const from = this.output.length;
    this.url = await new Promise<string>((resolveUrl, reject) => {
      // Generous: on a busy 2-core machine a start (or a --workers primary and its workers) can take many seconds.
      const timer = setTimeout(() => reject(new Error(`collector did not start:\n${this.output}`)), 40_000);
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const m = /listening on (http:\/\/[^\s"]+)/.exec(this.output.slice(from));
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`collector exited with ${code}:\n${this.output}`));
      });
    });
  }

  /** Lifts `fileSizeLimitKb` from the running collector: the disk has room again. */
  raiseFileSizeLimit(): void {
    execFileSync('prlimit', ['--pid', String(this.child!.pid), '--fsize=unlimited:unlimited']);
  }

  /** Whether its process is still running. */
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL: no chance to flush or clean up. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: a graceful stop. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  async restart(): Promise<void> {
    await this.start();
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(sig);
    await exited;
  }

  private async admin<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Events the collector stored, newest first. */
  async events(): Promise<StoredEvent[]> {
    return (await this.admin<{ events: StoredEvent[] }>('/debug/api/events?limit=1000')).events;
  }

  /** Deliveries and their state, newest first. */
  async deliveries(): Promise<DeliveryRecord[]> {
    return (await this.admin<{ deliveries: DeliveryRecord[] }>('/debug/api/deliveries?limit=1000')).deliveries;
  }

  /** The Prometheus text of /metrics. */
  async metrics(): Promise<string> {
    return (await fetch(`${this.url}/metrics`)).text();
  }

  /** One metric's value (sum over its labels that match `labels`). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await this.metrics();
    let sum = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const l = m[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
    }
    return sum;
  }
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; resolves with that value. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10000, what = 'condition'): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as Truthy<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
