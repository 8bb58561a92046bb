import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis, type RedisOptions } from 'ioredis';
import { VersionedCacheError } from '../errors.js';
import { randomVersionStep, type VersionBump } from '../versions.js';
import { keepConnected, letEnd, openRedis } from './redis-connection.js';
import { DurableConnection } from './redis-durable.js';
import { classifyRedisFault, DOWN_STATES, rethrowRedisFault } from './redis-faults.js';
import { defineScripts, type ScriptedClient } from './redis-scripts.js';
import type { BumpOptions, CacheStore, DurabilityRequest, LeaseGrant } from './store.js';

export { classifyRedisFault } from './redis-faults.js';

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

function isClient(value: unknown): value is RedisClientLike {
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
  readonly latencyBoundMs: number | undefined;
  private readonly ownsClient: boolean;
  private readonly isCluster: boolean;
  private readonly commandTimeoutMs: number;
  /** Cluster only: the master serving a key's slot, as `host:port`. */
  readonly nodeOf?: (key: string) => string;
  private readonly scripts: ScriptedClient;
  /** Durable writes (bumps and warm publishes) and their WAIT, on a connection of their own. */
  private readonly durable: DurableConnection;

  constructor(input: RedisInput, options: RedisStoreOptions) {
    this.commandTimeoutMs = options.commandTimeoutMs;
    if (isClient(input)) {
      // Any ioredis 5 or 6 client: the public type is structural, the calls are ioredis' own.
      this.client = input as unknown as RedisClient;
      this.ownsClient = false;
      // A client passed in may pipeline or have no command timeout: the cache times its steps.
      this.latencyBoundMs = undefined;
    } else {
      this.client = openRedis(input as string | RedisOptions, options.commandTimeoutMs);
      keepConnected(this.client);
      this.ownsClient = true;
      // Without auto-pipelining ioredis starts a command's timeout when it is called, so a first
      // step (a hit) is bounded by it; with auto-pipelining (asked for explicitly) the timeout only
      // starts once a batch leaves, behind a hung one, and the cache's own timer is the bound.
      const opened = (this.client as Redis).options;
      this.latencyBoundMs = opened?.enableAutoPipelining ? undefined : opened?.commandTimeout;
      // Faults are reported per command by the cache; without a listener ioredis would log each one.
      this.client.on('error', () => {});
    }
    this.isCluster =
      this.client instanceof Cluster || (this.client as { isCluster?: boolean }).isCluster === true;
    if (this.isCluster) {
      // ioredis's slot table, the one it routes by, refreshed on MOVED and after a failover.
      const cluster = this.client as unknown as { slots: readonly (readonly string[] | undefined)[] };
      this.nodeOf = (key) => cluster.slots[calculateSlot(key)]?.[0] ?? 'no master';
    }
    this.scripts = defineScripts(this.client);
    this.durable = new DurableConnection(this.client, this.commandTimeoutMs, (client) =>
      this.closeClient(client),
    );
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

  async bumpVersion(key: string, startIfMissing: string, options?: BumpOptions): Promise<string> {
    return (await this.advanceVersion(key, startIfMissing, options)).version;
  }

  async advanceVersion(key: string, startIfMissing: string, options: BumpOptions = {}): Promise<VersionBump> {
    this.assertUsable();
    const { previousKey, durability } = options;
    // Without a record to write, the script's second key is the version key itself: same slot.
    const args = [
      key,
      previousKey ?? key,
      startIfMissing,
      randomVersionStep(),
      previousKey ? '1' : '0',
    ] as const;
    if (!durability || durability.replicas === 0) {
      const [version, previous] = await this.scripts.vcAdvanceVersion(...args).catch(rethrowRedisFault);
      return { version: String(version), previous: previous === null ? null : String(previous) };
    }
    const { reply, acknowledged } = await this.durable.run(durability, (pipeline) =>
      pipeline.vcAdvanceVersion(...args),
    );
    const [version, previous] = reply as [string, string | null];
    assertDurable(key, String(version), acknowledged, durability);
    return { version: String(version), previous: previous === null ? null : String(previous) };
  }

  async compareAndSet(
    key: string,
    expected: string,
    next: string,
    previousKey?: string,
    durability?: DurabilityRequest,
  ): Promise<boolean> {
    this.assertUsable();
    const args = [key, previousKey ?? key, expected, next, previousKey ? '1' : '0'] as const;
    if (!durability || durability.replicas === 0) {
      return (await this.scripts.vcCompareAndSet(...args).catch(rethrowRedisFault)) === 1;
    }
    const { reply, acknowledged } = await this.durable.run(durability, (pipeline) =>
      pipeline.vcCompareAndSet(...args),
    );
    if (reply !== 1) return false;
    assertDurable(key, next, acknowledged, durability);
    return true;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    this.assertUsable();
    return (await this.scripts.vcDeleteIfEquals(key, expected).catch(rethrowRedisFault)) === 1;
  }

  async acquireLease(leaseKey: string, token: string, ttlMs: number, entryKey: string): Promise<LeaseGrant> {
    this.assertUsable();
    const [acquired, entry, holder] = await this.scripts
      .vcAcquireLeaseBuffer(leaseKey, entryKey, token, ttlMs)
      .catch(rethrowRedisFault);
    if (acquired === 1) return { acquired: true, entry };
    return holder === null
      ? { acquired: false, entry }
      : { acquired: false, entry, holder: holder.toString() };
  }

  async storeAndRelease(
    entryKey: string,
    bytes: Buffer,
    ttlMs: number,
    leaseKey: string,
    token: string,
  ): Promise<boolean> {
    this.assertUsable();
    const reply = await this.scripts
      .vcStoreAndRelease(entryKey, leaseKey, bytes, ttlMs, token)
      .catch(rethrowRedisFault);
    return reply === 1;
  }

  async renewLease(leaseKey: string, token: string, ttlMs: number): Promise<boolean> {
    this.assertUsable();
    return (await this.scripts.vcRenewLease(leaseKey, token, ttlMs).catch(rethrowRedisFault)) === 1;
  }

  async close(): Promise<void> {
    await this.durable.close();
    if (this.ownsClient) await this.closeClient(this.client);
  }

  private async closeClient(client: RedisClient): Promise<void> {
    letEnd(client);
    if (client.status === 'end') return;
    // QUIT is answered before the socket closes: wait for the end, so that a closed cache holds no
    // socket open. The command timeout bounds QUIT on a hung server; then we drop the connection.
    const ended = new Promise<void>((resolve) => client.once('end', resolve));
    if (client.status === 'ready') {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    } else {
      // Not connected (Redis down, reconnecting): QUIT would wait in the offline queue forever.
      client.disconnect();
    }
    // A client dropped between reconnect attempts may never emit 'end'; do not hang on it.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.commandTimeoutMs);
    });
    await Promise.race([ended, bound]);
    clearTimeout(timer);
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
          // Which master failed, for its breaker: the others answered, or may still.
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

function assertDurable(
  key: string,
  version: string,
  acknowledged: number,
  durability: DurabilityRequest,
): void {
  if (acknowledged >= durability.replicas) return;
  throw new VersionedCacheError(
    'VC_NOT_DURABLE',
    `versioned-cache: version ${version} of ${key} reached ${acknowledged} of ${durability.replicas} replicas within ${durability.timeoutMs} ms; a failover now could lose it`,
  );
}
