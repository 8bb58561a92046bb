import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CacheStore } from '@versioned-cache/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * The behaviour every CacheStore must have, run against each implementation (in the manner of
 * keyv's storageTestSuite). `makeStore` is called per test; the suite closes what it made.
 */
export function storeContractSuite(name: string, makeStore: () => CacheStore | Promise<CacheStore>): void {
  describe(`CacheStore contract: ${name}`, () => {
    let store: CacheStore;
    // Every test writes under its own prefix, so a store shared by tests (one Redis) cannot leak state.
    let ns: string;
    const key = (suffix: string) => `contract:{${ns}}:${suffix}`;

    beforeEach(async () => {
      store = await makeStore();
      ns = randomUUID();
    });

    afterEach(async () => {
      await store.close();
    });

    it('has a kind', () => {
      expect(typeof store.kind).toBe('string');
      expect(store.kind.length).toBeGreaterThan(0);
    });

    it('getMany returns null for missing keys, in the order asked', async () => {
      await store.set(key('b'), Buffer.from('B'), 10_000);
      const values = await store.getMany([key('a'), key('b'), key('c')]);
      expect(values).toHaveLength(3);
      expect(values[0]).toBeNull();
      expect(values[1]?.toString()).toBe('B');
      expect(values[2]).toBeNull();
      expect(await store.getMany([key('missing')])).toEqual([null]);
    });

    it('getMany reads versions and entries together', async () => {
      await store.setIfAbsent(key('version'), '4294967296');
      await store.set(key('entry'), Buffer.from('payload'), 10_000);
      const [version, entry] = await store.getMany([key('version'), key('entry')]);
      expect(version?.toString()).toBe('4294967296');
      expect(entry?.toString()).toBe('payload');
    });

    it('set overwrites and expires after its TTL', async () => {
      await store.set(key('k'), Buffer.from('one'), 10_000);
      await store.set(key('k'), Buffer.from('two'), 60);
      expect((await store.getMany([key('k')]))[0]?.toString()).toBe('two');
      await sleep(150);
      expect(await store.getMany([key('k')])).toEqual([null]);
    });

    it('is binary-safe', async () => {
      const bytes = Buffer.alloc(256 * 4);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
      const invalidUtf8 = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0x00]);
      await store.set(key('bytes'), bytes, 10_000);
      await store.set(key('utf8'), invalidUtf8, 10_000);
      await store.set(key('empty'), Buffer.alloc(0), 10_000);
      await store.set(key('ünïcødé ✓'), Buffer.from('ok'), 10_000);
      const [a, b, c, d] = await store.getMany([key('bytes'), key('utf8'), key('empty'), key('ünïcødé ✓')]);
      expect(Buffer.isBuffer(a)).toBe(true);
      expect(a!.equals(bytes)).toBe(true);
      expect(b!.equals(invalidUtf8)).toBe(true);
      // An empty value is stored, not mistaken for a missing one.
      expect(c).not.toBeNull();
      expect(c!.byteLength).toBe(0);
      expect(d?.toString()).toBe('ok');
    });

    it('setIfAbsent without a TTL writes once and keeps the value', async () => {
      expect(await store.setIfAbsent(key('v'), 'first')).toBe(true);
      expect(await store.setIfAbsent(key('v'), 'second')).toBe(false);
      await sleep(80);
      expect((await store.getMany([key('v')]))[0]?.toString()).toBe('first');
    });

    it('setIfAbsent with a TTL expires, after which it can be taken again', async () => {
      expect(await store.setIfAbsent(key('lease'), 'a', 60)).toBe(true);
      expect(await store.setIfAbsent(key('lease'), 'b', 60)).toBe(false);
      expect((await store.getMany([key('lease')]))[0]?.toString()).toBe('a');
      await sleep(150);
      expect(await store.getMany([key('lease')])).toEqual([null]);
      expect(await store.setIfAbsent(key('lease'), 'c', 60)).toBe(true);
      expect((await store.getMany([key('lease')]))[0]?.toString()).toBe('c');
    });

    it('bumpVersion on a missing key sets the given start, not 1', async () => {
      expect(await store.bumpVersion(key('version'), '98765432109876')).toBe('98765432109876');
      expect((await store.getMany([key('version')]))[0]?.toString()).toBe('98765432109876');
    });

    it('bumpVersion on an existing key increments it by one, exactly, for every width of version', async () => {
      // Random starts go up to 2^47: 15 digits. Every width must come back as the exact integer
      // (a Lua tostring() would answer 1.2345678901235e+14).
      for (const start of ['4294967296', '99999999999999', '123456789012345', '140737488355327']) {
        const k = key(`version-${start}`);
        expect(await store.setIfAbsent(k, start)).toBe(true);
        const next = await store.bumpVersion(k, '1000');
        expect(next).toBe(String(BigInt(start) + 1n));
        expect(await store.bumpVersion(k, '1000')).toBe(String(BigInt(start) + 2n));
        expect((await store.getMany([k]))[0]?.toString()).toBe(String(BigInt(start) + 2n));
      }
    });

    it('bumpVersion leaves no TTL behind: a bumped version outlives its entries', async () => {
      await store.bumpVersion(key('version'), '5000000000');
      await store.set(key('entry'), Buffer.from('x'), 60);
      await sleep(150);
      const [version, entry] = await store.getMany([key('version'), key('entry')]);
      expect(version?.toString()).toBe('5000000000');
      expect(entry).toBeNull();
    });

    it('compareAndSet replaces only the expected value and never creates a key', async () => {
      await store.setIfAbsent(key('v'), '10');
      expect(await store.compareAndSet(key('v'), '11', '12')).toBe(false);
      expect((await store.getMany([key('v')]))[0]?.toString()).toBe('10');
      expect(await store.compareAndSet(key('v'), '10', '12')).toBe(true);
      expect((await store.getMany([key('v')]))[0]?.toString()).toBe('12');
      expect(await store.compareAndSet(key('absent'), '10', '12')).toBe(false);
      expect(await store.getMany([key('absent')])).toEqual([null]);
    });

    it('deleteIfEquals deletes only while the key holds the expected value', async () => {
      await store.setIfAbsent(key('lease'), 'token-a', 10_000);
      expect(await store.deleteIfEquals(key('lease'), 'token-b')).toBe(false);
      expect((await store.getMany([key('lease')]))[0]?.toString()).toBe('token-a');
      expect(await store.deleteIfEquals(key('lease'), 'token-a')).toBe(true);
      expect(await store.getMany([key('lease')])).toEqual([null]);
      expect(await store.deleteIfEquals(key('lease'), 'token-a')).toBe(false);
    });
  });
}
