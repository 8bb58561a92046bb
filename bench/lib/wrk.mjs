// Runs wrk (pinned to the load core) against one URL and parses the JSON line wrk-report.lua prints.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../wrk-report.lua', import.meta.url));

/** wrk's version line, or null when it is not installed. */
export async function wrkVersion() {
  try {
    await run('wrk', ['--version']);
  } catch (error) {
    // wrk prints its version and usage, then exits 1: that still proves it is there.
    const out = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    if (out.startsWith('wrk '))
      return out
        .split('\n')[0]
        .replace(/ Copyright.*/, '')
        .trim();
  }
  return null;
}

/** `pin` is a taskset prefix (['taskset', '-c', '1']) or []. */
export async function runWrk({ url, duration, connections, threads, pin, headers = {} }) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', duration, '--timeout', '10s'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  const command = [...pin, 'wrk', ...args, '-s', SCRIPT, url];
  const { stdout } = await run(command[0], command.slice(1), { maxBuffer: 1 << 20 });
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const r = JSON.parse(line.slice('WRK_JSON '.length));
  const errors = r.connectErrors + r.readErrors + r.writeErrors + r.statusErrors + r.timeouts;
  return {
    requests: r.requests,
    rps: r.requests / (r.durationUs / 1e6),
    p50Ms: r.p50Us / 1000,
    p90Ms: r.p90Us / 1000,
    p99Ms: r.p99Us / 1000,
    maxMs: r.maxUs / 1000,
    errors,
    errorDetail: errors
      ? `connect ${r.connectErrors}, read ${r.readErrors}, write ${r.writeErrors}, non-2xx/3xx ${r.statusErrors}, timeout ${r.timeouts}`
      : '',
  };
}
