import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  acceptsCompression,
  buildVariants,
  codingEtag,
  codingWeight,
  etagOfEncoded,
  IMPLICIT_IDENTITY,
  isCompressible,
  negotiateCoding,
  parseAcceptEncoding,
  type StoredCoding,
  selectRepresentation,
  weakEtag,
} from '../src/http/content-coding.js';
import { type StoredResponse, storedResponseCodec } from '../src/http/response-codec.js';

const ALL = ['br', 'gzip', 'identity'];

describe('Accept-Encoding (RFC 9110 §12.5.3)', () => {
  it('parses codings with q-values, case-insensitively, x-gzip as gzip', () => {
    expect(parseAcceptEncoding('GZIP;Q=0.5, br, identity;q=0, X-Gzip;q=0.7')).toEqual(
      new Map([
        ['gzip', 0.7],
        ['br', 1],
        ['identity', 0],
      ]),
    );
    expect(parseAcceptEncoding(undefined)).toBeUndefined();
    expect(parseAcceptEncoding('')).toEqual(new Map());
  });

  it('skips members with invalid qvalues or tokens', () => {
    expect(
      parseAcceptEncoding('gzip;q=2, br;q=abc, deflate;q=0.1234, zstd;q, a b, compress;q=0.001'),
    ).toEqual(new Map([['compress', 0.001]]));
  });

  it('weighs identity as acceptable unless excluded, and * for the rest', () => {
    const none = new Map<string, number>();
    expect([codingWeight(none, 'identity'), codingWeight(none, 'gzip')]).toEqual([IMPLICIT_IDENTITY, 0]);
    const star = parseAcceptEncoding('*;q=0.5')!;
    expect([codingWeight(star, 'identity'), codingWeight(star, 'br')]).toEqual([0.5, 0.5]);
    const starZero = parseAcceptEncoding('*;q=0, gzip')!;
    expect([codingWeight(starZero, 'identity'), codingWeight(starZero, 'gzip')]).toEqual([0, 1]);
    const identityKept = parseAcceptEncoding('*;q=0, identity')!;
    expect(codingWeight(identityKept, 'identity')).toBe(1);
  });

  it('chooses the highest weight, ties to server order, identity without the header', () => {
    const cases: [string | undefined, string][] = [
      [undefined, 'identity'],
      ['', 'identity'],
      ['gzip, deflate', 'gzip'],
      ['gzip, deflate, br', 'br'],
      ['br;q=0.5, gzip', 'gzip'],
      ['gzip;q=0.5, br;q=0.9', 'br'],
      ['gzip;q=0.001', 'gzip'],
      ['gzip;q=0, br;q=0', 'identity'],
      ['gzip;q=0', 'identity'],
      ['*', 'br'],
      ['*, br;q=0', 'gzip'],
      ['identity;q=0, gzip;q=0.1', 'gzip'],
      ['identity', 'identity'],
      ['deflate', 'identity'],
      // Nothing acceptable: identity rather than a 406.
      ['identity;q=0', 'identity'],
    ];
    for (const [header, expected] of cases)
      expect(negotiateCoding(header, ALL), String(header)).toBe(expected);
  });

  it('tells whether a request accepts any compression', () => {
    expect(acceptsCompression('gzip, deflate')).toBe(true);
    expect(acceptsCompression('*')).toBe(true);
    expect(acceptsCompression('identity')).toBe(false);
    expect(acceptsCompression('gzip;q=0')).toBe(false);
    expect(acceptsCompression(undefined)).toBe(false);
  });
});

describe('compressible types', () => {
  it('compresses text, JSON, JS, XML and SVG, not images or archives', () => {
    for (const type of [
      'text/html; charset=utf-8',
      'application/json',
      'application/problem+json',
      'image/svg+xml',
      'application/javascript',
      'APPLICATION/XML',
    ])
      expect(isCompressible(type), type).toBe(true);
    for (const type of [
      undefined,
      'image/png',
      'application/zip',
      'application/octet-stream',
      'application/jsonx',
    ])
      expect(isCompressible(type), String(type)).toBe(false);
  });
});

describe('variants built once per fill', () => {
  const body = Buffer.from(
    JSON.stringify({ rows: Array.from({ length: 200 }, (_, i) => ({ i, label: `row ${i}` })) }),
  );

  it('builds gzip and br with node:zlib, one compressor call per coding, decodable to the body', async () => {
    const calls: StoredCoding[] = [];
    const { zlibCompressor } = await import('../src/http/content-coding.js');
    const variants = await buildVariants(body, ['br', 'gzip'], (bytes, coding) => {
      calls.push(coding);
      return zlibCompressor(bytes, coding);
    });
    expect(calls.sort()).toEqual(['br', 'gzip']);
    expect(gunzipSync(variants.gzip!).equals(body)).toBe(true);
    expect(brotliDecompressSync(variants.br!).equals(body)).toBe(true);
    expect(variants.gzip!.byteLength).toBeLessThan(body.byteLength);
  });

  it('leaves out a variant that is not smaller than the body', async () => {
    const variants = await buildVariants(Buffer.from('ab'), ['gzip']);
    expect(variants).toEqual({});
  });

  it('round-trips variants through the stored response codec, and still reads the old format', () => {
    const stored: StoredResponse = {
      status: 200,
      headers: { etag: '"e"' },
      body,
      variants: { gzip: Buffer.from([1, 2, 3]), br: Buffer.from([9]) },
    };
    const decoded = storedResponseCodec.decode(Buffer.from(storedResponseCodec.encode(stored)));
    expect(decoded.body.equals(body)).toBe(true);
    expect(decoded.variants!.gzip!.equals(Buffer.from([1, 2, 3]))).toBe(true);
    expect(decoded.variants!.br!.equals(Buffer.from([9]))).toBe(true);
    const plain = storedResponseCodec.decode(
      Buffer.from(storedResponseCodec.encode({ status: 200, headers: {}, body } as StoredResponse)),
    );
    expect(plain.variants).toBeUndefined();
    expect(plain.body.equals(body)).toBe(true);
  });
});

describe('an entity tag per coding', () => {
  it('derives a tag per coding, keeping weakness, and leaves identity and derived tags alone', () => {
    expect(codingEtag('"abc"', 'gzip')).toBe('"abc-gzip"');
    expect(codingEtag('W/"abc"', 'br')).toBe('W/"abc-br"');
    expect(codingEtag('"abc"', 'identity')).toBe('"abc"');
    expect(codingEtag('"abc-gzip"', 'gzip')).toBe('"abc-gzip"');
    expect(codingEtag('broken', 'gzip')).toBe('broken');
    expect(weakEtag('"abc"')).toBe('W/"abc"');
    expect(weakEtag('W/"abc"')).toBe('W/"abc"');
  });

  it('derives the tag of a response captured already encoded', () => {
    expect(etagOfEncoded('"abc"', 'gzip')).toBe('"abc-gzip"');
    expect(etagOfEncoded('"abc"', 'identity')).toBe('"abc"');
    expect(etagOfEncoded('"abc"', undefined)).toBe('"abc"');
    expect(etagOfEncoded(undefined, 'gzip')).toBeUndefined();
  });
});

describe('selecting the representation to send', () => {
  const stored = {
    headers: {
      etag: '"abc"',
      'content-type': 'application/json',
      'content-length': '100',
      vary: 'accept-language',
    },
    body: Buffer.alloc(100, 1),
    variants: { gzip: Buffer.alloc(20, 2), br: Buffer.alloc(10, 3) },
  };

  it('sends each coding with its own strong tag, length and Vary: Accept-Encoding, identity too', () => {
    const br = selectRepresentation(stored, 'gzip, br');
    const gzip = selectRepresentation(stored, 'gzip');
    const identity = selectRepresentation(stored, undefined);
    expect([
      br.coding,
      br.headers['content-encoding'],
      br.headers['content-length'],
      br.headers.etag,
    ]).toEqual(['br', 'br', '10', '"abc-br"']);
    expect([gzip.coding, gzip.headers.etag, gzip.body.byteLength]).toEqual(['gzip', '"abc-gzip"', 20]);
    expect([identity.coding, identity.headers.etag, identity.headers['content-encoding']]).toEqual([
      'identity',
      '"abc"',
      undefined,
    ]);
    for (const reply of [br, gzip, identity])
      expect(reply.headers.vary).toBe('accept-language, accept-encoding');
    expect(new Set([br, gzip, identity].map((r) => r.headers.etag)).size).toBe(3);
  });

  it('honours q=0 for a coding and for identity', () => {
    expect(selectRepresentation(stored, 'br;q=0, gzip').coding).toBe('gzip');
    expect(selectRepresentation(stored, 'identity;q=0').coding).toBe('identity');
    expect(selectRepresentation(stored, 'identity;q=0, *').coding).toBe('br');
  });

  it('without variants, weakens the tag of a compressible response only when a downstream compressor is declared', () => {
    const plain = { headers: { etag: '"abc"', 'content-type': 'text/plain' }, body: Buffer.from('x') };
    expect(selectRepresentation(plain, 'gzip').headers).toEqual(plain.headers);
    const declared = selectRepresentation(plain, 'gzip', true).headers;
    expect([declared.etag, declared.vary]).toEqual(['W/"abc"', 'accept-encoding']);
    const identityOnly = selectRepresentation(plain, 'identity', true).headers;
    expect([identityOnly.etag, identityOnly.vary]).toEqual(['"abc"', 'accept-encoding']);
    const image = { headers: { etag: '"img"', 'content-type': 'image/png' }, body: Buffer.from('x') };
    expect(selectRepresentation(image, 'gzip', true).headers).toEqual(image.headers);
  });
});
