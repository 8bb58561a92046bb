import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackProcess } from './support/processes.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Invariant 6: freshness lives in Redis, not in a process: right after one process invalidates,
// every process reads the new data.

const FIXTURE = fileURLToPath(new URL('./fixtures/cache-process.mjs', import.meta.url));

interface FetchReply {
  value: unknown;
  status: string;
  computations: number;
}

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  event?: string;
  code?: string;
  pid?: number;
}

/** One child Node process with its own cache, answering one request at a time over IPC. */
class CacheProcess {
  readonly errors: string[] = [];
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: Reply) => {
      if (message.event === 'error') this.errors.push(message.code!);
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.ok) waiter?.resolve(message.result);
      else waiter?.reject(new Error(message.error));
    });
  }

  static async start(redisUrl: string): Promise<CacheProcess> {
    const child = trackProcess(
      fork(FIXTURE, [], {
        env: { ...process.env, VC_REDIS_URL: redisUrl },
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`cache process exited with ${code}`)));
      child.on('message', (message: Reply) => {
        if (message.event === 'ready') resolve();
      });
    });
    child.removeAllListeners('exit');
    return new CacheProcess(child);
  }

  request<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, op, args });
    });
  }

  fetch(namespaces: string | string[], key: string, value: string): Promise<FetchReply> {
    return this.request('fetch', { namespaces, key, value });
  }

  invalidate(namespaces: string | string[]): Promise<unknown> {
    return this.request('invalidate', { namespaces });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    try {
      await this.request('close');
    } catch {
      this.child.kill('SIGKILL');
    }
    await exited;
  }
}

describe('two processes sharing one Redis', () => {
  let server: RedisServer;
  let a: CacheProcess;
  let b: CacheProcess;

  beforeAll(async () => {
    server = await startRedis();
    [a, b] = await Promise.all([CacheProcess.start(server.url), CacheProcess.start(server.url)]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await server.stop();
  });

  it('are separate processes', () => {
    expect(a.child.pid).not.toBe(b.child.pid);
    expect(a.child.pid).not.toBe(process.pid);
  });

  it('see one another’s entries, and both read the new data right after either invalidates', async () => {
    expect(await a.fetch('dashboard', 'summary', 'a1')).toMatchObject({ value: 'a1', status: 'MISS' });
    expect(await b.fetch('dashboard', 'summary', 'b1')).toMatchObject({ value: 'a1', status: 'HIT' });
    // Both have now seen the version, so each would happily serve its own idea of it if freshness
    // lived in the process.
    expect(await a.fetch('dashboard', 'summary', 'a1')).toMatchObject({ value: 'a1', status: 'HIT' });

    await a.invalidate('dashboard');
    expect(await b.fetch('dashboard', 'summary', 'b2')).toMatchObject({ value: 'b2', status: 'MISS' });
    expect(await a.fetch('dashboard', 'summary', 'a2')).toMatchObject({ value: 'b2', status: 'HIT' });

    await b.invalidate('dashboard');
    expect(await a.fetch('dashboard', 'summary', 'a3')).toMatchObject({ value: 'a3', status: 'MISS' });
    expect(await b.fetch('dashboard', 'summary', 'b3')).toMatchObject({ value: 'a3', status: 'HIT' });
  });

  it('an entry depending on two namespaces goes stale in both processes when either is invalidated', async () => {
    expect(await a.fetch(['sales', 'regions'], 'chart', 'x1')).toMatchObject({ value: 'x1' });
    expect(await b.fetch(['regions', 'sales'], 'chart', 'never')).toMatchObject({
      value: 'x1',
      status: 'HIT',
    });
    await b.invalidate('regions');
    expect(await a.fetch(['sales', 'regions'], 'chart', 'x2')).toMatchObject({ value: 'x2', status: 'MISS' });
    expect(await b.fetch(['sales', 'regions'], 'chart', 'never')).toMatchObject({
      value: 'x2',
      status: 'HIT',
    });
    await a.invalidate('sales');
    expect(await b.fetch(['sales', 'regions'], 'chart', 'x3')).toMatchObject({ value: 'x3', status: 'MISS' });
    expect(await a.fetch(['sales', 'regions'], 'chart', 'never')).toMatchObject({
      value: 'x3',
      status: 'HIT',
    });
    expect([...a.errors, ...b.errors]).toEqual([]);
  });
});
