import { describe, expect, it } from 'vitest';
import {
  encodePreviousRecord,
  MAX_VERSION_STEP,
  previousFromRecord,
  randomVersion,
  randomVersionStep,
} from '../src/versions.js';

describe('version numbers', () => {
  it('start far from 0 and 1 and step by [1, 2^31)', () => {
    for (let i = 0; i < 1_000; i++) {
      const start = BigInt(randomVersion());
      expect(start >= 2n ** 32n && start < 2n ** 47n).toBe(true);
      const step = randomVersionStep();
      expect(Number.isInteger(step) && step >= 1 && step < MAX_VERSION_STEP).toBe(true);
    }
  });

  it('steps are spread: 1,000 draws do not repeat', () => {
    expect(new Set(Array.from({ length: 1_000 }, randomVersionStep)).size).toBe(1_000);
  });
});

describe('previous-version record', () => {
  it('names the previous version only for the version it was written with', () => {
    const record = encodePreviousRecord('4294967296', '4294967999');
    expect(previousFromRecord(record, '4294967999')).toBe('4294967296');
    expect(previousFromRecord(Buffer.from(record), '4294967999')).toBe('4294967296');
    // Left behind by a version that was lost and recreated at random: foreign, ignored.
    expect(previousFromRecord(record, '77777777777')).toBeNull();
    expect(previousFromRecord(null, '4294967999')).toBeNull();
    expect(previousFromRecord(undefined, '4294967999')).toBeNull();
    expect(previousFromRecord('garbage', 'garbage')).toBeNull();
    expect(previousFromRecord('>5', '5')).toBeNull();
  });
});
