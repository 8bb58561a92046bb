// Invariant 7, counted: a Redis frozen (SIGSTOP) under 50 concurrent callers. Every call that starts
// during the freeze is answered by its computation within one deadline (the cache's `timeout`) as
// the caller sees it, although ioredis queues later commands behind the hung pipelined batch; no
// caller sees an error. Measured through `fetch` and through a real Express server. The package's
// test script runs this file on its own, after the others: it measures latency, and another test
// file's processes on the same two cores would measure the scheduler instead.
import { fork } from 'node:child_process';
import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createCache, type VersionedCache, type VersionedCacheError } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

const APP = fileURLToPath(new URL('./fixtures/express-app-process.mjs', import.meta.url));

const TIMEOUT_MS = 250;
/**
 * Bounds against the deadline, with headroom for a loaded 2-core machine that deschedules a process
 * for tens of milliseconds: a call queued behind a hung batch takes about twice the deadline, which
 * fails both. The median holds the tight bound; the tail gets half a deadline of margin.
 */
const P50_BOUND_MS = TIMEOUT_MS + 50;
const P99_BOUND_MS = TIMEOUT_MS * 1.5;
const CALLERS = 50;
/** How long Redis stays frozen while the callers run. */
const FREEZE_MS = 1_500;

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  // Never leave a stopped process behind, whatever a test did.
  try {
    server.resume();
  } catch {}
  await server.stop();
});

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function makeCache(prefix: string, errors: VersionedCacheError[]): VersionedCache {
  // The deadline alone: with the breaker (on by default) calls stop asking a frozen Redis after a
  // few timeouts, which fault-breaker-freeze.test.ts measures; here every call must meet it.
  return createCache({
    redis: server.url,
    prefix,
    timeout: TIMEOUT_MS,
    breaker: false,
    onError: (e) => errors.push(e),
  });
}

/** Fetches until a HIT: the connection is up and the version known, so the freeze hits a warm cache. */
async function warm(cache: VersionedCache, ns: string, key: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await cache.fetch(ns, key, () => 'warm')).status === 'HIT') return;
  }
  throw new Error('no hit before the freeze');
}

/**
 * 50 callers, each calling again as soon as it is answered, for FREEZE_MS while Redis is frozen;
 * their starts are staggered, so that calls keep arriving while earlier commands hang: that is
 * what makes ioredis queue a call behind a hung pipelined batch. Latency of each call.
 */
async function duringFreeze(call: (i: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let calls = 0;
  server.pause();
  try {
    const frozenAt = performance.now();
    await Promise.all(
      Array.from({ length: CALLERS }, async (_, caller) => {
        await sleep((caller * TIMEOUT_MS) / CALLERS);
        while (performance.now() - frozenAt < FREEZE_MS) {
          const startedAt = performance.now();
          await call(calls++);
          latencies.push(performance.now() - startedAt);
        }
      }),
    );
  } finally {
    server.resume();
  }
  return latencies;
}

function report(name: string, latencies: readonly number[]): void {
  console.info(
    `[measure] ${name}: ${latencies.length} calls during the freeze, p50 ${percentile(latencies, 50).toFixed(0)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${latencies.reduce((a, b) => Math.max(a, b), 0).toFixed(0)} ms ` +
      `(timeout ${TIMEOUT_MS} ms, bounds p50 ${P50_BOUND_MS} ms, p99 ${P99_BOUND_MS} ms)`,
  );
}

describe('Redis frozen under 50 concurrent callers, timeout 250 ms', () => {
  it('fetch: every call answers from its computation within the deadline, no caller sees an error', async () => {
    const errors: VersionedCacheError[] = [];
    const cache = makeCache('frozen-fetch', errors);
    try {
      await warm(cache, 'reports', 'warm');
      const answers = new Map<string, number>();
      let failures = 0;
      const latencies = await duringFreeze(async (i) => {
        // Hits and misses alike: half the keys were never stored, the other half is the warm one.
        const key = i % 2 === 0 ? 'warm' : `cold-${i}`;
        try {
          const result = await cache.fetch('reports', key, () => `computed-${i}`);
          answers.set(result.status, (answers.get(result.status) ?? 0) + 1);
          expect(result.value).toBe(`computed-${i}`);
        } catch {
          failures++;
        }
      });
      report('fetch', latencies);
      expect(failures).toBe(0);
      expect(Object.fromEntries(answers)).toEqual({ BYPASS: latencies.length });
      expect(latencies.length).toBeGreaterThanOrEqual(CALLERS * 2);
      expect(percentile(latencies, 50)).toBeLessThanOrEqual(P50_BOUND_MS);
      expect(percentile(latencies, 99)).toBeLessThanOrEqual(P99_BOUND_MS);
      // Reported, with the code that says what happened.
      expect(errors.length).toBeGreaterThan(0);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['VC_STORE_TIMEOUT']));
    } finally {
      await cache.close();
    }
  });

  it('Express in its own process: every request is answered 200 by its handler within the deadline', async () => {
    const app = fork(
      APP,
      [server.url, JSON.stringify({ prefix: 'frozen-http', timeout: TIMEOUT_MS, breaker: false })],
      {
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const ask = <T>(type: string): Promise<T> =>
      new Promise((resolve) => {
        const listener = (message: { type: string }) => {
          if (message.type !== type) return;
          app.off('message', listener);
          resolve(message as T);
        };
        app.on('message', listener);
        if (type !== 'listening') app.send({ type });
      });
    // Connections opened before the freeze: the latency measured is the cache's, not TCP setup's.
    const agent = new Agent({ keepAlive: true, maxSockets: CALLERS });
    try {
      const { port } = await ask<{ port: number }>('listening');
      const request = (path: string) =>
        new Promise<{ status: number; body: string; xCache: string | undefined }>((resolve, reject) => {
          get({ host: '127.0.0.1', port, path, agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body, xCache: res.headers['x-cache'] as string }),
            );
          }).on('error', reject);
        });
      for (let i = 0; i < 200; i++) if ((await request('/report')).xCache === 'HIT') break;
      await Promise.all(Array.from({ length: CALLERS }, () => request('/report')));
      await ask('errors');
      await ask('timings');
      const handledBefore = (await ask<{ count: number }>('handled')).count;
      const statuses = new Map<string, number>();
      let failures = 0;
      const latencies = await duringFreeze(async (i) => {
        const path = i % 2 === 0 ? '/report' : `/report?id=${i}`;
        try {
          const answer = await request(path);
          const label = `${answer.status} ${answer.xCache ?? '-'}`;
          statuses.set(label, (statuses.get(label) ?? 0) + 1);
          expect(JSON.parse(answer.body)).toEqual({ id: i % 2 === 0 ? 'warm' : String(i) });
        } catch {
          failures++;
        }
      });
      // In the app, from each request's arrival to its response: what the cache adds, without the
      // load generator's own scheduling (this process parses 50 connections' replies too).
      const { ms: inApp } = await ask<{ ms: number[] }>('timings');
      report('express, at the HTTP client', latencies);
      report('express, in the app', inApp);
      expect(inApp).toHaveLength(latencies.length);
      expect(failures).toBe(0);
      expect(Object.fromEntries(statuses)).toEqual({ '200 BYPASS': latencies.length });
      expect(latencies.length).toBeGreaterThanOrEqual(CALLERS * 2);
      expect((await ask<{ count: number }>('handled')).count - handledBefore).toBe(latencies.length);
      expect(percentile(inApp, 50)).toBeLessThanOrEqual(P50_BOUND_MS);
      expect(percentile(inApp, 99)).toBeLessThanOrEqual(P99_BOUND_MS);
      const { codes } = await ask<{ codes: string[] }>('errors');
      expect(codes.length).toBeGreaterThan(0);
      expect(new Set(codes)).toEqual(new Set(['VC_STORE_TIMEOUT']));
    } finally {
      agent.destroy();
      const exited = new Promise((resolve) => app.once('exit', resolve));
      if (app.exitCode === null && app.signalCode === null) {
        app.kill('SIGKILL');
        await exited;
      }
    }
  });
});
