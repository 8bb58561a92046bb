import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/stores/memory-store.js';

const read = async (store: MemoryStore, ...keys: string[]) =>
  (await store.getMany(keys)).map((value) => value?.toString() ?? null);

describe('MemoryStore bounds', () => {
  it('keeps at most maxEntries entries, evicting the least recently used', async () => {
    const store = new MemoryStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await store.set(key, Buffer.from(key), 60_000);
    await store.getMany(['a']); // a is now more recent than b
    await store.set('d', Buffer.from('d'), 60_000);
    expect(await read(store, 'a', 'b', 'c', 'd')).toEqual(['a', null, 'c', 'd']);
  });

  it('keeps at most maxBytes of keys and values, evicting the least recently used', async () => {
    // Each entry costs 40 bytes of value + 2 of key: two fit in 100 bytes, three do not.
    const store = new MemoryStore({ maxBytes: 100 });
    const value = (c: string) => Buffer.alloc(40, c);
    await store.set('k1', value('1'), 60_000);
    await store.set('k2', value('2'), 60_000);
    await store.getMany(['k1']);
    await store.set('k3', value('3'), 60_000);
    const [k1, k2, k3] = await store.getMany(['k1', 'k2', 'k3']);
    expect(k1?.equals(value('1'))).toBe(true);
    expect(k2).toBeNull();
    expect(k3?.equals(value('3'))).toBe(true);
  });

  it('does not store a value larger than maxBytes, nor evict others for it', async () => {
    const store = new MemoryStore({ maxBytes: 100 });
    await store.set('small', Buffer.alloc(10), 60_000);
    await store.set('huge', Buffer.alloc(200), 60_000);
    expect((await store.getMany(['small', 'huge']))[1]).toBeNull();
    expect((await store.getMany(['small']))[0]).not.toBeNull();
  });

  it('never evicts versions to make room for entries', async () => {
    const store = new MemoryStore({ maxEntries: 2 });
    await store.bumpVersion('vc:{ns}:version', '4294967296');
    for (let i = 0; i < 10; i++) await store.set(`e${i}`, Buffer.from('x'), 60_000);
    expect(await read(store, 'vc:{ns}:version')).toEqual(['4294967296']);
  });
});
