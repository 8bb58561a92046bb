import type { CacheStore } from '../stores/store.js';

interface Batch {
  keys: readonly string[];
  readers: { resolve(values: (Buffer | null)[]): void; reject(error: unknown): void }[];
}

/**
 * Identical reads of a remote store made in one turn of the event loop leave as one MGET, sent once
 * the turn's I/O callbacks have run (the hot entry under load: every connection's request for it).
 * A read joins only a read not yet sent, so it never sees the store as it was before it began: after
 * an invalidation resolved anywhere, no later read returns the old version. Reads in flight are
 * not waited on, unlike a client pipeline that holds every command until the previous batch
 * returned, which doubled the tail latency of hits.
 */
export class ReadCoalescer {
  /** Reads not yet sent, by their keys joined (checked key by key: a join may be ambiguous). */
  private batches = new Map<string, Batch>();
  private scheduled = false;

  constructor(private readonly store: CacheStore) {}

  getMany(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const id = keys.length === 1 ? keys[0]! : keys.join('\n');
    let batch = this.batches.get(id);
    if (batch !== undefined && !sameKeys(batch.keys, keys)) return this.store.getMany(keys);
    if (batch === undefined) {
      batch = { keys, readers: [] };
      this.batches.set(id, batch);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    }
    const readers = batch.readers;
    return new Promise((resolve, reject) => readers.push({ resolve, reject }));
  }

  private flush(): void {
    const batches = this.batches;
    this.batches = new Map();
    this.scheduled = false;
    for (const { keys, readers } of batches.values()) {
      let sent: Promise<(Buffer | null)[]>;
      try {
        sent = this.store.getMany(keys);
      } catch (error) {
        sent = Promise.reject(error);
      }
      sent.then(
        (values) => {
          for (const reader of readers) reader.resolve(values);
        },
        (error: unknown) => {
          for (const reader of readers) reader.reject(error);
        },
      );
    }
  }
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
