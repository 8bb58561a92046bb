import { randomInt } from 'node:crypto';

/**
 * A fresh generation number: random, so that a version lost from Redis (eviction, restart, delete)
 * restarts somewhere no earlier generation has been, and far below 2^53 so that a version read
 * back as a JavaScript number would still be exact.
 */
export function randomVersion(): string {
  return String(randomInt(2 ** 32, 2 ** 47));
}

/** Exclusive upper bound of a bump's step. */
export const MAX_VERSION_STEP = 2 ** 31;

/**
 * How far one bump moves a version: random in [1, 2^31). A failover that rolls a version back to
 * an earlier value must not make the next bump re-issue a number already handed out for other
 * content, as a bump by one would. Versions still only grow on one history, so a drill can order
 * them; the cache itself compares them by equality only.
 */
export function randomVersionStep(): number {
  return randomInt(1, MAX_VERSION_STEP);
}

/** What a bump did: the new version, and the one it replaced (null when the key was missing). */
export interface VersionBump {
  version: string;
  previous: string | null;
}

const RECORD_SEPARATOR = '>';

/**
 * The record a bump writes beside the version, `<previous>><version>`, atomically with it. It names
 * its successor, so that a record left behind by a version that was since lost and recreated is
 * recognised as foreign, rather than pointing grace at a generation two steps back.
 */
export function encodePreviousRecord(previous: string, version: string): string {
  return `${previous}${RECORD_SEPARATOR}${version}`;
}

/**
 * The generation before `current`, from the record read in the same MGET as the version; null when
 * there is none or it was written for another version.
 */
export function previousFromRecord(
  record: Buffer | string | null | undefined,
  current: string,
): string | null {
  if (record === null || record === undefined) return null;
  const text = typeof record === 'string' ? record : record.toString('utf8');
  const at = text.lastIndexOf(RECORD_SEPARATOR);
  if (at <= 0 || text.slice(at + 1) !== current) return null;
  return text.slice(0, at);
}

/**
 * @deprecated Versions move by a random step now: this guess (one INCR back) names a generation
 * that almost never existed, so a grace lookup built on it is a harmless miss. Read the previous
 * record (`KeySchema.previousKey`, `previousFromRecord`) in the same MGET as the version instead.
 */
export function previousVersion(version: string): string | null {
  return /^-?\d+$/.test(version) ? String(BigInt(version) - 1n) : null;
}
