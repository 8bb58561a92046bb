import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CacheStore, previousFromRecord } from '@versioned-cache/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** Short enough to wait out, long enough that a loaded machine reads the key before it expires. */
const SHORT_TTL_MS = 1_000;

/**
 * The behaviour every CacheStore must have, run against each implementation (in the manner of
 * keyv's storageTestSuite). `makeStore` is called per test; the suite closes what it made.
 */
export function storeContractSuite(name: string, makeStore: () => CacheStore | Promise<CacheStore>): void {
  describe(`CacheStore contract: ${name}`, () => {
    let store: CacheStore;
    /**
     * Waits for `k` to expire: polled, so that a loaded machine only makes the wait longer, and
     * for less than the 10 s the tests give keys that must outlive it.
     */
    const expiry = (k: string) =>
      expect.poll(async () => (await store.getMany([k]))[0], { timeout: 5_000 }).toBeNull();
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
      await store.set(key('k'), Buffer.from('two'), SHORT_TTL_MS);
      expect((await store.getMany([key('k')]))[0]?.toString()).toBe('two');
      await expiry(key('k'));
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
      expect(await store.setIfAbsent(key('lease'), 'a', SHORT_TTL_MS)).toBe(true);
      expect(await store.setIfAbsent(key('lease'), 'b', SHORT_TTL_MS)).toBe(false);
      expect((await store.getMany([key('lease')]))[0]?.toString()).toBe('a');
      await expiry(key('lease'));
      expect(await store.setIfAbsent(key('lease'), 'c', SHORT_TTL_MS)).toBe(true);
      expect((await store.getMany([key('lease')]))[0]?.toString()).toBe('c');
    });

    it('bumpVersion on a missing key sets the given start, not 1', async () => {
      expect(await store.bumpVersion(key('version'), '98765432109876')).toBe('98765432109876');
      expect((await store.getMany([key('version')]))[0]?.toString()).toBe('98765432109876');
    });

    it('bumpVersion on an existing key adds a step in [1, 2^31), exactly, for every width of version', async () => {
      // Random starts go up to 2^47: 15 digits. Every width must come back as the exact integer
      // (a Lua tostring() would answer 1.2345678901235e+14).
      for (const start of ['4294967296', '99999999999999', '123456789012345', '140737488355327']) {
        const k = key(`version-${start}`);
        expect(await store.setIfAbsent(k, start)).toBe(true);
        const next = await store.bumpVersion(k, '1000');
        expect(next).toMatch(/^\d+$/);
        const step = BigInt(next) - BigInt(start);
        expect(step >= 1n && step < 2n ** 31n).toBe(true);
        const after = await store.bumpVersion(k, '1000');
        expect(BigInt(after) > BigInt(next)).toBe(true);
        expect((await store.getMany([k]))[0]?.toString()).toBe(after);
      }
    });

    it('bumpVersion never re-issues a version after the key was rolled back', async () => {
      // A failover can roll a version back to an earlier value: the bump after it must not hand out
      // the number an acknowledged bump already gave other content (as INCR would).
      const k = key('version');
      await store.setIfAbsent(k, '5000000000');
      const issued = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const next = await store.bumpVersion(k, '1000');
        issued.add(next);
        expect(await store.compareAndSet(k, next, '5000000000')).toBe(true);
      }
      expect(issued.size).toBe(40);
    });

    it('advanceVersion answers the replaced version and records it beside the new one', async () => {
      const k = key('version');
      const record = key('previous');
      expect(await store.advanceVersion(k, '7000000000', { previousKey: record })).toEqual({
        version: '7000000000',
        previous: null,
      });
      // A version created by the bump has no predecessor: nothing is recorded.
      expect(await store.getMany([record])).toEqual([null]);
      const bump = await store.advanceVersion(k, '1000', { previousKey: record });
      expect(bump.previous).toBe('7000000000');
      expect((await store.getMany([record]))[0]?.toString()).toBe(`7000000000>${bump.version}`);
      expect(previousFromRecord((await store.getMany([record]))[0], bump.version)).toBe('7000000000');
      // Without previousKey nothing else is written.
      const plain = await store.advanceVersion(k, '1000');
      expect(plain.previous).toBe(bump.version);
      expect((await store.getMany([record]))[0]?.toString()).toBe(`7000000000>${bump.version}`);
      expect(previousFromRecord((await store.getMany([record]))[0], plain.version)).toBeNull();
    });

    it('a non-integer version is replaced by the start, recorded as the previous one', async () => {
      const k = key('version');
      await store.setIfAbsent(k, 'not-a-number');
      const bump = await store.advanceVersion(k, '8000000000', { previousKey: key('previous') });
      expect(bump).toEqual({ version: '8000000000', previous: 'not-a-number' });
    });

    it('bumpVersion without replicas asked acknowledges at once', async () => {
      const k = key('version');
      await store.setIfAbsent(k, '9000000000');
      const next = await store.bumpVersion(k, '1', { durability: { replicas: 0, timeoutMs: 100 } });
      expect(BigInt(next) > 9000000000n).toBe(true);
    });

    it('bumpVersion leaves no TTL behind: a bumped version outlives its entries', async () => {
      await store.bumpVersion(key('version'), '5000000000');
      await store.set(key('entry'), Buffer.from('x'), 60);
      await sleep(150);
      const [version, entry] = await store.getMany([key('version'), key('entry')]);
      expect(version?.toString()).toBe('5000000000');
      expect(entry).toBeNull();
    });

    it('compareAndSet with previousKey records the replaced version in the same step', async () => {
      await store.setIfAbsent(key('v'), '10');
      expect(await store.compareAndSet(key('v'), '11', '12', key('previous'))).toBe(false);
      expect(await store.getMany([key('previous')])).toEqual([null]);
      expect(await store.compareAndSet(key('v'), '10', '12', key('previous'))).toBe(true);
      expect((await store.getMany([key('previous')]))[0]?.toString()).toBe('10>12');
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

    it('compareAndSet asking for replicas the store lacks: a mismatch stays false, a replacement is refused', async () => {
      const none = { replicas: 1, timeoutMs: 100 };
      await store.setIfAbsent(key('v'), '10');
      expect(await store.compareAndSet(key('v'), '11', '12', undefined, none)).toBe(false);
      const refused = await store.compareAndSet(key('v'), '10', '12', undefined, none).then(
        () => 'resolved',
        (error: { code?: string }) => error.code,
      );
      expect(refused).toBe('VC_NOT_DURABLE');
    });

    it('deleteIfEquals deletes only while the key holds the expected value', async () => {
      await store.setIfAbsent(key('lease'), 'token-a', 10_000);
      expect(await store.deleteIfEquals(key('lease'), 'token-b')).toBe(false);
      expect((await store.getMany([key('lease')]))[0]?.toString()).toBe('token-a');
      expect(await store.deleteIfEquals(key('lease'), 'token-a')).toBe(true);
      expect(await store.getMany([key('lease')])).toEqual([null]);
      expect(await store.deleteIfEquals(key('lease'), 'token-a')).toBe(false);
    });
    it('acquireLease takes a free lease and reads the entry in the same step', async () => {
      expect(await store.acquireLease(key('e:lock'), 'token-a', 10_000, key('e'))).toEqual({
        acquired: true,
        entry: null,
      });
      await store.set(key('e'), Buffer.from('filled'), 10_000);
      const second = await store.acquireLease(key('e:lock'), 'token-b', 10_000, key('e'));
      expect(second.acquired).toBe(false);
      expect(second.holder).toBe('token-a');
      expect(second.entry?.toString()).toBe('filled');
      expect((await store.getMany([key('e:lock')]))[0]?.toString()).toBe('token-a');
    });

    it('acquireLease hands an expired lease to the next caller, with the entry as it is', async () => {
      await store.set(key('e'), Buffer.from([0xff, 0x00, 0xfe]), 10_000);
      expect((await store.acquireLease(key('e:lock'), 'a', 60, key('e'))).acquired).toBe(true);
      await sleep(150);
      const grant = await store.acquireLease(key('e:lock'), 'b', 60, key('e'));
      expect(grant.acquired).toBe(true);
      expect(grant.entry?.equals(Buffer.from([0xff, 0x00, 0xfe]))).toBe(true);
      expect(grant.holder).toBeUndefined();
    });

    it('storeAndRelease writes the entry and releases only a lease it still holds', async () => {
      await store.acquireLease(key('e:lock'), 'mine', 10_000, key('e'));
      expect(await store.storeAndRelease(key('e'), Buffer.from('one'), 10_000, key('e:lock'), 'mine')).toBe(
        true,
      );
      expect(await store.getMany([key('e'), key('e:lock')])).toEqual([Buffer.from('one'), null]);
      // Our lease expired and another process holds one now: the entry is written, its lease kept.
      await store.acquireLease(key('e:lock'), 'theirs', 10_000, key('e'));
      expect(await store.storeAndRelease(key('e'), Buffer.from('two'), 10_000, key('e:lock'), 'mine')).toBe(
        false,
      );
      const [entry, lease] = await store.getMany([key('e'), key('e:lock')]);
      expect(entry?.toString()).toBe('two');
      expect(lease?.toString()).toBe('theirs');
    });

    it('storeAndRelease gives the entry its TTL', async () => {
      await store.storeAndRelease(key('e'), Buffer.from('short'), SHORT_TTL_MS, key('e:lock'), 'none');
      expect((await store.getMany([key('e')]))[0]?.toString()).toBe('short');
      await expiry(key('e'));
    });

    it('renewLease extends only a lease it holds', async () => {
      // Both leases get the same TTL, e's first: once f has expired, so would have e, unrenewed.
      await store.acquireLease(key('e:lock'), 'mine', SHORT_TTL_MS, key('e'));
      await store.acquireLease(key('f:lock'), 'theirs', SHORT_TTL_MS, key('f'));
      expect(await store.renewLease(key('e:lock'), 'mine', 10_000)).toBe(true);
      expect(await store.renewLease(key('e:lock'), 'other', 10_000)).toBe(false);
      expect(await store.renewLease(key('f:lock'), 'mine', 10_000)).toBe(false);
      await expiry(key('f:lock'));
      expect((await store.getMany([key('e:lock')]))[0]?.toString()).toBe('mine');
      expect(await store.renewLease(key('f:lock'), 'theirs', 10_000)).toBe(false);
    });
  });
}
