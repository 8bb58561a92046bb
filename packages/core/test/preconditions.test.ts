import { describe, expect, it } from 'vitest';
import { ifNoneMatchMatches, isNotModified } from '../src/http/conditional.js';
import {
  conditionalHeaders,
  entityTagListMatches,
  evaluatePreconditions,
  parseEntityTag,
  parseHttpDate,
} from '../src/http/preconditions.js';

const LM = 'Sun, 06 Nov 1994 08:49:37 GMT';
const BEFORE = 'Sat, 05 Nov 1994 08:49:37 GMT';
const AFTER = 'Mon, 07 Nov 1994 08:49:37 GMT';
const current = { etag: '"xyzzy"', lastModified: LM };

describe('entity tags (RFC 9110 §8.8.3)', () => {
  it('parses strong and weak tags and rejects malformed ones', () => {
    expect(parseEntityTag('"xyzzy"')).toEqual({ weak: false, opaque: 'xyzzy' });
    expect(parseEntityTag('W/"xyzzy"')).toEqual({ weak: true, opaque: 'xyzzy' });
    expect(parseEntityTag('""')).toEqual({ weak: false, opaque: '' });
    for (const bad of ['xyzzy', '"', 'W/', 'W/"', '"a"b"', 'w/"x"', ' "x"'])
      expect(parseEntityTag(bad), bad).toBeNull();
  });

  it('compares as the table of §8.8.3.2 says', () => {
    // ETag 1, ETag 2, strong, weak
    const table: [string, string, boolean, boolean][] = [
      ['W/"1"', 'W/"1"', false, true],
      ['W/"1"', 'W/"2"', false, false],
      ['W/"1"', '"1"', false, true],
      ['"1"', '"1"', true, true],
    ];
    for (const [a, b, strong, weak] of table) {
      expect(entityTagListMatches(a, b, 'strong'), `${a} ${b}`).toBe(strong);
      expect(entityTagListMatches(a, b, 'weak'), `${a} ${b}`).toBe(weak);
      expect(entityTagListMatches(b, a, 'strong'), `${b} ${a}`).toBe(strong);
    }
  });

  it('matches lists and *, skips malformed members, ignores huge lists', () => {
    expect(entityTagListMatches('"a", "xyzzy", "b"', '"xyzzy"', 'strong')).toBe(true);
    expect(entityTagListMatches('"a",W/"xyzzy"', '"xyzzy"', 'strong')).toBe(false);
    expect(entityTagListMatches('"a",W/"xyzzy"', '"xyzzy"', 'weak')).toBe(true);
    expect(entityTagListMatches('*', '"xyzzy"', 'strong')).toBe(true);
    expect(entityTagListMatches('*', undefined, 'strong')).toBe(true);
    expect(entityTagListMatches('garbage,,, "xyzzy"', '"xyzzy"', 'weak')).toBe(true);
    expect(entityTagListMatches('garbage', '"xyzzy"', 'weak')).toBe(false);
    expect(entityTagListMatches('"xyzzy"', undefined, 'weak')).toBe(false);
    expect(entityTagListMatches(`${'"x", '.repeat(3000)}"xyzzy"`, '"xyzzy"', 'weak')).toBe(false);
  });

  it('keeps the If-None-Match helpers of conditional.ts on the same rules', () => {
    expect(ifNoneMatchMatches('W/"xyzzy"', '"xyzzy"')).toBe(true);
    expect(ifNoneMatchMatches('"nope"', '"xyzzy"')).toBe(false);
    expect(isNotModified({ ifNoneMatch: '"xyzzy"', ifModifiedSince: BEFORE }, current)).toBe(true);
  });
});

describe('HTTP-date (RFC 9110 §5.6.7)', () => {
  it('accepts the three forms of the same instant', () => {
    const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(expected);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(expected);
  });

  it('rejects anything else, including lists, other zones and impossible dates', () => {
    for (const bad of [
      undefined,
      '',
      'yesterday',
      '1994-11-06T08:49:37Z',
      'Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 08:49:37 PST',
      'Sun, 31 Feb 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 25:49:37 GMT',
      'Sun, 06 Nov 1994 08:61:37 GMT',
      'sun, 06 nov 1994 08:49:37 gmt',
      'Sun, 6 Nov 1994 08:49:37 GMT',
    ])
      expect(parseHttpDate(bad), String(bad)).toBeNaN();
  });
});

describe('precondition evaluation in the order of RFC 9110 §13.2.2', () => {
  it('If-Match: 412 unless a strong match or *', () => {
    expect(evaluatePreconditions({ ifMatch: '"xyzzy"' }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifMatch: '"other", "xyzzy"' }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifMatch: '*' }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifMatch: '"other"' }, current, 200)).toBe(412);
    expect(evaluatePreconditions({ ifMatch: 'W/"xyzzy"' }, current, 200)).toBe(412);
    expect(evaluatePreconditions({ ifMatch: '"xyzzy"' }, { ...current, etag: 'W/"xyzzy"' }, 200)).toBe(412);
    expect(evaluatePreconditions({ ifMatch: '"xyzzy"' }, {}, 200)).toBe(412);
    expect(evaluatePreconditions({ ifMatch: 'garbage' }, current, 200)).toBe(412);
  });

  it('If-Unmodified-Since: 412 when modified after it, ignored when If-Match is present or the date is invalid', () => {
    expect(evaluatePreconditions({ ifUnmodifiedSince: BEFORE }, current, 200)).toBe(412);
    expect(evaluatePreconditions({ ifUnmodifiedSince: LM }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifUnmodifiedSince: AFTER }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifUnmodifiedSince: 'not a date' }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifUnmodifiedSince: BEFORE }, { etag: '"xyzzy"' }, 200)).toBe(200);
    expect(evaluatePreconditions({ ifMatch: '"xyzzy"', ifUnmodifiedSince: BEFORE }, current, 200)).toBe(200);
  });

  it('If-None-Match: 304 on a weak match, and it takes precedence over If-Modified-Since', () => {
    expect(evaluatePreconditions({ ifNoneMatch: 'W/"xyzzy"' }, current, 200)).toBe(304);
    expect(evaluatePreconditions({ ifNoneMatch: '*' }, current, 200)).toBe(304);
    expect(evaluatePreconditions({ ifNoneMatch: '"other"', ifModifiedSince: AFTER }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifNoneMatch: '"xyzzy"', ifModifiedSince: BEFORE }, current, 200)).toBe(
      304,
    );
  });

  it('If-Modified-Since: 304 when not modified since, ignored when invalid or without Last-Modified', () => {
    expect(evaluatePreconditions({ ifModifiedSince: LM }, current, 200)).toBe(304);
    expect(evaluatePreconditions({ ifModifiedSince: AFTER }, current, 200)).toBe(304);
    expect(evaluatePreconditions({ ifModifiedSince: BEFORE }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifModifiedSince: 'garbage' }, current, 200)).toBe(200);
    expect(evaluatePreconditions({ ifModifiedSince: AFTER }, { etag: '"xyzzy"' }, 200)).toBe(200);
  });

  it('412 wins over 304: If-Match is evaluated before If-None-Match', () => {
    expect(evaluatePreconditions({ ifMatch: '"other"', ifNoneMatch: '"xyzzy"' }, current, 200)).toBe(412);
    expect(evaluatePreconditions({ ifUnmodifiedSince: BEFORE, ifNoneMatch: '"xyzzy"' }, current, 200)).toBe(
      412,
    );
    expect(evaluatePreconditions({ ifMatch: '"xyzzy"', ifNoneMatch: '"xyzzy"' }, current, 200)).toBe(304);
  });

  it('ignores every precondition when the response would not be 2xx (§13.2.1)', () => {
    for (const status of [301, 404, 410, 500])
      expect(
        evaluatePreconditions({ ifMatch: '"other"', ifNoneMatch: '*' }, current, status),
        String(status),
      ).toBe(200);
    expect(evaluatePreconditions({ ifMatch: '"other"' }, current, 204)).toBe(412);
  });
});

describe('headers of 304 and 412 (RFC 9110 §15.4.5)', () => {
  const full = {
    'content-type': 'application/json',
    'content-length': '10',
    'content-encoding': 'gzip',
    'content-location': '/a',
    'cache-control': 'public, max-age=0',
    etag: '"xyzzy"',
    expires: 'Thu, 01 Dec 1994 16:00:00 GMT',
    vary: 'accept-encoding',
    date: LM,
    'x-cache': 'HIT',
  };

  it('a 304 keeps Cache-Control, Content-Location, Date, ETag, Expires and Vary, and drops content metadata', () => {
    const headers = conditionalHeaders(304, full);
    for (const name of ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary'])
      expect(headers[name], name).toBe(full[name as keyof typeof full]);
    for (const name of ['content-type', 'content-length', 'content-encoding'])
      expect(headers[name], name).toBeUndefined();
  });

  it('a 412 keeps only Date, Vary and the named extras, with an empty body', () => {
    expect(conditionalHeaders(412, full, ['x-cache'])).toEqual({
      'content-length': '0',
      date: LM,
      vary: 'accept-encoding',
      'x-cache': 'HIT',
    });
  });
});
