import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { forgetDir, killProcess, trackDir } from './processes.js';
import { spawnRedis } from './redis-server.js';
import { waitUntil } from './wait.js';

const run = promisify(execFile);

/** Redis Cluster nodes listen on `port` and on the cluster bus at `port + 10000`. */
const BUS_OFFSET = 10_000;
const LOWEST_PORT = 20_000;
const HIGHEST_PORT = 65_535 - BUS_OFFSET - 1;

export interface ClusterNode {
  host: string;
  port: number;
}

export interface RedisCluster {
  /** Every node; which are masters is up to `--cluster create` (ask CLUSTER SLOTS). */
  nodes: ClusterNode[];
  /** Kills every node and removes the temporary directory. */
  stop(): Promise<void>;
  /** SIGKILLs one node and leaves it down: a master lost without warning. */
  kill(port: number): Promise<void>;
}

export interface RedisClusterOptions {
  /**
   * Replicas per master; failover promotes one when its master is lost.
   * @default 0
   */
  replicas?: number;
  /** More redis-server arguments for every node, such as `['--cluster-require-full-coverage', 'no']`. */
  extra?: string[];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Ports whose bus port is free too. The kernel's ephemeral range reaches past 55535, where the bus
 * port would not exist, so ports are drawn at random from a range that leaves room for it.
 */
async function freeClusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt > 500) throw new Error('no free ports for a Redis Cluster');
    const port = LOWEST_PORT + Math.floor(Math.random() * (HIGHEST_PORT - LOWEST_PORT));
    if (ports.some((p) => Math.abs(p - port) < 2 || Math.abs(p + BUS_OFFSET - port) < 2)) continue;
    if ((await canListen(port)) && (await canListen(port + BUS_OFFSET))) ports.push(port);
  }
  return ports;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout;
}

/** Starts a Redis Cluster (3 masters, no replicas by default) on free loopback ports; the caller stops it. */
export async function startRedisCluster(
  masters = 3,
  { replicas = 0, extra = [] }: RedisClusterOptions = {},
): Promise<RedisCluster> {
  const dir = trackDir(await mkdtemp(join(tmpdir(), 'vc-cluster-')));
  const total = masters * (1 + replicas);
  const ports = await freeClusterPorts(total);
  const children: ChildProcess[] = ports.map((port) =>
    spawnRedis(port, dir, [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      '2000',
      ...extra,
    ]),
  );
  const stop = async () => {
    await Promise.all(children.map(killProcess));
    await rm(dir, { recursive: true, force: true });
    forgetDir(dir);
  };
  try {
    for (const port of ports)
      await waitUntil(`Redis Cluster node ${port}`, async () => (await cli(port, 'ping')).trim() === 'PONG');
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    // `--cluster create` returns once slots are assigned; every node must also have heard of all
    // the others through the bus before a client can be routed reliably.
    for (const port of ports) {
      await waitUntil(`Redis Cluster: cluster_state:ok on ${port}`, async () => {
        const info = await cli(port, 'cluster', 'info');
        return (
          /cluster_state:ok/.test(info) &&
          /cluster_slots_ok:16384/.test(info) &&
          new RegExp(`cluster_known_nodes:${total}\\b`).test(info)
        );
      });
    }
    // A replica that has not finished its first sync cannot take over: wait for every link.
    for (const port of ports) {
      await waitUntil(`Redis Cluster: replication on ${port}`, async () => {
        const info = await cli(port, 'info', 'replication');
        return /role:master/.test(info) || /master_link_status:up/.test(info);
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    stop,
    async kill(port) {
      const index = ports.indexOf(port);
      if (index === -1) throw new Error(`no cluster node on port ${port}`);
      await killProcess(children[index]!);
    },
  };
}
