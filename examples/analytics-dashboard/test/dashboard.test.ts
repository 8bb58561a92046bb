import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../src/dashboard.js';
import { get, type PieceBody, post, TEST_ROWS } from './helpers.js';

/** The shared pieces of the page: summary, sub-sections, chart data, metadata. */
const SHARED = [
  '/api/summary',
  '/api/sections/endpoints',
  '/api/sections/errors',
  '/api/charts/daily',
  '/api/charts/hourly',
  '/api/charts/latency',
  '/api/metadata',
];
const ALICE = { 'x-user': 'alice' };

describe('analytics dashboard on the embedded memory store', () => {
  let dashboard: Dashboard;
  let url: string;

  beforeEach(async () => {
    dashboard = await startDashboard({ port: 0, redisUrl: undefined, rows: TEST_ROWS });
    url = dashboard.url;
  });
  afterEach(async () => {
    await dashboard.close();
  });

  const computations = () => Object.fromEntries(dashboard.analytics.computations);

  it('computes each piece once: a MISS, then HITs with the same body', async () => {
    for (const path of SHARED) {
      const first = await get(url, path);
      expect(first.status, path).toBe(200);
      expect(first.cache, path).toBe('MISS');
      const second = await get(url, path);
      expect(second.cache, path).toBe('HIT');
      expect(second.body, path).toEqual(first.body);
    }
    const details = await get(url, '/api/details', ALICE);
    expect(details.cache).toBe('MISS');
    expect((await get(url, '/api/details', ALICE)).cache).toBe('HIT');
    expect(computations()).toEqual({
      summary: 1,
      'sections/endpoints': 1,
      'sections/errors': 1,
      'charts/daily': 1,
      'charts/hourly': 1,
      'charts/latency': 1,
      metadata: 1,
      'details:alice': 1,
    });
  });

  it('reprocessing makes every piece stale at once, and the next answers carry the new numbers', async () => {
    const before = new Map<string, PieceBody>();
    for (const path of SHARED) before.set(path, (await get(url, path)).body);
    before.set('details', (await get(url, '/api/details', ALICE)).body);
    for (const path of SHARED) expect((await get(url, path)).cache, path).toBe('HIT');

    const reprocessed = await post<{ epoch: number; namespace: string }>(url, '/api/reprocess');
    expect(reprocessed.status).toBe(200);
    expect(reprocessed.body).toMatchObject({ epoch: 1, namespace: 'analytics' });

    for (const path of SHARED) {
      const after = await get(url, path);
      expect(after.cache, path).toBe('MISS');
      expect(after.body.epoch, path).toBe(1);
      expect(after.body.data, path).not.toEqual(before.get(path)!.data);
      expect((await get(url, path)).cache, path).toBe('HIT');
    }
    const details = await get(url, '/api/details', ALICE);
    expect(details.cache).toBe('MISS');
    expect(details.body.data).not.toEqual(before.get('details')!.data);

    const summaryBefore = before.get('/api/summary')!.data;
    const summaryAfter = (await get(url, '/api/summary')).body.data;
    expect(summaryAfter.requests).not.toBe(summaryBefore.requests);
    expect(summaryAfter.serverErrors).not.toBe(summaryBefore.serverErrors);
    expect(Object.values(computations())).toEqual(Array(SHARED.length + 1).fill(2));
  });

  it('keys details per user: one user never gets another user’s entry', async () => {
    const alice = await get<PieceBody<{ user: string; requests: number }>>(url, '/api/details', ALICE);
    const bob = await get<PieceBody<{ user: string; requests: number }>>(url, '/api/details', {
      'x-user': 'bob',
    });
    expect([alice.cache, bob.cache]).toEqual(['MISS', 'MISS']);
    expect(alice.body.data.user).toBe('alice');
    expect(bob.body.data.user).toBe('bob');
    expect(bob.body.data.requests).not.toBe(alice.body.data.requests);

    const aliceAgain = await get<PieceBody<{ user: string }>>(url, '/api/details', ALICE);
    const bobAgain = await get<PieceBody<{ user: string }>>(url, '/api/details', { 'x-user': 'bob' });
    expect([aliceAgain.cache, bobAgain.cache]).toEqual(['HIT', 'HIT']);
    expect(aliceAgain.body).toEqual(alice.body);
    expect(bobAgain.body).toEqual(bob.body);
    expect(computations()).toEqual({ 'details:alice': 1, 'details:bob': 1 });

    expect((await get(url, '/api/details')).status).toBe(400);
    expect((await get(url, '/api/details', { 'x-user': 'eve' })).status).toBe(404);
    expect((await get(url, '/api/details', ALICE)).body).toEqual(alice.body);
  });

  it('answers a browser revalidation with 304 from the cache, without computing', async () => {
    const first = await get(url, '/api/summary');
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    const revalidated = await fetch(new URL('/api/summary', url), { headers: { 'if-none-match': etag! } });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe('');
    expect(computations()).toEqual({ summary: 1 });

    await post(url, '/api/reprocess');
    const changed = await fetch(new URL('/api/summary', url), { headers: { 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(computations()).toEqual({ summary: 2 });
  });

  it('serves the page and a live, uncached status', async () => {
    const page = await fetch(new URL('/', url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Analytics dashboard');
    const script = await fetch(new URL('/dashboard.js', url));
    expect(script.headers.get('content-type')).toMatch(/javascript/);

    const status = await get<{ epoch: number; computed: number; store: string }>(url, '/api/status');
    expect(status.body).toMatchObject({ epoch: 0, computed: 0, store: 'memory' });
    await get(url, '/api/summary');
    expect((await get<{ computed: number }>(url, '/api/status')).body.computed).toBe(1);
  });
});
