import { collectBodySchema, type CollectBody } from '../event.js';

/** A client error: answered with its status and `{error: message}`. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 8;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Refuses nesting deeper than MAX_DEPTH and keys that could reach an object's prototype, without recursion. */
function checkShape(root: unknown): void {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_DEPTH) throw new ClientError(400, `body is nested deeper than ${MAX_DEPTH} levels`);
    for (const k of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(k)) throw new ClientError(400, `key "${k}" is not allowed`);
      stack.push([(value as Record<string, unknown>)[k], depth + 1]);
    }
  }
}

/** Turns the raw `/collect` body into a checked batch, or throws a ClientError that says what is wrong. */
export function parseCollectBody(raw: Buffer): CollectBody {
  if (raw.length === 0) throw new ClientError(400, 'empty body: expected {"v":1,"events":[...]}');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ClientError(400, 'body is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ClientError(400, `body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
  checkShape(json);
  const parsed = collectBodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'body';
    throw new ClientError(422, `${where}: ${issue.message}`.slice(0, 500));
  }
  return parsed.data;
}
