import type { Redis } from 'ioredis';
import { PREFIX } from './config.js';

/**
 * Which processing of the logs is current. The epoch stands in for the dashboard's database: the
 * reprocessing job moves it, and every server derives its dataset from it. With Redis it lives in
 * Redis, so that every server process and the worker agree on it.
 */
export interface EpochSource {
  readonly kind: 'memory' | 'redis';
  current(): Promise<number>;
  /** Moves to a new epoch and returns it. */
  advance(): Promise<number>;
}

export class MemoryEpochs implements EpochSource {
  readonly kind = 'memory';
  private epoch = 0;

  async current(): Promise<number> {
    return this.epoch;
  }

  async advance(): Promise<number> {
    return ++this.epoch;
  }
}

export const EPOCH_KEY = `${PREFIX}:dataset:epoch`;

export class RedisEpochs implements EpochSource {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly key = EPOCH_KEY,
  ) {}

  async current(): Promise<number> {
    const raw = await this.redis.get(this.key);
    return raw === null ? 0 : Number(raw);
  }

  async advance(): Promise<number> {
    return this.redis.incr(this.key);
  }
}
