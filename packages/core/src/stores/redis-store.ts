import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { VersionedCacheError } from '../errors.js';
import type { CacheStore } from './store.js';

/**
 * The part of an ioredis client (`Redis` or `Cluster`) that the store calls. Structural, so that a
 * client built from the application's own ioredis, 5 or 6, is accepted without the two packages'
 * class types having to be the same.
 */
export interface RedisClientLike {
  readonly status: string;
  mgetBuffer(...keys: string[]): Promise<(Buffer | null)[]>;
  set(key: string, value: Buffer, px: 'PX', ttlMs: number): Promise<unknown>;
  set(key: string, value: string, nx: 'NX'): Promise<'OK' | null>;
  set(key: string, value: string, px: 'PX', ttlMs: number, nx: 'NX'): Promise<'OK' | null>;
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  quit(): Promise<unknown>;
  disconnect(): void;
  once(event: 'end', listener: () => void): unknown;
}

/** What `createCache({ redis })` accepts: a URL, ioredis options (Sentinel included), or a client. */
export type RedisInput = string | RedisOptions | RedisClientLike;

type RedisClient = Redis | Cluster;

interface ScriptedClient {
  /** The new version: an integer reply after INCR, the start string when the key was missing. */
  vcBumpVersion(key: string, start: string): Promise<number | string>;
  vcCompareAndSet(key: string, expected: string, next: string): Promise<number>;
  vcDeleteIfEquals(key: string, expected: string): Promise<number>;
}

// Scripts touch one key each, so they are valid on Redis Cluster and cost one round trip.
// The bump returns INCR's integer reply as it is: Lua's tostring() prints numbers with 14
// significant digits, so versions from 10^14 up (random starts reach 2^47) came back as '1.2e+14'.
const SCRIPTS = {
  // A version that is not an integer (overwritten by hand) gets a fresh start rather than making
  // every later invalidation of the namespace fail.
  vcBumpVersion: `if redis.call('EXISTS', KEYS[1]) == 1 then
  local bumped = redis.pcall('INCR', KEYS[1])
  if type(bumped) == 'number' then return bumped end
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`,
  vcCompareAndSet: `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0`,
  vcDeleteIfEquals: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
} as const;

// States in which ioredis would only queue the command: failing at once keeps a Redis outage from
// adding the full command timeout to every request.
const DOWN_STATES = new Set(['reconnecting', 'close', 'end']);

const UNREACHABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);
const UNREACHABLE_MESSAGE =
  /^(Connection is closed|Stream isn't writeable|None of startup nodes is available|Failed to refresh slots cache|Cluster is disconnect|Cluster isn't ready|Node is disconnected)/;

/**
 * ioredis reports one fault in several ways depending on timing (a command queued while
 * reconnecting fails with MaxRetriesPerRequestError, one sent to a hung server with 'Command timed
 * out'); callers branch on `code`, so each kind of fault gets one code. Redis's own replies (OOM,
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
function rethrowRedisFault(error: unknown): never {
  throw classifyRedisFault(error);
}

function isClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<Redis>).mgetBuffer === 'function' &&
    typeof (value as Partial<Redis>).defineCommand === 'function'
  );
}

function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

export interface RedisStoreOptions {
  /** Command timeout applied to connections this store opens, in milliseconds. */
  commandTimeoutMs: number;
}

export class RedisStore implements CacheStore {
  readonly kind = 'redis';
  readonly client: RedisClient;
  readonly boundsLatency: boolean;
  private readonly ownsClient: boolean;
  private readonly isCluster: boolean;
  private readonly commandTimeoutMs: number;
  /** Cluster only: the master serving a key's slot, as `host:port`. */
  readonly nodeOf?: (key: string) => string;

  constructor(input: RedisInput, options: RedisStoreOptions) {
    this.commandTimeoutMs = options.commandTimeoutMs;
    if (isClient(input)) {
      this.client = input;
      this.ownsClient = false;
      this.boundsLatency = false;
    } else {
      const defaults: RedisOptions = {
        commandTimeout: options.commandTimeoutMs,
        maxRetriesPerRequest: 1,
        // Concurrent requests' reads leave in one socket write: the hit path is syscall-bound otherwise.
        enableAutoPipelining: true,
        connectTimeout: Math.max(1_000, options.commandTimeoutMs * 4),
      };
      this.client =
        typeof input === 'string' ? new Redis(input, defaults) : new Redis({ ...defaults, ...input });
      this.ownsClient = true;
      this.boundsLatency = true;
      // Faults are reported per command by the cache; without a listener ioredis would log each one.
      this.client.on('error', () => {});
    }
    this.isCluster =
      this.client instanceof Cluster || (this.client as { isCluster?: boolean }).isCluster === true;
    if (this.isCluster) {
      const cluster = this.client as Cluster;
      // ioredis keeps the slot table it routes by, refreshed on MOVED and failover.
      this.nodeOf = (key) => cluster.slots[calculateSlot(key)]?.[0] ?? 'no master';
    }
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (typeof (this.client as unknown as Record<string, unknown>)[name] !== 'function') {
        this.client.defineCommand(name, { numberOfKeys: 1, lua });
      }
    }
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | null)[]> {
    this.assertUsable();
    if (!this.isCluster || keys.length < 2) return this.client.mgetBuffer(...keys).catch(rethrowRedisFault);
    return this.getManyAcrossSlots(keys).catch(rethrowRedisFault);
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    this.assertUsable();
    await this.client.set(key, value, 'PX', ttlMs).catch(rethrowRedisFault);
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    this.assertUsable();
    const reply =
      ttlMs === undefined
        ? await this.client.set(key, value, 'NX').catch(rethrowRedisFault)
        : await this.client.set(key, value, 'PX', ttlMs, 'NX').catch(rethrowRedisFault);
    return reply === 'OK';
  }

  async bumpVersion(key: string, startIfMissing: string): Promise<string> {
    this.assertUsable();
    return String(await this.scripted().vcBumpVersion(key, startIfMissing).catch(rethrowRedisFault));
  }

  async compareAndSet(key: string, expected: string, next: string): Promise<boolean> {
    this.assertUsable();
    return (await this.scripted().vcCompareAndSet(key, expected, next).catch(rethrowRedisFault)) === 1;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    this.assertUsable();
    return (await this.scripted().vcDeleteIfEquals(key, expected).catch(rethrowRedisFault)) === 1;
  }

  async close(): Promise<void> {
    if (!this.ownsClient || this.client.status === 'end') return;
    // QUIT is answered before the socket closes: wait for the end, so that a closed cache holds no
    // socket open. The command timeout bounds QUIT on a hung server; then we drop the connection.
    const ended = new Promise<void>((resolve) => this.client.once('end', resolve));
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
      } catch {
        this.client.disconnect();
      }
    } else {
      // Not connected (Redis down, reconnecting): QUIT would wait in the offline queue forever.
      this.client.disconnect();
    }
    // A client dropped between reconnect attempts may never emit 'end'; do not hang on it.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.commandTimeoutMs);
    });
    await Promise.race([ended, bound]);
    clearTimeout(timer);
  }

  private scripted(): ScriptedClient {
    return this.client as unknown as ScriptedClient;
  }

  private assertUsable(): void {
    if (DOWN_STATES.has(this.client.status)) {
      throw new VersionedCacheError(
        'VC_STORE_UNAVAILABLE',
        `versioned-cache: Redis is ${this.client.status}`,
      );
    }
  }

  /** One MGET per hash tag, concurrently: a namespace's keys share a slot, different namespaces may not. */
  private async getManyAcrossSlots(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const groups = new Map<string, number[]>();
    keys.forEach((key, index) => {
      const tag = hashTag(key);
      const group = groups.get(tag);
      if (group) group.push(index);
      else groups.set(tag, [index]);
    });
    const result: (Buffer | null)[] = new Array(keys.length).fill(null);
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const values = await this.client.mgetBuffer(...indexes.map((i) => keys[i]!)).catch((error) => {
          // Which master failed, for its breaker: the others answered or may still.
          throw Object.assign(classifyRedisFault(error) as object, {
            node: this.nodeOf!(keys[indexes[0]!]!),
          });
        });
        indexes.forEach((keyIndex, i) => {
          result[keyIndex] = values[i] ?? null;
        });
      }),
    );
    return result;
  }
}
