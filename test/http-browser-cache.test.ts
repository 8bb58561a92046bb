import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import express from 'express';
import Koa from 'koa';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expressHarness as expressHarnessOf } from './spec/express-harness.js';
import { fastifyHarness } from './spec/fastify-harness.js';
import type { AdapterHarness, SpecRoute } from './spec/harness.js';
import { koaHarness as koaHarnessOf } from './spec/koa-harness.js';

const expressHarness = expressHarnessOf('express', express);
const koaHarness = koaHarnessOf('koa', Koa);

// Headless Chromium's own HTTP cache in front of one adapter per framework: a reload revalidates
// (304 decided from the entry, no handler run), an invalidation shows new content on the next reload,
// and a per-user page never reaches another user, across contexts or within one browser cache.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let browser: Browser;
const cleanups: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  // launch() gives the browser a fresh temporary --user-data-dir; each context has its own HTTP cache.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
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
  await browser?.close();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** One request as the server answered it: recorded when its status line is written. */
interface Sent {
  path: string;
  status: number;
  ifNoneMatch: string | undefined;
  cookie: string | undefined;
}

interface Running {
  url: string;
  cache: VersionedCache;
  runs: Map<string, number>;
  sent: Sent[];
  setVersion(version: number): void;
}

const userOf = (cookie: string | string[] | undefined) =>
  typeof cookie === 'string' ? /(?:^|;\s*)user=([^;]+)/.exec(cookie)?.[1] : undefined;

const page = (title: string) => ({
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: { kind: 'string' as const, value: `<!doctype html><title>t</title><p id="content">${title}</p>` },
});

async function start(harness: AdapterHarness): Promise<Running> {
  const cache = createCache();
  const runs = new Map<string, number>();
  const count = (path: string) => runs.set(path, (runs.get(path) ?? 0) + 1);
  let version = 1;
  const routes: SpecRoute[] = [
    {
      method: 'GET',
      path: '/report',
      handle: () => {
        count('/report');
        return page(`report version ${version}`);
      },
    },
    {
      method: 'GET',
      path: '/account',
      // Browsers may reuse it for a minute without asking: only Vary keeps users apart in their cache.
      options: { perUser: (req) => userOf(req.headers.cookie), cacheControl: { maxAge: '60s' } },
      handle: (req) => {
        count('/account');
        return page(`account of ${userOf(req.headers.cookie) ?? 'nobody'}`);
      },
    },
  ];
  const server: Server = await harness.build({ namespaces: 'pages', options: { cache }, routes });
  const sent: Sent[] = [];
  // Recorded at writeHead (every framework's response goes through it, implicit headers included),
  // so a response is in the list before its first byte reaches the browser.
  server.prependListener('request', (req, res) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof res.writeHead>) {
      const status = typeof args[0] === 'number' ? args[0] : res.statusCode;
      const inm = req.headers['if-none-match'];
      sent.push({ path: req.url!, status, ifNoneMatch: inm, cookie: req.headers.cookie });
      return writeHead.apply(this, args);
    } as typeof res.writeHead;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await cache.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, cache, runs, sent, setVersion: (v) => (version = v) };
}

async function newContext(url: string, user?: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  cleanups.push(() => context.close());
  if (user) await context.addCookies([{ name: 'user', value: user, url }]);
  return context;
}

const content = (p: Page) => p.textContent('#content');

describe.each([expressHarness, koaHarness, fastifyHarness])('$name in front of Chromium', (harness) => {
  it('revalidates a reload with a 304 from the entry, and shows new content after an invalidation', async () => {
    const app = await start(harness);
    const context = await newContext(app.url);
    const tab = await context.newPage();

    const first = await tab.goto(`${app.url}/report`);
    expect([first?.status(), await content(tab)]).toEqual([200, 'report version 1']);
    const etag = first?.headers().etag;
    expect(etag).toMatch(/^"/);

    for (let i = 0; i < 2; i++) {
      await tab.reload();
      expect(await content(tab)).toBe('report version 1');
    }
    const reloads = app.sent.filter((s) => s.path === '/report').slice(1);
    expect(reloads.map((s) => [s.status, s.ifNoneMatch])).toEqual([
      [304, etag],
      [304, etag],
    ]);
    expect(app.runs.get('/report')).toBe(1);

    app.setVersion(2);
    await app.cache.invalidate('pages');
    const after = await tab.reload();
    expect([after?.status(), await content(tab)]).toEqual([200, 'report version 2']);
    const last = app.sent.at(-1)!;
    // The browser still asked with the old tag: the new version's entry does not match it.
    expect([last.path, last.status, last.ifNoneMatch]).toEqual(['/report', 200, etag]);
    expect(after?.headers().etag).not.toBe(etag);
    expect(app.runs.get('/report')).toBe(2);
  });

  it('never shows one user the page of another: two contexts, then one browser cache switching users', async () => {
    const app = await start(harness);
    const [alice, bob] = await Promise.all([newContext(app.url, 'alice'), newContext(app.url, 'bob')]);
    const [aliceTab, bobTab] = await Promise.all([alice.newPage(), bob.newPage()]);
    const tags = new Map<string, string | undefined>();
    const account = () => app.sent.filter((s) => s.path === '/account'); // not /favicon.ico
    for (let round = 0; round < 2; round++) {
      const [a, b] = await Promise.all([
        round === 0 ? aliceTab.goto(`${app.url}/account`) : aliceTab.reload(),
        round === 0 ? bobTab.goto(`${app.url}/account`) : bobTab.reload(),
      ]);
      if (round === 0) tags.set('alice', a?.headers().etag).set('bob', b?.headers().etag);
      expect([a?.headers()['cache-control'], b?.headers()['cache-control']]).toEqual([
        'private, max-age=60',
        'private, max-age=60',
      ]);
      expect([await content(aliceTab), await content(bobTab)]).toEqual([
        'account of alice',
        'account of bob',
      ]);
    }
    // The reloads revalidated, each with its own user's tag, and were answered from the entries.
    const reloads = account()
      .slice(2)
      .map((s) => [userOf(s.cookie), s.status, s.ifNoneMatch]);
    expect(reloads.sort()).toEqual([
      ['alice', 304, tags.get('alice')],
      ['bob', 304, tags.get('bob')],
    ]);
    expect(app.runs.get('/account')).toBe(2);

    // One context, one HTTP cache: alice's page is fresh there for a minute (max-age=60), yet with
    // bob's cookie, then none, the browser must ask (Vary: cookie) and gets the right page.
    const shared = await newContext(app.url, 'alice');
    const tab = await shared.newPage();
    const before = account().length;
    await tab.goto(`${app.url}/account`);
    expect(await content(tab)).toBe('account of alice');
    await shared.addCookies([{ name: 'user', value: 'bob', url: app.url }]);
    await tab.goto(`${app.url}/account`);
    expect(await content(tab)).toBe('account of bob');
    await shared.clearCookies();
    await tab.goto(`${app.url}/account`);
    expect(await content(tab)).toBe('account of nobody');
    const asked = account().slice(before);
    expect(asked.map((s) => [userOf(s.cookie) ?? 'nobody', s.status])).toEqual([
      ['alice', 200],
      ['bob', 200],
      ['nobody', 200],
    ]);
    // When the browser offers the tag of the page it holds, it is the previous user's, and never matches.
    expect([undefined, tags.get('alice')]).toContain(asked[1]!.ifNoneMatch);
    expect([undefined, tags.get('bob')]).toContain(asked[2]!.ifNoneMatch);
  });
});
