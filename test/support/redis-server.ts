import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { forgetDir, killProcess, trackDir, trackProcess } from './processes.js';

const run = promisify(execFile);

/** A free loopback port, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  /** A client for the test itself (counting commands, deleting keys), never the cache's. */
  admin: Redis;
  stop(): Promise<void>;
  /** Starts the server again on the same port, empty (after `kill()`, or in place of a running one). */
  restart(): Promise<void>;
  /** Kills the server (SIGKILL) and leaves it down until `restart()`: an outage on the same port. */
  kill(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and nothing answers, as with a hung Redis. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
  /** Process id of the current redis-server. */
  readonly pid: number;
  /** Commands executed so far, by name (lower case), from INFO commandstats. */
  commandStats(): Promise<Map<string, number>>;
  dir: string;
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await run('redis-cli', ['-p', String(port), 'ping']);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

/** A redis-server without persistence on a loopback port, registered so that it is always stopped. */
export function spawnRedis(port: number, dir: string, extra: string[]): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...extra,
    ],
    { stdio: 'ignore' },
  );
  return trackProcess(child);
}

/** Starts a private redis-server on a free loopback port; the caller stops it. */
export async function startRedis(extra: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = trackDir(await mkdtemp(join(tmpdir(), 'vc-redis-')));
  let child = spawnRedis(port, dir, extra);
  const stopChild = () => killProcess(child);
  try {
    await waitForPing(port);
  } catch (error) {
    await stopChild();
    await rm(dir, { recursive: true, force: true });
    forgetDir(dir);
    throw error;
  }
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  const signal = (name: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null)
      throw new Error('redis-server is not running');
    process.kill(child.pid, name);
  };
  return {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    admin,
    async stop() {
      admin.disconnect();
      await stopChild();
      await rm(dir, { recursive: true, force: true });
      forgetDir(dir);
    },
    get pid() {
      if (child.pid === undefined) throw new Error('redis-server has no pid');
      return child.pid;
    },
    async kill() {
      await stopChild();
    },
    pause() {
      signal('SIGSTOP');
    },
    resume() {
      signal('SIGCONT');
    },
    async restart() {
      await stopChild();
      child = spawnRedis(port, dir, extra);
      await waitForPing(port);
    },
    async commandStats() {
      const info = await admin.info('commandstats');
      const stats = new Map<string, number>();
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        stats.set(match[1]!, Number(match[2]));
      return stats;
    },
  };
}

/** Waits until `master` reports `count` replicas online and in sync. */
export async function waitForReplica(master: Pick<RedisServer, 'admin'>, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const info = await master.admin.info('replication');
    const online = [...info.matchAll(/^slave\d+:.*state=online/gm)].length;
    if (online >= count) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} replica(s): ${info}`);
    await sleep(50);
  }
}
