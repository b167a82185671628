import type { RequestContext } from '../event.js';
import type { NewEvent } from './types.js';

/** What joins an event's JSON, less its closing brace, to its request's context in a stored body. */
export const CONTEXT_KEY = ',"context":';

/**
 * What every store keeps of each event, in its two parts: its JSON as it arrived (as `JSON.stringify` writes it: the
 * text that arrived, when /collect found it written so) less the closing brace, which is what its digest
 * covers (so that an id sent again with other content is told apart from a repeat); and the request's
 * `context` as JSON, made once for the events that share one. The body is
 * `${content}${CONTEXT_KEY}${context}}`.
 */
export function storedBodyParts(events: readonly NewEvent[]): { contents: string[]; contexts: string[] } {
  const contents: string[] = [];
  const contexts: string[] = [];
  let context: RequestContext | undefined;
  let contextJson = '';
  for (const e of events) {
    if (e.context !== context) contextJson = JSON.stringify((context = e.context));
    contents.push((e.json ?? JSON.stringify(e.event)).slice(0, -1));
    contexts.push(contextJson);
  }
  return { contents, contexts };
}
