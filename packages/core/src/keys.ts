import { createHash } from 'node:crypto';
import { VersionedCacheTypeError } from './errors.js';

export const MAX_NAMESPACE_LENGTH = 128;
/** Entry keys longer than this are replaced by their SHA-256, so Redis keys stay short and bounded. */
export const MAX_RAW_ENTRY_KEY_LENGTH = 256;

// Braces would break the Redis Cluster hash tag; whitespace and control characters make keys unreadable.
const NAMESPACE_PATTERN = /^[^\s{}\p{Cc}]+$/u;

export function assertNamespace(value: unknown, field = 'namespace'): string {
  if (typeof value !== 'string') throw new VersionedCacheTypeError(field, 'must be a string');
  if (value.length === 0) throw new VersionedCacheTypeError(field, 'must not be empty');
  if (value.length > MAX_NAMESPACE_LENGTH) {
    throw new VersionedCacheTypeError(field, `must be at most ${MAX_NAMESPACE_LENGTH} characters`);
  }
  if (!NAMESPACE_PATTERN.test(value)) {
    throw new VersionedCacheTypeError(
      field,
      `'${value}' must not contain braces, whitespace or control characters`,
    );
  }
  return value;
}

/**
 * Normalises one namespace or a list to a sorted, de-duplicated list, so that `['a', 'b']` and
 * `['b', 'a']` name the same entries and the entry always lives in the same hash slot.
 */
export function normaliseNamespaces(value: unknown, field = 'namespace'): readonly string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new VersionedCacheTypeError(field, 'must name at least one namespace');
  return Object.freeze([...new Set(list.map((ns) => assertNamespace(ns, field)))].sort());
}

export function assertPrefix(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64 || /[\s{}]/.test(value)) {
    throw new VersionedCacheTypeError(
      'prefix',
      'must be a non-empty string of at most 64 characters without braces or spaces',
    );
  }
  return value;
}

export function assertEntryKey(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new VersionedCacheTypeError('key', 'must be a non-empty string');
  }
  return value;
}

function compactEntryKey(key: string): string {
  if (key.length <= MAX_RAW_ENTRY_KEY_LENGTH) return key;
  return `#${createHash('sha256').update(key).digest('base64url')}`;
}

/** Where a namespace's keys live. The braces are a Redis Cluster hash tag: one namespace, one slot. */
export class KeySchema {
  constructor(readonly prefix: string) {}

  versionKey(namespace: string): string {
    return `${this.prefix}:{${namespace}}:version`;
  }

  /**
   * The entry lives in the slot of the first namespace and embeds the version of every namespace it
   * depends on, so that bumping any one of them moves it to a key nobody reads.
   */
  entryKey(namespaces: readonly string[], versions: readonly string[], key: string): string {
    const [primary, ...others] = namespaces;
    let generation = versions[0]!;
    for (let i = 0; i < others.length; i++) generation += `,${others[i]}=${versions[i + 1]}`;
    return `${this.prefix}:{${primary}}:${generation}:${compactEntryKey(key)}`;
  }

  /**
   * Where a bump records the version it replaced (`<previous>><version>`), in the namespace's slot
   * so that one MGET reads it with the version, for grace in a process that did not see the bump.
   */
  previousKey(namespace: string): string {
    return `${this.prefix}:{${namespace}}:previous`;
  }

  leaseKey(entryKey: string): string {
    return `${entryKey}:lock`;
  }
}
