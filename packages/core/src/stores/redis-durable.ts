import { Cluster, type Redis } from 'ioredis';
import { keepConnected } from './redis-connection.js';
import { rethrowRedisFault } from './redis-faults.js';
import { defineScripts, type ScriptedClient } from './redis-scripts.js';
import type { DurabilityRequest } from './store.js';

type RedisClient = Redis | Cluster;

/** The scripts a durable write can queue, and the WAIT that follows them on the same connection. */
export interface ScriptedPipeline {
  vcAdvanceVersion(...args: Parameters<ScriptedClient['vcAdvanceVersion']>): ScriptedPipeline;
  vcCompareAndSet(...args: Parameters<ScriptedClient['vcCompareAndSet']>): ScriptedPipeline;
  wait(replicas: number, timeoutMs: number): ScriptedPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** A write's reply and how many replicas held it when WAIT answered. */
export interface DurableReply {
  reply: unknown;
  acknowledged: number;
}

/**
 * Writes that must reach replicas (version bumps, warm publishes) go through a connection of their
 * own: WAIT blocks the connection it is sent on, and the hit path's reads must not queue behind it.
 * Opened on the first durable write, and reopened with a longer timeout if a longer wait is asked.
 */
export class DurableConnection {
  private current: { client: RedisClient; timeoutMs: number } | undefined;

  constructor(
    private readonly main: RedisClient,
    private readonly commandTimeoutMs: number,
    private readonly closeClient: (client: RedisClient) => Promise<void>,
  ) {}

  /** One round trip: the write and the WAIT for it leave in one write on the same connection. */
  async run(
    durability: DurabilityRequest,
    queue: (pipeline: ScriptedPipeline) => ScriptedPipeline,
  ): Promise<DurableReply> {
    const client = this.connection(durability);
    const pipeline = queue(client.pipeline() as unknown as ScriptedPipeline).wait(
      durability.replicas,
      durability.timeoutMs,
    );
    const replies = await pipeline.exec().catch(rethrowRedisFault);
    const [writeError, reply] = replies?.[0] ?? [new Error('Connection is closed.'), null];
    if (writeError) rethrowRedisFault(writeError);
    const [waitError, acknowledged] = replies?.[1] ?? [new Error('Connection is closed.'), null];
    if (waitError) rethrowRedisFault(waitError);
    return { reply, acknowledged: Number(acknowledged) };
  }

  async close(): Promise<void> {
    const client = this.current?.client;
    this.current = undefined;
    // Always the store's own connection, even when the main one is a caller's client.
    if (client) await this.closeClient(client);
  }

  private connection(durability: DurabilityRequest): RedisClient {
    if (this.current && this.current.timeoutMs >= durability.timeoutMs) return this.current.client;
    const previous = this.current?.client;
    // Its command timeout covers the WAIT: the write's own bound plus the replicas' allowance.
    const commandTimeout = this.commandTimeoutMs + durability.timeoutMs;
    const client =
      this.main instanceof Cluster
        ? this.main.duplicate(undefined, {
            redisOptions: { ...this.main.options.redisOptions, commandTimeout },
          })
        : this.main.duplicate({ commandTimeout, enableAutoPipelining: false });
    client.on('error', () => {});
    keepConnected(client);
    defineScripts(client);
    this.current = { client, timeoutMs: durability.timeoutMs };
    if (previous) void this.closeClient(previous);
    return client;
  }
}
