import type { RequestContext } from '../event.js';
import type { NewEvent } from './types.js';

/**
 * What every store keeps of each event: its JSON as it arrived (as `JSON.stringify` writes it: the text
 * that arrived, when /collect found it written so), then the request's `context` (made once for the
 * events that share one), and where the event as it arrived ends in that text (what its digest covers,
 * so that an id sent again with other content is told apart from a repeat).
 */
export function storedBodies(events: readonly NewEvent[]): { bodies: string[]; contentLengths: number[] } {
  const bodies: string[] = [];
  const contentLengths: number[] = [];
  let context: RequestContext | undefined;
  let contextJson = '';
  for (const e of events) {
    if (e.context !== context) contextJson = JSON.stringify((context = e.context));
    const json = e.json ?? JSON.stringify(e.event);
    bodies.push(`${json.slice(0, -1)},"context":${contextJson}}`);
    contentLengths.push(json.length - 1);
  }
  return { bodies, contentLengths };
}
