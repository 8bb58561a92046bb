import { performance } from 'node:perf_hooks';
import { StoreTimeoutError } from '../errors.js';
import type { CacheStore } from '../stores/store.js';
import type { Route } from './breaker.js';
import { type Deadline, storeBoundsWithin } from './deadline.js';
import type { FAILED } from './failed.js';

type Values = (Buffer | null)[];

/** Takes a read's fault instead of its caller: reports it and answers `FAILED` (the call guard, fail-open). */
export interface ReadFaults {
  absorb(operation: string, deadline: Deadline, error: unknown, route: Route | undefined): typeof FAILED;
}

interface Reader {
  /** When the read fails with a timeout (`performance.now()` time): what its call had left when it joined. */
  expiresAt: number;
  deadline: Deadline;
  /** Null: the read rejects with its fault; else `faults` absorbs it and the read answers `FAILED`. */
  faults: ReadFaults | null;
  route: Route | undefined;
  settled: boolean;
  resolve(values: Values | typeof FAILED): void;
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
 * A reader may also hand its fault to the call guard (`read()`), so that a hit needs no wrapping
 * promise of the guard's around its read.
 */
export class ReadCoalescer {
  /** Reads not yet sent, by their keys joined (checked key by key: a join may be ambiguous). */
  private batches = new Map<string, Batch>();
  private scheduled = false;

  constructor(
    private readonly store: CacheStore,
    private readonly operation: string,
  ) {}

  /** The values of the keys read; rejects with the store's fault, or `VC_STORE_TIMEOUT` once the deadline passed. */
  getMany(keys: readonly string[], deadline: Deadline): Promise<Values> {
    return this.join(keys, deadline, null, undefined) as Promise<Values>;
  }

  /** As `getMany()`, with a fault taken by `faults` (reported against `route`) and answered as `FAILED`. */
  read(
    keys: readonly string[],
    deadline: Deadline,
    faults: ReadFaults,
    route: Route | undefined,
  ): Promise<Values | typeof FAILED> {
    return this.join(keys, deadline, faults, route);
  }

  private join(
    keys: readonly string[],
    deadline: Deadline,
    faults: ReadFaults | null,
    route: Route | undefined,
  ): Promise<Values | typeof FAILED> {
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
    const read = new Promise<Values | typeof FAILED>((resolve, reject) =>
      readers.push({
        expiresAt: deadline.expiry(),
        deadline,
        faults,
        route,
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
        for (const reader of readers) if (!reader.settled) this.fail(reader, error);
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
            this.fail(reader, new StoreTimeoutError(this.operation, reader.deadline.budgetMs));
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

  private fail(reader: Reader, error: unknown): void {
    reader.settled = true;
    if (reader.faults === null) reader.reject(error);
    else reader.resolve(reader.faults.absorb(this.operation, reader.deadline, error, reader.route));
  }
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
