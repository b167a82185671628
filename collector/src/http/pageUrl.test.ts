import { describe, expect, it } from 'vitest';
import { urlCleaner } from './pageUrl.js';

describe('urlCleaner', () => {
  const clean = urlCleaner(['variant']);
  it.each([
    ['https://shop.example/checkout', 'https://shop.example/checkout'],
    ['https://shop.example/reset?token=s3cret&email=ann%40example.com', 'https://shop.example/reset'],
    ['https://shop.example/cb#access_token=abc&state=1', 'https://shop.example/cb'],
    [
      'https://shop.example/p?utm_source=news&email=a@b.example&irclickid=Xy%2Fz&variant=b&gclid=G1#frag',
      'https://shop.example/p?utm_source=news&irclickid=Xy%2Fz&variant=b&gclid=G1',
    ],
    ['https://shop.example/p?&&ndclid=n1&', 'https://shop.example/p?ndclid=n1'],
    ['https://shop.example/p?%E0%A4%A=1&clickid=c', 'https://shop.example/p?clickid=c'], // a name that does not decode
  ])('%s → %s', (url, expected) => {
    expect(clean(url)).toBe(expected);
  });
});
