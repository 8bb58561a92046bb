import { performance } from 'node:perf_hooks';
import { StoreTimeoutError } from '../errors.js';
import type { CacheStore } from '../stores/store.js';
import { type Deadline, storeBoundsWithin } from './deadline.js';

interface Reader {
  /** When the read fails with a timeout (`performance.now()` time): what its call had left when it joined. */
  expiresAt: number;
  budgetMs: number;
  settled: boolean;
  resolve(values: (Buffer | null)[]): void;
  reject(error: unknown): void;
}

interface Batch {
  keys: readonly string[];
  readers: Reader[];
}

/**
 * Identical reads of a remote store made in one turn of the event loop leave as one MGET, sent once
 * the turn's I/O callbacks have run (the hot entry under load: every connection's request for it).
 * A read joins only a read not yet sent, so it never sees the store as it was before it began: after
 * an invalidation resolved anywhere, no later read returns the old version. Reads in flight are
 * not waited on, unlike a client pipeline that holds every command until the previous batch
 * returned, which doubled the tail latency of hits.
 *
 * Each reader is held to its own call's deadline, by one timer per batch rather than one per hit:
 * under load a batch carries dozens of hits, and a timer each was a measurable share of a hit's CPU.
 */
export class ReadCoalescer {
  /** Reads not yet sent, by their keys joined (checked key by key: a join may be ambiguous). */
  private batches = new Map<string, Batch>();
  private scheduled = false;

  constructor(
    private readonly store: CacheStore,
    private readonly operation: string,
  ) {}

  getMany(keys: readonly string[], deadline: Deadline): Promise<(Buffer | null)[]> {
    // The usual hit reads [version key, entry key], and the entry key embeds the version key.
    const id = keys.length <= 2 ? keys[keys.length - 1]! : keys.join('\n');
    let batch = this.batches.get(id);
    let alone = false;
    if (batch !== undefined && !sameKeys(batch.keys, keys)) {
      batch = { keys, readers: [] };
      alone = true;
    } else if (batch === undefined) {
      batch = { keys, readers: [] };
      this.batches.set(id, batch);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    }
    const readers = batch.readers;
    const read = new Promise<(Buffer | null)[]>((resolve, reject) =>
      readers.push({
        expiresAt: deadline.expiry(),
        budgetMs: deadline.budgetMs,
        settled: false,
        resolve,
        reject,
      }),
    );
    if (alone) this.send(batch);
    return read;
  }

  private flush(): void {
    const batches = this.batches;
    this.batches = new Map();
    this.scheduled = false;
    for (const batch of batches.values()) this.send(batch);
  }

  private send({ keys, readers }: Batch): void {
    const expiry = this.expire(readers);
    let sent: Promise<(Buffer | null)[]>;
    try {
      sent = this.store.getMany(keys);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (values) => {
        expiry?.cancel();
        for (const reader of readers) if (!reader.settled) reader.resolve(values);
      },
      (error: unknown) => {
        expiry?.cancel();
        for (const reader of readers) if (!reader.settled) reader.reject(error);
      },
    );
  }

  /**
   * Rejects each reader whose deadline passes before the batch answers. None is needed when the
   * store bounds the read by itself within every reader's deadline (an in-process store always
   * does; a connection the cache opened does by its command timeout, from the moment it is sent).
   */
  private expire(readers: Reader[]): { cancel(): void } | null {
    const earliest = () => {
      let least = Number.POSITIVE_INFINITY;
      for (const reader of readers) if (!reader.settled) least = Math.min(least, reader.expiresAt);
      return least - performance.now();
    };
    const first = earliest();
    if (storeBoundsWithin(this.store.latencyBoundMs, first)) return null;
    let timer: NodeJS.Timeout | undefined;
    const arm = (remaining: number) => {
      timer = setTimeout(
        () => {
          for (const reader of readers) {
            if (reader.settled || reader.expiresAt > performance.now()) continue;
            reader.settled = true;
            reader.reject(new StoreTimeoutError(this.operation, reader.budgetMs));
          }
          const next = earliest();
          if (next !== Number.POSITIVE_INFINITY) arm(next);
        },
        Math.max(0, Math.ceil(remaining)),
      );
    };
    arm(first);
    return { cancel: () => clearTimeout(timer) };
  }
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
