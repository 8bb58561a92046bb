import { describe, expect, it } from 'vitest';
import { buildEntryKey } from '../src/http/request-key.js';

/** The key format entries are stored under: the JSON array of the parts (a change would orphan them). */
function reference(
  base: string,
  vary: readonly string[],
  headers: Record<string, string | string[]>,
  user?: string,
) {
  const parts: (string | null)[] = [base];
  for (const name of vary) {
    const value = headers[name];
    parts.push(value === undefined ? null : Array.isArray(value) ? value.join(', ') : value);
  }
  if (user !== undefined) parts.push(`user:${user}`);
  return JSON.stringify(parts);
}

const awkward = [
  '',
  'u:example.com /a?b=1',
  'quote " and backslash \\',
  'control \u0000\u0001\u001f and tab\t newline\n',
  'line separators \u2028\u2029',
  'lone surrogates \ud800 x \udfff',
  'paired surrogate 😀',
  'latin-1 é and DEL \u007f',
];

describe('entry key of a request', () => {
  it('is the JSON array of base, varied header values and user, for awkward strings', () => {
    for (const base of awkward) {
      for (const value of awkward) {
        const headers = { 'accept-language': value, accept: [value, 'x'] };
        const vary = ['accept-language', 'accept', 'absent'];
        expect(buildEntryKey(base, vary, headers, value)).toBe(reference(base, vary, headers, value));
        expect(buildEntryKey(base, [], {}, undefined)).toBe(reference(base, [], {}));
      }
    }
  });

  it('is the JSON array for random UTF-16 strings', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const randomString = () =>
      String.fromCharCode(...Array.from({ length: next() % 12 }, () => next() % 0x10000));
    for (let i = 0; i < 2000; i++) {
      const base = randomString();
      const headers = { vary: randomString() };
      const user = i % 2 ? randomString() : undefined;
      expect(buildEntryKey(base, ['vary'], headers, user)).toBe(reference(base, ['vary'], headers, user));
    }
  });
});
