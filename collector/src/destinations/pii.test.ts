import { describe, expect, it } from 'vitest';
import {
  normaliseCountry,
  normaliseDateOfBirth,
  normaliseEmail,
  normaliseGender,
  normalisePhone,
  normaliseState,
  normaliseZip,
  sha1Hex,
  personalDataForms,
  sha256Hex,
  userData,
} from './pii.js';

describe('hashing: known vectors', () => {
  it('SHA-256 hex (FIPS 180-2 "abc", and values checked with coreutils sha256sum)', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('test@example.com')).toBe('973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b');
    expect(sha256Hex('+15551234567')).toBe('8a59780bb8cd2ba022bfa5ba2ea3b6e07af17a7d8b30c1f9b3390e36f69019e4');
  });
  it('SHA-1 hex (FIPS 180-1 "abc", and values checked with coreutils sha1sum)', () => {
    expect(sha1Hex('abc')).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(sha1Hex('')).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    expect(sha1Hex('test@example.com')).toBe('567159d622ffbb50b11b0efd307be358624a26ee');
  });
});

describe('normalising', () => {
  it('emails: trimmed and lowercased; non-addresses dropped', () => {
    expect(normaliseEmail('  Test@Example.COM ')).toBe('test@example.com');
    expect(sha256Hex(normaliseEmail(' Test@Example.com')!)).toBe('973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b');
    expect(normaliseEmail('not an email')).toBeUndefined();
    expect(normaliseEmail(42)).toBeUndefined();
  });

  it.each([
    ['+1 (555) 123-4567', undefined, '+15551234567'],
    ['(555) 123-4567', 'US', '+15551234567'],
    ['1-555-123-4567', 'us', '+15551234567'],
    ['555.123.4567 ext 12', 'US', '+15551234567'],
    ['020 7946 0018', 'GB', '+442079460018'],
    ['0044 20 7946 0018', undefined, '+442079460018'],
    ['030 1234567', 'de', '+49301234567'],
    ['06 12 34 56 78', 'FR', '+33612345678'],
    ['06 1234 5678', 'IT', '+390612345678'],
    ['(555) 123-4567', undefined, undefined], // national number, no country known
    // As people write them (issue 9): a "(0)" trunk prefix after the country code, fake country codes.
    ['+44 (0) 20 7946 0958', undefined, '+442079460958'],
    ['+49 (0)30 123456', undefined, '+4930123456'],
    ['+999 1234 5678', undefined, undefined],
    ['+1 (415) 555-2671', 'GB', '+14155552671'], // an international number ignores the country
    ['06 12 34 56', 'FR', undefined], // too short for France
    ['555-1234', 'US', undefined], // too short for NANP
    ['call me', 'US', undefined],
    ['+1 555 123', undefined, undefined],
  ])('phone %s (%s) → %s', (raw, country, expected) => {
    expect(normalisePhone(raw, country)).toBe(expected);
  });

  it('country: alpha-2 lowercase from codes and common names', () => {
    expect(normaliseCountry('US')).toBe('us');
    expect(normaliseCountry(' usa ')).toBe('us');
    expect(normaliseCountry('United Kingdom')).toBe('gb');
    expect(normaliseCountry('Atlantis')).toBeUndefined();
  });

  it('state: 2 letters; US names become codes', () => {
    expect(normaliseState('CA', 'us')).toBe('ca');
    expect(normaliseState('California', 'us')).toBe('ca');
    expect(normaliseState('new york', undefined)).toBe('ny');
    expect(normaliseState('Narnia', 'us')).toBeUndefined();
    expect(normaliseState('ON', 'ca')).toBe('on');
    expect(normaliseState('Bavaria', 'de')).toBeUndefined();
  });

  it('zip: US first 5 digits; elsewhere lowercase without spaces', () => {
    expect(normaliseZip('94105-1234', 'us')).toBe('94105');
    expect(normaliseZip(' 94105 ', undefined)).toBe('94105');
    expect(normaliseZip('9410', 'us')).toBeUndefined();
    expect(normaliseZip('SW1A 1AA', 'gb')).toBe('sw1a1aa');
  });

  it('date of birth: YYYYMMDD, real dates only', () => {
    expect(normaliseDateOfBirth('1990-01-02')).toBe('19900102');
    expect(normaliseDateOfBirth('19900102')).toBe('19900102');
    expect(normaliseDateOfBirth('1990/01/02')).toBe('19900102');
    expect(normaliseDateOfBirth('1990-02-30')).toBeUndefined();
    expect(normaliseDateOfBirth('02/01/1990')).toBeUndefined();
  });

  it('gender: m or f; o (other) only for a vendor that takes it', () => {
    expect(normaliseGender('Female')).toBe('f');
    expect(normaliseGender(' M ')).toBe('m');
    expect(normaliseGender('x')).toBeUndefined();
    expect(normaliseGender('O')).toBeUndefined();
    expect(normaliseGender('O', true)).toBe('o');
    expect(normaliseGender(' other ', true)).toBe('o');
    expect(normaliseGender('x', true)).toBeUndefined();
  });
});

describe('userData', () => {
  it('reads and normalises GA4 user_data, phone by the address country', () => {
    const ud = userData({
      user_data: {
        email: ' A@B.Example ',
        phone_number: '(555) 123-4567',
        address: { first_name: ' John ', last_name: 'DOE', street: '1 Main St', city: 'San Francisco', region: 'California', postal_code: '94105-1234', country: 'USA' },
        date_of_birth: '1990-01-02',
        gender: 'male',
      },
    });
    expect(ud).toEqual({
      email: 'a@b.example',
      phone: '+15551234567',
      firstName: 'john',
      lastName: 'doe',
      street: '1 main st',
      city: 'san francisco',
      state: 'ca',
      zip: '94105',
      country: 'us',
      dateOfBirth: '19900102',
      gender: 'm',
    });
  });

  it('uses defaultCountry for a national phone number when the address has none', () => {
    expect(userData({ user_data: { phone_number: '020 7946 0018' } }, 'GB')).toEqual({ phone: '+442079460018' });
    expect(userData({ user_data: { phone_number: '020 7946 0018' } })).toEqual({});
  });

  it('gender o (other) only with otherGender; recorded requests mask its hash either way', () => {
    expect(userData({ user_data: { gender: 'O' } })).toEqual({});
    expect(userData({ user_data: { gender: 'O' } }, undefined, { otherGender: true })).toEqual({ gender: 'o' });
    expect(personalDataForms({ user_data: { gender: 'O' } })).toContain(sha256Hex('o'));
  });

  it('takes the first of GA4 arrays and ignores missing user_data', () => {
    expect(userData({ user_data: { email: ['x@y.example', 'z@y.example'], address: [{ country: 'de' }] } })).toEqual({
      email: 'x@y.example',
      country: 'de',
    });
    expect(userData(undefined)).toEqual({});
    expect(userData({ user_data: 'nope' })).toEqual({});
  });
});
