import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy for fault drills, between a client and a redis-server: it adds latency per chunk,
 * freezes the traffic without closing anything (a hung network or server, as the client sees it),
 * or drops every connection. Bytes are never reordered, altered or lost while connections stand.
 */
export interface TcpProxy {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Delays every chunk by `ms` in each direction (a round trip gains twice that); 0 for none. */
  setLatency(ms: number): void;
  /** Stops forwarding in both directions; connections stay open and bytes are held. */
  freeze(): void;
  /** Forwards what was held, in order, and resumes. */
  thaw(): void;
  /** Resets every open connection (client and upstream sides); new connections are accepted. */
  dropConnections(): void;
  /** Open client connections. */
  readonly connections: number;
  /** Chunks forwarded so far, client to server and back. */
  readonly forwarded: { up: number; down: number };
  close(): Promise<void>;
}

interface Pending {
  chunk: Buffer;
  due: number;
}

/** One direction of one connection: a FIFO of chunks, each released at its due time. */
class Lane {
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: Socket,
    private readonly state: { frozen: boolean },
    private readonly onForward: () => void,
  ) {}

  push(chunk: Buffer, latencyMs: number): void {
    this.queue.push({ chunk, due: Date.now() + latencyMs });
    this.pump();
  }

  pump(): void {
    if (this.timer !== undefined || this.state.frozen) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      if (!this.to.destroyed) this.to.write(head.chunk);
      this.onForward();
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/** Starts a proxy on a free loopback port that forwards to `target`. */
export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  const state = { frozen: false };
  let latencyMs = 0;
  const forwarded = { up: 0, down: 0 };
  const pairs = new Set<{ client: Socket; upstream: Socket; lanes: Lane[] }>();

  const server: Server = createServer((client) => {
    const upstream = connect({ host, port: target.port });
    const up = new Lane(upstream, state, () => forwarded.up++);
    const down = new Lane(client, state, () => forwarded.down++);
    const pair = { client, upstream, lanes: [up, down] };
    pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk) => up.push(chunk, latencyMs));
    upstream.on('data', (chunk) => down.push(chunk, latencyMs));
    const end = () => {
      if (!pairs.delete(pair)) return;
      up.stop();
      down.stop();
      client.destroy();
      upstream.destroy();
    };
    // A fault on one side closes the other, as a real network path would.
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  const dropConnections = () => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      for (const lane of pair.lanes) lane.stop();
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    setLatency(ms: number) {
      if (!(ms >= 0)) throw new RangeError(`latency must be a non-negative number of ms, got ${ms}`);
      latencyMs = ms;
    },
    freeze() {
      state.frozen = true;
    },
    thaw() {
      state.frozen = false;
      for (const pair of pairs) for (const lane of pair.lanes) lane.pump();
    },
    dropConnections,
    get connections() {
      return pairs.size;
    },
    get forwarded() {
      return { ...forwarded };
    },
    async close() {
      dropConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
