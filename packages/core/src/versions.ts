import { randomInt } from 'node:crypto';

/**
 * A fresh generation number: random, so that a version lost from Redis (eviction, restart, delete)
 * restarts somewhere no earlier generation has been, and far below 2^53 so that INCR never leaves
 * the range JavaScript numbers and Lua doubles represent exactly.
 */
export function randomVersion(): string {
  return String(randomInt(2 ** 32, 2 ** 47));
}

/**
 * The generation just before `version` under plain INCRs; used to find grace material. Null for a
 * version that is not an integer (a key overwritten by hand): it has no predecessor.
 */
export function previousVersion(version: string): string | null {
  return /^-?\d+$/.test(version) ? String(BigInt(version) - 1n) : null;
}
