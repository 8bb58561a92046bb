import { describe, expect, it } from 'vitest';
import { normaliseQuery, normaliseTarget } from '../src/http/query-normalise.js';
import { normalisedTarget, sortedQuery } from '../src/http/request-key.js';

describe('query normalisation for the entry key', () => {
  it('sorts by name by default, stable for repeated names, dropping empty pairs', () => {
    expect(normaliseQuery('b=2&a=1')).toBe('a=1&b=2');
    expect(normaliseQuery('a=2&b=0&a=1')).toBe('a=2&a=1&b=0');
    expect(normaliseQuery('&&b&a=')).toBe('a=&b');
    expect(sortedQuery('z=1&y=2')).toBe('y=2&z=1');
  });

  it('keeps the order when sort is off', () => {
    expect(normaliseQuery('b=2&a=1', { sort: false, allow: undefined })).toBe('b=2&a=1');
  });

  it('keeps only allowed names, compared after percent-decoding', () => {
    const options = { sort: true, allow: new Set(['range', 'a b', 'q[]']) };
    expect(normaliseQuery('utm_source=x&range=7d&fbclid=1', options)).toBe('range=7d');
    expect(normaliseQuery('a+b=1&a%20b=2&q%5B%5D=3&%zz=4', options)).toBe('a+b=1&a%20b=2&q%5B%5D=3');
    expect(normaliseQuery('utm=1', options)).toBe('');
  });

  it('normalises a target, dropping the fragment and an empty query', () => {
    const options = { sort: true, allow: new Set(['a']) };
    expect(normaliseTarget('/p?b=1&a=2#frag', options)).toBe('/p?a=2');
    expect(normaliseTarget('/p?b=1', options)).toBe('/p');
    expect(normaliseTarget('/p')).toBe('/p');
    expect(normalisedTarget('/p?b=1&a=2')).toBe('/p?a=2&b=1');
  });
});
