import { Cluster } from 'ioredis';
import { VersionedCacheTypeError } from '../errors.js';
import type { RedisInput } from '../stores/redis-store.js';
import type { CacheStore } from '../stores/store.js';

export interface L1Options {
  /**
   * Most entries kept in process memory; the least recently used go first.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * Most bytes of entry payloads (plus their keys) kept in process memory.
   * @default 33554432 (32 MiB)
   */
  maxBytes?: number;
}

export interface ResolvedL1Options {
  maxEntries: number;
  maxBytes: number;
}

const L1_OPTION_NAMES = new Set(['maxEntries', 'maxBytes']);

function positiveInteger(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new VersionedCacheTypeError(field, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function isCluster(redis: RedisInput): boolean {
  return redis instanceof Cluster || (redis as { isCluster?: boolean }).isCluster === true;
}

/** Validates `l1` against the store it would sit in front of; null when the tier is off. */
export function resolveL1Options(
  value: unknown,
  context: { redis?: RedisInput | undefined; store?: CacheStore | undefined },
): ResolvedL1Options | null {
  if (value === undefined || value === false) return null;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new VersionedCacheTypeError(
      'l1',
      `must be a boolean or { maxEntries, maxBytes }, got ${String(value)}`,
    );
  }
  if (context.redis === undefined || context.store !== undefined) {
    throw new VersionedCacheTypeError(
      'l1',
      'needs the redis option: the tier is kept coherent by Redis client tracking',
    );
  }
  if (typeof context.redis === 'object' && isCluster(context.redis)) {
    throw new VersionedCacheTypeError(
      'l1',
      'is not supported on Redis Cluster: invalidations are tracked per node, and one tracking connection cannot follow every node',
    );
  }
  const options = value === true ? {} : (value as L1Options);
  for (const name of Object.keys(options)) {
    if (!L1_OPTION_NAMES.has(name)) throw new VersionedCacheTypeError(`l1.${name}`, 'is not a known option');
  }
  return {
    maxEntries: positiveInteger('l1.maxEntries', options.maxEntries, 10_000),
    maxBytes: positiveInteger('l1.maxBytes', options.maxBytes, 32 * 1024 * 1024),
  };
}
