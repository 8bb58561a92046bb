import { Redis, type RedisOptions } from 'ioredis';

/**
 * Settings for a connection through Redis Sentinel that follows a promoted master within about a
 * second instead of several (see docs/operations.md). Each one can be overridden by the caller.
 */
export function sentinelDefaults(): RedisOptions {
  return {
    // Subscribes to +switch-master on the sentinels and reconnects as soon as one announces a new
    // master, instead of waiting for the old master's socket to fail.
    failoverDetector: true,
    // Asks the sentinels again quickly while none answers (the ioredis default backs off to 1 s
    // after a hundred attempts, but starts at 10 ms and never gives up either).
    sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    // Reconnects to whatever master the sentinels name now, quickly: an old master that was
    // killed refuses connections until the failover completes.
    retryStrategy: (attempt) => Math.min(attempt * 50, 500),
    // A demoted master answers writes with READONLY: reconnect (2: and resend the command) so the
    // next attempt reaches the promoted one.
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
  };
}

function isSentinelOptions(options: RedisOptions): boolean {
  return Array.isArray(options.sentinels) && options.sentinels.length > 0;
}

/** Opens the connection a store owns, from a URL or ioredis options, with the store's defaults. */
export function openRedis(input: string | RedisOptions, commandTimeoutMs: number): Redis {
  const defaults: RedisOptions = {
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
    // Concurrent requests' reads leave in one socket write: the hit path is syscall-bound otherwise.
    enableAutoPipelining: true,
    connectTimeout: Math.max(1_000, commandTimeoutMs * 4),
  };
  if (typeof input === 'string') return new Redis(input, defaults);
  const sentinel = isSentinelOptions(input) ? sentinelDefaults() : {};
  return new Redis({ ...defaults, ...sentinel, ...input });
}
