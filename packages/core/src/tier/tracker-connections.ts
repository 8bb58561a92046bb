import type { Redis, RedisOptions } from 'ioredis';

/** The channel Redis publishes tracking invalidations on for RESP2 clients that redirect them. */
export const INVALIDATION_CHANNEL = '__redis__:invalidate';

export interface TrackerConnections {
  /** Reads version keys with tracking on, so that Redis remembers which ones this process knows. */
  reader: Redis;
  /** Subscribed to the invalidation channel; the reader's tracking redirects to it. */
  subscriber: Redis;
  /** The cache client's ioredis key prefix, which the tracker applies itself. */
  keyPrefix: string;
}

/**
 * The tracker's two connections, opened with the cache client's options (host, Sentinel, TLS, auth,
 * database) and named, so that operators can tell them apart in CLIENT LIST.
 */
export function openTrackerConnections(client: Redis, commandTimeoutMs: number): TrackerConnections {
  const own: Partial<RedisOptions> = {
    // Applied by the tracker, so that invalidated names map back without guessing ioredis's rules.
    keyPrefix: '',
    lazyConnect: false,
    enableAutoPipelining: false,
    // Nothing is queued while down: a command sent then would run on a connection without tracking.
    enableOfflineQueue: false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
  };
  const reader = client.duplicate({ ...own, connectionName: 'vc-l1-tracking' });
  const subscriber = client.duplicate({ ...own, connectionName: 'vc-l1-invalidations' });
  // Faults show as 'close' and as failed commands; without a listener ioredis would log each one.
  reader.on('error', () => {});
  subscriber.on('error', () => {});
  return { reader, subscriber, keyPrefix: client.options.keyPrefix ?? '' };
}

/** QUIT when connected, else drop at once: never waits on a connection that will not answer. */
export async function closeQuietly(connection: Redis): Promise<void> {
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
