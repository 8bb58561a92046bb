import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface Reply {
  status: number;
  headers: Headers;
  /** X-Cache: HIT, MISS, STALE or BYPASS. */
  cache: string | null;
  body: Record<string, unknown>;
}

export async function call(base: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(new URL(path, base), init);
  return {
    status: response.status,
    headers: response.headers,
    cache: response.headers.get('x-cache'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

export interface Server {
  url: string;
  output(): string;
  /** SIGTERM, as a process manager sends: resolves with the exit code once the server shut down. */
  stop(): Promise<number | null>;
}

/** Starts `node dist/server.js` of an example (what `pnpm start` runs) on a port the kernel picks. */
export async function startServer(packageDir: string, env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: packageDir,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const match = /: (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}:\n${output}`)));
    setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 15_000).unref();
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, output: () => output, stop };
}
