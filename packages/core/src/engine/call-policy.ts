import { LRUCache } from 'lru-cache';
import { type Codec, jsonCodec } from '../codec.js';
import { type Duration, parseDuration } from '../duration.js';
import { VersionedCacheTypeError } from '../errors.js';
import { assertEntryKey, normaliseNamespaces } from '../keys.js';
import { assertKnownOptions } from '../options.js';
import { assertLabel } from './events.js';
import type { ComputeContext, GetOrSetOptions, Namespaces } from './types.js';

const GET_OR_SET_OPTIONS = new Set([
  'ttl',
  'grace',
  'earlyRefresh',
  'codec',
  'shouldStore',
  'waitForRefresh',
  'label',
]);
const LIST_MEMO_SIZE = 10_000;

/** The options of one call with defaults applied and validated. */
export interface CallPolicy<T> {
  ttl: number | ((value: T) => Duration);
  graceMs: number;
  earlyBeta: number;
  codec: Codec<T>;
  shouldStore: (value: T) => boolean;
  waitForRefresh: boolean;
  label: string | undefined;
}

/** Everything the engine's parts need to know about one call. */
export interface ResolvedCall<T> extends CallPolicy<T> {
  namespaces: readonly string[];
  key: string;
  compute: (context: ComputeContext) => Promise<T> | T;
}

/**
 * Turns a call's arguments into a `ResolvedCall`, validating each once: callers that reuse one
 * frozen options object or namespace list (every adapter route) skip the work on hits.
 */
export class CallPolicies {
  private readonly policies = new WeakMap<object, CallPolicy<unknown>>();
  private readonly frozenLists = new WeakMap<readonly string[], readonly string[]>();
  private readonly namespaceLists = new LRUCache<string, readonly string[]>({ max: LIST_MEMO_SIZE });

  constructor(private readonly defaultTtlMs: number) {}

  resolve<T>(
    namespaces: Namespaces,
    key: string,
    compute: (context: ComputeContext) => Promise<T> | T,
    options: GetOrSetOptions<T>,
  ): ResolvedCall<T> {
    if (typeof compute !== 'function') throw new VersionedCacheTypeError('compute', 'must be a function');
    const policy = this.policy(options);
    // Spelled out rather than spread: one object shape for every call keeps the hit path monomorphic.
    return {
      ttl: policy.ttl,
      graceMs: policy.graceMs,
      earlyBeta: policy.earlyBeta,
      codec: policy.codec,
      shouldStore: policy.shouldStore,
      waitForRefresh: policy.waitForRefresh,
      label: policy.label,
      namespaces: this.normalised(namespaces),
      key: assertEntryKey(key),
      compute,
    };
  }

  private policy<T>(options: GetOrSetOptions<T>): CallPolicy<T> {
    // Only frozen options can be remembered: a mutable object may change between calls.
    const cached = this.policies.get(options);
    if (cached) return cached as CallPolicy<T>;
    assertKnownOptions('options', options, GET_OR_SET_OPTIONS);
    const { ttl, earlyRefresh, waitForRefresh } = options;
    const earlyBeta =
      earlyRefresh === true ? 1 : earlyRefresh === false || earlyRefresh === undefined ? 0 : earlyRefresh;
    if (typeof earlyBeta !== 'number' || !(earlyBeta >= 0)) {
      throw new VersionedCacheTypeError('earlyRefresh', 'must be a boolean or a non-negative number');
    }
    if (waitForRefresh !== undefined && typeof waitForRefresh !== 'boolean') {
      throw new VersionedCacheTypeError('waitForRefresh', `must be a boolean, got ${String(waitForRefresh)}`);
    }
    const label = assertLabel(options.label);
    const policy: CallPolicy<T> = {
      ttl:
        typeof ttl === 'function' ? ttl : ttl === undefined ? this.defaultTtlMs : parseDuration('ttl', ttl),
      graceMs: options.grace === undefined ? 0 : parseDuration('grace', options.grace, { allowZero: true }),
      earlyBeta,
      codec: options.codec ?? (jsonCodec as Codec<T>),
      shouldStore: options.shouldStore ?? (() => true),
      waitForRefresh: waitForRefresh ?? true,
      label,
    };
    if (Object.isFrozen(options)) this.policies.set(options, policy as CallPolicy<unknown>);
    return policy;
  }

  /** Normalising and validating namespace lists is a hit-path cost worth paying once per list. */
  private normalised(namespaces: Namespaces): readonly string[] {
    if (typeof namespaces !== 'string') {
      if (!Array.isArray(namespaces)) return normaliseNamespaces(namespaces);
      // A frozen list (every adapter route passes the same one) cannot change: remember it by identity.
      const known = this.frozenLists.get(namespaces);
      if (known) return known;
      if (Object.isFrozen(namespaces)) {
        const list = Object.freeze(normaliseNamespaces(namespaces));
        this.frozenLists.set(namespaces, list);
        return list;
      }
    }
    // Valid names hold no control characters, so the separator cannot make two lists collide.
    const id = typeof namespaces === 'string' ? namespaces : namespaces.join('\u0000');
    let list = this.namespaceLists.get(id);
    if (!list) {
      list = Object.freeze(normaliseNamespaces(namespaces));
      this.namespaceLists.set(id, list);
    }
    return list;
  }
}
