import type { z } from 'zod';
import type { ConsentKey, StoredEvent } from '../event.js';

/** One HTTP request as a destination would send it: recorded as-is in dry-run mode (secrets redacted). */
export interface HttpRequest {
  method: 'POST' | 'GET';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The outcome of mapping one event: a payload to send, or a reason not to send it (consent, mapping). */
export type Mapped<P> = { payload: P } | { skip: string } | { wait: number; reason: string };

/**
 * A destination: one vendor API. Mapping is pure; auth is added in `request()` only; settings come
 * from the parsed config, never from `process.env`.
 */
export interface Destination<P = unknown> {
  /** The config key, e.g. `chase`. */
  readonly name: string;
  /** How many mapped events one request may carry (1 for vendors that take one event a request). */
  readonly maxBatch: number;
  /** Values that must never appear in a log line, the debug page or a recorded request. */
  readonly secrets: readonly string[];
  /** Record each request without sending it. */
  readonly dryRun: boolean;
  /** The setting under `destinations.<name>` that routes events here (`events`; Convert: `goals`). */
  readonly routeSetting: string;
  /** The tag event names the config sends here, in the config's order. */
  readonly routedEvents: readonly string[];
  /** The vendor's name for events of this name, or undefined when the config does not send them here. */
  vendorEvent(name: string): string | undefined;
  /** Maps one event to the vendor's payload; throws InvalidEventError when the event cannot meet the vendor's rules. */
  map(event: StoredEvent): Mapped<P> | Promise<Mapped<P>>;
  /** One HTTP request carrying 1..maxBatch payloads, with the vendor's auth. */
  request(payloads: P[]): HttpRequest;
  /** Throws a DeliveryError (errors.ts) for any answer that is not a success. */
  check(response: HttpResponse, request: HttpRequest): void;
  /** The harmless request the vendor offers to prove the credentials (tagrelay check), if it offers one. */
  credentialCheck(): HttpRequest | undefined;
}

/** Collector-wide settings a destination may use. */
export interface DestinationContext {
  /** ISO 3166-1 alpha-2 (lowercase) for phone numbers written without a country code, when the address has none. */
  defaultCountry: string;
}

/** Settings every destination takes (README, Destinations). */
export interface CommonSettings {
  enabled: boolean;
  dryRun: boolean;
  /** The Consent Mode keys an event must not deny. */
  consent: ConsentKey[];
  /** Event names sent only once the shop's backend confirmed them. */
  verifiedOnly: string[];
  verifyWindowHours: number;
}

/** How a destination is declared (define.ts): its settings schema and a factory. */
export interface DestinationDefinition<S extends CommonSettings = CommonSettings, P = unknown> {
  readonly name: string;
  readonly settings: z.ZodType<S>;
  create(settings: S, context?: DestinationContext): Destination<P>;
}
