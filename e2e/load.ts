import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ReceivedRequest } from './vendors/server.js';

/** Helpers shared by the reliability tests (e2e/reliability-*.test.ts). */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A sign_up event the Chase and Nextdoor stand-ins accept; its email `<id>@example.com` maps a vendor request back to the event. */
export function signUp(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: 'sign_up',
    time: Date.now(),
    url: 'https://shop.example/welcome',
    properties: { method: 'email', user_data: { email: `${id}@example.com` } },
    ...extra,
  };
}

export type PostResult = { status: number; body: string; retryAfter?: string } | { error: string };

/** POST /collect with a bounded wait; a connection error or timeout is returned, not thrown. */
export async function postCollect(
  url: string,
  body: string,
  headers: Record<string, string> = { 'content-type': 'text/plain' },
  timeoutMs = 5000,
): Promise<PostResult> {
  try {
    const res = await fetch(`${url}/collect`, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') ?? undefined };
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (e as Error).name };
  }
}

/**
 * Posters that behave as the tag does: a batch of 20 events (`event`, a sign_up by default) that is not
 * stored is sent again, to the next of `targets` after 300 ms, until it is. Any answer other than 200 or
 * 503, or none within `answerMs`, stops the posting, and `stop()` throws it.
 */
export function tagLikeLoad(
  targets: () => { url: string }[],
  { prefix, answerMs, event = (id: string) => signUp(id) }: { prefix: string; answerMs: number; event?: (id: string) => unknown },
) {
  const answers = new Map<string, number>();
  const retryAfter = new Set<string | undefined>();
  const refusals = new Set<string>();
  const stored = new Set<string>();
  let seq = 0;
  let running = true;
  const poster = async (k: number) => {
    for (let turn = k; running; turn++) {
      const ids = Array.from({ length: 20 }, () => `${prefix}-${String(++seq).padStart(7, '0')}`);
      const body = JSON.stringify({ v: 1, events: ids.map(event) });
      for (let attempt = 0; ; attempt++) {
        const live = targets();
        const started = Date.now();
        const r = await postCollect(live[(turn + attempt) % live.length]!.url, body, undefined, answerMs);
        const key = 'status' in r ? String(r.status) : r.error;
        answers.set(key, (answers.get(key) ?? 0) + 1);
        if ('status' in r && r.status === 200) break;
        if (!('status' in r) || r.status !== 503) throw new Error(`a /collect request was answered ${key} after ${Date.now() - started} ms`);
        refusals.add((JSON.parse(r.body) as { error: string }).error);
        retryAfter.add(r.retryAfter);
        await sleep(300);
      }
      ids.forEach((id) => stored.add(id));
      await sleep(50);
    }
  };
  let failure: unknown;
  const posters = Array.from({ length: 3 }, (_, k) =>
    poster(k).catch((e: unknown) => {
      failure ??= e;
      running = false;
    }),
  );
  return {
    answers,
    retryAfter,
    refusals,
    stored,
    /** Whether a poster has stopped on a failure (stop() throws it). */
    get failed() {
      return failure !== undefined;
    },
    async stop() {
      running = false;
      await Promise.all(posters);
      if (failure) throw failure;
    },
  };
}

/** The event id behind a Chase request (its email is `<id>@example.com`). */
export function chaseEventId(req: ReceivedRequest): string | undefined {
  try {
    const email = (JSON.parse(req.body) as { email?: unknown }).email;
    return typeof email === 'string' && email.endsWith('@example.com')
      ? email.slice(0, -'@example.com'.length)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The event id behind a Nextdoor request (`event_id`). */
export function nextdoorEventId(req: ReceivedRequest): string | undefined {
  try {
    const id = (JSON.parse(req.body) as { event_id?: unknown }).event_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** How many requests each event id got. */
export function countBy(
  requests: readonly ReceivedRequest[],
  idOf: (r: ReceivedRequest) => string | undefined,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of requests) {
    const id = idOf(r);
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** The pid of the `tagrelay serve --config <configPath>` process. */
export function collectorPid(configPath: string): number {
  const out = execFileSync('pgrep', ['-f', `tagrelay.js serve --config ${configPath}`], { encoding: 'utf8' }).trim();
  const pids = out.split('\n').filter(Boolean).map(Number);
  if (pids.length !== 1) throw new Error(`expected one collector process for ${configPath}, found ${out || 'none'}`);
  return pids[0]!;
}

/** A process's resident memory now and at its peak (VmRSS, VmHWM), in MB. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}
