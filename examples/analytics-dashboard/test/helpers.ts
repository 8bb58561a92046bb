import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Small logs keep the tests fast; the reports do the same work per line at any size. */
export const TEST_ROWS = 30_000;

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  /** X-Cache, or null when the cache did not answer. */
  cache: string | null;
}

export interface PieceBody<T = Record<string, unknown>> {
  piece: string;
  epoch: number;
  computedAt: string;
  computeMs: number;
  data: T;
}

export async function get<T = PieceBody>(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  const response = await fetch(new URL(path, base), { headers });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text ? JSON.parse(text) : null) as T,
    cache: response.headers.get('x-cache'),
  };
}

export async function post<T = Record<string, unknown>>(base: string, path: string): Promise<Reply<T>> {
  const response = await fetch(new URL(path, base), { method: 'POST' });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as T,
    cache: response.headers.get('x-cache'),
  };
}

export interface Child {
  url: string;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function collect(child: ChildProcess): () => string {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return () => output;
}

/** Starts `node dist/server.js` (what `pnpm start` runs) on a port the kernel picks. */
export async function startServer(env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, PORT: '0', DASHBOARD_ROWS: String(TEST_ROWS), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collect(child);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output()}`)), 15_000);
    child.stdout?.on('data', () => {
      const match = /analytics dashboard: (http:\/\/\S+)/.exec(output());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output()}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, process: child, output, stop };
}

/** Runs the reprocess worker (`node dist/reprocess.js`) to completion. */
export async function runWorker(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['dist/reprocess.js'], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, DASHBOARD_ROWS: String(TEST_ROWS), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collect(child);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output: output() };
}
