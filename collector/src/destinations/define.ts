import { z } from 'zod';
import type { Consent, ConsentKey, StoredEvent } from '../event.js';
import { missingConsent } from './consent.js';
import { envBoolean, envNumber } from './settings.js';
import type { CommonSettings, Destination, DestinationContext, DestinationDefinition, HttpRequest, HttpResponse, Mapped } from './types.js';

export const consentKeys = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'] as const;

/** The settings every destination takes, with the vendor's consent keys as the default. */
function commonSettings(defaultConsent: ConsentKey[]) {
  return {
    enabled: envBoolean().default(true),
    /** Build and record each request (see /debug) without sending it. */
    dryRun: envBoolean().default(false),
    consent: z.array(z.enum(consentKeys)).default(defaultConsent),
    /** Events sent to this destination only once the shop's backend confirmed them (serverKeys). */
    verifiedOnly: z.array(z.string().min(1).max(64)).default([]),
    /** How long a `verifiedOnly` event waits for its confirmation before it is skipped, hours. */
    verifyWindowHours: envNumber(z.number().positive().max(24 * 30)).default(24),
  };
}

/** A destination's parsed settings: its own and the common ones. */
export type SettingsOf<Shape extends z.ZodRawShape> = z.output<z.ZodObject<Shape>> & CommonSettings;

/** What a vendor's client does once its settings are parsed: pure mapping, its request, its answer rules. */
export interface VendorClient<Route, Payload> {
  /** The event → the vendor's payload, or a reason not to send it; throws InvalidEventError for what the vendor cannot take. */
  map(event: StoredEvent, route: Route): Mapped<Payload> | Promise<Mapped<Payload>>;
  /** One request carrying 1..maxBatch payloads, with the vendor's auth. */
  request(payloads: Payload[]): HttpRequest;
  /** Throws a DeliveryError (errors.ts) for an answer that is not the vendor's success. */
  check(response: HttpResponse, request: HttpRequest): void;
}

export interface VendorSpec<Shape extends z.ZodRawShape, Route, Payload> {
  /** The config key, e.g. `chase`. */
  name: string;
  /** The vendor's own settings; `enabled`, `dryRun` and `consent` are added. */
  settings: Shape;
  /** The Consent Mode keys an event must not deny, unless the config says otherwise. */
  defaultConsent: ConsentKey[];
  /** Setting values (and forms of them, such as a Basic credential) that must never be shown. */
  secrets(settings: SettingsOf<Shape>): (string | undefined)[];
  /** Tag event name → what the vendor calls it (event name, event type, goal). */
  routes(settings: SettingsOf<Shape>): Readonly<Record<string, Route>>;
  /** The setting that holds `routes`, for operators: what to add an event to (default `events`). */
  routeSetting?: string;
  /** The vendor's name for a route, for operators (default: the route itself). */
  label?(route: Route): string;
  /** How many events one request may carry (default 1). */
  maxBatch?: number;
  /** The consent an event is judged by (default: the event's own). */
  consentOf?(event: StoredEvent, settings: SettingsOf<Shape>): Consent | undefined;
  create(settings: SettingsOf<Shape>, context: DestinationContext): VendorClient<Route, Payload>;
  /** A harmless request that succeeds only with working credentials (`tagrelay check`), when the vendor has one. */
  credentialCheck?(settings: SettingsOf<Shape>): HttpRequest;
}

export const defaultContext: DestinationContext = { defaultCountry: 'us' };

/**
 * Declares a destination. What every destination needs is written here once: the common settings,
 * the routing by event name, the consent check before mapping, the secrets to redact and `dryRun`.
 * The vendor's part is its settings, its pure mapping, its request with auth and its answer rules.
 */
export function defineDestination<Shape extends z.ZodRawShape, Route, Payload>(
  spec: VendorSpec<Shape, Route, Payload>,
): DestinationDefinition<SettingsOf<Shape>, Payload> {
  const settings = z.object({ ...spec.settings, ...commonSettings(spec.defaultConsent) }).strict() as unknown as z.ZodType<
    SettingsOf<Shape>
  >;
  return {
    name: spec.name,
    settings,
    create(s, context = defaultContext): Destination<Payload> {
      const client = spec.create(s, context);
      const routes = spec.routes(s);
      const label = spec.label ?? ((r: Route) => String(r));
      return {
        name: spec.name,
        maxBatch: spec.maxBatch ?? 1,
        dryRun: s.dryRun,
        secrets: spec.secrets(s).filter((v): v is string => !!v),
        routeSetting: spec.routeSetting ?? 'events',
        routedEvents: Object.keys(routes),
        vendorEvent: (name) => (Object.hasOwn(routes, name) ? label(routes[name]!) : undefined),
        map(stored) {
          // What the collector remembered of the visitor stands in for what the event lacks.
          const { clickIds, consent } = stored.context;
          const event =
            (clickIds && !stored.clickIds) || (consent && !stored.consent)
              ? { ...stored, clickIds: stored.clickIds ?? clickIds, consent: stored.consent ?? consent }
              : stored;
          if (s.verifiedOnly.includes(event.name) && !event.context.verified) {
            const until = event.context.receivedAt + s.verifyWindowHours * 3_600_000;
            if (Date.now() < until) return { wait: until, reason: "waiting for the shop's backend to confirm it (verifiedOnly)" };
            return { skip: `not verified: the shop's backend did not confirm it within ${s.verifyWindowHours} h (verifiedOnly)` };
          }
          const missing = missingConsent(spec.consentOf?.(event, s) ?? event.consent, s.consent);
          if (missing) return { skip: `consent: ${missing}` };
          return client.map(event, routes[event.name]!);
        },
        request: (payloads) => client.request(payloads),
        check: (response, request) => client.check(response, request),
        credentialCheck: () => spec.credentialCheck?.(s),
      };
    },
  };
}
