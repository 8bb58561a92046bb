import { setTimeout as sleep } from 'node:timers/promises';
import type { VersionTracker } from '@versioned-cache/core';
import type { Redis } from 'ioredis';

/** Resolves once the tracker is up (at once when it already is). */
export function trackerUp(tracker: VersionTracker): Promise<void> {
  if (tracker.status === 'up') return Promise.resolve();
  return new Promise((resolve) => {
    const up = () => {
      tracker.off('up', up);
      resolve();
    };
    tracker.on('up', up);
  });
}

/** Resolves when the tracker next reports tracking down. */
export function trackerDown(tracker: VersionTracker): Promise<string> {
  return new Promise((resolve) => {
    const down = (reason: string) => {
      tracker.off('down', down);
      resolve(reason);
    };
    tracker.on('down', down);
  });
}

/** Resolves when an invalidation naming `key` (or a flush, `null`) reaches the tracker. */
export function invalidationOf(tracker: VersionTracker, key: string | null): Promise<void> {
  return new Promise((resolve) => {
    const listener = (keys: readonly string[] | null) => {
      if (key === null ? keys !== null : !keys?.includes(key)) return;
      tracker.off('invalidate', listener);
      resolve();
    };
    tracker.on('invalidate', listener);
  });
}

/** The server's CLIENT LIST, one record per connection. */
export async function clientList(admin: Redis): Promise<Record<string, string>[]> {
  const text = (await admin.client('LIST')) as string;
  return text
    .trim()
    .split('\n')
    .map((line) =>
      Object.fromEntries(
        line
          .trim()
          .split(' ')
          .map((field) => field.split('=', 2)),
      ),
    );
}

/** The connection with this CLIENT SETNAME name, waiting for it to appear (after a reconnect). */
export async function clientNamed(admin: Redis, name: string): Promise<Record<string, string>> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const found = (await clientList(admin)).find((client) => client.name === name);
    if (found) return found;
    await sleep(25);
  }
  throw new Error(`no connection named ${name}`);
}

/** p50, p99 and max of a list of numbers. */
export function percentiles(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}
