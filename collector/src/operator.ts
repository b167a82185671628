import { localUrl, type Config } from './config.js';
import type { LaneStatus } from './delivery/lane.js';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Sender } from './delivery/send.js';
import { destinationDefinitions } from './destinations/index.js';
import { redactor, redactUrl } from './redact.js';
import { openStore } from './store/open.js';
import { StoreError, type Forgotten, type Person, type ReplayableState } from './store/types.js';

/** Parses `--since`: an ISO date/time, or an age like `90m`, `24h`, `7d`. */
export function parseSince(value: string | undefined, now = Date.now()): number {
  if (!value) return 0;
  const rel = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value);
  if (rel) return now - Number(rel[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`--since ${value}: expected an ISO date or an age like 24h or 7d`);
  return t;
}

function age(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** A collector of a fleet that has not reported for this long is not listed (they report every 5 s). */
const FLEET_SEEN_MS = 15_000;

/** The live state of each lane, from the collector at `url` (default: this config's host and port), if it answers. */
async function liveLanes(config: Config, url?: string): Promise<Map<string, LaneStatus> | undefined> {
  const base = url ?? (config.port ? localUrl(config.host, config.port) : undefined);
  if (!base) return undefined;
  try {
    const res = await fetch(`${base.replace(/\/+$/, '')}/healthz`, { signal: AbortSignal.timeout(1500) });
    const body = (await res.json()) as { destinations?: LaneStatus[] };
    return new Map((body.destinations ?? []).map((d) => [d.destination, d]));
  } catch {
    return undefined;
  }
}

/** `tagrelay status`: queue depth, oldest age and state per destination. */
export async function printStatus(
  config: Config,
  url?: string,
  out: (line: string) => void = console.log,
): Promise<void> {
  const store = await openStore(config.store, { server: false });
  try {
    // A fleet (PostgreSQL) keeps each destination's state in the store: no need to reach a collector.
    const [stats, fleet] = await Promise.all([store.stats(), store.fleet?.status(FLEET_SEEN_MS)]);
    const shared = fleet && new Map(fleet.lanes.map((l) => [l.destination, l]));
    const live = shared ? undefined : await liveLanes(config, url);
    const now = Date.now();
    const names = new Set([...Object.keys(config.destinations), ...stats.map((s) => s.destination)]);
    const rows = [['destination', 'state', 'pending', 'oldest', 'delivered', 'skipped', 'rejected', 'dead']];
    for (const name of names) {
      const s = stats.find((x) => x.destination === name);
      const settings = config.destinations[name];
      const lane = live?.get(name);
      const fleetLane = shared?.get(name);
      const state = !settings
        ? 'not configured'
        : !settings.enabled
          ? 'disabled'
          : fleetLane
            ? `${fleetLane.state}${fleetLane.failures ? ` (${fleetLane.failures} failures)` : ''}${settings.dryRun ? ' (dry run)' : ''}`
            : shared
              ? `active${settings.dryRun ? ' (dry run)' : ''}`
              : lane
            ? `${lane.state}${settings.dryRun ? ' (dry run)' : ''}`
            : live
              ? 'unknown'
              : 'collector not running';
      rows.push([
        name,
        state,
        String(s?.pending ?? 0),
        s?.oldestPendingAt ? age(now - s.oldestPendingAt) : '-',
        String(s?.delivered ?? 0),
        String(s?.skipped ?? 0),
        String(s?.rejected ?? 0),
        String(s?.dead ?? 0),
      ]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      out(
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      );
    if (fleet) {
      out('');
      out(`collectors serving this store (seen in the last ${FLEET_SEEN_MS / 1000} s): ${fleet.collectors.length}`);
      for (const c of fleet.collectors) {
        out(`  ${c.id}  tagrelay ${c.version}  up ${age(now - c.startedAt)}  seen ${age(now - c.seenAt)} ago`);
      }
    }
  } finally {
    await store.close();
  }
}

function progressBar(done: number, total: number, width = 30): string {
  const ratio = total ? done / total : 1;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.round(ratio * 100)}% ${done}/${total}`;
}

/**
 * `tagrelay replay`: puts a destination's dead letters (given up after retrying) back in its queue,
 * and with `states` including `rejected` the deliveries the vendor refused too; with a progress bar.
 */
export async function replay(
  config: Config,
  destination: string,
  since: number,
  states: readonly ReplayableState[] = ['dead'],
  stream: NodeJS.WriteStream = process.stderr,
): Promise<number> {
  if (!config.destinations[destination]) {
    throw new Error(
      `--destination ${destination}: not in the config (configured: ${Object.keys(config.destinations).join(', ') || 'none'})`,
    );
  }
  const store = await openStore(config.store, { server: false });
  let lastLine = -1;
  try {
    const n = await store.requeue(destination, states, since, (done, total) => {
      if (stream.isTTY) stream.write(`\r${progressBar(done, total)}`);
      else {
        const tenth = total ? Math.floor((done / total) * 10) : 10;
        if (tenth !== lastLine) {
          lastLine = tenth;
          stream.write(`${progressBar(done, total)}\n`);
        }
      }
    });
    if (stream.isTTY) stream.write('\n');
    return n;
  } finally {
    await store.close();
  }
}

/** `tagrelay forget`: erases a person's events, deliveries and recorded requests, on either store. */
export async function forget(config: Config, person: Person): Promise<Forgotten> {
  const store = await openStore(config.store, { server: false });
  try {
    return await store.forget(person);
  } finally {
    await store.close();
  }
}

/**
 * `tagrelay check`: the config is valid (loading it checked that), and each enabled destination's
 * credentials work, by the harmless request its vendor offers. One line per destination; false if any failed.
 */
export async function check(config: Config, out: (line: string) => void): Promise<boolean> {
  let ok = true;
  out(`config ok: ${Object.keys(config.destinations).length} destination(s), store ${redactUrl(config.store)}`);
  for (const [name, settings] of Object.entries(config.destinations)) {
    if (!settings.enabled) {
      out(`${name}: disabled, not checked`);
      continue;
    }
    const destination = destinationDefinitions[name]!.create(settings, { defaultCountry: config.defaultCountry });
    const request = destination.credentialCheck();
    if (!request) {
      out(`${name}: the vendor offers no harmless call to check credentials; the first conversion will`);
      continue;
    }
    const sender = new Sender(name, { connections: 1, timeoutMs: 10_000 });
    const where = `${request.method} ${redactUrl(request.url)}`;
    try {
      const res = await sender.send(request);
      if (res.status >= 200 && res.status < 300) out(`${name}: ok (${where} answered ${res.status})`);
      else {
        ok = false;
        const why = res.status === 401 || res.status === 403 ? 'credentials refused' : 'unexpected answer';
        out(`${name}: ${why} (${where} answered ${res.status}: ${redactor(destination.secrets)(res.body).slice(0, 200)})`);
      }
    } catch (e) {
      ok = false;
      out(`${name}: could not check (${(e as Error).message})`);
    } finally {
      await sender.close();
    }
  }
  return ok;
}

/** `tagrelay backup --to FILE`: a consistent copy of the SQLite store, while the collector runs. */
export async function backup(config: Config, to: string): Promise<{ path: string; bytes: number }> {
  const store = await openStore(config.store, { server: false });
  try {
    if (!store.backup) throw new StoreError('backup copies SQLite stores; for PostgreSQL use pg_dump (README, Deploying)');
    const path = resolve(to);
    await store.backup(path);
    return { path, bytes: statSync(path).size };
  } finally {
    await store.close();
  }
}
