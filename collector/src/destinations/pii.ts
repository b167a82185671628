import { hash } from 'node:crypto';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';

/**
 * The one place personal data is normalised and hashed, so every destination does it the same way.
 * Every normaliser returns undefined for a value it cannot normalise: the field is then left out
 * rather than sent in a shape the vendor cannot match.
 */

// One-shot hashes, as emailKey and the SQLite writer use: no Hash object per value (every delivery's
// recording hashes each personal value twice).
export const sha256Hex = (value: string): string => hash('sha256', value, 'hex');
export const sha1Hex = (value: string): string => hash('sha1', value, 'hex');

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Trimmed and lowercased; undefined when empty. */
export function normaliseText(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const v = String(value).trim().toLowerCase();
  return v || undefined;
}

/** A trimmed email address as written (Chase matches it as is); undefined when it is not an address. */
export function trimmedEmail(value: unknown): string | undefined {
  const v = typeof value === 'string' ? value.trim() : '';
  return EMAIL.test(v) && v.length <= 320 ? v : undefined;
}

/** Trimmed, lowercased email address, as vendors hash it; undefined when it is not an address. */
export const normaliseEmail = (value: unknown): string | undefined => trimmedEmail(value)?.toLowerCase();

/** Whether a value looks like an email address (used to keep emails out of id fields). */
export const looksLikeEmail = (value: string): boolean => EMAIL.test(value.trim());

/** First and last names, city and street: trimmed and lowercased. */
export const normaliseName = normaliseText;

// ISO 3166-1 alpha-2 codes.
const ALPHA2 = new Set(
  ('AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO ' +
    'FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE ' +
    'JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO ' +
    'MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW ' +
    'PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM ' +
    'TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW')
    .toLowerCase()
    .split(' '),
);

// Common alpha-3 codes and English names; anything else must be sent as alpha-2.
const COUNTRY_ALIASES: Record<string, string> = {
  usa: 'us', 'united states': 'us', 'united states of america': 'us', 'u.s.': 'us', 'u.s.a.': 'us', america: 'us',
  can: 'ca', canada: 'ca', gbr: 'gb', uk: 'gb', 'united kingdom': 'gb', 'great britain': 'gb', england: 'gb',
  irl: 'ie', ireland: 'ie', fra: 'fr', france: 'fr', deu: 'de', germany: 'de', esp: 'es', spain: 'es',
  ita: 'it', italy: 'it', nld: 'nl', netherlands: 'nl', bel: 'be', belgium: 'be', che: 'ch', switzerland: 'ch',
  aut: 'at', austria: 'at', swe: 'se', sweden: 'se', nor: 'no', norway: 'no', dnk: 'dk', denmark: 'dk',
  fin: 'fi', finland: 'fi', pol: 'pl', poland: 'pl', prt: 'pt', portugal: 'pt', aus: 'au', australia: 'au',
  nzl: 'nz', 'new zealand': 'nz', mex: 'mx', mexico: 'mx', bra: 'br', brazil: 'br', ind: 'in', india: 'in',
  jpn: 'jp', japan: 'jp', chn: 'cn', china: 'cn', sgp: 'sg', singapore: 'sg', zaf: 'za', 'south africa': 'za',
  isr: 'il', israel: 'il', are: 'ae', 'united arab emirates': 'ae', kor: 'kr', 'south korea': 'kr',
};

/** ISO 3166-1 alpha-2, lowercase (`us`); accepts alpha-2 in any case and common alpha-3 codes and names. */
export function normaliseCountry(value: unknown): string | undefined {
  const v = normaliseText(value);
  if (!v) return undefined;
  if (ALPHA2.has(v)) return v;
  return COUNTRY_ALIASES[v];
}

const US_STATES: Record<string, string> = {
  alabama: 'al', alaska: 'ak', arizona: 'az', arkansas: 'ar', california: 'ca', colorado: 'co', connecticut: 'ct',
  delaware: 'de', 'district of columbia': 'dc', florida: 'fl', georgia: 'ga', hawaii: 'hi', idaho: 'id',
  illinois: 'il', indiana: 'in', iowa: 'ia', kansas: 'ks', kentucky: 'ky', louisiana: 'la', maine: 'me',
  maryland: 'md', massachusetts: 'ma', michigan: 'mi', minnesota: 'mn', mississippi: 'ms', missouri: 'mo',
  montana: 'mt', nebraska: 'ne', nevada: 'nv', 'new hampshire': 'nh', 'new jersey': 'nj', 'new mexico': 'nm',
  'new york': 'ny', 'north carolina': 'nc', 'north dakota': 'nd', ohio: 'oh', oklahoma: 'ok', oregon: 'or',
  pennsylvania: 'pa', 'rhode island': 'ri', 'south carolina': 'sc', 'south dakota': 'sd', tennessee: 'tn',
  texas: 'tx', utah: 'ut', vermont: 'vt', virginia: 'va', washington: 'wa', 'west virginia': 'wv',
  wisconsin: 'wi', wyoming: 'wy', 'puerto rico': 'pr',
};
const US_STATE_CODES = new Set(Object.values(US_STATES));

/**
 * State or region as 2 lowercase letters (`ca`). US state names become their code; a US value that
 * is no state is dropped; elsewhere a 2-letter code is kept and anything longer is dropped.
 */
export function normaliseState(value: unknown, country?: string): string | undefined {
  const v = normaliseText(value)?.replace(/\s+/g, ' ').replace(/\.$/, '');
  if (!v) return undefined;
  if (country === 'us' || country === undefined) {
    const code = US_STATES[v] ?? (US_STATE_CODES.has(v) ? v : undefined);
    if (code || country === 'us') return code;
  }
  return /^[a-z]{2}$/.test(v) ? v : undefined;
}

/** Postal code: US → the first 5 digits; elsewhere lowercase without spaces or dashes. */
export function normaliseZip(value: unknown, country?: string): string | undefined {
  const v = normaliseText(value);
  if (!v) return undefined;
  if (country === 'us' || (country === undefined && /^\d{5}(-\d{4})?$/.test(v))) {
    const m = /^(\d{5})(?:-?\d{4})?$/.exec(v.replace(/\s+/g, ''));
    return m ? m[1] : undefined;
  }
  const compact = v.replace(/[\s-]+/g, '');
  return /^[a-z0-9]{2,10}$/.test(compact) ? compact : undefined;
}

/** Date of birth as YYYYMMDD from `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD` (a real date, 1900 onwards). */
export function normaliseDateOfBirth(value: unknown): string | undefined {
  const v = normaliseText(value);
  const m = v && /^(\d{4})[-/.]?(\d{2})[-/.]?(\d{2})$/.exec(v);
  if (!m) return undefined;
  const [, y, mo, d] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (date.getUTCFullYear() !== Number(y) || date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) return undefined;
  if (Number(y) < 1900) return undefined;
  return `${y}${mo}${d}`;
}

/**
 * `m` or `f` (from m/male/f/female in any case), and `o` (from o/other) for a vendor that documents it
 * (`other`: Nextdoor); anything else is dropped.
 */
export function normaliseGender(value: unknown, other = false): string | undefined {
  const v = normaliseText(value);
  if (v === 'm' || v === 'male') return 'm';
  if (v === 'f' || v === 'female') return 'f';
  if (other && (v === 'o' || v === 'other')) return 'o';
  return undefined;
}

/**
 * A phone number in E.164 (`+15551234567`), parsed with libphonenumber-js (Google's libphonenumber
 * metadata): `+44 (0) 20 7946 0958` is `+442079460958`. A number written with `+` or `00` carries its
 * country code; any other is a national number of `country` (alpha-2, from the address or the
 * collector's `defaultCountry`). Undefined when it cannot be a number of that country (an unknown
 * country code, too few or too many digits).
 */
export function normalisePhone(value: unknown, country?: string): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const written = String(value).trim().replace(/^00/, '+');
  if (!/^\+?[\d\s().\-/]+(?:\s*(?:ext\.?|x|#)\s*\d+)?$/i.test(written)) return undefined;
  const region = normaliseCountry(country)?.toUpperCase() as CountryCode | undefined;
  const phone = parsePhoneNumberFromString(written, region);
  return phone?.isPossible() ? phone.number : undefined;
}

/** Normalised personal data, plain text: hash with `sha256Hex` / `sha1Hex` before it leaves. */
export interface UserData {
  email?: string;
  phone?: string;
  firstName?: string;
  lastName?: string;
  street?: string;
  city?: string;
  state?: string;
  zip?: string;
  country?: string;
  dateOfBirth?: string;
  gender?: string;
}

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
const asRecord = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** The email address an event's `properties.user_data` gives, as written (the first of a GA4 array). */
export const givenEmail = (properties: Record<string, unknown> | undefined): unknown => first(asRecord(properties?.user_data)?.email);

/** What a vendor takes beyond the common normalisation. */
export interface UserDataOptions {
  /** Gender `o` (other) is kept (Nextdoor); otherwise only `m` and `f`. */
  otherGender?: boolean;
}

/**
 * Reads `properties.user_data` (GA4's shape: `email`, `phone_number`, `address {first_name,
 * last_name, street, city, region, postal_code, country}`; GA4 arrays take their first entry; also
 * `date_of_birth` and `gender`) and normalises every field. The phone number uses the address
 * country, else `defaultCountry`.
 */
export function userData(properties: Record<string, unknown> | undefined, defaultCountry?: string, options: UserDataOptions = {}): UserData {
  const ud = asRecord(properties?.user_data);
  if (!ud) return {};
  const address = asRecord(first(ud.address)) ?? {};
  const country = normaliseCountry(address.country);
  const out: UserData = {
    email: normaliseEmail(givenEmail(properties)),
    phone: normalisePhone(first(ud.phone_number), country ?? normaliseCountry(defaultCountry)),
    firstName: normaliseName(address.first_name ?? ud.first_name),
    lastName: normaliseName(address.last_name ?? ud.last_name),
    street: normaliseText(address.street),
    city: normaliseText(address.city),
    state: normaliseState(address.region, country),
    zip: normaliseZip(address.postal_code, country),
    country,
    dateOfBirth: normaliseDateOfBirth(ud.date_of_birth),
    gender: normaliseGender(ud.gender, options.otherGender),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as UserData;
}

/**
 * Every form an event's personal data can take in a vendor request: each string in
 * `properties.user_data` as written, trimmed and lowercased, its normalised value (the phone in
 * E.164, …), and the SHA-256 and SHA-1 hex of that. Used to keep recorded requests free of personal data.
 */
export function personalDataForms(properties: Record<string, unknown> | undefined, defaultCountry?: string): string[] {
  const forms = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string' || typeof v === 'number') {
      const s = String(v);
      for (const f of [s, s.trim(), s.trim().toLowerCase()]) if (f.length >= 4) forms.add(f);
    } else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(properties?.user_data);
  // Every vendor's normalisation: the widest (gender `o` too) includes the others' values.
  for (const value of Object.values(userData(properties, defaultCountry, { otherGender: true }))) {
    if (value.length >= 4) forms.add(value);
    forms.add(sha256Hex(value));
    forms.add(sha1Hex(value));
  }
  return [...forms];
}
