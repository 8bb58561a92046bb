/**
 * Every error the library creates carries a stable `code`, so callers can branch on it without
 * parsing messages, and the underlying fault as `cause`.
 */
export type VersionedCacheErrorCode =
  | 'VC_INVALID_ARGUMENT'
  | 'VC_STORE_TIMEOUT'
  | 'VC_STORE_UNAVAILABLE'
  | 'VC_STORE_ERROR'
  | 'VC_DECODE_ERROR'
  | 'VC_REFRESH_FAILED'
  /** A durable invalidation reached fewer replicas than asked in time: it may not survive a failover. */
  | 'VC_NOT_DURABLE'
  | 'VC_CLOSED'
  /** A Redis node's circuit breaker opened: calls skip that node until it recovers. */
  | 'VC_CIRCUIT_OPEN'
  /** An invalidation asked to recover, but the queue of pending invalidations is full. */
  | 'VC_INVALIDATION_QUEUE_FULL';

export class VersionedCacheError extends Error {
  override readonly name: string = 'VersionedCacheError';
  readonly code: VersionedCacheErrorCode;

  constructor(code: VersionedCacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Thrown at setup for bad arguments; a TypeError so that it reads as a programming mistake. */
export class VersionedCacheTypeError extends TypeError {
  override readonly name: string = 'VersionedCacheTypeError';
  readonly code = 'VC_INVALID_ARGUMENT' as const;
  /** The option or argument at fault, for example `ttl` or `namespace`. */
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(`versioned-cache: invalid ${field}: ${message}`, options);
    this.field = field;
  }
}

/** Thrown at setup for a value of the right type outside its bounds (a TTL of 1e20 ms, a negative timeout). */
export class VersionedCacheRangeError extends RangeError {
  override readonly name: string = 'VersionedCacheRangeError';
  readonly code = 'VC_INVALID_ARGUMENT' as const;
  /** The option or argument at fault, for example `ttl` or `lease.maxWait`. */
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(`versioned-cache: invalid ${field}: ${message}`, options);
    this.field = field;
  }
}

/** True for the setup errors of bad arguments, TypeError or RangeError alike. */
export function isInvalidArgument(
  value: unknown,
): value is VersionedCacheTypeError | VersionedCacheRangeError {
  return value instanceof VersionedCacheTypeError || value instanceof VersionedCacheRangeError;
}

export class StoreTimeoutError extends VersionedCacheError {
  override readonly name = 'StoreTimeoutError';
  constructor(operation: string, timeoutMs: number) {
    super('VC_STORE_TIMEOUT', `versioned-cache: store ${operation} did not answer within ${timeoutMs} ms`);
  }
}

export function isVersionedCacheError(value: unknown): value is VersionedCacheError {
  return value instanceof VersionedCacheError;
}

/** Wraps any thrown value in a VersionedCacheError, keeping the original as `cause`. */
export function toStoreError(operation: string, error: unknown): VersionedCacheError {
  if (error instanceof VersionedCacheError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new VersionedCacheError('VC_STORE_ERROR', `versioned-cache: store ${operation} failed: ${message}`, {
    cause: error,
  });
}
