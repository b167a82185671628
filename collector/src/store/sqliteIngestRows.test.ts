import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../event.js';
import { packIngestRows, unpackIngestRows } from './sqliteIngestRows.js';

describe('ingest rows packed for the writer thread', () => {
  it('unpack to each event as stored: strings of any characters, with and without routes', () => {
    const first = { receivedAt: 1_700_000_000_123, ip: '203.0.113.9' } as RequestContext;
    const second = { receivedAt: 1_700_000_000_456 } as RequestContext;
    const events = [
      { event: { id: 'e-1', name: 'purchase', time: 1 }, context: first, destinations: ['chase', 'impact'] },
      // Characters outside the BMP and the separators a delimited format would trip on.
      {
        event: { id: 'é😀,\n|', name: 'sign up 😀', time: 2, properties: { note: 'a,b\n' } },
        context: first,
        destinations: [],
      },
      {
        event: { id: '', name: 'x', time: 3 },
        json: '{"id":"","name":"x","time":3}',
        context: second,
        destinations: ['nextdoor'],
      },
    ];
    const rows = unpackIngestRows(packIngestRows(events));
    expect(rows).toEqual([
      {
        id: 'e-1',
        name: 'purchase',
        receivedAt: first.receivedAt,
        body: `{"id":"e-1","name":"purchase","time":1,"context":${JSON.stringify(first)}}`,
        contentLength: '{"id":"e-1","name":"purchase","time":1'.length,
        routes: ',chase,impact,',
      },
      {
        id: 'é😀,\n|',
        name: 'sign up 😀',
        receivedAt: first.receivedAt,
        body: `${JSON.stringify(events[1]!.event).slice(0, -1)},"context":${JSON.stringify(first)}}`,
        contentLength: JSON.stringify(events[1]!.event).length - 1,
        routes: null,
      },
      {
        id: '',
        name: 'x',
        receivedAt: second.receivedAt,
        body: `{"id":"","name":"x","time":3,"context":${JSON.stringify(second)}}`,
        contentLength: '{"id":"","name":"x","time":3'.length,
        routes: ',nextdoor,',
      },
    ]);
  });

  it('refuse lengths that do not cut the whole text', () => {
    const packed = packIngestRows([
      {
        event: { id: 'e-1', name: 'purchase', time: 1 },
        context: { receivedAt: 1 } as RequestContext,
        destinations: [],
      },
    ]);
    expect(() => unpackIngestRows({ ...packed, text: `${packed.text}!` })).toThrow(/cut \d+ of \d+ characters/);
  });
});
