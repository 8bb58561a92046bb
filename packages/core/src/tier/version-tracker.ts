import { EventEmitter } from 'node:events';
import { type Redis, ReplyError } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { toStoreError, type VersionedCacheError } from '../errors.js';
import { closeQuietly, INVALIDATION_CHANNEL, openTrackerConnections } from './tracker-connections.js';

export interface VersionTrackerOptions {
  /**
   * How often both tracker connections are pinged. Trust lapses when no ping came back for three
   * intervals: the bound on staleness when a connection dies without the socket noticing.
   * @default 500
   */
  heartbeatMs?: number;
  /**
   * Most version keys trusted at once (one per namespace in use).
   * @default 10000
   */
  maxKeys?: number;
  /** Faults setting tracking up (an old Redis, a denied command); the tracker stays down meanwhile. */
  onError?: (error: VersionedCacheError) => void;
}

export type TrackerStatus = 'up' | 'down';

interface PendingRead {
  /** An invalidation of this key arrived while the read was in flight: its value may be the old one. */
  dirty: boolean;
  done: Promise<void>;
}

/**
 * Which namespace versions this process may trust without asking Redis. It owns two connections,
 * duplicated from the cache's client: one subscribed to Redis's invalidation channel, and one with
 * `CLIENT TRACKING on REDIRECT <subscriber>` in default mode that reads version keys, so that Redis
 * remembers exactly the version keys this process read and tells the subscriber when one changes.
 * A version is trusted only while both connections are up and answering, and only if no invalidation
 * of its key arrived since the read that learnt it was sent.
 */
export class VersionTracker {
  readonly reader: Redis;
  readonly subscriber: Redis;
  private readonly trusted: LRUCache<string, string>;
  private readonly pending = new Map<string, PendingRead>();
  private readonly events = new EventEmitter();
  private readonly keyPrefix: string;
  private readonly heartbeatMs: number;
  private readonly onError: ((error: VersionedCacheError) => void) | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  /** Bumped whenever tracking drops: an establishment begun before cannot declare it up. */
  private session = 0;
  /** Bumped on drops and flushes: a version read begun before cannot be trusted. */
  private epoch = 0;
  private subscriberGeneration = 0;
  private subscriberId: string | null = null;
  private subscribing = false;
  private tracking = false;
  private aliveUntil = 0;
  private beating = false;
  private failing = false;
  private closed = false;

  constructor(client: Redis, options: VersionTrackerOptions = {}) {
    this.heartbeatMs = options.heartbeatMs ?? 500;
    this.onError = options.onError;
    this.trusted = new LRUCache<string, string>({ max: options.maxKeys ?? 10_000 });
    ({
      reader: this.reader,
      subscriber: this.subscriber,
      keyPrefix: this.keyPrefix,
    } = openTrackerConnections(client, this.heartbeatMs * 2));
    // A reconnected tracking connection has tracking off; a reconnected subscriber has a new id.
    this.reader.on('close', () => this.drop('tracking connection closed'));
    this.subscriber.on('close', () => {
      this.subscriberGeneration++;
      this.subscriberId = null;
      this.drop('invalidation subscriber closed');
    });
    this.reader.on('ready', () => void this.establish());
    this.subscriber.on('ready', () => void this.subscribe());
    this.subscriber.on('messageBuffer', (channel: Buffer, payload: unknown) =>
      this.onMessage(channel, payload),
    );
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  get status(): TrackerStatus {
    return this.tracking ? 'up' : 'down';
  }

  /** The version of `key` this process may use without asking Redis, or undefined. */
  version(key: string): string | undefined {
    if (!this.tracking || performance.now() >= this.aliveUntil) return undefined;
    return this.trusted.get(key);
  }

  /**
   * Reads the untrusted ones among `keys` on the tracking connection, which makes Redis track them,
   * and trusts each value unless an invalidation of its key arrived meanwhile.
   */
  track(keys: readonly string[]): Promise<void> {
    if (!this.tracking) return Promise.resolve();
    const inFlight: Promise<void>[] = [];
    const wanted: string[] = [];
    for (const key of keys) {
      const pending = this.pending.get(key);
      if (pending) inFlight.push(pending.done);
      else if (this.trusted.get(key) === undefined) wanted.push(key);
    }
    if (wanted.length > 0) inFlight.push(this.read(wanted));
    return inFlight.length === 1 ? inFlight[0]! : Promise.all(inFlight).then(() => {});
  }

  /** Stops trusting these version keys now, as if their invalidations had arrived (this process changed them). */
  forget(keys: readonly string[]): void {
    for (const key of keys) this.invalidateKey(key);
  }

  /**
   * One round trip through each connection: Redis answers the subscriber's after every invalidation
   * it queued for us before, and the tracking connection's only if it still exists, so once this
   * resolves `true` no change acknowledged to any writer earlier is unseen. `false` when tracking
   * is down or dropped meanwhile (nothing is trusted then).
   */
  async sync(): Promise<boolean> {
    const session = this.session;
    if (!this.tracking) return false;
    const sentAt = performance.now();
    try {
      await Promise.all([this.subscriber.ping(), this.reader.ping()]);
    } catch {
      // A connection can refuse a write before its 'close' event runs: trust must end now, not then.
      if (session === this.session) this.drop('sync failed');
      return false;
    }
    if (session !== this.session || !this.tracking) return false;
    this.aliveUntil = Math.max(this.aliveUntil, sentAt + this.heartbeatMs * 3);
    return true;
  }

  on(event: 'up', listener: () => void): this;
  on(event: 'down', listener: (reason: string) => void): this;
  /** The listener gets null after a flush of the database: every version is untrusted. */
  on(event: 'invalidate', listener: (keys: readonly string[] | null) => void): this;
  on(event: string, listener: (...args: never[]) => void): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off(event: 'up' | 'down' | 'invalidate', listener: (...args: never[]) => void): this {
    this.events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.drop('closed');
    await Promise.all([closeQuietly(this.reader), closeQuietly(this.subscriber)]);
  }

  private read(keys: readonly string[]): Promise<void> {
    const epoch = this.epoch;
    const reads = keys.map(() => ({ dirty: false }) as PendingRead);
    const settle = (values: (string | null)[] | null) => {
      keys.forEach((key, i) => {
        const read = reads[i]!;
        if (this.pending.get(key) === read) this.pending.delete(key);
        const value = values?.[i];
        if (value != null && !read.dirty && epoch === this.epoch && this.tracking)
          this.trusted.set(key, value);
      });
    };
    // A failed read leaves its keys untrusted: the cache keeps reading Redis for them.
    const done = this.reader
      .mget(...keys.map((key) => this.keyPrefix + key))
      .then(settle, () => settle(null));
    keys.forEach((key, i) => {
      reads[i]!.done = done;
      this.pending.set(key, reads[i]!);
    });
    return done;
  }

  private async subscribe(): Promise<void> {
    const generation = this.subscriberGeneration;
    if (this.closed || this.subscribing) return;
    this.subscribing = true;
    try {
      const id = await this.subscriber.client('ID');
      await this.subscriber.subscribe(INVALIDATION_CHANNEL);
      if (generation !== this.subscriberGeneration) return;
      this.subscriberId = String(id);
    } catch (error) {
      // A half-done subscription is reset by reconnecting rather than repaired.
      if (generation === this.subscriberGeneration && !this.closed) this.subscriber.disconnect(true);
      this.fail('subscribe to invalidations', error);
      return;
    } finally {
      this.subscribing = false;
    }
    await this.establish();
  }

  private async establish(): Promise<void> {
    const session = this.session;
    const id = this.subscriberId;
    if (this.closed || this.tracking || id === null || this.reader.status !== 'ready') return;
    try {
      await this.reader.client('TRACKING', 'ON', 'REDIRECT', id);
    } catch (error) {
      this.fail('enable client tracking', error);
      return;
    }
    if (this.closed || this.tracking || session !== this.session || id !== this.subscriberId) return;
    this.failing = false;
    this.tracking = true;
    this.aliveUntil = performance.now() + this.heartbeatMs * 3;
    this.emit('up');
  }

  private drop(reason: string): void {
    this.session++;
    this.epoch++;
    this.trusted.clear();
    if (!this.tracking) return;
    this.tracking = false;
    this.emit('down', reason);
  }

  private onMessage(channel: Buffer, payload: unknown): void {
    if (channel.toString() !== INVALIDATION_CHANNEL) return;
    if (!Array.isArray(payload)) {
      // A null payload follows FLUSHALL/FLUSHDB: every key changed, including those read just now.
      this.epoch++;
      this.trusted.clear();
      this.emit('invalidate', null);
      return;
    }
    const keys: string[] = [];
    for (const raw of payload) {
      const name = String(raw);
      if (!name.startsWith(this.keyPrefix)) continue;
      const key = name.slice(this.keyPrefix.length);
      this.invalidateKey(key);
      keys.push(key);
    }
    this.emit('invalidate', keys);
  }

  private invalidateKey(key: string): void {
    this.trusted.delete(key);
    const read = this.pending.get(key);
    if (read) read.dirty = true;
  }

  /** Keeps trust alive while both connections answer; a silent one is reconnected, dropping trust. */
  private async beat(): Promise<void> {
    if (this.closed || this.beating) return;
    if (!this.tracking) {
      // Tracking setup failed on a live connection (a timeout, say): try again.
      if (this.subscriber.status === 'ready' && this.subscriberId === null) void this.subscribe();
      else void this.establish();
      return;
    }
    this.beating = true;
    const session = this.session;
    const sentAt = performance.now();
    try {
      await Promise.all([this.subscriber.ping(), this.reader.ping()]);
      if (session === this.session) this.aliveUntil = sentAt + this.heartbeatMs * 3;
    } catch {
      if (session === this.session && !this.closed) {
        this.drop('heartbeat failed');
        this.subscriber.disconnect(true);
        this.reader.disconnect(true);
      }
    } finally {
      this.beating = false;
    }
  }

  private fail(operation: string, error: unknown): void {
    // Only Redis refusing (no CLIENT TRACKING before 6, an ACL) is news: a connection dropping
    // midway shows as 'down' and is retried on reconnect. Once per outage, not every heartbeat.
    if (!(error instanceof ReplyError) || this.failing || this.closed) return;
    this.failing = true;
    this.onError?.(toStoreError(`L1 ${operation}`, error));
  }

  private emit(event: string, ...args: unknown[]): void {
    try {
      this.events.emit(event, ...args);
    } catch (error) {
      // A listener's fault must not escape into the socket's data handler.
      this.onError?.(toStoreError('L1 listener', error));
    }
  }
}
