// `pnpm bench`: requests/s of cache hits for Express, Koa, Fastify and Nest, side by side, each as a ratio
// to the same framework's ceiling (no cache) in the same round. Method: docs/benchmarks-method.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli, USAGE } from './lib/cli.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { scenarioRuns } from './lib/scenarios.mjs';
import { startServer } from './lib/server-process.mjs';
import { summarise } from './lib/summary.mjs';
import { runWrk, wrkVersion } from './lib/wrk.mjs';
import { startRedis } from './redis.mjs';

let options;
try {
  options = parseCli(process.argv.slice(2));
} catch (error) {
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(1);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const wrk = await wrkVersion();
if (!wrk) {
  console.error(
    'pnpm bench needs wrk (https://github.com/wg/wrk) as its load generator, and it is not on PATH.\n' +
      'Install it: Debian/Ubuntu `sudo apt-get install wrk`, macOS `brew install wrk`, or build it from source.',
  );
  process.exit(1);
}

let core;
try {
  core = await import('@versioned-cache/core');
  await import('./servers/common.mjs');
} catch (error) {
  console.error(`The packages are not built (${error.message}). Run \`pnpm build\` first.`);
  process.exit(1);
}
const { BODY_TEXT, createScenarioCache } = await import('./servers/common.mjs');

function hasTaskset() {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const pinned = cpus().length >= 2 && hasTaskset();
if (!pinned) console.error('warning: taskset or a second core is missing; servers and wrk share cores.');
const SERVER_PIN = pinned ? ['taskset', '-c', '0'] : [];
const LOAD_PIN = pinned ? ['taskset', '-c', '1'] : [];

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const shell = (command, args) => {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim().split('\n')[0];
  } catch {
    return `${command} ?`;
  }
};
const args = process.argv.slice(2).join(' ');
const meta = {
  command: process.env.npm_lifecycle_event
    ? `pnpm bench${args ? ` ${args}` : ''}`
    : `node bench/http-bench.mjs ${args}`,
  date: new Date().toISOString(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}; Node ${process.version}; ${wrk}; ${shell('redis-server', ['--version']).replace(/ sha=.*/, '')}`,
  loadBefore: uptime(),
  setup:
    `${options.rounds} interleaved round(s); wrk ${options.threads} thread(s), ${options.connections} connections, ` +
    `${options.warmup} warm-up + ${options.duration} measured per scenario and round; ` +
    (pinned ? 'server on core 0, wrk and redis-server on core 1' : 'no CPU pinning') +
    `; GET /data, ${BODY_TEXT.length} B JSON body`,
};

/**
 * Checks a server's answers before it is measured: the body, and that a second request is a hit.
 * Returns what a client revalidating that response gets: the status of a GET with If-None-Match
 * (the response's ETag when it has one), the kind of ETag, and whether the handler ran for it.
 */
async function verify(server, scenario) {
  const first = await fetch(server.url);
  const firstText = await first.text();
  if (first.status !== 200 || firstText !== BODY_TEXT) {
    throw new Error(
      `first response: status ${first.status}, body ${firstText.slice(0, 80)}… is not the expected body`,
    );
  }
  if (!scenario.cached) return revalidate(server, first);
  const { handlerRuns: before } = await server.stats();
  const second = await fetch(server.url);
  const secondText = await second.text();
  if (second.status !== 200 || secondText !== BODY_TEXT) {
    throw new Error(`second response: status ${second.status} or body differs from the first`);
  }
  if ((await server.stats()).handlerRuns !== before)
    throw new Error('the second request ran the handler: not a hit');
  const xCache = second.headers.get('x-cache');
  if (scenario.kind === 'versioned' && xCache !== 'HIT')
    throw new Error(`second response has X-Cache ${xCache}, not HIT`);
  if (scenario.requestHeaders?.['accept-encoding'] === 'gzip') {
    // What wrk will be sent: the stored gzip variant, as a hit.
    const headers = await responseHeaders(server.url, scenario.requestHeaders);
    if (headers['content-encoding'] !== 'gzip' || headers['x-cache'] !== 'HIT')
      throw new Error(
        `a gzip request got ${headers['content-encoding'] ?? 'identity'} (${headers['x-cache']})`,
      );
  }
  return revalidate(server, second);
}

async function revalidate(server, response) {
  const etag = response.headers.get('etag');
  const { handlerRuns: before } = await server.stats();
  const status = await conditionalGet(server.url, etag);
  const ran = (await server.stats()).handlerRuns !== before;
  const kind = etag ? (etag.startsWith('W/') ? 'weak ETag' : 'strong ETag') : 'no ETag';
  return `${status}, ${kind}, handler ${ran ? 'ran' : 'not run'}`;
}

/**
 * A browser's revalidation: If-None-Match alone. Not through fetch(), which adds `Cache-Control:
 * no-cache` to a conditional request, and which Express, for one, then answers in full.
 */
function responseHeaders(url, headers) {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { headers }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.headers));
    });
    request.once('error', reject);
  });
}

function conditionalGet(url, etag) {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { headers: etag ? { 'if-none-match': etag } : {} }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode));
    });
    request.once('error', reject);
  });
}

/** What is running now, so that Ctrl-C stops it too (a signal skips `finally`). */
const running = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    console.error(`\n${signal}: stopping the servers and redis-server`);
    await Promise.allSettled([...running].map((stop) => stop()));
    process.exit(130);
  });
}

/** A check that failed during the measured run: that round is lost, the later ones still run. */
class MeasuredError extends Error {}

async function measure(entry, redis, round) {
  const { framework, scenario } = entry;
  await redis.admin.flushall();
  const server = await startServer({ framework, scenario, redisUrl: redis.url, pin: SERVER_PIN });
  running.add(server.stop);
  try {
    const revalidation = await verify(server, scenario);
    const load = {
      url: server.url,
      connections: options.connections,
      threads: options.threads,
      pin: LOAD_PIN,
      headers: scenario.requestHeaders,
    };
    await runWrk({ ...load, duration: options.warmup });
    const before = await server.stats();
    const result = await runWrk({ ...load, duration: options.duration });
    const after = await server.stats();
    const misses = after.handlerRuns - before.handlerRuns;
    if (scenario.cached && misses > 0) {
      const faults = Object.entries(after.faults ?? {}).map(([code, n]) => `${n} ${code}`);
      const why = faults.length ? ` (the cache absorbed ${faults.join(', ')}: failed open)` : '';
      throw new MeasuredError(
        `${misses} of ${result.requests} measured requests ran the handler: not all hits${why}`,
      );
    }
    if (!scenario.cached && misses < result.requests) {
      throw new Error(
        `the handler ran ${misses} times for ${result.requests} requests: something answers in its place`,
      );
    }
    if (result.errors) throw new MeasuredError(`wrk errors: ${result.errorDetail}`);
    return { round, framework, scenario: scenario.id, ok: true, revalidation, ...result };
  } finally {
    running.delete(server.stop);
    await server.stop();
  }
}

/** Options a core rejects (a variant not in this build) give a row saying so instead of a number. */
async function availability(scenarios, redisUrl) {
  const unavailable = {};
  for (const scenario of scenarios.filter((s) => s.kind === 'versioned')) {
    try {
      await createScenarioCache(scenario, redisUrl).close();
    } catch (error) {
      if (!(error instanceof core.VersionedCacheTypeError)) throw error;
      unavailable[scenario.id] = error.message;
    }
  }
  return unavailable;
}

const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

const redis = await startRedis({ pin: LOAD_PIN });
running.add(redis.stop);
const runs = [];
let unavailable;
try {
  unavailable = await availability(options.scenarios, redis.url);
  for (const [id, reason] of Object.entries(unavailable))
    console.error(`${id}: not available in this build (${reason})`);
  const entries = options.frameworks.flatMap((f) =>
    options.scenarios
      .filter((s) => scenarioRuns(s, f.id) && !unavailable[s.id])
      .map((s) => ({ framework: f.id, scenario: s })),
  );
  // Each round starts at a different place in the list, so no scenario always runs first or last.
  const step = Math.max(1, Math.floor(entries.length / options.rounds));
  const broken = new Set();
  for (let round = 1; round <= options.rounds; round++) {
    const order = rotate(entries, (round - 1) * step);
    for (const [i, entry] of order.entries()) {
      const label = `[round ${round}/${options.rounds}, ${i + 1}/${order.length}] ${entry.framework} · ${entry.scenario.name}`;
      const key = `${entry.framework}/${entry.scenario.id}`;
      if (broken.has(key)) {
        runs.push({
          round,
          framework: entry.framework,
          scenario: entry.scenario.id,
          ok: false,
          error: 'skipped: failed its check before',
        });
        continue;
      }
      try {
        const run = await measure(entry, redis, round);
        runs.push(run);
        console.error(`${label}: ${Math.round(run.rps)} req/s, p99 ${run.p99Ms.toFixed(2)} ms`);
      } catch (error) {
        // A server that fails its checks before any load would fail them again; load-time faults may not.
        if (!(error instanceof MeasuredError)) broken.add(key);
        runs.push({
          round,
          framework: entry.framework,
          scenario: entry.scenario.id,
          ok: false,
          error: error.message,
        });
        console.error(`${label}: ABORTED: ${error.message}`);
      }
    }
  }
} finally {
  await redis.stop();
}
meta.loadAfter = uptime();
meta.loadavg = loadavg();

const summaries = summarise(runs, {
  frameworks: options.frameworks.map((f) => f.id),
  scenarios: options.scenarios,
});
const markdown = renderMarkdown({
  meta,
  frameworks: options.frameworks,
  scenarios: options.scenarios,
  unavailable,
  summaries,
});
const out = options.out ?? fileURLToPath(new URL('./results', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'latest.md'), markdown);
writeFileSync(
  join(out, 'latest.json'),
  `${JSON.stringify({ meta, options: { ...options, frameworks: options.frameworks.map((f) => f.id) }, unavailable, summaries, runs }, null, 2)}\n`,
);
console.log(`\n${markdown}`);
console.error(`written: ${join(out, 'latest.md')} and latest.json`);
