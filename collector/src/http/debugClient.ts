/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The /debug page's script, served as `/debug/debug.js` (the page's CSP allows scripts from the
 * collector only). It renders the JSON the collector gives and polls it every 1.5 s; filters go to the
 * server as query parameters and into the page's URL, so a filtered view can be bookmarked.
 *
 * Events hold strings anyone on the internet could send: every value is shown with text nodes
 * (`append(string)`, `textContent`), never as HTML.
 */
import type { DestinationVerdict } from './debugVerdicts.js';

interface Lane {
  state: 'active' | 'backing-off' | 'paused';
  inFlight: number;
  consecutiveFailures: number;
  blockedUntil?: number;
  reason?: string;
}
interface LiveDestination {
  destination: string;
  dryRun: boolean;
  setting: string;
  routes: { event: string; vendorEvent?: string }[];
  lane?: Lane;
  counts: { pending: number; oldestPendingAt?: number; delivered: number; skipped: number; rejected: number; dead: number };
  try: { event?: string; mode: 'dry-run' | 'test' | 'live'; note: string };
}
interface LiveEvent {
  id: string;
  name: string;
  time: number;
  receivedAt: number;
  url?: string;
  clickIds?: Record<string, string>;
  value?: unknown;
  currency?: unknown;
  transactionId?: unknown;
  destinations: Pick<DestinationVerdict, 'destination' | 'verdict' | 'reason'>[];
}
interface Live {
  now: number;
  verdicts: string[];
  destinations: LiveDestination[];
  events: LiveEvent[];
  refusals: { at: number; status: number; reason: string; eventId?: string; eventName?: string }[];
  conflicts: { eventId: string; name: string; receivedAt: number; body: string }[];
  requests: {
    eventId: string;
    eventName: string;
    destination: string;
    state: string;
    attempts: number;
    updatedAt: number;
    status?: number;
    detail?: string;
    request?: string;
  }[];
}
interface EventDetail {
  event: {
    id: string;
    name: string;
    time: number;
    anonymousId?: string;
    url?: string;
    referrer?: string;
    clickIds?: Record<string, string>;
    consent?: Record<string, unknown>;
    properties?: Record<string, unknown>;
    context: { receivedAt: number; ip?: string; userAgent?: string };
  };
  destinations: DestinationVerdict[];
}
interface TryResult {
  destination: string;
  eventName: string;
  vendorEvent?: string;
  dryRun: boolean;
  outcome: string;
  message?: string;
  event: unknown;
  request?: string;
  response?: { status: number; body: string };
  durationMs?: number;
}

const POLL_MS = 1500;
const KNOWN_VERDICTS = new Set(['delivered', 'pending', 'skipped', 'rejected', 'dead', 'dry-run', 'not-routed']);
const LANE_STATES = new Set(['active', 'backing-off', 'paused']);

type Child = Node | string | number | undefined | null | false;

/** An element with attributes and children; strings become text nodes, never markup. */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (k === 'class') el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
  return el;
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const tbody = (id: string) => byId<HTMLTableElement>(id).tBodies[0]!;

function chip(verdict: string, text: string, title?: string): HTMLSpanElement {
  const cls = KNOWN_VERDICTS.has(verdict) ? `chip v-${verdict}` : 'chip';
  return h('span', { class: cls, title, 'data-verdict': verdict }, text);
}

const pad = (n: number) => String(n).padStart(2, '0');
function clock(ms: number | undefined): string {
  if (!ms) return '';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const isoOf = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : '');
function timeCell(ms: number | undefined): HTMLTableCellElement {
  const today = ms && new Date(ms).toDateString() === new Date().toDateString();
  return h('td', { title: isoOf(ms), class: 'mono' }, ms ? (today ? clock(ms) : `${new Date(ms).toLocaleDateString()} ${clock(ms)}`) : '');
}
function age(ms: number | undefined, now: number): string {
  if (!ms) return '';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
const json = (v: unknown) => JSON.stringify(v, null, 2);
const text = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

// ---------------------------------------------------------------------------------------------- state

const state = {
  live: undefined as Live | undefined,
  rendered: { destinations: '', events: '', refusals: '', conflicts: '', requests: '', detail: '', options: '' },
  selected: undefined as string | undefined,
  paused: false,
  timer: undefined as number | undefined,
  /** Each poll's number: an answer to an older one (before the filters changed) is dropped. */
  seq: 0,
  trying: new Set<string>(),
};

// -------------------------------------------------------------------------------------------- filters

const form = byId<HTMLFormElement>('filters');
const FILTER_NAMES = ['id', 'name', 'destination', 'verdict', 'clickId', 'since', 'until'] as const;
const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

/** The filters as query parameters (times in ms since 1970). */
function filterParams(): URLSearchParams {
  const p = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    const v = field(name).value.trim();
    if (!v) continue;
    if (name === 'since' || name === 'until') {
      const t = new Date(v).getTime();
      if (Number.isFinite(t)) p.set(name, String(t));
    } else p.set(name, v);
  }
  return p;
}

function fillFiltersFromUrl(): void {
  const p = new URLSearchParams(location.search);
  for (const name of FILTER_NAMES) {
    const v = p.get(name);
    if (v === null) continue;
    if (name === 'since' || name === 'until') {
      const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
      if (Number.isFinite(t)) field(name).value = toLocalInput(t);
    } else if (field(name) instanceof HTMLSelectElement) {
      const select = field(name) as HTMLSelectElement;
      if (![...select.options].some((o) => o.value === v)) select.append(h('option', { value: v }, v));
      select.value = v;
    } else field(name).value = v;
  }
}

function syncSelectOptions(live: Live): void {
  const key = JSON.stringify([live.destinations.map((d) => d.destination), live.verdicts]);
  if (key === state.rendered.options) return;
  state.rendered.options = key;
  const fill = (select: HTMLSelectElement, values: string[]) => {
    const current = select.value;
    select.replaceChildren(h('option', { value: '' }, 'any'), ...values.map((v) => h('option', { value: v }, v)));
    if (current && !values.includes(current)) select.append(h('option', { value: current }, current));
    select.value = current;
  };
  fill(field('destination') as HTMLSelectElement, live.destinations.map((d) => d.destination));
  fill(field('verdict') as HTMLSelectElement, live.verdicts);
}

let debounce: number | undefined;
form.addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = window.setTimeout(() => void refresh(), 250);
});
form.addEventListener('change', () => void refresh());
form.addEventListener('submit', (e) => {
  e.preventDefault();
  void refresh();
});
form.addEventListener('reset', () => setTimeout(() => void refresh(), 0));

// --------------------------------------------------------------------------------------------- render

function renderDestinations(live: Live): void {
  const rows = live.destinations.map((d) => {
    const lane = d.lane;
    const laneState = lane && LANE_STATES.has(lane.state) ? lane.state : 'active';
    const busy = state.trying.has(d.destination);
    const button = h(
      'button',
      { type: 'button', class: 'try', 'data-destination': d.destination, 'data-mode': d.try.mode, 'data-event': d.try.event },
      busy ? 'Trying…' : 'Try',
    );
    button.disabled = busy || !d.try.event;
    return h(
      'tr',
      { 'data-destination': d.destination },
      h('td', {}, h('strong', {}, d.destination), ' ', d.dryRun ? chip('dry-run', 'dry run') : null),
      h(
        'td',
        {},
        h('span', { class: `s-${laneState}` }, lane?.state ?? 'not delivering'),
        lane?.inFlight ? h('div', { class: 'muted' }, `${lane.inFlight} in flight`) : null,
        lane?.blockedUntil ? h('div', { class: 'muted' }, `until ${clock(lane.blockedUntil)}`) : null,
        lane?.reason ? h('div', { class: 'muted small clamp', title: lane.reason }, lane.reason) : null,
      ),
      h(
        'td',
        { class: 'mono' },
        ...(d.routes.length
          ? d.routes.map((r) => h('div', {}, `${r.event} → ${r.vendorEvent ?? ''}`))
          : [h('span', { class: 'muted' }, `none: ${d.setting}`)]),
      ),
      h('td', { class: 'num' }, d.counts.pending),
      h('td', {}, age(d.counts.oldestPendingAt, live.now)),
      h('td', { class: 'num' }, d.counts.delivered),
      h('td', { class: 'num' }, d.counts.skipped),
      h('td', { class: 'num' }, d.counts.rejected),
      h('td', { class: 'num' }, d.counts.dead),
      h('td', {}, button, h('div', { class: 'muted small' }, d.try.note)),
    );
  });
  tbody('destinations').replaceChildren(...(rows.length ? rows : [emptyRow(10, 'No destination is enabled: add one under "destinations" in the config.')]));
}

function emptyRow(span: number, message: string): HTMLTableRowElement {
  return h('tr', {}, h('td', { colspan: String(span), class: 'empty' }, message));
}

function clickIdsText(ids: Record<string, string> | undefined): string {
  return ids ? Object.entries(ids).map(([k, v]) => `${k}=${v}`).join(' ') : '';
}

function renderEvents(live: Live): void {
  const rows = live.events.map((e) => {
    const money = typeof e.value === 'number' ? `${e.value}${typeof e.currency === 'string' ? ` ${e.currency}` : ''}` : '';
    const row = h(
      'tr',
      { 'data-id': e.id, tabindex: '0', class: e.id === state.selected ? 'selected' : undefined },
      timeCell(e.receivedAt),
      h('td', {}, h('strong', {}, e.name), money ? h('div', { class: 'muted' }, money) : null),
      h('td', { class: 'mono nowrap' }, e.id),
      h('td', { class: 'mono ids' }, clickIdsText(e.clickIds)),
      h('td', {}, ...e.destinations.map((v) => chip(v.verdict, `${v.destination}: ${v.verdict}`, v.reason))),
    );
    return row;
  });
  const filtered = filterParams().toString() !== '';
  tbody('events').replaceChildren(...(rows.length ? rows : [emptyRow(5, filtered ? 'No event matches these filters.' : 'No event yet: events appear here as they arrive.')]));
  byId('event-count').textContent = `${live.events.length} event${live.events.length === 1 ? '' : 's'}${filtered ? ' match' : ''}`;
}

function renderRefusals(live: Live): void {
  const rows = live.refusals.map((r) =>
    h(
      'tr',
      {},
      timeCell(r.at),
      h('td', { class: 'num' }, r.status),
      h('td', { class: 'mono' }, [r.eventName, r.eventId].filter(Boolean).join(' ')),
      h('td', {}, r.reason),
    ),
  );
  tbody('refusals').replaceChildren(...(rows.length ? rows : [emptyRow(4, 'Nothing refused since this collector started.')]));
}

function renderConflicts(live: Live): void {
  const rows = live.conflicts.map((c) =>
    h('tr', {}, timeCell(c.receivedAt), h('td', { class: 'mono' }, c.eventId), h('td', {}, c.name), h('td', {}, h('pre', {}, c.body))),
  );
  tbody('conflicts').replaceChildren(...(rows.length ? rows : [emptyRow(4, 'No id conflict.')]));
}

function renderRequests(live: Live): void {
  const rows = live.requests.map((d) =>
    h(
      'tr',
      {},
      timeCell(d.updatedAt),
      h('td', { class: 'mono' }, `${d.eventName} ${d.eventId}`),
      h('td', {}, d.destination),
      h('td', {}, d.state),
      h('td', { class: 'num' }, d.attempts),
      h('td', { class: 'num' }, d.status ?? ''),
      h('td', {}, d.detail ? h('div', { class: 'clamp', title: d.detail }, d.detail) : ''),
      h('td', {}, d.request ? h('pre', {}, d.request) : ''),
    ),
  );
  tbody('requests').replaceChildren(...(rows.length ? rows : [emptyRow(8, 'No delivery yet.')]));
}

/** Renders each part whose data changed since it was last drawn (so a poll with no news touches nothing). */
function render(live: Live): void {
  state.live = live;
  syncSelectOptions(live);
  const parts: [keyof typeof state.rendered, unknown, (l: Live) => void][] = [
    ['destinations', [live.destinations, [...state.trying]], renderDestinations],
    ['events', [live.events, state.selected], renderEvents],
    ['refusals', live.refusals, renderRefusals],
    ['conflicts', live.conflicts, renderConflicts],
    ['requests', live.requests, renderRequests],
  ];
  for (const [key, data, draw] of parts) {
    const sig = JSON.stringify(data);
    if (sig === state.rendered[key]) continue;
    state.rendered[key] = sig;
    draw(live);
  }
}

// --------------------------------------------------------------------------------------------- detail

/** Facts as a compact list of name and value (empty ones left out). */
function kv(rows: [string, Child][]): HTMLDListElement {
  return h('dl', { class: 'facts' }, ...rows.filter(([, v]) => v !== undefined && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function verdictCard(v: DestinationVerdict): HTMLDivElement {
  const facts: [string, Child][] = [
    ['vendor event', v.vendorEvent],
    ['setting', v.setting ? h('code', {}, v.setting) : undefined],
    ['consent key', v.consentKey ? h('code', {}, v.consentKey) : undefined],
    ['state', v.state],
    ['attempts', v.attempts !== undefined ? String(v.attempts) : undefined],
    ['status', v.status !== undefined ? String(v.status) : undefined],
    ['next attempt', v.nextAt ? `${isoOf(v.nextAt)} (in ${age(Date.now(), v.nextAt)})` : undefined],
    ['in flight', v.inFlight ? 'yes' : undefined],
    ['last error', v.verdict === 'pending' ? v.lastError : undefined],
    ['destination', v.lane ? `${v.lane.state}${v.lane.reason ? `: ${v.lane.reason}` : ''}` : undefined],
    ['updated', v.updatedAt ? isoOf(v.updatedAt) : undefined],
    ['configured', v.configured ? undefined : 'no longer in the config'],
  ];
  return h(
    'div',
    { class: 'verdict', 'data-destination': v.destination, 'data-verdict': v.verdict },
    h('div', { class: 'head' }, h('strong', {}, v.destination), chip(v.verdict, v.verdict)),
    h('p', { class: 'reason' }, v.reason),
    kv(facts),
    v.request ? h('div', {}, h('h3', {}, 'Request'), h('pre', { class: 'request' }, v.request)) : null,
    v.response && (v.response.status !== undefined || v.response.body)
      ? h(
          'div',
          {},
          h('h3', {}, `Vendor's answer${v.response.status !== undefined ? ` (HTTP ${v.response.status})` : ''}`),
          h('pre', { class: 'response' }, v.response.body ?? ''),
        )
      : null,
  );
}

function renderDetail(detail: EventDetail | { error: string; refused?: Live['refusals'] }): void {
  const aside = byId('detail');
  if ('error' in detail) {
    aside.replaceChildren(
      h('h2', {}, state.selected ?? ''),
      h('p', {}, detail.error),
      ...(detail.refused ?? []).map((r) => h('p', { class: 'muted' }, `${isoOf(r.at)}: ${r.status} ${r.reason}`)),
    );
    return;
  }
  const e = detail.event;
  aside.replaceChildren(
    h('h2', {}, `${e.name} `, h('span', { class: 'mono muted' }, e.id)),
    kv([
      ['received', isoOf(e.context.receivedAt)],
      ['tracked', isoOf(e.time)],
      ['page', e.url],
      ['referrer', e.referrer],
      ['visitor', e.anonymousId],
      ['click ids', clickIdsText(e.clickIds)],
      ['consent', e.consent ? text(e.consent) : 'none sent'],
      ['IP', e.context.ip],
      ['user agent', e.context.userAgent],
    ]),
    h('h3', {}, 'Destinations'),
    ...(detail.destinations.length ? detail.destinations.map(verdictCard) : [h('p', { class: 'empty' }, 'No destination is enabled.')]),
    h('details', {}, h('summary', {}, 'Properties'), h('pre', {}, json(e.properties ?? {}))),
  );
}

async function loadDetail(): Promise<void> {
  const id = state.selected;
  if (!id) return;
  const res = await fetch(`/debug/api/events/${encodeURIComponent(id)}`, { headers: { accept: 'application/json' }, cache: 'no-store' });
  const body = (await res.json()) as EventDetail | { error: string };
  if (state.selected !== id) return;
  const sig = JSON.stringify(body);
  if (sig === state.rendered.detail) return;
  state.rendered.detail = sig;
  renderDetail(body);
}

function select(id: string): void {
  state.selected = id;
  state.rendered.detail = '';
  for (const tr of tbody('events').rows) tr.classList.toggle('selected', tr.dataset.id === id);
  state.rendered.events = JSON.stringify([state.live?.events, id]);
  byId('detail').replaceChildren(h('p', { class: 'empty' }, 'Loading…'));
  void loadDetail().catch((e: unknown) => byId('detail').replaceChildren(h('p', {}, `Could not load the event: ${String(e)}`)));
}

tbody('events').addEventListener('click', (e) => {
  const tr = (e.target as Element).closest('tr');
  if (tr?.dataset.id) select(tr.dataset.id);
});
tbody('events').addEventListener('keydown', (e) => {
  const tr = (e.target as Element).closest('tr');
  if (e.key === 'Enter' && tr?.dataset.id) select(tr.dataset.id);
});

// ------------------------------------------------------------------------------------------------ try

function renderTry(result: TryResult | { error: string }, destination: string): void {
  const box = byId('try-result');
  box.hidden = false;
  if ('error' in result) {
    box.replaceChildren(h('h3', {}, `Try ${destination}`), h('p', {}, result.error));
    return;
  }
  const verdict =
    result.outcome === 'accepted' ? 'delivered' : result.outcome === 'dry-run' ? 'dry-run' : result.outcome === 'retryable' ? 'pending' : result.outcome === 'skipped' ? 'skipped' : 'rejected';
  const parts: Child[] = [
    h(
      'h3',
      {},
      `Try ${result.destination}: ${result.eventName}${result.vendorEvent ? ` → ${result.vendorEvent}` : ''} `,
      chip(verdict, result.outcome),
      result.durationMs !== undefined ? h('span', { class: 'muted' }, ` ${result.durationMs} ms`) : null,
    ),
    result.message ? h('p', { class: 'reason' }, result.message) : null,
    result.request ? h('div', {}, h('h3', {}, result.dryRun ? 'Request (dry run: not sent)' : 'Request sent'), h('pre', { class: 'request' }, result.request)) : null,
    result.response
      ? h('div', {}, h('h3', {}, `Vendor's answer (HTTP ${result.response.status})`), h('pre', { class: 'response' }, result.response.body || '(empty)'))
      : null,
    h('details', {}, h('summary', {}, 'Sample event'), h('pre', {}, json(result.event))),
  ];
  box.replaceChildren(...parts.filter((p): p is Node => p instanceof Node));
}

tbody('destinations').addEventListener('click', (e) => {
  const button = (e.target as Element).closest('button.try') as HTMLButtonElement | null;
  const name = button?.dataset.destination;
  if (!button || !name || state.trying.has(name)) return;
  if (button.dataset.mode === 'live' && !confirm(`Send a sample ${button.dataset.event ?? 'event'} to ${name}? It is sent for real: ${name} records it as a conversion.`)) return;
  state.trying.add(name);
  if (state.live) render(state.live);
  void (async () => {
    try {
      const res = await fetch(`/debug/api/try/${encodeURIComponent(name)}`, { method: 'POST', headers: { 'x-tagrelay-debug': '1', accept: 'application/json' } });
      renderTry((await res.json()) as TryResult | { error: string }, name);
    } catch (err) {
      renderTry({ error: `the try failed: ${String(err)}` }, name);
    } finally {
      state.trying.delete(name);
      if (state.live) render(state.live);
    }
  })();
});

// ------------------------------------------------------------------------------------------------ poll

function status(kind: 'ok' | 'error' | 'paused', message: string): void {
  const el = byId('live-status');
  el.className = kind;
  el.textContent = message;
}

async function poll(): Promise<void> {
  const seq = ++state.seq;
  const params = filterParams();
  // The page's URL carries the filters: a filtered view can be bookmarked or shared.
  const search = params.toString() ? `?${params}` : '';
  if (search !== location.search) history.replaceState(null, '', `${location.pathname}${search}`);
  try {
    const res = await fetch(`/debug/api/live?${params}`, { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (seq !== state.seq) return;
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: string };
      status('error', `HTTP ${res.status}${body.error ? `: ${body.error}` : ''}`);
    } else {
      render((await res.json()) as Live);
      if (state.selected) await loadDetail();
      status(state.paused ? 'paused' : 'ok', `${state.paused ? 'paused' : 'live'} · ${clock(Date.now())}`);
    }
  } catch (e) {
    if (seq === state.seq) status('error', `cannot reach the collector: ${String(e)}`);
  } finally {
    if (seq === state.seq && !state.paused) {
      clearTimeout(state.timer);
      state.timer = window.setTimeout(() => void poll(), POLL_MS);
    }
  }
}

/** The filters changed: poll now. */
function refresh(): Promise<void> {
  clearTimeout(state.timer);
  return poll();
}

byId<HTMLButtonElement>('pause').addEventListener('click', (e) => {
  state.paused = !state.paused;
  (e.target as HTMLButtonElement).textContent = state.paused ? 'Resume' : 'Pause';
  clearTimeout(state.timer);
  if (state.paused) status('paused', 'paused');
  else void poll();
});

// ------------------------------------------------------------------------------------------------ start

fillFiltersFromUrl();
const initial = document.getElementById('tagrelay-initial')?.textContent;
if (initial) {
  render(JSON.parse(initial) as Live);
  fillFiltersFromUrl(); // the select options exist now
  status('ok', `live · ${clock(Date.now())}`);
}
state.timer = window.setTimeout(() => void poll(), POLL_MS);
