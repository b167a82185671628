/**
 * 128 random bits from `crypto.getRandomValues` (there on http:// pages too, where `crypto.randomUUID` is not):
 * four 32-bit numbers in decimal, between dots (7 to 43 characters). The visitor's and a tab's id, and an event
 * id's end (track.ts).
 */
export const uuid = (): string => crypto.getRandomValues(new Uint32Array(4)).join('.');
