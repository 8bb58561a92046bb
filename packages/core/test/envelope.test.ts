import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../src/envelope.js';

describe('entry envelope', () => {
  const meta = { createdAt: 1_732_700_000_123, ttlMs: 300_000, graceMs: 60_000, computeMs: 42 };

  it('round-trips metadata and payload bytes unchanged', () => {
    const payload = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x00, 0x7b]);
    const decoded = decodeEntry(encodeEntry(meta, payload));
    expect(decoded).toMatchObject(meta);
    expect(decoded!.payload.equals(payload)).toBe(true);
  });

  it('round-trips an empty payload and fractional times', () => {
    const decoded = decodeEntry(encodeEntry({ ...meta, computeMs: 0.25 }, new Uint8Array(0)));
    expect(decoded).toMatchObject({ ...meta, computeMs: 0.25 });
    expect(decoded!.payload.byteLength).toBe(0);
  });

  it('hands back a view of the payload, not a copy', () => {
    const bytes = encodeEntry(meta, Buffer.from('body'));
    expect(decodeEntry(bytes)!.payload.buffer).toBe(bytes.buffer);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['shorter than the header', encodeEntry(meta, Buffer.from('x')).subarray(0, 20)],
    ['plain JSON', Buffer.from(JSON.stringify({ hello: 'world', padding: 'x'.repeat(64) }))],
    ['another magic byte', Buffer.concat([Buffer.from([0x77, 1]), Buffer.alloc(40)])],
    ['a future format', Buffer.concat([Buffer.from([0x76, 2]), Buffer.alloc(40)])],
  ])('rejects %s as null, never throwing', (_, bytes) => {
    expect(decodeEntry(bytes)).toBeNull();
  });
});
