import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BreakerRegistry, REFUSED, type Recovery } from '../src/engine/breaker.js';
import { VersionedCacheError } from '../src/errors.js';
import { MemoryStore } from '../src/stores/memory-store.js';
import type { CacheStore } from '../src/stores/store.js';

// The breaker's state machine, driven by a clock under the test's control. The drills in test/
// prove it against real Redis, Sentinel and Cluster faults; these pin the transitions themselves.

const timeout = () => new VersionedCacheError('VC_STORE_TIMEOUT', 'timed out');
const options = { threshold: 3, coolDownMs: 500 };

/** A memory store that says it spreads keys over two nodes, by their first letter. */
function twoNodeStore(): CacheStore {
  const store = new MemoryStore();
  return Object.assign(store, { nodeOf: (key: string) => (key < 'm' ? 'a:1' : 'n:1') });
}

describe('circuit breaker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens after threshold faults in a row, refuses during the cool-down, lets one probe through, closes on its success', () => {
    const registry = new BreakerRegistry(new MemoryStore(), options, () => {});
    const breaker = registry.admit(undefined, false);
    if (breaker === REFUSED || breaker === null) throw new Error('closed breaker refused');
    registry.failed(breaker, undefined, timeout());
    registry.succeeded(breaker, undefined);
    expect(registry.troubled).toBe(0);
    for (let i = 0; i < 3; i++) registry.failed(breaker, undefined, timeout());
    expect(registry.admit(undefined, false)).toBe(REFUSED);
    vi.advanceTimersByTime(499);
    expect(registry.admit(undefined, false)).toBe(REFUSED);
    vi.advanceTimersByTime(1);
    const probe = registry.admit(undefined, false);
    expect(probe).toBe(breaker);
    expect(registry.admit(undefined, false)).toBe(REFUSED);
    registry.succeeded(breaker, undefined);
    expect(registry.troubled).toBe(0);
    expect(registry.admit(undefined, false)).toBe(breaker);
  });

  it('a reply of a node that answered (WRONGTYPE) is no fault; CLUSTERDOWN is', () => {
    const registry = new BreakerRegistry(new MemoryStore(), options, () => {});
    const reply = (message: string) =>
      new VersionedCacheError('VC_STORE_ERROR', message, { cause: new Error(message) });
    for (let i = 0; i < 5; i++) registry.failed(null, undefined, reply('WRONGTYPE Operation against a key'));
    expect(registry.troubled).toBe(0);
    for (let i = 0; i < 3; i++) registry.failed(null, undefined, reply('CLUSTERDOWN The cluster is down'));
    expect(registry.admit(undefined, false)).toBe(REFUSED);
  });

  it('with invalidations pending on the node, only their retry probes, and it closes once they landed', () => {
    const registry = new BreakerRegistry(new MemoryStore(), options, () => {});
    let pending = true;
    let retries = 0;
    const recovery: Recovery = { pendingOn: () => pending, retry: () => void retries++ };
    registry.attach(recovery);
    for (let i = 0; i < 3; i++) registry.failed(null, undefined, timeout());
    // A retry of a pending invalidation may probe before the cool-down ends.
    const probe = registry.admit(undefined, true);
    if (probe === REFUSED || probe === null) throw new Error('the retry was refused');
    expect(registry.admit(undefined, false)).toBe(REFUSED);
    registry.succeeded(probe, undefined);
    // Verified: the other pending bumps may run, reads may not, until none is pending.
    expect(registry.admit(undefined, true)).toBe(probe);
    expect(registry.admit(undefined, false)).toBe(REFUSED);
    expect(retries).toBeGreaterThan(0);
    pending = false;
    registry.recovered();
    expect(registry.troubled).toBe(0);
    expect(registry.admit(undefined, false)).toBe(probe);
  });

  it('per node: a failing node does not stop the other; a node no step asks for any more is forgotten', () => {
    const registry = new BreakerRegistry(twoNodeStore(), options, () => {});
    for (let i = 0; i < 3; i++) registry.failed(null, 'b-key', timeout());
    expect(registry.admit('b-key', false)).toBe(REFUSED);
    expect(registry.admit('x-key', false)).not.toBe(REFUSED);
    // A step over both nodes runs only while both are closed.
    expect(registry.admit(['b-key', 'x-key'], false)).toBe(REFUSED);
    expect(registry.troubled).toBe(1);
    // Its slots moved away (a failover): after a while without a step on it, the fast path is back.
    vi.advanceTimersByTime(10_001);
    registry.admit('x-key', false);
    expect(registry.troubled).toBe(0);
  });
});
