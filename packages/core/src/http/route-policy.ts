/** Route options resolved into a policy: validated, defaults applied, merged over the app's. */
import type { Namespaces } from '../cache.js';
import { type Duration, parseDuration } from '../duration.js';
import { assertLabel } from '../engine/events.js';
import { VersionedCacheTypeError } from '../errors.js';
import { normaliseNamespaces } from '../keys.js';
import { assertKnownOptions } from '../options.js';
import { formatCacheControl, privatise } from './cache-control.js';
import {
  type CacheControlOptions,
  type ResolvedHttpPolicy,
  ROUTE_OPTION_NAMES,
  type RouteCacheOptions,
} from './options.js';
import { resolveCompress, resolveQuery, sameQuery } from './representation-options.js';

export const DEFAULT_STATUSES: readonly number[] = [200, 203, 204, 300, 301, 404, 410];
const DEFAULT_MAX_BODY = 1024 * 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function headerNames(field: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw new VersionedCacheTypeError(field, 'must be an array of header names');
  return value.map((name, i) => {
    if (typeof name !== 'string' || !TOKEN.test(name))
      throw new VersionedCacheTypeError(`${field}[${i}]`, `'${String(name)}' is not a header name`);
    return name.toLowerCase();
  });
}

function seconds(field: string, value: Duration | undefined): number | undefined {
  return value === undefined
    ? undefined
    : Math.floor(parseDuration(field, value, { allowZero: true }) / 1000);
}

function resolveCacheControl(value: unknown): ResolvedHttpPolicy<unknown>['cacheControl'] {
  if (value === false) return null;
  if (typeof value === 'string') {
    if (value.trim().length === 0 || /[\r\n]/.test(value))
      throw new VersionedCacheTypeError('cacheControl', 'must be a non-empty single-line header value');
    return { public: value.trim(), private: privatise(value) };
  }
  if (typeof value !== 'object' || value === null)
    throw new VersionedCacheTypeError('cacheControl', 'must be an object, a string or false');
  const options = value as CacheControlOptions;
  assertKnownOptions(
    'cacheControl',
    options,
    new Set(['maxAge', 'sMaxAge', 'staleWhileRevalidate', 'visibility', 'mustRevalidate']),
  );
  const visibility = options.visibility ?? 'public';
  if (visibility !== 'public' && visibility !== 'private')
    throw new VersionedCacheTypeError('cacheControl.visibility', "must be 'public' or 'private'");
  if (options.mustRevalidate !== undefined && typeof options.mustRevalidate !== 'boolean')
    throw new VersionedCacheTypeError('cacheControl.mustRevalidate', 'must be a boolean');
  const maxAgeS = seconds('cacheControl.maxAge', options.maxAge) ?? 0;
  const parts = {
    maxAgeS,
    sMaxAgeS: seconds('cacheControl.sMaxAge', options.sMaxAge),
    staleWhileRevalidateS: seconds('cacheControl.staleWhileRevalidate', options.staleWhileRevalidate),
    mustRevalidate: options.mustRevalidate ?? maxAgeS === 0,
  };
  return {
    public: formatCacheControl({ ...parts, visibility }),
    private: formatCacheControl({ ...parts, visibility: 'private' }),
  };
}

function optionalFunction<F>(field: string, value: unknown): F | undefined {
  if (value !== undefined && typeof value !== 'function')
    throw new VersionedCacheTypeError(field, 'must be a function');
  return value as F | undefined;
}

function optionalBoolean(field: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean')
    throw new VersionedCacheTypeError(field, 'must be a boolean');
  return value;
}

/**
 * Validates route options and merges them over `base`: namespaces, vary and storeHeaders add to the
 * base's lists; every other option replaces. Every mistake is a TypeError naming the field.
 */
export function mergeRouteOptions<Req>(
  base: ResolvedHttpPolicy<Req>,
  options: RouteCacheOptions<Req> | false,
  known: ReadonlySet<string> = ROUTE_OPTION_NAMES,
): ResolvedHttpPolicy<Req> {
  if (options === false) return { ...base, enabled: false };
  if (typeof options !== 'object' || options === null)
    throw new VersionedCacheTypeError('options', 'must be an object (or false to opt out)');
  assertKnownOptions('options', options, known);
  const o = options;
  const statuses =
    o.statuses === undefined
      ? base.statuses
      : new Set(
          (Array.isArray(o.statuses) ? o.statuses : [null]).map((status, i) => {
            if (!Number.isInteger(status) || status < 100 || status > 599)
              throw new VersionedCacheTypeError(`statuses[${i}]`, 'must be an HTTP status code');
            return status as number;
          }),
        );
  if (statuses.has(206) || statuses.has(304))
    throw new VersionedCacheTypeError('statuses', '206 and 304 answer one request and cannot be stored');
  const maxBodySize = o.maxBodySize ?? base.maxBodySize;
  if (!Number.isInteger(maxBodySize) || maxBodySize < 0)
    throw new VersionedCacheTypeError('maxBodySize', 'must be a non-negative integer (bytes)');
  const vary = o.vary === undefined ? [] : headerNames('vary', o.vary);
  if (vary.includes('authorization') || vary.includes('cookie'))
    throw new VersionedCacheTypeError('vary', 'use perUser to key entries by user, not the raw credentials');
  return {
    enabled: true,
    namespaces:
      o.namespaces === undefined
        ? base.namespaces
        : normaliseNamespaces([...base.namespaces, ...normaliseNamespaces(o.namespaces, 'namespaces')]),
    ttlMs: o.ttl === undefined ? base.ttlMs : parseDuration('ttl', o.ttl),
    graceMs: o.grace === undefined ? base.graceMs : parseDuration('grace', o.grace, { allowZero: true }),
    earlyBeta: o.earlyRefresh === undefined ? base.earlyBeta : earlyBeta(o.earlyRefresh),
    cacheControl: o.cacheControl === undefined ? base.cacheControl : resolveCacheControl(o.cacheControl),
    vary: [...new Set([...base.vary, ...vary])].sort(),
    key: optionalFunction('key', o.key) ?? base.key,
    perUser: optionalFunction('perUser', o.perUser) ?? base.perUser,
    statuses,
    maxBodySize,
    storeHeaders: new Set([
      ...base.storeHeaders,
      ...(o.storeHeaders === undefined ? [] : headerNames('storeHeaders', o.storeHeaders)),
    ]),
    honorNoCache: optionalBoolean('honorNoCache', o.honorNoCache) ?? base.honorNoCache,
    handlerTimeoutMs:
      o.handlerTimeout === undefined
        ? base.handlerTimeoutMs
        : parseDuration('handlerTimeout', o.handlerTimeout),
    invalidateOnMutation:
      optionalBoolean('invalidateOnMutation', o.invalidateOnMutation) ?? base.invalidateOnMutation,
    label: assertLabel(o.label) ?? base.label,
    compress: o.compress === undefined ? base.compress : resolveCompress(o.compress),
    downstreamCompressor:
      optionalBoolean('downstreamCompressor', o.downstreamCompressor) ?? base.downstreamCompressor,
    query: o.query === undefined ? base.query : resolveQuery(o.query),
    onDebug: base.onDebug,
  };
}

function earlyBeta(value: unknown): number {
  if (value === true) return 1;
  if (value === false) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new VersionedCacheTypeError('earlyRefresh', 'must be a boolean or a non-negative number');
  return value;
}

export function defaultPolicy<Req>(namespaces: Namespaces): ResolvedHttpPolicy<Req> {
  return {
    enabled: true,
    namespaces: normaliseNamespaces(namespaces),
    ttlMs: undefined,
    graceMs: 0,
    earlyBeta: 0,
    cacheControl: resolveCacheControl({}),
    vary: [],
    key: undefined,
    perUser: undefined,
    statuses: new Set(DEFAULT_STATUSES),
    maxBodySize: DEFAULT_MAX_BODY,
    storeHeaders: new Set(),
    honorNoCache: false,
    handlerTimeoutMs: 30_000,
    invalidateOnMutation: false,
    label: undefined,
    compress: null,
    downstreamCompressor: false,
    query: resolveQuery(undefined),
  };
}

/** Whether two policies look up the same entries the same way, so one lookup serves both. */
export function sameLookup<Req>(a: ResolvedHttpPolicy<Req>, b: ResolvedHttpPolicy<Req>): boolean {
  return (
    a.namespaces.join('\n') === b.namespaces.join('\n') &&
    a.vary.join('\n') === b.vary.join('\n') &&
    a.key === b.key &&
    a.perUser === b.perUser &&
    a.graceMs === b.graceMs &&
    a.earlyBeta === b.earlyBeta &&
    a.honorNoCache === b.honorNoCache &&
    a.maxBodySize === b.maxBodySize &&
    a.handlerTimeoutMs === b.handlerTimeoutMs &&
    a.label === b.label &&
    sameQuery(a.query, b.query) &&
    a.downstreamCompressor === b.downstreamCompressor
  );
}
