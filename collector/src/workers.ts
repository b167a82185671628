import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { redactUrl } from './redact.js';
import { openStore } from './store/open.js';
import { serveWorkersMetrics } from './workersMetrics.js';

/** A --workers value tagrelay cannot run with: printed as one line, exit 2. */
export class WorkersError extends Error {}

/**
 * How many processes `tagrelay serve` runs: `--workers N` (or TAGRELAY_WORKERS); by default every core
 * on PostgreSQL, where the processes share the store, and one on SQLite, which one process serves.
 */
export function workerCount(arg: string | undefined, store: string): number {
  const raw = arg ?? process.env.TAGRELAY_WORKERS;
  const sqlite = store.startsWith('sqlite:');
  if (raw === undefined || raw === '') return sqlite ? 1 : availableParallelism();
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 256) {
    throw new WorkersError(`--workers ${raw}: expected a number of processes from 1 to 256`);
  }
  const n = Number(raw);
  if (sqlite && n > 1) {
    throw new WorkersError(`--workers ${n}: an SQLite store is served by one process; use a postgres:// store to run several`);
  }
  return n;
}

/**
 * The PostgreSQL connections each of `processes` `serve` processes may open: an equal share of
 * `storeConnections`, by default the larger of 10 and 4 a process (16 cores: 64 in all,
 * where 10 each made 160 and passed PostgreSQL's default max_connections of 100). Fewer than 2 per
 * process is refused: a process claims deliveries and records their results at once. (SQLite: none.)
 */
export function storeConnectionsPerProcess(
  config: Pick<Config, 'store' | 'storeConnections'>,
  processes: number,
): number | undefined {
  if (!/^postgres(ql)?:/.test(config.store)) return undefined;
  const total = config.storeConnections ?? Math.max(10, 4 * processes);
  const each = Math.floor(total / processes);
  if (each < 2) {
    throw new WorkersError(
      `storeConnections ${total}: --workers ${processes} needs at least ${2 * processes} (2 per process); raise it or run fewer workers`,
    );
  }
  return each;
}

/**
 * How long each worker place waits before its replacement starts: 1 s after a worker that served; after a
 * replacement that could not start (the store refuses it: a newer collector migrated it, say), twice the
 * place's last wait, up to 60 s, not every second. Each place waits on its own: a worker that served and
 * died elsewhere neither waits behind nor resets another place's backoff.
 */
export class RestartDelays {
  private readonly waits: number[];

  constructor(places: number) {
    this.waits = Array.from({ length: places }, () => 1000);
  }

  next(place: number, served: boolean): number {
    const ms = served ? 1000 : Math.min(this.waits[place]! * 2, 60_000);
    this.waits[place] = ms;
    return ms;
  }
}

/** This process is one of several `serve` workers started by a primary. */
export const isWorker = cluster.isWorker;

/** A worker tells its primary it is listening (the primary announces the collector once all are). */
export function reportListening(url: string): void {
  process.send?.({ tagrelay: 'listening', url });
}

/**
 * The primary of `tagrelay serve --workers N`: prepares the store once (migrations, and any error
 * said once), then runs N copies of this command, which share the port (the primary hands out
 * connections) and the store. A worker that dies is replaced; SIGTERM stops them all (each stops
 * as a single collector does) and then the primary; a primary that dies takes the workers with it
 * (they stop when their channel to it closes).
 */
export async function runPrimary(n: number, config: Config, log: Logger, stopDeadlineMs: number): Promise<void> {
  const store = await openStore(config.store, { server: false });
  await store.close();
  let announced = false;
  let stopping = false;
  const delays = new RestartDelays(n);
  serveWorkersMetrics();
  /** Each worker's place, 0 to n-1: its replacement takes it. */
  const places = new Map<number, number>();
  const ready = new Set<number>();
  const start = (place: number): Worker => {
    const worker = cluster.fork({ TAGRELAY_WORKERS: String(n) });
    places.set(worker.id, place);
    return worker;
  };
  cluster.on('message', (worker, msg: { tagrelay?: string; url?: string }) => {
    if (msg?.tagrelay !== 'listening') return;
    ready.add(worker.id);
    if (!announced && ready.size >= n) {
      announced = true;
      log.info(`tagrelay listening on ${msg.url}`, {
        workers: n,
        store: redactUrl(config.store),
        destinations: Object.keys(config.destinations),
      });
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const served = ready.delete(worker.id);
    const place = places.get(worker.id) ?? 0;
    places.delete(worker.id);
    if (stopping) {
      if (!Object.keys(cluster.workers ?? {}).length) process.exit(0);
      return;
    }
    if (!announced) {
      // It could not start (its one-line reason is on stderr): neither can the others.
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      process.exitCode = code || 1;
      if (!Object.keys(cluster.workers ?? {}).length) process.exit(process.exitCode);
      return;
    }
    const inMs = delays.next(place, served);
    log.error(served ? 'worker exited; starting another' : 'a new worker could not start (its reason is above); trying again', {
      pid: worker.process.pid,
      code,
      signal,
      inMs,
    });
    setTimeout(() => {
      if (!stopping) start(place);
    }, inMs).unref();
  });
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal: sig, workers: Object.keys(cluster.workers ?? {}).length });
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), stopDeadlineMs + 2000).unref();
    if (!Object.keys(cluster.workers ?? {}).length) process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  for (let place = 0; place < n; place++) start(place);
}
