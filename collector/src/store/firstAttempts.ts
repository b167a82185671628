import type { DeliveryRecord } from './types.js';

/**
 * A delivery has no row until its first attempt (SQLite) or the claim that leases it (PostgreSQL): its
 * event names its destinations (`routes`, ",chase,impact,"), and the delivery's id is made of the event's
 * seq and the destination's place in those routes, negative so that it never meets the id of a row. A
 * SQLite row, made by the first attempt's outcome, keeps that id; and the id is the same after a restart
 * (the routes never change), so a conversion claimed by an attempt that did not report stays with it. A
 * PostgreSQL row gets an id of its own when it is made; before, the id names the delivery on the debug page.
 */
const PLACES = 1024;

/**
 * The lane_cursors row that holds the newest seq of an event that was erased or purged while it was the
 * newest (no destination is named so). A seq is never given twice: a destination's claim may have read
 * past it, in memory, before any cursor was written.
 */
export const ERASED_SEQ_ROW = '#erased';

/** The routes column for an event sent to these destinations (null: none). */
export const routesOf = (destinations: readonly string[]): string | null =>
  destinations.length ? `,${destinations.join(',')},` : null;

/** The destinations a routes column names, in their order (a delivery's place in it is part of its id). */
export const destinationsOf = (routes: string): string[] => routes.slice(1, -1).split(',');

/** The id of `destination`'s first attempt at the event `seq` with these routes. */
export function firstAttemptId(seq: number, routes: string, destination: string): number {
  return -(seq * PLACES + destinationsOf(routes).indexOf(destination));
}

/** The event seq a first attempt's id names. */
export const seqOfFirstAttempt = (id: number): number => Math.floor(-id / PLACES);

/** The destination a first attempt's id names, given its event's routes. */
export const destinationOfFirstAttempt = (id: number, routes: string): string | undefined =>
  destinationsOf(routes)[-id % PLACES];

/** SQL: how many destinations the routes of event `e` name. */
export const routeCountSql = (e: string): string => `(length(${e}.routes) - length(replace(${e}.routes, ',', '')) - 1)`;

/** SQL: event `e` still has a delivery without a row (its first attempt not yet reported), in `deliveries`. */
export const firstAttemptWaitsSql = (e: string, deliveries = 'deliveries'): string =>
  `(${e}.routes IS NOT NULL AND (SELECT count(*) FROM ${deliveries} r WHERE r.event_seq = ${e}.seq) < ${routeCountSql(e)})`;

/** An event with routes, and the destinations of its deliveries that have a row. */
export interface EventRoutes {
  seq: number;
  eventId: string;
  eventName: string;
  receivedAt: number;
  routes: string;
  withRows: readonly string[];
}

/** The deliveries of these events that have no row yet: pending, not attempted. */
export function waitingFirstAttempts(events: Iterable<EventRoutes>): (DeliveryRecord & { nextAt: number })[] {
  const out: (DeliveryRecord & { nextAt: number })[] = [];
  for (const e of events) {
    for (const destination of destinationsOf(e.routes)) {
      if (e.withRows.includes(destination)) continue;
      out.push({
        id: firstAttemptId(e.seq, e.routes, destination),
        eventId: e.eventId,
        eventName: e.eventName,
        destination,
        state: 'pending',
        attempts: 0,
        createdAt: e.receivedAt,
        updatedAt: e.receivedAt,
        nextAt: e.receivedAt,
      });
    }
  }
  return out;
}
