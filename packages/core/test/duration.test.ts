import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/duration.js';
import { VersionedCacheTypeError } from '../src/errors.js';

describe('parseDuration', () => {
  it.each([
    [250, 250],
    [1.6, 2],
    ['250ms', 250],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    [' 2s ', 2_000],
  ])('%j is %d ms', (value, ms) => {
    expect(parseDuration('ttl', value)).toBe(ms);
  });

  it.each([
    [0],
    ['0s'],
    [0.4],
    ['0.1ms'],
    [-1],
    ['-1s'],
    [''],
    ['10'],
    ['10sec'],
    ['1w'],
    ['abc'],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [null],
    [{}],
    [true],
  ])('%j is rejected, naming the field', (value) => {
    let thrown: unknown;
    try {
      parseDuration('lease.ttl', value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(VersionedCacheTypeError);
    expect((thrown as VersionedCacheTypeError).field).toBe('lease.ttl');
  });

  it('accepts zero only where zero is allowed', () => {
    expect(parseDuration('grace', 0, { allowZero: true })).toBe(0);
    expect(parseDuration('grace', '0s', { allowZero: true })).toBe(0);
    expect(() => parseDuration('grace', -1, { allowZero: true })).toThrow(VersionedCacheTypeError);
  });
});
