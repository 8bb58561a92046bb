import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/duration.js';
import { isInvalidArgument, VersionedCacheRangeError, VersionedCacheTypeError } from '../src/errors.js';

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
    [0, TypeError],
    ['0s', TypeError],
    [0.4, TypeError],
    ['0.1ms', TypeError],
    [-1, TypeError],
    ['-1s', TypeError],
    ['', TypeError],
    ['10', TypeError],
    ['10sec', TypeError],
    ['1w', TypeError],
    ['abc', TypeError],
    [Number.NaN, TypeError],
    [Number.POSITIVE_INFINITY, TypeError],
    [1e20, RangeError],
    ['366d', RangeError],
    [null, TypeError],
    [{}, TypeError],
    [true, TypeError],
  ])('%j is rejected, naming the field', (value, kind) => {
    let thrown: unknown;
    try {
      parseDuration('lease.ttl', value);
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidArgument(thrown)).toBe(true);
    expect(thrown).toBeInstanceOf(kind);
    expect((thrown as VersionedCacheTypeError).field).toBe('lease.ttl');
    expect((thrown as Error).message).toContain('lease.ttl');
  });

  it('is bounded: one year by default, or the bound the option gives, named with the value', () => {
    expect(parseDuration('ttl', '365d')).toBe(365 * 86_400_000);
    expect(parseDuration('timeout', '60s', { max: 60_000 })).toBe(60_000);
    expect(() => parseDuration('timeout', '61s', { max: 60_000 })).toThrow(VersionedCacheRangeError);
    expect(() => parseDuration('timeout', '61s', { max: 60_000 })).toThrow(
      /timeout: must be at most 60000 ms, got 61s/,
    );
  });

  it('accepts zero only where zero is allowed', () => {
    expect(parseDuration('grace', 0, { allowZero: true })).toBe(0);
    expect(parseDuration('grace', '0s', { allowZero: true })).toBe(0);
    expect(() => parseDuration('grace', -1, { allowZero: true })).toThrow(VersionedCacheTypeError);
  });
});
