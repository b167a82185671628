/**
 * A random id matching the collector's `^[A-Za-z0-9_.:-]{8,64}$`: a UUID where the browser has
 * `crypto.randomUUID` (secure contexts only), else 128 random bits from `crypto.getRandomValues`
 * (available on http:// pages too): four random 32-bit numbers, in decimal, after `r.` and
 * between dots (10 to 46 characters).
 */
export const uuid = (): string => {
  // randomUUID is not there at all outside secure contexts
  return crypto.randomUUID?.() || 'r.' + crypto.getRandomValues(new Uint32Array(4)).join('.');
};
