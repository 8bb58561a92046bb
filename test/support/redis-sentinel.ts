import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { forgetDir, killProcess, trackDir, trackProcess } from './processes.js';
import { freePort, type RedisServer, startRedis, waitForReplica } from './redis-server.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { waitUntil } from './wait.js';

const run = promisify(execFile);

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface SentinelGroup {
  /** The master group name the sentinels monitor. */
  name: string;
  sentinels: SentinelAddress[];
  /** The master at start. */
  master: RedisServer;
  /** The replica at start. */
  replica: RedisServer;
  /** With `replicationThroughProxy`: the proxy the replica's replication link goes through. */
  replicationProxy: TcpProxy | undefined;
  /** A client on the first sentinel, for the test's own SENTINEL commands. */
  admin: Redis;
  /** Where the sentinels say the master is now. */
  masterAddress(): Promise<SentinelAddress>;
  /**
   * Subscribes to +switch-master on every sentinel; `switched` resolves with the new master's
   * address once every sentinel has announced it (or rejects after `timeoutMs`, or when they name
   * different masters). A sentinel still on the old configuration would turn the promoted master
   * back into a replica of the old one as soon as the old one answers again. Await this call before
   * causing the failover, so that no announcement can be missed.
   */
  watchSwitch(timeoutMs?: number): Promise<{ switched: Promise<SentinelAddress> }>;
  stop(): Promise<void>;
}

export interface SentinelGroupOptions {
  /**
   * How long a master must be unreachable before the sentinels call it down. Above one second:
   * a sentinel pings every `min(downAfterMs, 1000)` ms, and right after a failover its first ping of
   * the promoted master can come back later than a one-second bound, which then starts a second
   * failover onto whatever replica it finds (the test's old master, restarted empty).
   * @default 2000
   */
  downAfterMs?: number;
  /**
   * Route the replica's replication link through a TCP proxy the test controls, so that it can
   * hold replication back (freeze) without stopping either server.
   * @default false
   */
  replicationThroughProxy?: boolean;
}

function masterInfo(reply: unknown): Record<string, string> {
  const flat = reply as string[];
  const info: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) info[flat[i]!] = flat[i + 1]!;
  return info;
}

/**
 * Starts one master, one replica and three sentinels (quorum 2) on free loopback ports. Everything
 * is stopped by `stop()`, and by the process registry should a test forget to.
 */
export async function startSentinelGroup(options: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const name = 'vcmaster';
  const downAfterMs = options.downAfterMs ?? 2_000;
  const started: { servers: RedisServer[]; children: ChildProcess[]; clients: Redis[] } = {
    servers: [],
    children: [],
    clients: [],
  };
  const dir = trackDir(await mkdtemp(join(tmpdir(), 'vc-sentinel-')));
  let proxy: TcpProxy | undefined;
  const stop = async () => {
    for (const client of started.clients) client.disconnect();
    await Promise.all(started.children.map(killProcess));
    await proxy?.close();
    await Promise.all(started.servers.map((server) => server.stop()));
    await rm(dir, { recursive: true, force: true });
    forgetDir(dir);
  };
  try {
    const master = await startRedis();
    started.servers.push(master);
    if (options.replicationThroughProxy) proxy = await startTcpProxy({ port: master.port });
    const replica = await startRedis([
      '--replicaof',
      '127.0.0.1',
      String(proxy?.port ?? master.port),
      // Sentinels must reach the replica at its own port, not through the proxy.
      '--replica-announce-ip',
      '127.0.0.1',
    ]);
    started.servers.push(replica);
    await waitForReplica(master, 1);

    const sentinels: SentinelAddress[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      started.children.push(trackProcess(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' })));
      sentinels.push({ host: '127.0.0.1', port });
    }
    for (const { port } of sentinels) {
      await waitUntil(`Redis Sentinel ${port}`, async () => {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'ping']);
        return stdout.trim() === 'PONG';
      });
    }
    const admin = new Redis({ port: sentinels[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    admin.on('error', () => {});
    started.clients.push(admin);
    // Every sentinel must know the replica and the two other sentinels before a failover can be
    // agreed on.
    for (const { port } of sentinels) {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      client.on('error', () => {});
      try {
        await waitUntil(`Redis Sentinel ${port} to see the group`, async () => {
          const info = masterInfo(await client.call('SENTINEL', 'MASTER', name));
          return info['num-slaves'] === '1' && info['num-other-sentinels'] === '2';
        });
      } finally {
        client.disconnect();
      }
    }

    return {
      name,
      sentinels,
      master,
      replica,
      replicationProxy: proxy,
      admin,
      stop,
      async masterAddress() {
        const [host, port] = (await admin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [
          string,
          string,
        ];
        return { host, port: Number(port) };
      },
      async watchSwitch(timeoutMs = 30_000) {
        const subscribers = sentinels.map(({ port }) => {
          const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
          client.on('error', () => {});
          started.clients.push(client);
          return client;
        });
        await Promise.all(subscribers.map((client) => client.subscribe('+switch-master')));
        let timer: NodeJS.Timeout | undefined;
        const switched = new Promise<SentinelAddress>((resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no +switch-master within ${timeoutMs} ms`)), timeoutMs);
          const announced = new Map<Redis, string>();
          for (const client of subscribers) {
            // "<name> <old-ip> <old-port> <new-ip> <new-port>"
            client.on('message', (_channel: string, message: string) => {
              const [master, , , host, port] = message.split(' ');
              if (master !== name) return;
              announced.set(client, `${host}:${port}`);
              if (announced.size < subscribers.length) return;
              const named = new Set(announced.values());
              if (named.size === 1) resolve({ host: host!, port: Number(port) });
              else reject(new Error(`the sentinels switched to different masters: ${[...named].join(', ')}`));
            });
          }
        });
        // Wrapped: an async function returning the promise itself would wait for the switch.
        return {
          switched: switched.finally(() => {
            clearTimeout(timer);
            for (const client of subscribers) client.disconnect();
          }),
        };
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
