/** A random id matching the collector's `^[A-Za-z0-9_.:-]{8,64}$`: a UUID where the browser has one. */
export const uuid = (): string => {
  try {
    return crypto.randomUUID();
  } catch {
    // http:// pages have no randomUUID
    return Math.random() + '' + Date.now();
  }
};
