import type pg from 'pg';
import { StoreError } from './types.js';

/**
 * The PostgreSQL schema as numbered migrations, all in the schema `tagrelay` (so the store can live in
 * a database that holds other things). `tagrelay.schema_version` holds how many a database has had.
 * They run at start-up under an advisory lock, so collectors starting together never race; each runs
 * once, in order, in one transaction. Never edit one that shipped: add the next.
 */
const MIGRATIONS: readonly string[] = [
  // 1: events, deliveries with their leases, the counts /metrics reads, id conflicts, the lane state
  // shared by the fleet, and the collectors of the fleet.
  `
CREATE TABLE tagrelay.events (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id          text NOT NULL UNIQUE,
  name        text NOT NULL,
  received_at bigint NOT NULL,
  body        text NOT NULL,
  digest      bytea,
  scrubbed    boolean NOT NULL DEFAULT false
);
-- No foreign key to events: its check would lock each event row again in every ingest. Deliveries
-- go with their event in purge, in the same statement.
CREATE TABLE tagrelay.deliveries (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_seq   bigint NOT NULL,
  destination text NOT NULL,
  state       text NOT NULL DEFAULT 'pending',
  attempts    integer NOT NULL DEFAULT 0,
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL,
  -- When the delivery is due; while it is leased, when the lease runs out.
  next_at     bigint NOT NULL,
  -- The claim that leases it (NULL: not leased) and which collector made it.
  lease       bigint,
  leased_by   text,
  status      integer,
  detail      text,
  request     text,
  UNIQUE (event_seq, destination)
);
CREATE INDEX deliveries_due ON tagrelay.deliveries (destination, next_at) WHERE state = 'pending';
CREATE INDEX deliveries_ended ON tagrelay.deliveries (destination, updated_at) WHERE state IN ('dead', 'rejected');
CREATE SEQUENCE tagrelay.leases;

-- Deliveries per destination and state, so /metrics never counts a million rows. Each statement adds
-- its changes to one of 64 slots picked at random, so collectors writing at once rarely wait for each
-- other's row lock; a read sums the slots. Kept by statement triggers: exact whoever writes.
CREATE TABLE tagrelay.delivery_counts (
  destination text NOT NULL,
  state       text NOT NULL,
  slot        smallint NOT NULL,
  n           bigint NOT NULL,
  PRIMARY KEY (destination, state, slot)
);
CREATE FUNCTION tagrelay.count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := floor(random() * 64);
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT destination, state, s, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT destination, state, s, -count(*) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT destination, state, s, sum(d) FROM (
          SELECT o.destination, o.state, -1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state <> o.state
          UNION ALL
          SELECT n.destination, n.state, 1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state <> o.state
        ) changes
      GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER deliveries_count_insert AFTER INSERT ON tagrelay.deliveries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.count_deliveries();
CREATE TRIGGER deliveries_count_update AFTER UPDATE ON tagrelay.deliveries
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.count_deliveries();
CREATE TRIGGER deliveries_count_delete AFTER DELETE ON tagrelay.deliveries
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.count_deliveries();

CREATE TABLE tagrelay.id_conflicts (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id    text NOT NULL,
  name        text NOT NULL,
  received_at bigint NOT NULL,
  body        text NOT NULL
);

-- One destination's delivery state, shared by every collector: one outage counts once for the fleet,
-- one collector probes a failing vendor, a refused key pauses them all. "epoch" moves at each change;
-- a collector changes the row only from the epoch it knows (compare and set).
CREATE TABLE tagrelay.lanes (
  destination   text PRIMARY KEY,
  epoch         bigint NOT NULL DEFAULT 0,
  state         text NOT NULL DEFAULT 'active',
  failures      integer NOT NULL DEFAULT 0,
  blocked_until bigint NOT NULL DEFAULT 0,
  reason        text,
  probe_until   bigint NOT NULL DEFAULT 0,
  probe_by      text,
  updated_at    bigint NOT NULL DEFAULT 0,
  updated_by    text
);

-- The collectors serving this store, for tagrelay status: each writes seen_at every few seconds.
CREATE TABLE tagrelay.collectors (
  id         text PRIMARY KEY,
  host       text NOT NULL,
  pid        integer NOT NULL,
  version    text NOT NULL,
  started_at bigint NOT NULL,
  seen_at    bigint NOT NULL
);

-- Ingest of one group of events (each id once): events not stored before and one pending delivery per
-- destination, in one statement; then the ids stored before are told apart, a repeat (same digest) or
-- a conflict (kept without personal data). Rows are inserted in id order, so that two collectors
-- storing the same ids at once take their locks in the same order and never deadlock.
-- Lists arrive as text: ids, names and bodies separated by newlines (JSON never holds a raw one),
-- the rest by commas; one row per event.
CREATE FUNCTION tagrelay.ingest(p_ids text, p_names text, p_received text, p_bodies text, p_digests text,
                                p_dests text, p_now bigint, OUT duplicates integer[], OUT conflicts integer[])
LANGUAGE plpgsql AS $$
DECLARE
  inserted bigint[];
BEGIN
  WITH input AS (
    -- An id twice in one group: its first row is the one stored, the others are compared below.
    SELECT DISTINCT ON (id) *
      FROM unnest(string_to_array(p_ids, E'\\n'), string_to_array(p_names, E'\\n'),
                  string_to_array(p_received, ',')::bigint[], string_to_array(p_bodies, E'\\n'),
                  string_to_array(p_digests, ','), string_to_array(p_dests, E'\\n'))
           WITH ORDINALITY AS t(id, name, received_at, body, digest, dests, ord)
     ORDER BY id, ord
  ), ins AS (
    INSERT INTO tagrelay.events (id, name, received_at, body, digest)
    SELECT i.id, i.name, i.received_at, i.body, decode(i.digest, 'hex') FROM input i ORDER BY i.id
    ON CONFLICT (id) DO NOTHING
    RETURNING seq, id
  ), del AS (
    INSERT INTO tagrelay.deliveries (event_seq, destination, created_at, updated_at, next_at)
    SELECT ins.seq, d.destination, p_now, p_now, p_now
      FROM ins JOIN input i ON i.id = ins.id CROSS JOIN LATERAL unnest(string_to_array(i.dests, ',')) AS d(destination)
  )
  SELECT coalesce(array_agg(i.ord), '{}') INTO inserted FROM ins JOIN input i ON i.id = ins.id;
  duplicates := '{}';
  conflicts := '{}';
  IF cardinality(inserted) < cardinality(string_to_array(p_ids, E'\\n')) THEN
    -- A new statement sees what other collectors committed meanwhile: an id stored before is a repeat
    -- when its digest is the same, a conflict (kept without personal data) when it is not.
    WITH input AS (
      SELECT * FROM unnest(string_to_array(p_ids, E'\\n'), string_to_array(p_names, E'\\n'),
                           string_to_array(p_received, ',')::bigint[], string_to_array(p_bodies, E'\\n'),
                           string_to_array(p_digests, ','))
        WITH ORDINALITY AS t(id, name, received_at, body, digest, ord)
    ), other AS (
      SELECT i.*, coalesce(e.digest <> decode(i.digest, 'hex'), false) AS conflict
        FROM input i LEFT JOIN tagrelay.events e ON e.id = i.id
       WHERE NOT (i.ord = ANY(inserted))
    ), kept AS (
      INSERT INTO tagrelay.id_conflicts (event_id, name, received_at, body)
      SELECT id, name, received_at, ((body::jsonb #- '{properties,user_data}') - 'context')::text
        FROM other WHERE conflict ORDER BY ord
    )
    SELECT coalesce(array_agg((ord - 1)::integer ORDER BY ord) FILTER (WHERE NOT conflict), '{}'),
           coalesce(array_agg((ord - 1)::integer ORDER BY ord) FILTER (WHERE conflict), '{}')
      INTO duplicates, conflicts FROM other;
  END IF;
END $$;

-- What became of claimed deliveries, in one call. A result counts only while the claim that made it
-- still holds the lease (p_leases NULL: no claim to check): a collector whose lease ran out and was
-- taken over does not overwrite the new holder's result. Then personal data leaves every event whose
-- deliveries are now all delivered or skipped, and recorded requests keep their first line.
CREATE FUNCTION tagrelay.record_results(p_ids bigint[], p_leases bigint[], p_states text[], p_attempted integer[],
                                        p_next_at bigint[], p_status integer[], p_detail text[], p_request text[],
                                        p_now bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  UPDATE tagrelay.deliveries d
     SET state = u.state, attempts = d.attempts + u.attempted, next_at = coalesce(u.next_at, d.next_at),
         updated_at = p_now, status = coalesce(u.status, d.status), detail = coalesce(u.detail, d.detail),
         request = coalesce(u.request, d.request), lease = NULL, leased_by = NULL
    FROM unnest(p_ids, p_leases, p_states, p_attempted, p_next_at, p_status, p_detail, p_request)
         AS u(id, lease, state, attempted, next_at, status, detail, request)
   WHERE d.id = u.id AND (u.lease IS NULL OR d.lease = u.lease);
  GET DIAGNOSTICS n = ROW_COUNT;
  IF 'delivered' = ANY(p_states) OR 'skipped' = ANY(p_states) THEN
    WITH done AS (
      UPDATE tagrelay.events e
         SET body = (e.body::jsonb #- '{properties,user_data}')::text, scrubbed = true
       WHERE e.seq IN (SELECT event_seq FROM tagrelay.deliveries WHERE id = ANY(p_ids) AND state IN ('delivered', 'skipped'))
         AND NOT e.scrubbed
         AND NOT EXISTS (SELECT 1 FROM tagrelay.deliveries d WHERE d.event_seq = e.seq AND d.state NOT IN ('delivered', 'skipped'))
      RETURNING e.seq
    )
    UPDATE tagrelay.deliveries d
       SET request = split_part(d.request, E'\\n', 1) || ' [body removed after delivery]'
      FROM done WHERE d.event_seq = done.seq AND d.status IS NOT NULL AND strpos(d.request, E'\\n') > 0;
  END IF;
  RETURN n;
END $$;
`,
  // 2: what the collector remembers of a visitor (click ids with their capture time, latest consent),
  // and which delivery sends each conversion to each destination (the fleet agrees on one).
  `
CREATE TABLE tagrelay.visitors (
  anonymous_id text PRIMARY KEY,
  click_ids    jsonb NOT NULL DEFAULT '{}',
  consent      jsonb,
  updated_at   bigint NOT NULL
);
CREATE INDEX visitors_updated ON tagrelay.visitors (updated_at);
CREATE TABLE tagrelay.conversion_sends (
  conversion  text NOT NULL,
  destination text NOT NULL,
  delivery_id bigint NOT NULL,
  claimed_at  bigint NOT NULL,
  PRIMARY KEY (conversion, destination)
);
CREATE INDEX conversion_sends_claimed ON tagrelay.conversion_sends (claimed_at);
`,
  // 3: one commit per /collect request, visitor memory included: ingest takes the group's visitor
  // updates and writes them in its own transaction, after the events (the order every writer takes its
  // locks in). A result that completes its event is written with its request already cut to the first
  // line (one row version, not two). The ingest of migration 1 stays for collectors of the version before.
  `
CREATE FUNCTION tagrelay.ingest(p_ids text, p_names text, p_received text, p_bodies text, p_digests text,
                                p_dests text, p_now bigint, p_visitors text,
                                OUT duplicates integer[], OUT conflicts integer[])
LANGUAGE plpgsql AS $$
BEGIN
  SELECT i.duplicates, i.conflicts INTO duplicates, conflicts
    FROM tagrelay.ingest(p_ids, p_names, p_received, p_bodies, p_digests, p_dests, p_now) i;
  -- One row per visitor, in anonymous-id order (see rememberVisitors): later values win, click id by
  -- click id; consent as a whole.
  IF p_visitors IS NOT NULL THEN
    INSERT INTO tagrelay.visitors (anonymous_id, click_ids, consent, updated_at)
    SELECT r.id, r.click_ids, r.consent, r.at
      FROM jsonb_to_recordset(p_visitors::jsonb) AS r(id text, click_ids jsonb, consent jsonb, at bigint)
    ON CONFLICT (anonymous_id) DO UPDATE SET
      click_ids  = CASE WHEN excluded.updated_at >= visitors.updated_at THEN visitors.click_ids || excluded.click_ids
                        ELSE excluded.click_ids || visitors.click_ids END,
      consent    = CASE WHEN excluded.updated_at >= visitors.updated_at THEN coalesce(excluded.consent, visitors.consent)
                        ELSE coalesce(visitors.consent, excluded.consent) END,
      updated_at = greatest(visitors.updated_at, excluded.updated_at);
  END IF;
END $$;

CREATE OR REPLACE FUNCTION tagrelay.record_results(p_ids bigint[], p_leases bigint[], p_states text[], p_attempted integer[],
                                                   p_next_at bigint[], p_status integer[], p_detail text[], p_request text[],
                                                   p_now bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  WITH u AS (
    SELECT u.*, d.event_seq
      FROM unnest(p_ids, p_leases, p_states, p_attempted, p_next_at, p_status, p_detail, p_request)
           AS u(id, lease, state, attempted, next_at, status, detail, request)
      JOIN tagrelay.deliveries d ON d.id = u.id
     WHERE u.lease IS NULL OR d.lease = u.lease
  ), done AS (
    -- Events these results complete: every other delivery of the event is delivered or skipped already.
    SELECT DISTINCT u.event_seq FROM u
     WHERE u.state IN ('delivered', 'skipped')
       AND NOT EXISTS (SELECT 1 FROM tagrelay.deliveries o
                        WHERE o.event_seq = u.event_seq AND o.state NOT IN ('delivered', 'skipped')
                          AND o.id NOT IN (SELECT x.id FROM u x WHERE x.state IN ('delivered', 'skipped')))
  )
  UPDATE tagrelay.deliveries d
     SET state = u.state, attempts = d.attempts + u.attempted, next_at = coalesce(u.next_at, d.next_at),
         updated_at = p_now, status = coalesce(u.status, d.status), detail = coalesce(u.detail, d.detail),
         request = CASE WHEN u.event_seq IN (SELECT event_seq FROM done) AND coalesce(u.status, d.status) IS NOT NULL
                             AND strpos(coalesce(u.request, d.request), E'\\n') > 0
                        THEN split_part(coalesce(u.request, d.request), E'\\n', 1) || ' [body removed after delivery]'
                        ELSE coalesce(u.request, d.request) END,
         lease = NULL, leased_by = NULL
    FROM u
   WHERE d.id = u.id AND (u.lease IS NULL OR d.lease = u.lease);
  GET DIAGNOSTICS n = ROW_COUNT;
  -- Then personal data leaves every event whose deliveries are now all delivered or skipped (this
  -- statement sees what other collectors committed meanwhile), and the other deliveries of those events
  -- keep the first line of their request.
  IF 'delivered' = ANY(p_states) OR 'skipped' = ANY(p_states) THEN
    WITH done AS (
      UPDATE tagrelay.events e
         SET body = (e.body::jsonb #- '{properties,user_data}')::text, scrubbed = true
       WHERE e.seq IN (SELECT event_seq FROM tagrelay.deliveries WHERE id = ANY(p_ids) AND state IN ('delivered', 'skipped'))
         AND NOT e.scrubbed
         AND NOT EXISTS (SELECT 1 FROM tagrelay.deliveries d WHERE d.event_seq = e.seq AND d.state NOT IN ('delivered', 'skipped'))
      RETURNING e.seq
    )
    UPDATE tagrelay.deliveries d
       SET request = split_part(d.request, E'\\n', 1) || ' [body removed after delivery]'
      FROM done WHERE d.event_seq = done.seq AND d.status IS NOT NULL AND strpos(d.request, E'\\n') > 0;
  END IF;
  RETURN n;
END $$;
`,
  // 4: a delivery has no row until a claim needs it, as in the SQLite store: ingest writes each event's
  // destinations in its row (routes, ",chase,impact,") and, for each group and destination, one row naming the
  // group's events (first_attempts), where it wrote a row per event and destination (a seventh of PostgreSQL's
  // CPU per event at ingest, BENCHMARKS.md). A claim turns the oldest of them into delivery rows, due since their
  // event was stored, when the due rows do not fill it. An event's first attempts are in the same commit as the
  // event, so no claim can pass over one that commits late. An event with routes is done when it has a row for
  // each route and all of them are delivered or skipped. Collectors of the version before go on writing rows at
  // ingest (its routes stay NULL: its rows are all of them) until they are replaced.
  `
ALTER TABLE tagrelay.events ADD COLUMN routes text;
CREATE TABLE tagrelay.first_attempts (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  destination text NOT NULL,
  seqs        bigint[] NOT NULL,
  created_at  bigint NOT NULL
);
CREATE INDEX first_attempts_destination ON tagrelay.first_attempts (destination, id);

-- First attempts count as pending deliveries, in the slots of count_deliveries.
CREATE FUNCTION tagrelay.count_first_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := txid_current() % 64;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT destination, 'pending', s, sum(cardinality(seqs)) FROM new_rows GROUP BY 1 ORDER BY 1
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT destination, 'pending', s, -sum(cardinality(seqs)) FROM old_rows GROUP BY 1 ORDER BY 1
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT n.destination, 'pending', s, sum(cardinality(n.seqs) - cardinality(o.seqs))
        FROM old_rows o JOIN new_rows n ON n.id = o.id GROUP BY 1 ORDER BY 1
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER first_attempts_count_insert AFTER INSERT ON tagrelay.first_attempts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.count_first_attempts();
CREATE TRIGGER first_attempts_count_update AFTER UPDATE ON tagrelay.first_attempts
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.count_first_attempts();
CREATE TRIGGER first_attempts_count_delete AFTER DELETE ON tagrelay.first_attempts
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.count_first_attempts();

-- How many destinations an event's routes name (0 for NULL: an event stored with its rows).
CREATE FUNCTION tagrelay.route_count(routes text) RETURNS integer LANGUAGE sql IMMUTABLE
  AS $$ SELECT coalesce(length(routes) - length(replace(routes, ',', '')) - 1, 0) $$;

-- A collector of the version before does not know first attempts: its retention would take an event whose
-- deliveries wait for their rows for one that no destination took, or that all its deliveries are done. Deletes
-- of events and deliveries are refused but from sessions that say they know schema 4 (this version's collectors
-- set tagrelay.writer_schema on each connection; so can an operator deleting by hand).
CREATE FUNCTION tagrelay.refuse_older_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(nullif(current_setting('tagrelay.writer_schema', true), ''), '0')::integer < 4 THEN
    RAISE EXCEPTION 'deleting from %.% needs tagrelay of schema 4 or newer (a delivery may have no row yet): upgrade this collector, or SET tagrelay.writer_schema = 4 to delete by hand',
      TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER events_refuse_older_deletes BEFORE DELETE ON tagrelay.events
  FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.refuse_older_deletes();
CREATE TRIGGER deliveries_refuse_older_deletes BEFORE DELETE ON tagrelay.deliveries
  FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.refuse_older_deletes();

-- The counts' slot is the transaction's (it was each statement's, at random): a claim changes the pending count
-- in two statements (its first_attempts rows, then their delivery rows), and two claims each taking two slots, in
-- opposite orders, deadlocked.
CREATE OR REPLACE FUNCTION tagrelay.count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := txid_current() % 64;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT destination, state, s, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT destination, state, s, -count(*) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO tagrelay.delivery_counts AS c (destination, state, slot, n)
      SELECT destination, state, s, sum(d) FROM (
          SELECT o.destination, o.state, -1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state <> o.state
          UNION ALL
          SELECT n.destination, n.state, 1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state <> o.state
        ) changes
      GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (destination, state, slot) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END $$;

-- Ingest as in migration 3, the deliveries of each event as its routes and the group's first_attempts rows.
CREATE FUNCTION tagrelay.ingest_events(p_ids text, p_names text, p_received text, p_bodies text, p_digests text,
                                       p_dests text, p_now bigint, p_visitors text,
                                       OUT duplicates integer[], OUT conflicts integer[])
LANGUAGE plpgsql AS $$
DECLARE
  inserted bigint[];
BEGIN
  WITH input AS (
    SELECT DISTINCT ON (id) *
      FROM unnest(string_to_array(p_ids, E'\\n'), string_to_array(p_names, E'\\n'),
                  string_to_array(p_received, ',')::bigint[], string_to_array(p_bodies, E'\\n'),
                  string_to_array(p_digests, ','), string_to_array(p_dests, E'\\n'))
           WITH ORDINALITY AS t(id, name, received_at, body, digest, dests, ord)
     ORDER BY id, ord
  ), ins AS (
    INSERT INTO tagrelay.events (id, name, received_at, body, digest, routes)
    SELECT i.id, i.name, i.received_at, i.body, decode(i.digest, 'hex'), CASE WHEN i.dests <> '' THEN ',' || i.dests || ',' END
      FROM input i ORDER BY i.id
    ON CONFLICT (id) DO NOTHING
    RETURNING seq, id, routes
  ), firsts AS (
    INSERT INTO tagrelay.first_attempts (destination, seqs, created_at)
    SELECT d.destination, array_agg(ins.seq ORDER BY ins.seq), p_now
      FROM ins CROSS JOIN LATERAL unnest(string_to_array(trim(BOTH ',' FROM ins.routes), ',')) AS d(destination)
     GROUP BY d.destination ORDER BY d.destination
  )
  SELECT coalesce(array_agg(i.ord), '{}') INTO inserted FROM ins JOIN input i ON i.id = ins.id;
  duplicates := '{}';
  conflicts := '{}';
  IF cardinality(inserted) < cardinality(string_to_array(p_ids, E'\\n')) THEN
    WITH input AS (
      SELECT * FROM unnest(string_to_array(p_ids, E'\\n'), string_to_array(p_names, E'\\n'),
                           string_to_array(p_received, ',')::bigint[], string_to_array(p_bodies, E'\\n'),
                           string_to_array(p_digests, ','))
        WITH ORDINALITY AS t(id, name, received_at, body, digest, ord)
    ), other AS (
      SELECT i.*, coalesce(e.digest <> decode(i.digest, 'hex'), false) AS conflict
        FROM input i LEFT JOIN tagrelay.events e ON e.id = i.id
       WHERE NOT (i.ord = ANY(inserted))
    ), kept AS (
      INSERT INTO tagrelay.id_conflicts (event_id, name, received_at, body)
      SELECT id, name, received_at, ((body::jsonb #- '{properties,user_data}') - 'context')::text
        FROM other WHERE conflict ORDER BY ord
    )
    SELECT coalesce(array_agg((ord - 1)::integer ORDER BY ord) FILTER (WHERE NOT conflict), '{}'),
           coalesce(array_agg((ord - 1)::integer ORDER BY ord) FILTER (WHERE conflict), '{}')
      INTO duplicates, conflicts FROM other;
  END IF;
  IF p_visitors IS NOT NULL THEN
    INSERT INTO tagrelay.visitors (anonymous_id, click_ids, consent, updated_at)
    SELECT r.id, r.click_ids, r.consent, r.at
      FROM jsonb_to_recordset(p_visitors::jsonb) AS r(id text, click_ids jsonb, consent jsonb, at bigint)
    ON CONFLICT (anonymous_id) DO UPDATE SET
      click_ids  = CASE WHEN excluded.updated_at >= visitors.updated_at THEN visitors.click_ids || excluded.click_ids
                        ELSE excluded.click_ids || visitors.click_ids END,
      consent    = CASE WHEN excluded.updated_at >= visitors.updated_at THEN coalesce(excluded.consent, visitors.consent)
                        ELSE coalesce(visitors.consent, excluded.consent) END,
      updated_at = greatest(visitors.updated_at, excluded.updated_at);
  END IF;
END $$;

-- Leases up to p_limit of a destination's due deliveries to p_owner until p_now + p_lease_ms. (The ids to lease
-- as an array, not a join: a join's generic plan, a prepared statement's after five runs, guessed thousands of
-- rows and scanned the whole table for them.)
CREATE FUNCTION tagrelay.lease(p_destination text, p_now bigint, p_limit integer, p_lease_ms bigint, p_owner text)
RETURNS TABLE (id bigint, attempts integer, created_at bigint, lease bigint, body text)
LANGUAGE sql AS $$
  UPDATE tagrelay.deliveries d SET next_at = p_now + p_lease_ms, lease = nextval('tagrelay.leases'), leased_by = p_owner
   WHERE d.id = ANY(ARRAY(
           SELECT x.id FROM tagrelay.deliveries x
            WHERE x.destination = p_destination AND x.state = 'pending' AND x.next_at <= p_now
            ORDER BY x.next_at LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
  RETURNING d.id, d.attempts, d.created_at, d.lease, (SELECT e.body FROM tagrelay.events e WHERE e.seq = d.event_seq)
$$;

-- A claim: the due rows first, as SQLite's retries; when they do not fill it, the oldest first_attempts rows
-- become delivery rows (one, then two, four, ... until there are enough, each taken with SKIP LOCKED so that
-- collectors claiming at once take different ones), due since their events were stored, and are leased too.
CREATE FUNCTION tagrelay.claim(p_destination text, p_now bigint, p_limit integer, p_lease_ms bigint, p_owner text)
RETURNS TABLE (id bigint, attempts integer, created_at bigint, lease bigint, body text)
LANGUAGE plpgsql AS $$
DECLARE
  leased integer;
  wanted integer;
  batches integer := 1;
  taken integer;
  made integer;
  rows_made integer := 0;
BEGIN
  RETURN QUERY SELECT * FROM tagrelay.lease(p_destination, p_now, p_limit, p_lease_ms, p_owner);
  GET DIAGNOSTICS leased = ROW_COUNT;
  wanted := p_limit - leased;
  WHILE wanted > 0 LOOP
    WITH f AS (
      DELETE FROM tagrelay.first_attempts f
       WHERE f.id = ANY(ARRAY(SELECT g.id FROM tagrelay.first_attempts g WHERE g.destination = p_destination
                               ORDER BY g.id LIMIT batches FOR UPDATE SKIP LOCKED))
      RETURNING f.seqs, f.created_at
    ), m AS (
      -- An event erased since has no row made for it.
      INSERT INTO tagrelay.deliveries (event_seq, destination, created_at, updated_at, next_at)
      SELECT s.seq, p_destination, f.created_at, f.created_at, f.created_at
        FROM f CROSS JOIN LATERAL unnest(f.seqs) AS s(seq)
       WHERE EXISTS (SELECT 1 FROM tagrelay.events e WHERE e.seq = s.seq)
      ON CONFLICT (event_seq, destination) DO NOTHING
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM m) INTO taken, made;
    rows_made := rows_made + made;
    wanted := wanted - made;
    EXIT WHEN taken < batches;
    batches := batches * 2;
  END LOOP;
  IF rows_made > 0 THEN
    RETURN QUERY SELECT * FROM tagrelay.lease(p_destination, p_now, p_limit - leased, p_lease_ms, p_owner);
  END IF;
END $$;

-- As in migration 3, with an event done only once it has a row for each of its routes; and the events that results
-- may complete are locked first, in seq order (as purge locks them): two results completing one
-- event (its last two deliveries, recorded at once by two collectors or two groups of one) are then written one
-- after the other, and the second sees the first when it decides whether the event is done. Unlocked, each saw the
-- other's delivery pending, and the event kept its personal data. (An event of one destination has no second
-- result and is not locked; one that the version before stored with its rows, its routes unknown, is.)
CREATE OR REPLACE FUNCTION tagrelay.record_results(p_ids bigint[], p_leases bigint[], p_states text[], p_attempted integer[],
                                                   p_next_at bigint[], p_status integer[], p_detail text[], p_request text[],
                                                   p_now bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  PERFORM 1 FROM tagrelay.events e
    WHERE e.seq IN (SELECT d.event_seq FROM tagrelay.deliveries d
                      JOIN unnest(p_ids, p_states) AS r(id, state) ON r.id = d.id
                     WHERE r.state IN ('delivered', 'skipped'))
      AND tagrelay.route_count(e.routes) <> 1
    ORDER BY e.seq FOR NO KEY UPDATE;
  WITH u AS (
    SELECT u.*, d.event_seq
      FROM unnest(p_ids, p_leases, p_states, p_attempted, p_next_at, p_status, p_detail, p_request)
           AS u(id, lease, state, attempted, next_at, status, detail, request)
      JOIN tagrelay.deliveries d ON d.id = u.id
     WHERE u.lease IS NULL OR d.lease = u.lease
  ), done AS (
    SELECT DISTINCT u.event_seq FROM u JOIN tagrelay.events e ON e.seq = u.event_seq
     WHERE u.state IN ('delivered', 'skipped')
       AND NOT EXISTS (SELECT 1 FROM tagrelay.deliveries o
                        WHERE o.event_seq = u.event_seq AND o.state NOT IN ('delivered', 'skipped')
                          AND o.id NOT IN (SELECT x.id FROM u x WHERE x.state IN ('delivered', 'skipped')))
       AND (SELECT count(*) FROM tagrelay.deliveries o WHERE o.event_seq = u.event_seq) >= tagrelay.route_count(e.routes)
  )
  UPDATE tagrelay.deliveries d
     SET state = u.state, attempts = d.attempts + u.attempted, next_at = coalesce(u.next_at, d.next_at),
         updated_at = p_now, status = coalesce(u.status, d.status), detail = coalesce(u.detail, d.detail),
         request = CASE WHEN u.event_seq IN (SELECT event_seq FROM done) AND coalesce(u.status, d.status) IS NOT NULL
                             AND strpos(coalesce(u.request, d.request), E'\\n') > 0
                        THEN split_part(coalesce(u.request, d.request), E'\\n', 1) || ' [body removed after delivery]'
                        ELSE coalesce(u.request, d.request) END,
         lease = NULL, leased_by = NULL
    FROM u
   WHERE d.id = u.id AND (u.lease IS NULL OR d.lease = u.lease);
  GET DIAGNOSTICS n = ROW_COUNT;
  IF 'delivered' = ANY(p_states) OR 'skipped' = ANY(p_states) THEN
    WITH done AS (
      UPDATE tagrelay.events e
         SET body = (e.body::jsonb #- '{properties,user_data}')::text, scrubbed = true
       WHERE e.seq IN (SELECT event_seq FROM tagrelay.deliveries WHERE id = ANY(p_ids) AND state IN ('delivered', 'skipped'))
         AND NOT e.scrubbed
         AND NOT EXISTS (SELECT 1 FROM tagrelay.deliveries d WHERE d.event_seq = e.seq AND d.state NOT IN ('delivered', 'skipped'))
         AND (SELECT count(*) FROM tagrelay.deliveries d WHERE d.event_seq = e.seq) >= tagrelay.route_count(e.routes)
      RETURNING e.seq
    )
    UPDATE tagrelay.deliveries d
       SET request = split_part(d.request, E'\\n', 1) || ' [body removed after delivery]'
      FROM done WHERE d.event_seq = done.seq AND d.status IS NOT NULL AND strpos(d.request, E'\\n') > 0;
  END IF;
  RETURN n;
END $$;
`,
  // 5: a claim makes the delivery rows it leases already leased: one write a row where it inserted the rows due and
  // then updated each to lease it (a new version of the row and an entry in each of its three indexes). It leases no
  // more than it was asked for: rows made beyond that are due, for the next claim. The lease no longer depends on the
  // claiming collector's clock: rows it made of events stored by a collector whose clock is ahead were due after its
  // own now, and it left them waiting. And the functions of ingest, claims and results never scan a table: they read
  // rows by key, and a session keeps a function's plans, so a plan made while the tables were small (a new database,
  // before autovacuum's first ANALYZE) went on scanning the whole deliveries table on every claim and result as it
  // grew (in a 20,000-delivery drain, PostgreSQL's CPU a delivery went from 110 to 94 µs; BENCHMARKS.md).
  `
CREATE OR REPLACE FUNCTION tagrelay.claim(p_destination text, p_now bigint, p_limit integer, p_lease_ms bigint, p_owner text)
RETURNS TABLE (id bigint, attempts integer, created_at bigint, lease bigint, body text)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  leased integer;
  wanted integer;
  batches integer := 1;
  taken integer;
  ids bigint[];
  tries integer[];
  created bigint[];
  leases bigint[];
  bodies text[];
BEGIN
  RETURN QUERY SELECT * FROM tagrelay.lease(p_destination, p_now, p_limit, p_lease_ms, p_owner);
  GET DIAGNOSTICS leased = ROW_COUNT;
  wanted := p_limit - leased;
  WHILE wanted > 0 LOOP
    WITH f AS (
      DELETE FROM tagrelay.first_attempts f
       WHERE f.id = ANY(ARRAY(SELECT g.id FROM tagrelay.first_attempts g WHERE g.destination = p_destination
                               ORDER BY g.id LIMIT batches FOR UPDATE SKIP LOCKED))
      RETURNING f.seqs, f.created_at
    ), s AS (
      -- An event erased since has no row made for it. The oldest of them, as many as wanted, are leased.
      SELECT x.seq, f.created_at, e.body, row_number() OVER (ORDER BY f.created_at, x.seq) <= wanted AS lease_it
        FROM f CROSS JOIN LATERAL unnest(f.seqs) AS x(seq)
        JOIN tagrelay.events e ON e.seq = x.seq
    ), m AS (
      INSERT INTO tagrelay.deliveries AS d (event_seq, destination, created_at, updated_at, next_at, lease, leased_by)
      SELECT s.seq, p_destination, s.created_at, s.created_at,
             CASE WHEN s.lease_it THEN p_now + p_lease_ms ELSE s.created_at END,
             CASE WHEN s.lease_it THEN nextval('tagrelay.leases') END,
             CASE WHEN s.lease_it THEN p_owner END
        FROM s ORDER BY s.seq
      ON CONFLICT (event_seq, destination) DO NOTHING
      RETURNING d.id, d.attempts, d.created_at, d.lease, d.event_seq
    )
    SELECT (SELECT count(*) FROM f), array_agg(m.id), array_agg(m.attempts), array_agg(m.created_at), array_agg(m.lease),
           array_agg(s.body)
      INTO taken, ids, tries, created, leases, bodies
      FROM m JOIN s ON s.seq = m.event_seq
     WHERE m.lease IS NOT NULL;
    IF ids IS NOT NULL THEN
      RETURN QUERY SELECT * FROM unnest(ids, tries, created, leases, bodies);
      wanted := wanted - cardinality(ids);
    END IF;
    EXIT WHEN taken < batches;
    batches := batches * 2;
  END LOOP;
END $$;
ALTER FUNCTION tagrelay.record_results(bigint[], bigint[], text[], integer[], bigint[], integer[], text[], text[], bigint)
  SET enable_seqscan = off;
ALTER FUNCTION tagrelay.ingest_events(text, text, text, text, text, text, bigint, text) SET enable_seqscan = off;
`,
];

/** The schema version this code writes. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

const newerSchema = (where: string, version: number) =>
  new StoreError(
    `the PostgreSQL store ${where} has schema version ${version}, made by a newer tagrelay (this one knows ${MIGRATIONS.length}): upgrade tagrelay`,
  );

/** The advisory lock key migrations run under (any constant; "tagrelay" in ASCII). */
const MIGRATION_LOCK = 0x7461677265;

/**
 * Brings the database up to date: under a transaction-scoped advisory lock, so collectors starting
 * at once wait for each other and only the first applies what is missing. A database whose schema is
 * newer than this code is refused with one line.
 */
export async function migrate(client: pg.ClientBase, where: string): Promise<void> {
  // Up to date (the usual start): nothing to write, so no lock to wait for, and a database that takes no
  // writes (a standby during a failover) can be opened; the collector then says it takes no events.
  const current = await client
    .query<{ version: number }>('SELECT version FROM tagrelay.schema_version')
    .then((r) => r.rows[0]?.version, () => undefined);
  if (current === MIGRATIONS.length) return;
  if (current !== undefined && current > MIGRATIONS.length) throw newerSchema(where, current);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    // A migration may delete (see refuse_older_deletes).
    await client.query(`SET LOCAL tagrelay.writer_schema = ${MIGRATIONS.length}`);
    await client.query('CREATE SCHEMA IF NOT EXISTS tagrelay');
    await client.query('CREATE TABLE IF NOT EXISTS tagrelay.schema_version (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM tagrelay.schema_version');
    const version = rows[0]?.version ?? 0;
    if (version > MIGRATIONS.length) throw newerSchema(where, version);
    for (let v = version; v < MIGRATIONS.length; v++) await client.query(MIGRATIONS[v]!);
    if (!rows.length) await client.query('INSERT INTO tagrelay.schema_version VALUES ($1)', [MIGRATIONS.length]);
    else if (version < MIGRATIONS.length) await client.query('UPDATE tagrelay.schema_version SET version = $1', [MIGRATIONS.length]);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}
