import { BadCredentialsError, InvalidEventError, RetryableError } from '../errors.js';
import { retryAfterMs } from '../classify.js';
import type { ConvertGoal } from './types.js';

export interface GoalResolverOptions {
  /** `GET {configBaseUrl}/api/v1/config/{sdkKey}`, or `…/{accountId}/{projectId}` without an SDK key. */
  configUrl: string;
  /** Sent with every config request (the SDK key's secret as `Authorization: Bearer`). */
  headers?: Record<string, string>;
  /** How long a fetched goal list is used before it is fetched again, ms. */
  ttlMs: number;
  /** An unknown key fetches the list again at most this often, ms. */
  minRefreshMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * Resolves Convert goal keys to goal ids through the config API, cached for `ttlMs` and refreshed
 * when a key is not found (at most every `minRefreshMs`). A goal written as digits is taken as an id.
 * A key the project does not have → InvalidEventError; the config API unreachable or failing →
 * RetryableError (a stale list is used instead when there is one); 401/403 → BadCredentialsError.
 */
export class GoalResolver {
  private goals?: Map<string, string>;
  private fetchedAt = 0;
  private inflight?: Promise<Map<string, string>>;
  private readonly o: Required<Omit<GoalResolverOptions, 'fetch' | 'now' | 'headers'>> & Pick<GoalResolverOptions, 'fetch' | 'now' | 'headers'>;

  constructor(options: GoalResolverOptions) {
    this.o = { minRefreshMs: 30_000, timeoutMs: 10_000, ...options };
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  async resolve(goal: string): Promise<string> {
    if (/^\d+$/.test(goal)) return goal;
    let goals = await this.list(false);
    if (!goals.has(goal) && this.now() - this.fetchedAt >= this.o.minRefreshMs) goals = await this.list(true);
    const id = goals.get(goal);
    if (id === undefined) {
      throw new InvalidEventError(`goal key "${goal}" is not a goal of this Convert project (known: ${[...goals.keys()].join(', ') || 'none'})`, {
        destination: 'convert',
      });
    }
    return id;
  }

  private async list(force: boolean): Promise<Map<string, string>> {
    const fresh = this.goals && this.now() - this.fetchedAt < this.o.ttlMs;
    if (fresh && !force) return this.goals!;
    this.inflight ??= this.fetchGoals().finally(() => {
      this.inflight = undefined;
    });
    try {
      return await this.inflight;
    } catch (e) {
      if (this.goals && !(e instanceof BadCredentialsError)) return this.goals; // keep working on the last list
      throw e;
    }
  }

  private async fetchGoals(): Promise<Map<string, string>> {
    const url = this.o.configUrl;
    const details = { destination: 'convert', method: 'GET', url };
    let res: Response;
    let text: string;
    try {
      res = await (this.o.fetch ?? fetch)(url, { headers: { accept: 'application/json', ...this.o.headers }, signal: AbortSignal.timeout(this.o.timeoutMs) });
      text = await res.text();
    } catch (cause) {
      throw new RetryableError('config API unreachable', { ...details, cause });
    }
    const failure = { ...details, status: res.status, body: text.slice(0, 2000) };
    if (res.status === 401 || res.status === 403) throw new BadCredentialsError('config API refused the credentials', failure);
    if (!res.ok) {
      const headers = Object.fromEntries(res.headers);
      throw new RetryableError('config API failed', { ...failure, retryAfterMs: retryAfterMs({ status: res.status, headers, body: text }) });
    }
    let goals: ConvertGoal[];
    try {
      const body = JSON.parse(text) as { goals?: unknown };
      if (!Array.isArray(body.goals)) throw new Error('no goals[]');
      goals = body.goals as ConvertGoal[];
    } catch (cause) {
      throw new RetryableError('config API answered without a goals list', { ...failure, cause });
    }
    const map = new Map<string, string>();
    for (const g of goals) if (g && typeof g.key === 'string' && (typeof g.id === 'string' || typeof g.id === 'number')) map.set(g.key, String(g.id));
    this.goals = map;
    this.fetchedAt = this.now();
    return map;
  }
}
