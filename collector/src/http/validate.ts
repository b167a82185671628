import { firstIssue } from '../firstIssue.js';
import { eventTexts, type EventTexts } from './eventTexts.js';
import { bodyLimits, collectEnvelopeSchema, eventSchema, isValidEvent, type TrackedEvent } from '../event.js';

/** A client error: answered with its status and `{error: message}`. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly status: number,
    message: string,
    /** The refused event, when the body held one event that could be read. */
    readonly event?: { id?: string; name?: string },
  ) {
    super(message);
  }
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface PathNode {
  up?: PathNode;
  key: string | number;
}

function pathOf(node: PathNode | undefined, key?: string | number): string {
  const parts: (string | number)[] = key === undefined ? [] : [key];
  for (let n = node; n; n = n.up) parts.unshift(n.key);
  return parts.join('.') || 'body';
}

/**
 * Text no store can keep: a NUL, or half of a surrogate pair (PostgreSQL refuses both in text and jsonb,
 * so an event holding one would be stored and then fail every later statement that reads it as JSON,
 * its results among them). JSON can carry them only as `\u` escapes: a body without one is not looked at.
 */
function unstorable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return true;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

const UNSTORABLE = 'holds a NUL character or half of a surrogate pair';

/**
 * One pass over every value: nesting, string, array and key lengths, text a store can keep, finite numbers,
 * and no key that could reach an object's prototype. Recursive: the depth is checked before each step down,
 * so the stack is never deeper than the limit. Nothing is allocated for a value (a path node for each object
 * or array only): this runs over every value of every event, and a list of pending values made about a third
 * of what /collect allocated. Returns how many keys the value holds, at any depth.
 */
function checkValues(
  value: unknown,
  depth: number,
  parent: PathNode | undefined,
  key: string | number | undefined,
  escapes: boolean,
): number {
  if (typeof value === 'string') {
    if (value.length > bodyLimits.string) {
      throw new ClientError(422, `${pathOf(parent, key)}: longer than ${bodyLimits.string} characters`);
    }
    if (escapes && unstorable(value)) throw new ClientError(422, `${pathOf(parent, key)}: ${UNSTORABLE}`);
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ClientError(422, `${pathOf(parent, key)}: number out of range`);
  } else if (value !== null && typeof value === 'object') {
    if (depth > bodyLimits.depth) throw new ClientError(400, `body is nested deeper than ${bodyLimits.depth} levels`);
    const node = key === undefined ? undefined : { up: parent, key };
    let keys = 0;
    if (Array.isArray(value)) {
      if (value.length > bodyLimits.array)
        throw new ClientError(422, `${pathOf(node)}: more than ${bodyLimits.array} items`);
      for (let i = 0; i < value.length; i++) keys += checkValues(value[i], depth + 1, node, i, escapes);
    } else {
      for (const k in value) {
        if (FORBIDDEN_KEYS.has(k)) throw new ClientError(400, `key "${k}" is not allowed`);
        if (k.length > bodyLimits.key) {
          throw new ClientError(422, `${pathOf(node)}: a key is longer than ${bodyLimits.key} characters`);
        }
        if (escapes && unstorable(k)) throw new ClientError(422, `${pathOf(node)}: a key ${UNSTORABLE}`);
        keys += 1 + checkValues((value as Record<string, unknown>)[k], depth + 1, node, k, escapes);
      }
    }
    return keys;
  }
  return 0;
}

/** A checked batch: the valid events, and the position and reason of each event that is not. */
export interface CheckedBatch {
  events: TrackedEvent[];
  /**
   * The text of `events[i]` as it arrived, when that is what `JSON.stringify` writes for it (see
   * eventTexts.ts): what the store keeps, unless the event is changed before it is stored. The body is
   * scanned at the first call, so a batch whose events all change costs no scan.
   */
  arrivedText(i: number): string | undefined;
  /** Where each of `events` stood in the body's `events`. */
  positions: number[];
  rejected: { index: number; error: string }[];
  /** The id and name of each refused event, by position, where they could be read (for /debug). */
  refusedEvents?: Map<number, { id?: string; name?: string }>;
}

/** An event's id and name, when they are short strings, to show what was refused. */
function idAndName(candidate: unknown): { id?: string; name?: string } {
  const c = (candidate && typeof candidate === 'object' ? candidate : {}) as { id?: unknown; name?: unknown };
  const short = (v: unknown) => (typeof v === 'string' ? v.slice(0, 64) : undefined);
  return { id: short(c.id), name: short(c.name) };
}

/**
 * Turns the raw `/collect` body into a checked batch, or throws a ClientError that says what is
 * wrong. A body that is broken as a whole is refused; otherwise each event is checked on its own,
 * so one bad event does not lose the others (a beacon never hears a refusal). A batch with no
 * valid event is refused with the first event's problem.
 */
export function parseCollectBody(raw: Buffer): CheckedBatch {
  if (raw.length === 0) throw new ClientError(400, 'empty body: expected {"v":1,"events":[...]}');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ClientError(400, 'body is not valid UTF-8');
  }
  // Only a \u escape can put a NUL or half a surrogate pair into a string (see unstorable).
  const escapes = text.includes('\\u');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ClientError(400, `body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
  // Each event's values are checked with the event, so one bad event is refused alone (its neighbours
  // are stored); what is around the events is checked as a whole.
  const events = (json as { events?: unknown } | null)?.events;
  const perEvent = json !== null && typeof json === 'object' && !Array.isArray(json) && Array.isArray(events);
  if (perEvent) {
    for (const k in json as object) if (FORBIDDEN_KEYS.has(k)) throw new ClientError(400, `key "${k}" is not allowed`);
    if (events.length > bodyLimits.array) throw new ClientError(422, `events: more than ${bodyLimits.array} items`);
  } else checkValues(json, 0, undefined, undefined, escapes);
  const envelope = collectEnvelopeSchema.safeParse(json);
  if (!envelope.success) throw new ClientError(422, firstIssue(envelope.error, [], 'body').slice(0, 500));
  /** Keys each kept event holds at any depth, to tell a text with a repeated key. */
  const keyCounts: number[] = [];
  let arrived: EventTexts | undefined | null = perEvent ? null : undefined;
  const batch: CheckedBatch = {
    events: [],
    positions: [],
    rejected: [],
    arrivedText(i) {
      if (arrived === null) {
        arrived = eventTexts(text);
        if (arrived && arrived.texts.length !== (events as unknown[]).length) arrived = undefined;
      }
      const at = batch.positions[i]!;
      // A text with more keys than its event: a key repeated, of which the event keeps the last.
      return arrived && arrived.keys[at] === keyCounts[i] ? arrived.texts[at] : undefined;
    },
  };
  const refusedIds = new Map<number, { id?: string; name?: string }>();
  let firstStatus: number | undefined;
  envelope.data.events.forEach((candidate, index) => {
    let keys: number;
    try {
      keys = checkValues(candidate, 2, { key: 'events' }, index, escapes);
    } catch (e) {
      if (!(e instanceof ClientError)) throw e;
      batch.rejected.push({ index, error: e.message.replace(/^body is/, `events.${index} is`) });
      refusedIds.set(index, idAndName(candidate));
      if (firstStatus === undefined) firstStatus = e.status;
      return;
    }
    // The schema is strict and transforms nothing, so a valid event is the parsed value itself; keeping
    // that rather than zod's copy saves a copy per event, and JSON.parse's objects serialise faster.
    // The plain check first; the schema for what it refuses, to say why (or take it after all).
    const event = isValidEvent(candidate) ? undefined : eventSchema.safeParse(candidate);
    if (!event || event.success) {
      batch.events.push(candidate as TrackedEvent);
      keyCounts.push(keys);
      batch.positions.push(index);
    } else {
      batch.rejected.push({ index, error: firstIssue(event.error, ['events', index]).slice(0, 500) });
      refusedIds.set(index, idAndName(candidate));
      if (firstStatus === undefined) firstStatus = 422;
    }
  });
  // No event to keep: the whole request is refused, with the first event's problem and status.
  if (batch.events.length === 0) throw new ClientError(firstStatus ?? 422, batch.rejected[0]!.error, refusedIds.get(0));
  batch.refusedEvents = refusedIds;
  return batch;
}
