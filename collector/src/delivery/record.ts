import { personalDataForms } from '../destinations/pii.js';
import type { HttpRequest } from '../destinations/types.js';
import type { StoredEvent } from '../event.js';
import { redactHeaders, redactor } from '../redact.js';

/**
 * What may be shown of a vendor request or answer carrying these events: secrets redacted (by
 * `redactSecrets`), and none of the events' personal data in any form (as written, normalised, SHA-256
 * or SHA-1 hex): `[personal data]` stands in.
 */
export function recordingMask(events: StoredEvent[], redactSecrets: (text: string) => string, defaultCountry?: string): (text: string) => string {
  const personal = events.flatMap((e) => personalDataForms(e.properties, defaultCountry));
  const maskPersonal = personal.length ? redactor(personal, '[personal data]') : undefined;
  return (text) => (maskPersonal ? maskPersonal(redactSecrets(text)) : redactSecrets(text));
}

/** A request's first line as recorded: `METHOD url` (before redaction). */
export const requestLine = (request: HttpRequest): string => `${request.method} ${request.url}`;

/** A request as text for /debug (its first line, the headers without credentials, the body), before masking. */
export const requestText = (request: HttpRequest): string =>
  `${requestLine(request)}\n${JSON.stringify(redactHeaders(request.headers))}\n${request.body ?? ''}`;
