import { type Cluster, Redis, type RedisOptions } from 'ioredis';

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

const revivals = new WeakMap<Redis | Cluster, () => void>();

/**
 * ioredis gives a connection up for good (status `end`) when a connect attempt is interrupted: a
 * Sentinel failover announced while the client was still asking a sentinel for the master does
 * that, and the cache would then bypass Redis until the process restarts. A connection the store
 * owns is connected again instead, with a short backoff, until the store closes it.
 */
export function keepConnected(client: Redis | Cluster): void {
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  const revive = () => {
    timer = setTimeout(() => client.connect().catch(() => {}), Math.min(++attempt * 100, 1_000));
    timer.unref();
  };
  const connected = () => {
    attempt = 0;
  };
  client.on('end', revive);
  client.on('ready', connected);
  revivals.set(client, () => {
    clearTimeout(timer);
    client.off('end', revive);
    client.off('ready', connected);
  });
}

/** Called before the store closes a connection on purpose: an `end` from then on is final. */
export function letEnd(client: Redis | Cluster): void {
  revivals.get(client)?.();
  revivals.delete(client);
}

/** Opens the connection a store owns, from a URL or ioredis options, with the store's defaults. */
export function openRedis(input: string | RedisOptions, commandTimeoutMs: number): Redis {
  const defaults: RedisOptions = {
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
    // Off: an auto pipeline holds every command until the previous batch returned, which doubled
    // hits' tail latency under load. The cache coalesces identical hit reads itself (ReadCoalescer).
    enableAutoPipelining: false,
    connectTimeout: Math.max(1_000, commandTimeoutMs * 4),
  };
  if (typeof input === 'string') return new Redis(input, defaults);
  const sentinel = isSentinelOptions(input) ? sentinelDefaults() : {};
  return new Redis({ ...defaults, ...sentinel, ...input });
}
