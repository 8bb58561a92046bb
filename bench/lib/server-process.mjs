// Starts one benchmark server as a child process pinned to the server core, waits for its
// `listening <port>` line, and reads its handler-run count over IPC.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const STARTUP_MS = 15_000;

export async function startServer({ framework, scenario, redisUrl, pin }) {
  const file = fileURLToPath(new URL(`../servers/${framework}.mjs`, import.meta.url));
  const command = [...pin, process.execPath, file];
  const child = spawn(command[0], command.slice(1), {
    env: { ...process.env, BENCH_SCENARIO: JSON.stringify(scenario), BENCH_REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "listening" line within ${STARTUP_MS} ms`)),
      STARTUP_MS,
    );
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /listening (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${output.trim()}`));
    });
  }).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });

  return {
    port,
    url: `http://127.0.0.1:${port}/data`,
    /** How many times the route's handler ran in the server so far, and the faults its cache absorbed. */
    stats() {
      return new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', () => reject(new Error(`server exited: ${output.trim()}`)));
        child.send('stats');
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
