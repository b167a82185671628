/**
 * The text of each event of a `/collect` body as it arrived, where that text is exactly what
 * `JSON.stringify` writes for the parsed event: the store keeps that text, and taking it as it arrived
 * saves serialising every event again (a third of the CPU /collect spends on its events). The tag sends
 * what `JSON.stringify` wrote in the browser, which is that text.
 *
 * One pass over the body: strings are skipped with `indexOf`, everything between them is read. An
 * event's text is given only when nothing in it could be written otherwise:
 * - no whitespace between its tokens;
 * - no backslash in its strings (an escape could be written another way: `\/`, `\u0041`);
 * - every number as JavaScript writes it: no exponent, no `-0`, no trailing zero after a decimal point,
 *   at most 15 significant digits (so that the number it reads as prints with the same digits) and at
 *   most five zeros after `0.` (smaller numbers print with an exponent);
 * - no key that starts with a digit (an object orders integer-like keys first, whatever the text's order).
 * Duplicate keys (the object keeps the last) are caught by the caller, which compares `keys` with the
 * keys the parsed event holds.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const isDigit = (c: number) => c >= ZERO && c <= NINE;

export interface EventTexts {
  /** For each item of the body's `events`, its text when it is written as `JSON.stringify` writes it. */
  texts: (string | undefined)[];
  /** For each item, how many keys its text holds, at any depth. */
  keys: number[];
}

/**
 * Reads a number at `start` (a digit or `-`); returns where it ends, negated when JavaScript would write
 * the value it reads as otherwise.
 */
function readNumber(text: string, start: number): number {
  let i = start;
  const negative = text.charCodeAt(i) === MINUS;
  if (negative) i++;
  const intStart = i;
  while (isDigit(text.charCodeAt(i))) i++;
  const zeroInt = i - intStart === 1 && text.charCodeAt(intStart) === ZERO;
  let digits = zeroInt ? 0 : i - intStart;
  let canonical = true;
  if (text.charCodeAt(i) === DOT) {
    i++;
    const fracStart = i;
    while (isDigit(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i - 1) === ZERO) canonical = false;
    let first = fracStart;
    if (zeroInt) {
      while (text.charCodeAt(first) === ZERO) first++;
      if (first - fracStart > 5) canonical = false;
    }
    digits += i - first;
  } else if (zeroInt && negative) canonical = false;
  const c = text.charCodeAt(i);
  if (c === 0x65 || c === 0x45) {
    // e or E: an exponent, its sign and digits.
    canonical = false;
    i++;
    const sign = text.charCodeAt(i);
    if (sign === MINUS || sign === 0x2b) i++;
    while (isDigit(text.charCodeAt(i))) i++;
  }
  return canonical && digits <= 15 ? i : -i;
}

/**
 * The texts of the items of the top-level `events` array of a body that `JSON.parse` read (its last
 * `events`, as the parse keeps the last of a repeated key); undefined when the body has none.
 */
export function eventTexts(text: string): EventTexts | undefined {
  const n = text.length;
  let depth = 0;
  /** A key is next at depth 1. */
  let keyNext = false;
  /** The last key read at depth 1 is `events`. */
  let eventsKey = false;
  let inEvents = false;
  let found: EventTexts | undefined;
  let current: EventTexts | undefined;
  // The current item: where it starts, its keys, whether its text is canonical so far.
  let start = 0;
  let keys = 0;
  let canonical = true;
  let nextBackslash = text.indexOf('\\');
  if (nextBackslash < 0) nextBackslash = n;
  const endItem = (end: number) => {
    current!.texts.push(canonical && end > start ? text.slice(start, end) : undefined);
    current!.keys.push(keys);
    start = end + 1;
    keys = 0;
    canonical = true;
  };
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let end = text.indexOf('"', i + 1);
      if (end < 0) return undefined; // not JSON: JSON.parse read the body first
      if (nextBackslash < i) {
        nextBackslash = text.indexOf('\\', i);
        if (nextBackslash < 0) nextBackslash = n;
      }
      if (nextBackslash < end) {
        // An escape: the string ends at the first quote that is not escaped.
        canonical = false;
        end = i + 1;
        for (let e = text.charCodeAt(end); e !== QUOTE; e = text.charCodeAt(end)) {
          end += e === BACKSLASH ? 2 : 1;
          if (end >= n) return undefined;
        }
      }
      if (depth === 1 && keyNext) {
        eventsKey = end - i === 7 && text.startsWith('events', i + 1);
        keyNext = false;
      }
      if (text.charCodeAt(end + 1) === COLON) {
        // A key, and its colon.
        if (inEvents) {
          keys++;
          if (isDigit(text.charCodeAt(i + 1))) canonical = false;
        }
        i = end + 2;
      } else i = end + 1;
    } else if (c === COLON) {
      if (inEvents) keys++;
      i++;
    } else if (c === COMMA) {
      if (depth === 1) keyNext = true;
      else if (inEvents && depth === 2) endItem(i);
      i++;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth === 1) keyNext = c === OPEN_OBJECT;
      else if (depth === 2 && c === OPEN_ARRAY && eventsKey) {
        inEvents = true;
        current = { texts: [], keys: [] };
        start = i + 1;
        keys = 0;
        canonical = true;
      }
      i++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (inEvents && depth === 2) {
        // `[]` has no item.
        if (i > start || current!.texts.length) endItem(i);
        inEvents = false;
        found = current;
      }
      if (depth === 1) eventsKey = false;
      depth--;
      i++;
    } else if (c === MINUS || isDigit(c)) {
      const end = readNumber(text, i);
      if (end < 0) canonical = false;
      i = Math.abs(end);
    } else if (c === 0x74 || c === 0x6e) {
      i += 4; // true, null
    } else if (c === 0x66) {
      i += 5; // false
    } else {
      // Whitespace.
      if (inEvents) canonical = false;
      i++;
    }
  }
  return found;
}
