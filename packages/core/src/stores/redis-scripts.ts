import type { Cluster, Redis } from 'ioredis';

/** The Lua commands a RedisStore defines on its connections, as ioredis exposes them. */
export interface ScriptedClient {
  /** [new version, replaced version or null]. */
  vcAdvanceVersion(
    versionKey: string,
    previousKey: string,
    start: string,
    step: number,
    record: '0' | '1',
  ): Promise<[string, string | null]>;
  vcCompareAndSet(
    key: string,
    previousKey: string,
    expected: string,
    next: string,
    record: '0' | '1',
  ): Promise<number>;
  vcDeleteIfEquals(key: string, expected: string): Promise<number>;
  /** [1 when acquired else 0, entry or null, holder or null]. */
  vcAcquireLeaseBuffer(
    leaseKey: string,
    entryKey: string,
    token: string,
    ttlMs: number,
  ): Promise<[number, Buffer | null, Buffer | null]>;
  vcStoreAndRelease(
    entryKey: string,
    leaseKey: string,
    bytes: Buffer,
    ttlMs: number,
    token: string,
  ): Promise<number>;
  vcRenewLease(leaseKey: string, token: string, ttlMs: number): Promise<number>;
}

// Each script's keys share one hash tag (a namespace's version and previous record; an entry and its
// lease), so every script is valid on Redis Cluster and costs one round trip.
const SCRIPTS = {
  // INCRBY a random step (from the caller: Lua's PRNG is seeded identically on every replica), then
  // GET for the exact decimal string: Lua's tostring() prints numbers with 14 significant digits.
  // A version that is not an integer (overwritten by hand) gets a fresh start rather than making
  // every later invalidation of the namespace fail; so does one an INCRBY would overflow.
  vcAdvanceVersion: {
    keys: 2,
    lua: `local current = redis.call('GET', KEYS[1])
local nextv = false
if current then
  local bumped = redis.pcall('INCRBY', KEYS[1], ARGV[2])
  if type(bumped) == 'number' then nextv = redis.call('GET', KEYS[1]) end
end
if not nextv then
  redis.call('SET', KEYS[1], ARGV[1])
  nextv = ARGV[1]
end
if current and ARGV[3] == '1' then redis.call('SET', KEYS[2], current .. '>' .. nextv) end
return {nextv, current}`,
  },
  vcCompareAndSet: {
    keys: 2,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[1] .. '>' .. ARGV[2]) end
return 1`,
  },
  vcDeleteIfEquals: {
    keys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
  vcAcquireLease: {
    keys: 2,
    lua: `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then
  return {1, redis.call('GET', KEYS[2]), false}
end
return {0, redis.call('GET', KEYS[2]), redis.call('GET', KEYS[1])}`,
  },
  vcStoreAndRelease: {
    keys: 2,
    lua: `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then return redis.call('DEL', KEYS[2]) end
return 0`,
  },
  vcRenewLease: {
    keys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
  },
} as const;

/** Defines the scripts on a connection that does not have them yet (a client shared by caches). */
export function defineScripts(client: Redis | Cluster): ScriptedClient {
  for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) {
    if (typeof (client as unknown as Record<string, unknown>)[name] !== 'function') {
      client.defineCommand(name, { numberOfKeys: keys, lua });
    }
  }
  return client as unknown as ScriptedClient;
}
