// CPU per cached hit through each adapter's real server: the server runs in its own process, wrk
// drives it, and the server reports the CPU time it spent per request answered. CPU per request is
// far steadier than requests per second on a shared machine. Needs wrk on PATH.
// Run: pnpm build && node bench/hit-cpu.mjs   (HIT_FRAMEWORKS, HIT_MODES, HIT_SECONDS, HIT_ROUNDS)
import { execFile, fork } from 'node:child_process';
import { promisify } from 'node:util';
import { startRedis } from './redis.mjs';

const run = promisify(execFile);
const frameworks = (process.env.HIT_FRAMEWORKS ?? 'express,koa,fastify').split(',');
const modes = (process.env.HIT_MODES ?? 'bare,naive,memory,redis,l1').split(',');
const seconds = Number(process.env.HIT_SECONDS ?? 3);
const rounds = Number(process.env.HIT_ROUNDS ?? 3);
const pin = process.env.HIT_PIN !== '0';

function message(child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

async function start(framework, mode, redisUrl) {
  const argv = [framework, mode, redisUrl];
  const child = pin
    ? fork(new URL('./hit-cpu-server.mjs', import.meta.url), argv, {
        execPath: 'taskset',
        execArgv: ['-c', '0', process.execPath, ...(process.env.HIT_NODE_ARGS?.split(' ') ?? [])],
      })
    : fork(new URL('./hit-cpu-server.mjs', import.meta.url), argv);
  const { port } = await message(child);
  return { child, port };
}

async function wrk(port, secs) {
  const args = ['-t1', '-c50', `-d${secs}s`, '--latency', `http://127.0.0.1:${port}/data`];
  const { stdout } = await run(pin ? 'taskset' : 'wrk', pin ? ['-c', '1', 'wrk', ...args] : args);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const scale = { us: 0.001, ms: 1, s: 1000 };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)[1]);
  const max = /Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(stdout);
  return {
    rps,
    p99: p99 ? Number(p99[1]) * scale[p99[2]] : NaN,
    max: max ? Number(max[1]) * scale[max[2]] : NaN,
  };
}

const redis = await startRedis();
const results = {};
try {
  for (let round = 0; round < rounds; round++) {
    for (const framework of frameworks) {
      for (const mode of modes) {
        const { child, port } = await start(framework, mode, redis.url);
        try {
          await wrk(port, 1);
          child.send('start');
          const load = await wrk(port, seconds);
          child.send('stop');
          const { cpuUs, requests, elu, downs, gcMaxMs, loopMaxMs, faults } = await message(child);
          const row = {
            framework,
            mode,
            cpuUsPerReq: cpuUs / requests,
            elu,
            downs,
            gcMaxMs,
            loopMaxMs,
            faults,
            ...load,
          };
          const key = `${framework} ${mode}`;
          results[key] = [...(results[key] ?? []), row];
          console.error(JSON.stringify(row));
        } finally {
          child.kill('SIGKILL');
        }
      }
    }
  }
} finally {
  await redis.stop();
}
const median = (values) => values.sort((a, b) => a - b)[values.length >> 1];
// Other work on the machine only ever adds CPU time (cache and core contention): the least is the truest.
const least = (values) => Math.min(...values);
const table = [];
for (const framework of frameworks) {
  const bare = least(results[`${framework} bare`]?.map((r) => r.cpuUsPerReq) ?? [NaN]);
  for (const mode of modes) {
    const rows = results[`${framework} ${mode}`];
    const cpu = least(rows.map((r) => r.cpuUsPerReq));
    table.push({
      framework,
      mode,
      'least CPU µs/req': cpu.toFixed(1),
      'of ceiling (bare CPU / CPU)': (bare / cpu).toFixed(2),
      'req/s': Math.round(median(rows.map((r) => r.rps))),
      'p99 ms': median(rows.map((r) => r.p99)).toFixed(2),
      'max ms': Math.max(...rows.map((r) => r.max)).toFixed(1),
      'max GC ms': Math.max(...rows.map((r) => r.gcMaxMs)).toFixed(1),
      'max loop delay ms': Math.max(...rows.map((r) => r.loopMaxMs)).toFixed(1),
    });
  }
}
console.table(table);
