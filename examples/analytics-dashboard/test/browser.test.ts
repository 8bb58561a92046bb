import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../src/dashboard.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT ?? join(tmpdir(), 'analytics-dashboard.png');
const WIDGETS = ['summary', 'daily', 'latency', 'endpoints', 'errors', 'details', 'hourly', 'metadata'];

interface PageState {
  statuses: Record<string, string>;
  epochs: Record<string, string>;
  requests: string;
  p95: string;
  checksum: string;
}

async function loaded(page: Page, times: number): Promise<void> {
  await page.waitForSelector(`body[data-loaded="${times}"]`, { timeout: 30_000 });
}

async function read(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const statuses: Record<string, string> = {};
    const epochs: Record<string, string> = {};
    for (const el of document.querySelectorAll<HTMLElement>('[data-widget]')) {
      statuses[el.dataset.widget!] = el.dataset.cache ?? '';
      epochs[el.dataset.widget!] = el.dataset.epoch ?? '';
    }
    const text = (selector: string) => document.querySelector(selector)?.textContent ?? '';
    return {
      statuses,
      epochs,
      requests: text('[data-widget="summary"] [data-field="requests"]'),
      p95: text('[data-widget="latency"] [data-field="p95"]'),
      checksum: text('[data-widget="metadata"] [data-field="checksum"]'),
    };
  });
}

const every = (value: string) => Object.fromEntries(WIDGETS.map((w) => [w, value]));

describe('the dashboard page in a real browser', () => {
  let dashboard: Dashboard;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    dashboard = await startDashboard({ port: 0, redisUrl: undefined, rows: 60_000 });
    profile = await mkdtemp(join(tmpdir(), 'dashboard-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 1000 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await context?.close();
    await dashboard?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows the numbers, serves unchanged widgets from the cache, and shows new numbers after Reprocess', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));

    await page.goto(dashboard.url);
    await loaded(page, 1);
    const cold = await read(page);
    expect(cold.statuses).toEqual(every('MISS'));
    expect(cold.epochs).toEqual(every('0'));
    expect(cold.requests).toMatch(/^\d{1,3}(,\d{3})+$/);
    expect(await page.locator('[data-widget="daily"] svg rect').count()).toBe(14);

    await page.reload();
    await loaded(page, 1);
    const warm = await read(page);
    for (const [widget, status] of Object.entries(warm.statuses))
      expect(['HIT', '304'], widget).toContain(status);
    expect(warm.requests).toBe(cold.requests);
    expect(Object.values(Object.fromEntries(dashboard.analytics.computations))).toEqual(
      Array(WIDGETS.length).fill(1),
    );
    // The cache panel, from /metrics: 8 hits (or 304s from hits) on this load, 8 misses on the first,
    // and 2 more misses there: on their first request, /api/status (no caching) and /api/details (per
    // user) were looked up by the app's middleware before their routes took over (not stored).
    const ratio = page.locator('#cache-panel [data-metric="hit-ratio"][data-namespace="analytics"]');
    expect(await ratio.textContent()).toBe(`${((8 / 18) * 100).toFixed(2)}%`);
    expect(await page.textContent('#cache-panel [data-field="fills"]')).toBe(String(WIDGETS.length + 2));
    expect(await page.textContent('#cache-panel [data-field="fail-opens"]')).toBe('0');

    await page.click('#reprocess');
    await loaded(page, 2);
    await expect.poll(() => page.textContent('#message')).toMatch(/epoch 1/);
    const fresh = await read(page);
    expect(fresh.statuses).toEqual(every('MISS'));
    expect(fresh.epochs).toEqual(every('1'));
    expect(fresh.requests).not.toBe(cold.requests);
    expect(fresh.checksum).not.toBe(cold.checksum);

    await page.reload();
    await loaded(page, 1);
    const again = await read(page);
    for (const [widget, status] of Object.entries(again.statuses))
      expect(['HIT', '304'], widget).toContain(status);
    expect(again.requests).toBe(fresh.requests);
    expect(again.epochs).toEqual(every('1'));

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
  });
});
