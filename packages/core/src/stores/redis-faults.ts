import { VersionedCacheError } from '../errors.js';

// States in which ioredis would only queue the command: failing at once keeps a Redis outage from
// adding the full command timeout to every request.
export const DOWN_STATES = new Set(['reconnecting', 'close', 'end']);

const UNREACHABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);
const UNREACHABLE_MESSAGE =
  /^(Connection is closed|Stream isn't writeable|None of startup nodes is available|Failed to refresh slots cache|Cluster is disconnect|Cluster isn't ready|Node is disconnected|READONLY|LOADING|MASTERDOWN)/;

/**
 * ioredis reports one fault in several ways depending on timing (a command queued while
 * reconnecting fails with MaxRetriesPerRequestError, one sent to a hung server with 'Command timed
 * out'); callers branch on `code`, so each kind of fault gets one code. A demoted master's READONLY
 * and a starting server's LOADING are outages too: the client is about to follow the new master. Redis's own replies (OOM,
 * WRONGTYPE) pass through and become VC_STORE_ERROR.
 */
export function classifyRedisFault(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof VersionedCacheError) return error;
  if (error.message === 'Command timed out') {
    return new VersionedCacheError(
      'VC_STORE_TIMEOUT',
      'versioned-cache: Redis did not answer within the command timeout',
      {
        cause: error,
      },
    );
  }
  const errno = (error as NodeJS.ErrnoException).code;
  if (
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'ClusterAllFailedError' ||
    (errno !== undefined && UNREACHABLE_ERRNOS.has(errno)) ||
    UNREACHABLE_MESSAGE.test(error.message)
  ) {
    return new VersionedCacheError(
      'VC_STORE_UNAVAILABLE',
      `versioned-cache: Redis is unavailable: ${error.message}`,
      {
        cause: error,
      },
    );
  }
  return error;
}

// Module-level so that the hit path allocates no closure for it.
export function rethrowRedisFault(error: unknown): never {
  throw classifyRedisFault(error);
}
