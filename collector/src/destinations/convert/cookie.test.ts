import { describe, expect, it } from 'vitest';
import { cookieOf, parseConvertCookie } from './cookie.js';

// Convert's own example value (https://support.convert.com/hc/en-us/articles/204495429-convert-experiences-tracking-cookies-structure).
const EXAMPLE =
  'vi:1374074822644-0.8675333885475993*sc:2*cs:1374079443*fs:1374074823*pv:4*exp:{10001236.{v.10008683-g.{10001841.1}}-10001237.{v.10008687-g.{10001841.1}}}*ps:1374074823';

describe('parseConvertCookie (_conv_v)', () => {
  it("reads Convert's example: the visitor id and each experience's variation", () => {
    expect(parseConvertCookie(EXAMPLE)).toEqual({
      visitorId: '1374074822644-0.8675333885475993',
      bucketing: { '10001236': '10008683', '10001237': '10008687' },
    });
  });

  it('reads a URI-encoded value as document.cookie may give it', () => {
    expect(parseConvertCookie(encodeURIComponent(EXAMPLE))).toEqual(parseConvertCookie(EXAMPLE));
  });

  it('vi:1 is no visitor id (Convert keeps none for the visitor)', () => {
    expect(parseConvertCookie('vi:1*sc:1*exp:{100.{v.200}}')).toEqual({ bucketing: { '100': '200' } });
  });

  it('an experience without a variation, or with non-numeric ids, is left out', () => {
    expect(parseConvertCookie('exp:{100.{g.{5.1}}-abc.{v.1}-101.{v.x1}-102.{v.7}}')?.bucketing).toEqual({ '102': '7' });
    expect(parseConvertCookie('exp:{}')).toEqual({ bucketing: {} });
  });

  it.each([
    ['no pieces', ''],
    ['garbage', '%%%{{{'],
    ['an unbalanced exp', 'vi:abc-1*exp:{100.{v.200}'],
    ['an exp with trailing text', 'exp:{100.{v.200}}x'],
    ['an exp atom only', 'exp:100'],
    ['deep nesting', `exp:${'{a.'.repeat(20)}1${'}'.repeat(20)}`],
  ])('never fails on %s', (_, raw) => {
    const c = parseConvertCookie(raw);
    expect(c === undefined || Object.keys(c.bucketing).length === 0).toBe(true);
  });

  it('keeps the visitor id when exp does not parse', () => {
    expect(parseConvertCookie('vi:abc-1*exp:{100.{v.200}')).toEqual({ visitorId: 'abc-1', bucketing: {} });
  });

  it('ignores non-strings, huge values, and visitor ids that are emails or hold spaces', () => {
    expect(parseConvertCookie(42)).toBeUndefined();
    expect(parseConvertCookie({ vi: 'x' })).toBeUndefined();
    expect(parseConvertCookie('vi:' + 'x'.repeat(5000))).toBeUndefined();
    expect(parseConvertCookie('vi:a@b.example')?.visitorId).toBeUndefined();
    expect(parseConvertCookie('vi:a b')?.visitorId).toBeUndefined();
    expect(parseConvertCookie('vi:' + 'x'.repeat(257))?.visitorId).toBeUndefined();
  });

  it('takes at most 100 experiences', () => {
    const exp = Array.from({ length: 150 }, (_, i) => `${1000 + i}.{v.${i + 1}}`).join('-');
    expect(Object.keys(parseConvertCookie(`exp:{${exp}}`)!.bucketing)).toHaveLength(100);
  });
});

describe('cookieOf', () => {
  it('reads properties.cookies[name] when it is a string', () => {
    expect(cookieOf({ cookies: { _conv_v: 'vi:x', _fbp: 'fb.1' } }, '_conv_v')).toBe('vi:x');
    expect(cookieOf({ cookies: { _conv_v: 3 } }, '_conv_v')).toBeUndefined();
    expect(cookieOf({ cookies: ['vi:x'] }, '_conv_v')).toBeUndefined();
    expect(cookieOf({ cookies: 'vi:x' }, '_conv_v')).toBeUndefined();
    expect(cookieOf({}, '_conv_v')).toBeUndefined();
    expect(cookieOf(undefined, '_conv_v')).toBeUndefined();
    expect(cookieOf({ cookies: {} }, 'constructor')).toBeUndefined();
  });
});
