/** Reading the values of an event's properties the same way for every destination. */

/** A non-empty trimmed string, or a finite number as a string; else undefined. */
export const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v.trim() ? v.trim() : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;

/** A finite number; else undefined. */
export const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** An amount with 2 decimals, as vendors write money. */
export const money = (n: number): string => n.toFixed(2);

/** An ISO 4217 currency code in capitals, from `v` written in any case; else undefined. */
export function currencyCode(v: unknown): string | undefined {
  const c = text(v);
  return c && /^[A-Za-z]{3}$/.test(c) ? c.toUpperCase() : undefined;
}

