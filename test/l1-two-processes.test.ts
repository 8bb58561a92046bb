import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentiles } from './support/l1-tracking.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// The L1 tier's promise across processes: once another process's invalidate() has resolved, this
// process stops serving the old generation within the time its subscriber socket takes to deliver
// one message, and never after one round trip through that subscriber.

const FIXTURE = fileURLToPath(new URL('./fixtures/l1-process.mjs', import.meta.url));

interface Read {
  status: string;
  value: string;
}

/** A forked process with its own cache; one request at a time over IPC. */
class Peer {
  readonly errors: string[] = [];
  private nextId = 0;
  private readonly waiters = new Map<
    number,
    (reply: { ok: boolean; result?: unknown; error?: string }) => void
  >();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: { id?: number; ok: boolean; event?: string; code?: string }) => {
      if (message.event === 'error') this.errors.push(message.code!);
      if (message.id === undefined) return;
      this.waiters.get(message.id)?.(message);
      this.waiters.delete(message.id);
    });
  }

  static async start(url: string, l1: boolean): Promise<Peer> {
    const child = fork(FIXTURE, [], {
      env: { ...process.env, VC_REDIS_URL: url, VC_L1: l1 ? '1' : '0' },
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`peer exited with ${code}`)));
      child.on('message', (message: { event?: string }) => {
        if (message.event === 'ready') resolve();
      });
    });
    child.removeAllListeners('exit');
    return new Peer(child);
  }

  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(id, (reply) =>
        reply.ok ? resolve(reply.result as T) : reject(new Error(reply.error)),
      );
      this.child.send({ id, op, args });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.call('close').catch(() => this.child.kill('SIGKILL'));
    await exited;
  }
}

interface Check {
  immediate: Read;
  synced: boolean;
  after: Read;
  invalidatedAt: string | null;
}

describe('l1 across two processes', () => {
  let server: RedisServer;
  let reader: Peer;
  let writer: Peer;

  beforeAll(async () => {
    server = await startRedis();
    [reader, writer] = await Promise.all([Peer.start(server.url, true), Peer.start(server.url, false)]);
    await reader.call('waitUp');
  });

  afterAll(async () => {
    await Promise.all([reader?.stop(), writer?.stop()]);
    await server.stop();
  });

  it('stops serving the old generation within the bound after invalidate() resolves elsewhere, and never after a sync', async () => {
    const rounds = 200;
    const lagMs: number[] = [];
    let staleAfterSync = 0;
    let staleImmediate = 0;
    for (let i = 0; i < rounds; i++) {
      const warm = await reader.call<{ trusted: boolean; served: Read }>('warm', {
        ns: 'dash',
        key: 'summary',
        value: `g${i}`,
      });
      expect(warm.trusted).toBe(true);
      expect(warm.served).toEqual({ status: 'HIT', value: `g${i}` });

      const { resolvedAt } = await writer.call<{ resolvedAt: string }>('invalidate', { ns: 'dash' });
      const check = await reader.call<Check>('check', { ns: 'dash', key: 'summary', value: `g${i + 1}` });
      if (check.immediate.value === `g${i}`) staleImmediate++;
      if (check.after.value === `g${i}`) staleAfterSync++;
      expect(check.synced).toBe(true);
      expect(check.invalidatedAt).not.toBeNull();
      // Negative when the reader handled the message before the writer even had its reply.
      lagMs.push(Math.max(0, Number(BigInt(check.invalidatedAt!) - BigInt(resolvedAt)) / 1e6));
    }
    const { p50, p99, max } = percentiles(lagMs);
    console.log(
      `L1 staleness after invalidate() resolved in another process, ${rounds} rounds: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, max ${max.toFixed(3)} ms; stale reads: ${staleImmediate} immediate, ${staleAfterSync} after sync`,
    );
    // An unsynchronised read may still be served old while the message is on its way (that is the
    // bound measured here); after one round trip through the subscriber, never.
    expect(staleAfterSync).toBe(0);
    // Loopback p99 is about a millisecond; the bound asserted leaves room for a loaded machine.
    expect(p99).toBeLessThan(100);
    expect([...reader.errors, ...writer.errors]).toEqual([]);
  });

  it('no stale read when the reader’s tracking connections are killed while the writer invalidates', async () => {
    for (let i = 0; i < 10; i++) {
      await reader.call('waitUp');
      const warm = await reader.call<{ trusted: boolean; served: Read }>('warm', {
        ns: 'killed',
        key: 'k',
        value: `g${i}`,
      });
      expect(warm.served).toEqual({ status: 'HIT', value: `g${i}` });
      // Alternately the subscriber and the tracking connection (the writer has neither).
      const target = i % 2 === 0 ? 'vc-l1-invalidations' : 'vc-l1-tracking';
      const list = (await server.admin.client('LIST')) as string;
      const id = list
        .split('\n')
        .find((line) => line.includes(` name=${target} `))
        ?.match(/^id=(\d+)/)?.[1];
      expect(id).toBeDefined();
      await server.admin.client('KILL', 'ID', id!);
      await writer.call('invalidate', { ns: 'killed' });
      const check = await reader.call<Check>('check', { ns: 'killed', key: 'k', value: `g${i + 1}` });
      expect(check.after.value).toBe(`g${i + 1}`);
    }
    expect([...reader.errors, ...writer.errors]).toEqual([]);
  });
});
