/**
 * Query parameters a page URL keeps when it is stored or forwarded: campaign tags and ad click ids.
 * Anything else in a query (an email, a reset token, a session id) and the fragment (OAuth tokens)
 * is dropped before the event is stored.
 */
export const CLICK_ID_PARAMS = [
  'click_id', 'clickid', 'irclickid', 'im_ref', 'ndclid', // the tag's own (impact, Nextdoor, generic)
  'gclid', 'gbraid', 'wbraid', 'dclid', 'fbclid', 'msclkid', 'ttclid', 'twclid', 'li_fat_id', 'epik', 'sccid',
];

/**
 * A function that cuts a URL down to origin, path and the allowed query parameters (`utm_*`, click
 * ids and `extra`), never the fragment. Parameters are kept as written (their encoding untouched) and
 * in their order. A URL without `?` or `#` is returned as it is, with no work.
 */
export function urlCleaner(extra: readonly string[] = []): (url: string) => string {
  const allowed = new Set([...CLICK_ID_PARAMS, ...extra]);
  const keep = (name: string) => name.startsWith('utm_') || allowed.has(name);
  return (url) => {
    const hash = url.indexOf('#');
    const noHash = hash < 0 ? url : url.slice(0, hash);
    const q = noHash.indexOf('?');
    if (q < 0) return noHash;
    const kept = noHash
      .slice(q + 1)
      .split('&')
      .filter((pair) => {
        const eq = pair.indexOf('=');
        const raw = eq < 0 ? pair : pair.slice(0, eq);
        let name: string;
        try {
          name = decodeURIComponent(raw.replace(/\+/g, ' '));
        } catch {
          return false;
        }
        return pair !== '' && keep(name);
      });
    return kept.length ? `${noHash.slice(0, q)}?${kept.join('&')}` : noHash.slice(0, q);
  };
}
