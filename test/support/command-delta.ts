import type { RedisServer } from './redis-server.js';

/**
 * The commands Redis executed while `action` ran, by name, from INFO commandstats (which also counts
 * the commands a Lua script calls). The INFO that reads the stats is left out: it is the test's own.
 */
export async function commandDelta(
  server: Pick<RedisServer, 'commandStats'>,
  action: () => Promise<unknown>,
): Promise<Record<string, number>> {
  const before = await server.commandStats();
  await action();
  const after = await server.commandStats();
  return diffStats(before, after);
}

export function diffStats(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of after) {
    if (name === 'info') continue;
    const diff = calls - (before.get(name) ?? 0);
    if (diff !== 0) delta[name] = diff;
  }
  return delta;
}

/**
 * Waits for the commands a cache has sent without awaiting (a fill's lease release): Redis answers a
 * connection in order, so a reply to a PING on the cache's own connection comes after them.
 */
export async function settle(cache: { store: unknown }): Promise<void> {
  const store = cache.store as { client?: { ping(): Promise<unknown> } };
  if (!store.client) throw new Error('settle() needs a cache on a RedisStore');
  await store.client.ping();
}
