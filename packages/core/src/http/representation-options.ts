import { VersionedCacheTypeError } from '../errors.js';
import { assertKnownOptions } from '../options.js';
import { type Compressor, STORED_CODINGS, type StoredCoding, zlibCompressor } from './content-coding.js';
import { DEFAULT_QUERY, type QueryOptions, type ResolvedQuery } from './query-normalise.js';

/**
 * The options that decide how a response is represented (content-codings, the query part of the
 * key) and what the cache reports about the privacy rewrites it makes: their types, defaults and
 * validation, so that `options.ts` only wires them.
 */

export interface CompressOptions {
  /**
   * The codings stored besides identity, in the order preferred when a client weighs them equally.
   * @default ['br', 'gzip']
   */
  encodings?: readonly StoredCoding[];
  /**
   * Bodies smaller than this many bytes are stored in identity only.
   * @default 1024
   */
  minSize?: number;
  /**
   * Compresses a body into one coding at fill time (a hit never compresses).
   * @default node:zlib (gzip level 6, brotli quality 5)
   */
  compressor?: Compressor;
}

export interface ResolvedCompress {
  codings: readonly StoredCoding[];
  minSize: number;
  compressor: Compressor;
}

/** What the cache tells `onDebug` about. */
export interface HttpDebugEvent {
  /** A per-user response's Cache-Control would have let a shared cache store it: it was made `private`. */
  type: 'cache-control-privatised';
  status: number;
  /** The Cache-Control the handler or the configuration set (undefined: none). */
  from: string | undefined;
  /** The Cache-Control sent instead. */
  to: string;
}

const COMPRESS_OPTIONS: ReadonlySet<string> = new Set(['encodings', 'minSize', 'compressor']);
const QUERY_OPTIONS: ReadonlySet<string> = new Set(['sort', 'allow']);

/** `compress`: false/undefined is off, true the defaults, an object its fields over the defaults. */
export function resolveCompress(value: unknown): ResolvedCompress | null {
  if (value === undefined || value === false) return null;
  const options = (value === true ? {} : value) as CompressOptions;
  if (typeof options !== 'object' || options === null)
    throw new VersionedCacheTypeError('compress', 'must be a boolean or { encodings, minSize, compressor }');
  assertKnownOptions('compress', options, COMPRESS_OPTIONS);
  const codings = options.encodings ?? STORED_CODINGS;
  if (!Array.isArray(codings) || codings.length === 0)
    throw new VersionedCacheTypeError('compress.encodings', "must be a non-empty array of 'br' and 'gzip'");
  codings.forEach((coding: unknown, i) => {
    if (!STORED_CODINGS.includes(coding as StoredCoding))
      throw new VersionedCacheTypeError(
        `compress.encodings[${i}]`,
        `'${String(coding)}' is not 'br' or 'gzip'`,
      );
  });
  const minSize = options.minSize ?? 1024;
  if (!Number.isInteger(minSize) || minSize < 0)
    throw new VersionedCacheTypeError('compress.minSize', 'must be a non-negative integer (bytes)');
  const compressor = options.compressor ?? zlibCompressor;
  if (typeof compressor !== 'function')
    throw new VersionedCacheTypeError(
      'compress.compressor',
      'must be a function (body, coding) => Promise<Buffer>',
    );
  return { codings: [...new Set(codings)], minSize, compressor };
}

/** `query`: which parameters form the key, and whether they are sorted. */
export function resolveQuery(value: unknown): ResolvedQuery {
  if (value === undefined) return DEFAULT_QUERY;
  if (typeof value !== 'object' || value === null)
    throw new VersionedCacheTypeError('query', 'must be an object { sort, allow }');
  assertKnownOptions('query', value, QUERY_OPTIONS);
  const { sort = true, allow } = value as QueryOptions;
  if (typeof sort !== 'boolean') throw new VersionedCacheTypeError('query.sort', 'must be a boolean');
  if (allow !== undefined && !Array.isArray(allow))
    throw new VersionedCacheTypeError('query.allow', 'must be an array of parameter names');
  allow?.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || name.length === 0)
      throw new VersionedCacheTypeError(`query.allow[${i}]`, 'must be a non-empty string');
  });
  return { sort, allow: allow === undefined ? undefined : new Set(allow) };
}

/** Whether two query settings key requests alike. */
export function sameQuery(a: ResolvedQuery, b: ResolvedQuery): boolean {
  const names = (query: ResolvedQuery) => (query.allow ? [...query.allow].sort().join('\n') : undefined);
  return a.sort === b.sort && names(a) === names(b);
}

export function resolveDebug(value: unknown): ((event: HttpDebugEvent) => void) | undefined {
  if (value !== undefined && typeof value !== 'function')
    throw new VersionedCacheTypeError('onDebug', 'must be a function');
  return value as ((event: HttpDebugEvent) => void) | undefined;
}
