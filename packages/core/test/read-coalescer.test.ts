import { afterEach, describe, expect, it, vi } from 'vitest';
import { Deadline } from '../src/engine/deadline.js';
import { FAILED } from '../src/engine/failed.js';
import { ReadCoalescer } from '../src/engine/read-coalescer.js';
import type { CacheStore } from '../src/stores/store.js';

/** A store whose reads answer only when the test says so: the coalescer's own timing is what is observed. */
function heldStore(latencyBoundMs?: number) {
  const pending: { keys: readonly string[]; answer(values: (Buffer | null)[]): void }[] = [];
  const store = {
    latencyBoundMs,
    getMany: (keys: readonly string[]) =>
      new Promise<(Buffer | null)[]>((answer) => {
        pending.push({ keys, answer });
      }),
  } as unknown as CacheStore;
  return { store, pending };
}

const KEYS = ['vc:{ns}:version', 'vc:{ns}:42:k'];
const turn = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('coalesced hit reads', () => {
  it('send the reads of one turn as one store read, held to their deadlines by one timer', async () => {
    const { store, pending } = heldStore(undefined);
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const coalescer = new ReadCoalescer(store, 'read');
    const reads = Array.from({ length: 20 }, () => coalescer.getMany(KEYS, new Deadline(20)));
    const outcomes = Promise.allSettled(reads);
    await turn();
    expect(pending.map((read) => read.keys)).toEqual([KEYS]);
    expect(timers).toHaveBeenCalledTimes(1);
    const settled = await outcomes;
    expect(settled.map((s) => s.status === 'rejected' && (s.reason as { code: string }).code)).toEqual(
      Array(20).fill('VC_STORE_TIMEOUT'),
    );
  });

  it('reject each reader at its own deadline and answer the others when the store does', async () => {
    const { store, pending } = heldStore(undefined);
    const coalescer = new ReadCoalescer(store, 'read');
    const short = coalescer.getMany(KEYS, new Deadline(10));
    let longSettled = false;
    const long = coalescer.getMany(KEYS, new Deadline(60_000)).finally(() => {
      longSettled = true;
    });
    await expect(short).rejects.toMatchObject({ code: 'VC_STORE_TIMEOUT' });
    expect(longSettled).toBe(false);
    const values = [Buffer.from('42'), Buffer.from('entry')];
    pending[0]!.answer(values);
    await expect(long).resolves.toBe(values);
  });

  it('arm no timer when the store bounds the read within every deadline', async () => {
    const { store, pending } = heldStore(1_000);
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const coalescer = new ReadCoalescer(store, 'read');
    const reads = [
      coalescer.getMany(KEYS, new Deadline(5_000)),
      coalescer.getMany(KEYS, new Deadline(5_000)),
    ];
    await turn();
    expect(timers).not.toHaveBeenCalled();
    pending[0]!.answer([null, null]);
    expect(await Promise.all(reads)).toEqual([
      [null, null],
      [null, null],
    ]);
  });

  it('read keys that share their last key but not the others apart, at once', async () => {
    const { store, pending } = heldStore(1_000);
    const coalescer = new ReadCoalescer(store, 'read');
    const first = coalescer.getMany(['a', 'k'], new Deadline(5_000));
    const second = coalescer.getMany(['b', 'k'], new Deadline(5_000));
    expect(pending.map((read) => read.keys)).toEqual([['b', 'k']]);
    await turn();
    expect(pending.map((read) => read.keys)).toEqual([
      ['b', 'k'],
      ['a', 'k'],
    ]);
    pending[0]!.answer([Buffer.from('b'), null]);
    pending[1]!.answer([Buffer.from('a'), null]);
    expect((await first)[0]?.toString()).toBe('a');
    expect((await second)[0]?.toString()).toBe('b');
  });

  it('hand the fault of each reader to its guard, which answers FAILED in its place', async () => {
    const failing = {
      latencyBoundMs: undefined,
      getMany: () => Promise.reject(new Error('connection reset')),
    } as unknown as CacheStore;
    const absorbed: { operation: string; deadline: Deadline; message: string; route: unknown }[] = [];
    const faults = {
      absorb(operation: string, deadline: Deadline, error: unknown, route: unknown): typeof FAILED {
        absorbed.push({ operation, deadline, message: (error as Error).message, route });
        return FAILED;
      },
    };
    const coalescer = new ReadCoalescer(failing, 'read');
    const deadlines = [new Deadline(5_000), new Deadline(5_000)];
    const reads = deadlines.map((deadline, i) => coalescer.read(KEYS, deadline, faults, `route-${i}`));
    expect(await Promise.all(reads)).toEqual([FAILED, FAILED]);
    expect(absorbed).toEqual([
      { operation: 'read', deadline: deadlines[0], message: 'connection reset', route: 'route-0' },
      { operation: 'read', deadline: deadlines[1], message: 'connection reset', route: 'route-1' },
    ]);

    // A deadline that passes first is a fault too: the guard hears of the timeout.
    const { store, pending } = heldStore(undefined);
    const held = new ReadCoalescer(store, 'read');
    const late = held.read(KEYS, new Deadline(10), faults, 'route-late');
    expect(await late).toBe(FAILED);
    expect(absorbed[2]).toMatchObject({ route: 'route-late', message: expect.stringContaining('10 ms') });
    expect(pending).toHaveLength(1);
  });
});
