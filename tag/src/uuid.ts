/**
 * 128 random bits from `crypto.getRandomValues` (there on http:// pages too, where `crypto.randomUUID` is not):
 * four 32-bit numbers in base 36, between dots (7 to 31 characters; in decimal they took 7 to 43, and 200 events
 * no longer fitted in one beacon). The visitor's and a tab's id, and an event id's end (track.ts).
 */
export const uuid = (): string => [...crypto.getRandomValues(new Uint32Array(4))].map((n) => n.toString(36)).join('.');
